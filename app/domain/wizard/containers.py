"""Step 2, Container Image: replicas, update strategy, containers and their ports, environment and resources."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Self

from pydantic import ValidationInfo, model_validator

from app.domain.forms import (
    Errors,
    OptInt,
    Text,
)
from app.domain.k8s.names import DNS1035_LABEL, DNS1123_LABEL, ENV_NAME, IMAGE
from app.domain.k8s.quantities import (
    CPU_PATTERN,
    MEMORY_PATTERN,
    parse_quantity,
)
from app.domain.manifests import (
    PORT_NAME_MAX,
    ServicePortSpec,
    default_port_name,
    derive_service_ports,
    dig,
    ensure_dict,
    k8s_protocol,
    port_name_prefix,
    protocol_of_name,
    set_or_pop,
    split_list,
    with_host_time_volume,
)
from app.domain.wizard.container_rows import ContainerRow, build_container, read_container
from app.domain.wizard.draft import NAME_RULE, Draft
from app.domain.wizard.probes import check_probe
from app.domain.wizard.read import as_str, containers_of, dicts, int_or_raw, match_rows
from app.domain.wizard.step import StepContext, VolumesContext, WizardStep, context_of
from app.i18n import LazyString, _, lazy_

# ---------------------------------------------------------------------------------------------------
# Step 2: Container Image


class ContainerImage(WizardStep):
    step: ClassVar[str] = "image"
    title: ClassVar[LazyString] = lazy_("Container Image")

    replicas: OptInt = 1
    containers: list[ContainerRow] = []
    strategy: Literal["RollingUpdate", "Recreate", "OnDelete"] = "RollingUpdate"
    max_unavailable: Text = "25%"
    max_surge: Text = "25%"
    partition: OptInt = 0

    @model_validator(mode="after")
    def _canonical(self, info: ValidationInfo) -> Self:
        for attr in ("max_unavailable", "max_surge"):
            value = getattr(self, attr)
            if re.fullmatch(r"[0-9]+", value):
                setattr(self, attr, str(int(value)))
            elif re.fullmatch(r"[0-9]+%", value):
                setattr(self, attr, f"{int(value[:-1])}%")
        context = context_of(info)
        if context is None:
            return self
        if context.flavor == "stateless" or self.strategy == "OnDelete":
            self.partition = 0
        if context.flavor == "stateful" or self.strategy == "Recreate":
            self.max_unavailable = self.max_surge = "25%"
        return self

    # -- read

    @classmethod
    def read(cls, draft: Draft) -> Self:
        w = draft.workload
        service_ports = dicts(dig(draft.service, "spec", "ports"))
        rows = [read_container(kind, c, service_ports) for kind, c in containers_of(w)]
        values: dict[str, Any] = {"replicas": int_or_raw(dig(w, "spec", "replicas"), 1), "containers": rows}
        if draft.flavor == "stateless":
            strategy = dig(w, "spec", "strategy", default={}) or {}
            values["strategy"] = as_str(strategy.get("type"), "RollingUpdate") or "RollingUpdate"
            if values["strategy"] == "RollingUpdate":
                for attr, key in (("max_unavailable", "maxUnavailable"), ("max_surge", "maxSurge")):
                    raw = dig(strategy, "rollingUpdate", key, default="25%")
                    values[attr] = (
                        str(raw) if isinstance(raw, (int, str)) and not isinstance(raw, bool) else ""
                    )
        else:
            strategy = dig(w, "spec", "updateStrategy", default={}) or {}
            values["strategy"] = as_str(strategy.get("type"), "RollingUpdate") or "RollingUpdate"
            if values["strategy"] == "RollingUpdate":
                values["partition"] = int_or_raw(dig(strategy, "rollingUpdate", "partition"), 0)
        return cls.model_construct(**values)

    # -- apply

    @classmethod
    def apply(cls, draft: Draft, values: Self) -> Draft:
        d = draft.copy()
        w, s = d.workload, d.service
        wspec = ensure_dict(w, "spec")
        wspec["replicas"] = values.replicas
        old = [c for _kind, c in containers_of(w)]
        matches = match_rows([row.name for row in values.containers], [c.get("name") for c in old])
        workers: list[dict[str, Any]] = []
        inits: list[dict[str, Any]] = []
        for row, index in zip(values.containers, matches, strict=True):
            built = build_container(row, old[index] if index is not None else None)
            (workers if row.type == "worker" else inits).append(built)
        pod = ensure_dict(w, "spec", "template", "spec")
        pod["containers"] = workers
        set_or_pop(pod, "initContainers", inits)
        w["spec"]["template"]["spec"] = with_host_time_volume(pod)

        if d.flavor == "stateless":
            strategy = ensure_dict(wspec, "strategy")
            strategy["type"] = values.strategy
            if values.strategy == "RollingUpdate":
                rolling = ensure_dict(strategy, "rollingUpdate")
                rolling["maxUnavailable"] = _int_or_percent(values.max_unavailable)
                rolling["maxSurge"] = _int_or_percent(values.max_surge)
            else:
                strategy.pop("rollingUpdate", None)
        else:
            strategy = ensure_dict(wspec, "updateStrategy")
            strategy["type"] = values.strategy
            if values.strategy == "RollingUpdate":
                ensure_dict(strategy, "rollingUpdate")["partition"] = values.partition
            else:
                strategy.pop("rollingUpdate", None)

        # Service ports: every worker port with a service port; the wizard's old ones go away.
        owned_names = {as_str(p.get("name")) for c in old for p in dicts(c.get("ports"))}
        owned_names |= {p.name for row in values.containers for p in row.ports if p.name}
        owned_names.discard("")
        owned_targets = {p.get("containerPort") for c in old for p in dicts(c.get("ports"))}
        owned_targets |= {p.container_port for row in values.containers for p in row.ports}
        specs = [
            ServicePortSpec(p.name, k8s_protocol(p.protocol), p.service_port, p.container_port)  # type: ignore[arg-type]
            for row in values.containers
            if row.type == "worker"
            for p in row.ports
            if not p.is_blank() and p.service_port is not None
        ]
        sspec = ensure_dict(s, "spec")
        ports = derive_service_ports(
            specs,
            dicts(sspec.get("ports")),
            lambda p: (
                p.get("name") in owned_names
                or (not p.get("name") and p.get("targetPort", p.get("port")) in owned_targets)
            ),
        )
        set_or_pop(sspec, "ports", ports)
        if d.flavor == "stateful":
            sspec["clusterIP"] = "None"
        return d

    # -- check

    def check(self, context: StepContext) -> dict[str, str]:
        e = Errors()
        draft = context.draft
        resources = context.resources
        if self.replicas is None:
            e.add("replicas", _("This parameter is required."))
        elif self.replicas < 1:
            e.add("replicas", _("Please enter a positive integer."))
        workers = [i for i, c in enumerate(self.containers) if c.type == "worker"]
        if not workers:
            e.add("containers", _("Please add at least one worker container."))
        old = [c for _kind, c in containers_of(draft.workload)]
        matches = match_rows([row.name for row in self.containers], [c.get("name") for c in old])
        container_names: set[str] = set()
        port_names: set[str] = set()
        service_ports: set[tuple[int, str]] = set()
        has_service_port = False
        for i, (c, index) in enumerate(zip(self.containers, matches, strict=True)):
            p = f"containers.{i}"
            previous = old[index] if index is not None else {}
            if not c.name:
                e.add(f"{p}.name", _("Please set a name."))
            elif len(c.name) > 63 or not DNS1123_LABEL.fullmatch(c.name):
                e.add(f"{p}.name", NAME_RULE)
            elif c.name in container_names:
                e.add(f"{p}.name", _("The name already exists. Please enter another name."))
            container_names.add(c.name)
            if not c.image:
                e.add(f"{p}.image", _("Please set an image."))
            elif not IMAGE.fullmatch(c.image):
                e.add(f"{p}.image", _("Invalid image."))
            self._check_resources(e, p, c)
            if c.sync_host_timezone and resources and resources.host_path_refusal:
                e.add(f"{p}.sync_host_timezone", resources.host_path_refusal)
            for attr in ("command", "args"):
                try:
                    split_list(getattr(c, attr))
                except ValueError:
                    e.add(
                        f"{p}.{attr}",
                        _("A quote is not closed: end the item with the same quote it starts with."),
                    )
            for j, port in enumerate(c.ports):
                if port.is_blank():
                    continue
                q = f"{p}.ports.{j}"
                if not port.name:
                    e.add(f"{q}.name", _("Please set a name for the port."))
                elif (
                    len(port.name) > PORT_NAME_MAX
                    or not DNS1035_LABEL.fullmatch(port.name)
                    or "--" in port.name
                ):
                    e.add(
                        f"{q}.name",
                        _(
                            "The port name can contain only lowercase letters, numbers and hyphens (-), and "
                            "must start with a lowercase letter and end with a lowercase letter or number. "
                            "The maximum length is 15 characters."
                        ),
                    )
                elif port.name in port_names:
                    e.add(f"{q}.name", _("The port name already exists. Please enter another name."))
                else:
                    announced = protocol_of_name(port.name)
                    if port.protocol not in ("TCP", "UDP") and announced != port.protocol:
                        message = _(
                            "A {protocol} port needs a name that starts with {prefix}-, "
                            "for example {example}."
                        )
                        e.add(
                            f"{q}.name",
                            message.format(
                                protocol=port.protocol,
                                prefix=port_name_prefix(port.protocol),
                                example=default_port_name(port.protocol, j),
                            ),
                        )
                    elif port.protocol == "TCP" and announced not in (None, "TCP"):
                        message = _(
                            "The name {name} marks the port as {protocol}: "
                            "choose {protocol} or rename the port."
                        )
                        e.add(f"{q}.name", message.format(name=port.name, protocol=announced))
                port_names.add(port.name)
                if port.container_port is None:
                    e.add(f"{q}.container_port", _("Please enter a port number."))
                elif not 1 <= port.container_port <= 65535:
                    e.add(f"{q}.container_port", _("Invalid port."))
                if port.service_port is not None:
                    has_service_port = has_service_port or c.type == "worker"
                    if c.type == "init":
                        e.add(f"{q}.service_port", _("Init containers cannot have a service port."))
                    elif not 1 <= port.service_port <= 65535:
                        e.add(f"{q}.service_port", _("Invalid port."))
                    elif (port.service_port, k8s_protocol(port.protocol)) in service_ports:
                        e.add(f"{q}.service_port", _("Another port already uses this service port."))
                    else:
                        service_ports.add((port.service_port, k8s_protocol(port.protocol)))
            self._check_env(e, p, c, previous, resources)
            for probe_name in ("liveness", "readiness", "startup"):
                check_probe(e, f"{p}.{probe_name}", getattr(c, probe_name), probe_name, c.type, previous)
        allowed = (
            ("RollingUpdate", "Recreate") if context.flavor == "stateless" else ("RollingUpdate", "OnDelete")
        )
        if self.strategy not in allowed:
            e.add("strategy", _("Please select a valid option."))
        elif context.flavor == "stateless" and self.strategy == "RollingUpdate":
            self._check_rolling_update(e)
        elif context.flavor == "stateful" and self.strategy == "RollingUpdate":
            if self.partition is None:
                e.add("partition", _("Please set a ordinal for dividing pod replicas."))
            elif self.partition < 0:
                e.add("partition", _("The minimum value is {min}.").format(min=0))
        if context.flavor == "stateless" and workers and not has_service_port:
            e.add(
                f"containers.{workers[0]}.ports",
                _("Please set at least one service port: the Service needs a port to forward to the pods."),
            )
        return dict(e)

    @staticmethod
    def _check_resources(e: Errors, p: str, c: ContainerRow) -> None:
        for attr in ("cpu_request", "cpu_limit"):
            value = getattr(c, attr)
            if value and not CPU_PATTERN.fullmatch(value):
                e.add(
                    f"{p}.{attr}",
                    _(
                        "Enter a number of cores with up to 3 decimal places, such as 0.5, or millicores, "
                        "such as 500m."
                    ),
                )
        for attr in ("memory_request", "memory_limit"):
            value = getattr(c, attr)
            if value and not MEMORY_PATTERN.fullmatch(value):
                e.add(
                    f"{p}.{attr}", _("Enter a size in Mi, such as 512, or with a unit, such as 512Mi or 1Gi.")
                )
        for request, limit in (("cpu_request", "cpu_limit"), ("memory_request", "memory_limit")):
            if f"{p}.{request}" in e or f"{p}.{limit}" in e:
                continue
            low, high = parse_quantity(getattr(c, request) or "x"), parse_quantity(getattr(c, limit) or "x")
            if low is not None and high is not None and low > high:
                e.add(f"{p}.{request}", _("Resource requests cannot be greater than resource limits."))

    @staticmethod
    def _check_env(
        e: Errors, p: str, c: ContainerRow, previous: Mapping[str, Any], resources: VolumesContext | None
    ) -> None:
        seen: set[str] = set()
        old_env = {as_str(x.get("name")): x for x in dicts(previous.get("env"))}
        for k, row in enumerate(c.env):
            if row.is_blank():
                continue
            q = f"{p}.env.{k}"
            if not row.name:
                e.add(f"{q}.name", _("Please set a key for the environment variable."))
            elif not ENV_NAME.fullmatch(row.name):
                e.add(
                    f"{q}.name",
                    _(
                        "The key of an environment variable can contain only letters, numbers, underscores "
                        "(_), hyphens (-), and periods (.), and must not start with a number."
                    ),
                )
            elif row.name in seen:
                e.add(f"{q}.name", _("The key already exists. Please enter another key."))
            seen.add(row.name)
            if row.type in ("configmap", "secret"):
                known = (
                    (resources.configmaps if row.type == "configmap" else resources.secrets)
                    if resources
                    else None
                )
                if not row.resource:
                    e.add(
                        f"{q}.resource",
                        _("Please select a configmap.")
                        if row.type == "configmap"
                        else _("Please select a secret."),
                    )
                elif known is not None and row.resource not in known:
                    e.add(
                        f"{q}.resource", _("{name} does not exist in this project.").format(name=row.resource)
                    )
                if not row.key:
                    e.add(f"{q}.key", _("Please select a key."))
                elif known is not None and row.resource in known and row.key not in known[row.resource]:
                    e.add(f"{q}.key", _("{name} has no key {key}.").format(name=row.resource, key=row.key))
            elif row.type == "other":
                source = old_env.get(row.name, {}).get("valueFrom")
                if not isinstance(source, dict) or "configMapKeyRef" in source or "secretKeyRef" in source:
                    e.add(f"{q}.type", _("Please choose where the value of this variable comes from."))

    def _check_rolling_update(self, e: Errors) -> None:
        numbers: list[int] = []
        for attr, empty in (
            (
                "max_unavailable",
                _(
                    "Please set the maximum number or percentage of unavailable pod replicas allowed during "
                    "the update process."
                ),
            ),
            (
                "max_surge",
                _(
                    "Please set the maximum number or percentage of extra pod replicas allowed during the "
                    "update process."
                ),
            ),
        ):
            value = getattr(self, attr)
            if not value:
                e.add(attr, empty)
            elif not re.fullmatch(r"[0-9]+%?", value):
                e.add(attr, _("Please enter an integer or percentage."))
            else:
                number = int(value.rstrip("%"))
                if attr == "max_unavailable" and value.endswith("%") and number > 100:
                    e.add(attr, _("The percentage cannot be greater than 100%."))
                numbers.append(number)
        if len(numbers) == 2 and numbers == [0, 0]:
            e.add("max_unavailable", _("Maximum unavailable pods and maximum extra pods cannot both be 0."))


def _int_or_percent(value: str) -> int | str:
    return int(value) if value.isdigit() else value
