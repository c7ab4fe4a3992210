"""The containers' health checks (liveness, readiness, startup) as the Container Image step edits them."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import model_validator

from app.domain.forms import (
    Errors,
    OptInt,
    Row,
    Text,
)
from app.domain.k8s.names import IANA_SVC_NAME
from app.domain.manifests import (
    as_dict,
    join_list,
    ordered,
    plain_copy,
    split_list,
)
from app.domain.wizard.draft import ProbeType
from app.domain.wizard.read import as_str, int_or_raw
from app.i18n import _

PROBE_TIMING = {
    "initial_delay_seconds": ("initialDelaySeconds", 0, 0),
    "timeout_seconds": ("timeoutSeconds", 1, 1),
    "period_seconds": ("periodSeconds", 10, 1),
    "success_threshold": ("successThreshold", 1, 1),
    "failure_threshold": ("failureThreshold", 3, 1),
}


class ProbeForm(Row):
    """A liveness, readiness or startup probe. `type` none = no probe; `other` = a handler the form does
    not edit (e.g. grpc), kept as it is while the timing fields still apply."""

    type: ProbeType = "none"
    scheme: Literal["HTTP", "HTTPS"] = "HTTP"
    path: Text = "/"
    port: Text = "80"
    command: str = ""
    initial_delay_seconds: OptInt = 0
    timeout_seconds: OptInt = 1
    period_seconds: OptInt = 10
    success_threshold: OptInt = 1
    failure_threshold: OptInt = 3

    @model_validator(mode="after")
    def _canonical(self) -> Self:
        """Fields the probe's type does not use go back to their defaults (all of them for no probe)."""
        defaults = _probe_defaults()
        unused = (
            [name for name in defaults if name != "type"]
            if self.type == "none"
            else [name for name in _PROBE_HANDLER_FIELDS if name not in _PROBE_USES.get(self.type, ())]
        )
        for name in unused:
            if getattr(self, name) != defaults[name]:  # most are posted with their defaults already
                setattr(self, name, defaults[name])
        return self


_PROBE_HANDLER_FIELDS = ("scheme", "path", "port", "command")
_PROBE_USES = {"http": ("scheme", "path", "port"), "tcp": ("port",), "exec": ("command",)}


@functools.cache
def _probe_defaults() -> dict[str, Any]:
    """ProbeForm's field defaults (what an unused field is reset to)."""
    return {name: f.get_default(call_default_factory=True) for name, f in ProbeForm.model_fields.items()}


def read_probe(probe: Any) -> ProbeForm:
    if not isinstance(probe, dict):
        return ProbeForm.model_construct()
    timing = {
        attr: int_or_raw(probe.get(key), default) for attr, (key, default, _min) in PROBE_TIMING.items()
    }
    http, tcp, command = probe.get("httpGet"), probe.get("tcpSocket"), probe.get("exec")
    if isinstance(http, dict):
        return ProbeForm.model_construct(
            type="http",
            scheme=as_str(http.get("scheme"), "HTTP") or "HTTP",
            path=as_str(http.get("path"), "/"),
            port=str(http.get("port", "")),
            **timing,
        )
    if isinstance(tcp, dict):
        return ProbeForm.model_construct(type="tcp", port=str(tcp.get("port", "")), **timing)
    if isinstance(command, dict):
        items = command.get("command")
        return ProbeForm.model_construct(
            type="exec", command=join_list(str(x) for x in items) if isinstance(items, list) else "", **timing
        )
    return ProbeForm.model_construct(type="other", **timing)


def _probe_port(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def build_probe(form: ProbeForm, old: Any) -> dict[str, Any] | None:
    if form.type == "none":
        return None
    probe = plain_copy(old) if isinstance(old, dict) else {}
    handlers = ("httpGet", "tcpSocket", "exec", "grpc")
    if form.type != "other":
        target = {"http": "httpGet", "tcp": "tcpSocket", "exec": "exec"}[form.type]
        for key in handlers:
            if key != target:
                probe.pop(key, None)
        handler = as_dict(probe.get(target))
        if form.type == "http":
            handler.update(path=form.path, port=_probe_port(form.port), scheme=form.scheme)
        elif form.type == "tcp":
            handler["port"] = _probe_port(form.port)
        else:
            handler["command"] = split_list(form.command)
        probe[target] = handler
        probe = ordered(probe, handlers)
    for attr, (key, _default, _min) in PROBE_TIMING.items():
        probe[key] = getattr(form, attr)
    return probe


def check_probe(
    e: Errors, q: str, form: ProbeForm, which: str, container_type: str, previous: Mapping[str, Any]
) -> None:
    if form.type == "none":
        return
    if container_type == "init" and previous.get("restartPolicy") != "Always":
        e.add(f"{q}.type", _("Init containers cannot have probes."))
        return
    if form.type == "http" and not form.path:
        e.add(f"{q}.path", _("Please set a path for the HTTP check."))
    if form.type in ("http", "tcp"):
        port = form.port
        valid = (port.isdigit() and 1 <= int(port) <= 65535) or (
            len(port) <= 15
            and IANA_SVC_NAME.fullmatch(port) is not None
            and not port.isdigit()
            and "--" not in port
            and re.search("[a-z]", port) is not None
        )
        if not valid:
            e.add(f"{q}.port", _("Invalid port."))
    if form.type == "exec":
        try:
            empty = not split_list(form.command)
        except ValueError:
            e.add(
                f"{q}.command", _("A quote is not closed: end the item with the same quote it starts with.")
            )
        else:
            if empty:
                e.add(f"{q}.command", _("Please enter at least one command."))
    if form.type == "other":
        key = {"liveness": "livenessProbe", "readiness": "readinessProbe", "startup": "startupProbe"}[which]
        old = previous.get(key)
        if not isinstance(old, dict) or any(
            isinstance(old.get(h), dict) for h in ("httpGet", "tcpSocket", "exec")
        ):
            e.add(f"{q}.type", _("Please choose a check type."))
    for attr, (_key, _default, minimum) in PROBE_TIMING.items():
        value = getattr(form, attr)
        if value is None:
            e.add(f"{q}.{attr}", _("This parameter is required."))
        elif value < minimum:
            e.add(f"{q}.{attr}", _("The minimum value is {min}.").format(min=minimum))
        elif attr == "success_threshold" and which in ("liveness", "startup") and value != 1:
            e.add(f"{q}.{attr}", _("The success threshold must be 1 for liveness and startup checks."))
