"""External Service and Specify Workloads: the steps of the two forms, their rules, and the Service each
builds. Pure: no I/O. What needs the cluster (is the name taken, which workloads does the project have)
is passed in by the caller.

The two paths (kubesphere.md §1.6-1.7, §2.3-2.4):

* External Service: Basic Information -> External Service Address. A Service `type: ExternalName`
  with `kubesphere.io/serviceType: externalservice` and the label `app: <name>`.
* Specify Workloads: Basic Information -> Service Settings -> Advanced Settings. A Service over pods
  that already run: Virtual IP, or Internal Domain Name (headless, `clusterIP: None`); selector rows;
  ports; Internet Access, Sticky Session and labels. No serviceType annotation: it lists as a Custom
  Service (or as Headless, which the list derives from `clusterIP: None`).

Form state travels in the form itself: every step's fields are posted on every request (the other
steps' as hidden inputs), so the routes hold no server-side state. Form field names (rows count from 0):

* basic: `name`, `alias`, `description`
* address: `external_name`
* settings: `access_mode` (virtual_ip | headless), `selector.{i}.{key,value}`,
  `ports.{i}.{protocol,name,container_port,service_port}`
* advanced: `access` (none | NodePort | LoadBalancer), `node_ports.{i}.{name,node_port}`, `lb_provider`,
  `service_annotations.{i}.{key,value}`, `sticky_session`, `sticky_timeout`, `labels.{i}.{key,value}`

Decisions that differ from the original console, on purpose:

* The external address must be a DNS name: IP addresses, schemes, ports and paths are refused with a
  message (Kubernetes would accept an IP written as a name and then resolve nothing).
* Alias and description annotations are written only when set (no `kubesphere.io/alias-name: ''`).
* A port's name must carry its protocol's prefix (`http-web` for HTTP): the prefix is the only place
  the protocol is recorded (Istio's convention), so a mismatch would be lost on the next read.
* A headless Service may have no ports (Kubernetes allows it, e.g. for DNS-only discovery); a Virtual
  IP Service needs at least one.
* The selector hint matches the selector against each workload's *pod template* labels (what a Service
  selects), not the workload's own labels as the original did.
* Sticky Session's duration is 1 to 86400 seconds (the API server refuses 0).
* There is no "Duplicate labels" check against other Services (kubesphere/console#3727).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

from app.domain import service_rules
from app.domain.forms import Errors, FormResult, OptInt, Text, validate_data
from app.domain.k8s import names
from app.domain.k8s.names import DNS1035_LABEL, DNS1123_SUBDOMAIN, is_dns1123_subdomain
from app.domain.manifests import (
    ANNOTATION_ALIAS,
    ANNOTATION_DESCRIPTION,
    ANNOTATION_SERVICE_TYPE,
    LABEL_APP,
    LB_PROVIDERS,
    PROTOCOLS,
    STICKY_TIMEOUT_DEFAULT,
    as_dict,
    default_port_name,
    detect_provider,
    dig,
    k8s_protocol,
    lb_provider,
    port_name_prefix,
    stamp,
)
from app.domain.service_rules import (
    NodePortRow,
    PortRow,
    check_exposure,
    check_pairs,
    check_sticky_session,
    external_name_target_problem,
    parse_cause,
    row_dict,
)
from app.i18n import LazyString, _, lazy_, ngettext

__all__ = [
    "EXTERNAL",
    "FLOWS",
    "PICKER_KINDS",
    "WORKLOADS",
    "AdvancedSettings",
    "BasicInfo",
    "ExternalAddress",
    "Flow",
    "KeyValueRow",
    "NodePortRow",
    "PortRow",
    "SelectorHint",
    "ServiceSettings",
    "Step",
    "StepContext",
    "WorkloadInfo",
    "apply_op",
    "check_name_available",
    "external_name_problem",
    "field_for_cause",
    "selector_hint",
    "workload_info",
]

EXTERNAL_SERVICE_TYPE = "externalservice"
PORT_NAME_MAX = 63  # a Service port's name is a DNS label (the wizard's container ports allow 15)
PORT_MIN, PORT_MAX = 1, 65535
MAX_ROWS = 100  # rows of one list; a form with more is not one of ours
ANNOTATION_VALUE_MAX = 64 * 1024  # a longer annotation value is refused with a message
# The workloads a Service can be made over, in the picker's tab order.
PICKER_KINDS: tuple[str, ...] = ("Deployment", "StatefulSet", "DaemonSet")
PICKER_KIND_LABELS: dict[str, LazyString] = {
    "Deployment": lazy_("Deployments"),
    "StatefulSet": lazy_("Statefulsets"),
    "DaemonSet": lazy_("Daemonsets"),
}


def _rows(value: Any) -> Any:
    """A list of rows from the form; at most MAX_ROWS (the rest is not one of ours)."""
    if isinstance(value, list):
        return value[:MAX_ROWS]
    return value


# ---------------------------------------------------------------------------------------------------
# Rows (PortRow and NodePortRow are shared with the wizard: `app.domain.service_rules`)


class KeyValueRow(service_rules.KeyValueRow):
    """A selector, label or annotation row. Unlike the wizard's rows (which read values back from
    manifests unchanged), these come only from the form: the value is stripped like the key."""

    value: Text = ""


# ---------------------------------------------------------------------------------------------------
# Steps


@dataclass(frozen=True)
class StepContext:
    """What a step's rules need from the steps before it (already validated)."""

    name: str = ""
    headless: bool = False
    ports: tuple[PortRow, ...] = ()


class Step(BaseModel):
    """One step's form values. Subclasses set `slug` and `title`."""

    model_config = ConfigDict(extra="forbid")

    slug: ClassVar[str]
    title: ClassVar[LazyString]

    def check(self, context: StepContext) -> dict[str, str]:
        return {}

    def form_values(self) -> dict[str, Any]:
        """Canonical nested values (blank rows dropped) for the hidden fields and the next render."""
        return self.model_dump(warnings=False)

    @classmethod
    def validate(cls, values: Mapping[str, Any], context: StepContext) -> FormResult[Any]:
        return validate_data(cls, values, context=context)


class BasicInfo(Step):
    slug: ClassVar[str] = "basic"
    title: ClassVar[LazyString] = lazy_("Basic Information")

    name: Text = ""
    alias: Text = ""
    description: str = ""

    def check(self, context: StepContext) -> dict[str, str]:
        e = Errors()
        problem = names.dns1035_label_problem(self.name)
        if problem:
            e.add("name", problem)
        problem = names.alias_problem(self.alias)
        if problem:
            e.add("alias", problem)
        problem = names.description_problem(self.description)
        if problem:
            e.add("description", problem)
        return dict(e)


def _lower_strip(value: Any) -> Any:
    # DNS names are case-insensitive; Kubernetes wants them in lower case.
    return value.strip().lower() if isinstance(value, str) else value


def external_name_problem(value: str) -> str | None:
    """Why `value` cannot be an ExternalName Service's `spec.externalName`, or None if it can."""
    if not value:
        return _("Please enter the domain name of an external service.")
    if re.match(r"^[a-z][a-z0-9+.-]*://", value):
        return _("Enter only the domain name, without a scheme such as http://; for example foo.bar.example.com.")
    if any(c in value for c in "/?#"):
        return _("Enter only the domain name, without a path; for example foo.bar.example.com.")
    if "@" in value:
        return _("Enter only the domain name, without a user name; for example foo.bar.example.com.")
    host = value.strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return _(
            "An IP address cannot be used: an External Service maps to a domain name. For an IP address, "
            "create a Service without a selector and its Endpoints with Edit YAML."
        )
    if ":" in value:
        return _("Enter only the domain name, without a port; for example foo.bar.example.com.")
    target = external_name_target_problem(value)
    if target:
        return target
    if any(c.isspace() for c in value):
        return _("The domain name cannot contain spaces.")
    name = value[:-1] if value.endswith(".") else value
    if len(name) > 253:
        return _("The domain name can be at most 253 characters long.")
    if any(len(part) > 63 for part in name.split(".")):
        return _("Each part of the domain name between dots can be at most 63 characters long.")
    if not DNS1123_SUBDOMAIN.fullmatch(name):
        return _(
            "Invalid domain name. Use lowercase letters, numbers, hyphens (-) and dots (.); each part between "
            "dots must start and end with a letter or number. For example foo.bar.example.com."
        )
    return None


class ExternalAddress(Step):
    slug: ClassVar[str] = "address"
    title: ClassVar[LazyString] = lazy_("External Service")

    external_name: Annotated[str, BeforeValidator(_lower_strip)] = ""

    def check(self, context: StepContext) -> dict[str, str]:
        problem = external_name_problem(self.external_name)
        return {"external_name": problem} if problem else {}


class ServiceSettings(Step):
    slug: ClassVar[str] = "settings"
    title: ClassVar[LazyString] = lazy_("Service Settings")

    access_mode: Literal["virtual_ip", "headless"] = "virtual_ip"
    selector: Annotated[list[KeyValueRow], BeforeValidator(_rows)] = []
    ports: Annotated[list[PortRow], BeforeValidator(_rows)] = []

    @property
    def headless(self) -> bool:
        return self.access_mode == "headless"

    def form_values(self) -> dict[str, Any]:
        data = self.model_dump(warnings=False)
        data["selector"] = [r.model_dump() for r in self.selector if not r.is_blank()]
        data["ports"] = [p.model_dump() for p in self.ports if not p.is_blank()]
        return data

    def selector_dict(self) -> dict[str, str]:
        return row_dict(self.selector)

    def filled_ports(self) -> list[PortRow]:
        return [p for p in self.ports if not p.is_blank()]

    def check(self, context: StepContext) -> dict[str, str]:
        e = Errors()
        if not row_dict(self.selector):
            e.add("selector", _("Please set a workload selector."))
        check_pairs(e, "selector", self.selector, labels=True)
        filled = [(i, p) for i, p in enumerate(self.ports) if not p.is_blank()]
        if not filled and not self.headless:
            e.add("ports", _("Please set at least one port."))
        seen_names: set[str] = set()
        seen_ports: set[tuple[int, str]] = set()
        for i, p in filled:
            q = f"ports.{i}"
            prefix = port_name_prefix(p.protocol)
            if not p.name:
                e.add(f"{q}.name", _("Please set a name."))
            elif len(p.name) > PORT_NAME_MAX or not DNS1035_LABEL.fullmatch(p.name):
                e.add(
                    f"{q}.name",
                    _(
                        "The port name can contain only lowercase letters, numbers, and hyphens (-) and must "
                        "start and end with a lowercase letter or number. The maximum length is 63 characters."
                    ),
                )
            elif p.name != prefix and not p.name.startswith(prefix + "-"):
                e.add(
                    f"{q}.name",
                    _("The name of a {protocol} port must start with {prefix}- (the name tells the protocol).").format(
                        protocol=p.protocol, prefix=prefix
                    ),
                )
            elif p.name in seen_names:
                e.add(f"{q}.name", _("The port name already exists. Please enter another name."))
            seen_names.add(p.name)
            for attr in ("container_port", "service_port"):
                number = getattr(p, attr)
                if number is None:
                    e.add(f"{q}.{attr}", _("Please enter a port number."))
                elif not PORT_MIN <= number <= PORT_MAX:
                    e.add(f"{q}.{attr}", _("Invalid port. Use a number from 1 to 65535."))
            if p.service_port is not None:
                key = (p.service_port, k8s_protocol(p.protocol))
                if key in seen_ports:
                    e.add(
                        f"{q}.service_port",
                        _("Another port already uses {port}/{protocol}.").format(port=key[0], protocol=key[1]),
                    )
                seen_ports.add(key)
        return dict(e)


Access = Literal["none", "NodePort", "LoadBalancer"]


class AdvancedSettings(Step):
    slug: ClassVar[str] = "advanced"
    title: ClassVar[LazyString] = lazy_("Advanced Settings")

    access: Access = "none"
    node_ports: Annotated[list[NodePortRow], BeforeValidator(_rows)] = []
    lb_provider: Text = ""
    service_annotations: Annotated[list[KeyValueRow], BeforeValidator(_rows)] = []
    sticky_session: bool = False
    sticky_timeout: OptInt = STICKY_TIMEOUT_DEFAULT
    labels: Annotated[list[KeyValueRow], BeforeValidator(_rows)] = []

    @model_validator(mode="after")
    def _canonical(self) -> AdvancedSettings:
        if not self.sticky_session:
            self.sticky_timeout = STICKY_TIMEOUT_DEFAULT
        return self

    def form_values(self) -> dict[str, Any]:
        data = self.model_dump(warnings=False)
        for key in ("service_annotations", "labels"):
            data[key] = [r.model_dump() for r in getattr(self, key) if not r.is_blank()]
        return data

    def check(self, context: StepContext) -> dict[str, str]:
        e = Errors()
        check_exposure(
            e,
            self.access,
            self.node_ports,
            headless=context.headless,
            # here the user chose headless in Service Settings: the way out is to choose again
            headless_message=_(
                "A headless Service has no cluster IP, so it cannot be exposed through a node port or a load "
                "balancer. Choose Virtual IP Address in Service Settings to expose it."
            ),
        )
        if self.lb_provider and self.lb_provider not in {p.id for p in LB_PROVIDERS}:
            e.add("lb_provider", _("Please select a valid option."))
        if self.access == "LoadBalancer":
            check_pairs(
                e, "service_annotations", self.service_annotations, labels=False,
                annotation_value_max=ANNOTATION_VALUE_MAX,
            )
        check_sticky_session(e, self.sticky_session, self.sticky_timeout)
        if not row_dict(self.labels):
            e.add("labels", _("Please add a label."))
        check_pairs(e, "labels", self.labels, labels=True)
        return dict(e)


# ---------------------------------------------------------------------------------------------------
# Flows


@dataclass(frozen=True)
class Flow:
    """One creation path: its URL slug, title, description and steps in order."""

    slug: str
    title: LazyString
    description: LazyString
    steps: tuple[type[Step], ...]

    def step(self, slug: str) -> type[Step] | None:
        return next((s for s in self.steps if s.slug == slug), None)

    def index(self, slug: str) -> int:
        return next((i for i, s in enumerate(self.steps) if s.slug == slug), 0)

    def owner(self, field_name: str) -> str | None:
        """The step slug that owns a (dotted) form field."""
        top = field_name.split(".", 1)[0]
        return next((s.slug for s in self.steps if top in s.model_fields), None)

    def fields(self, slug: str) -> frozenset[str]:
        step = self.step(slug)
        return frozenset(step.model_fields) if step else frozenset()

    def context(self, models: Mapping[str, Step]) -> StepContext:
        basic = models.get("basic")
        settings = models.get("settings")
        return StepContext(
            name=basic.name if isinstance(basic, BasicInfo) else "",
            headless=settings.headless if isinstance(settings, ServiceSettings) else False,
            ports=tuple(settings.filled_ports()) if isinstance(settings, ServiceSettings) else (),
        )

    def validate_upto(
        self, values: Mapping[str, Any], last: int
    ) -> tuple[dict[str, Step], str | None, dict[str, str]]:
        """Validate steps 0..last in order. Returns (the valid steps' models by slug, the first failing
        step or None, its errors)."""
        models: dict[str, Step] = {}
        for step in self.steps[: last + 1]:
            result = step.validate(values, self.context(models))
            if result.model is None:
                return models, step.slug, result.errors
            models[step.slug] = result.model
        return models, None, {}

    def build(self, models: Mapping[str, Step], *, namespace: str, creator: str) -> dict[str, Any]:
        basic = models["basic"]
        assert isinstance(basic, BasicInfo)
        if self is EXTERNAL:
            address = models["address"]
            assert isinstance(address, ExternalAddress)
            return external_service(basic, address, namespace=namespace, creator=creator)
        settings, advanced = models["settings"], models["advanced"]
        assert isinstance(settings, ServiceSettings) and isinstance(advanced, AdvancedSettings)
        return workloads_service(basic, settings, advanced, namespace=namespace, creator=creator)


EXTERNAL = Flow(
    "external",
    lazy_("Create External Service"),
    lazy_("Create a service and map it to an external service."),
    (BasicInfo, ExternalAddress),
)
WORKLOADS = Flow(
    "workloads",
    lazy_("Specify Workload to Create Service"),
    lazy_("Create a service by using one or more existing workloads."),
    (BasicInfo, ServiceSettings, AdvancedSettings),
)
FLOWS: dict[str, Flow] = {f.slug: f for f in (EXTERNAL, WORKLOADS)}


# ---------------------------------------------------------------------------------------------------
# Building the Service


def _basic_metadata(basic: BasicInfo, labels: Mapping[str, str]) -> dict[str, Any]:
    annotations: dict[str, str] = {}
    if basic.alias:
        annotations[ANNOTATION_ALIAS] = basic.alias
    if basic.description:
        annotations[ANNOTATION_DESCRIPTION] = basic.description
    return {"name": basic.name, "labels": dict(labels), "annotations": annotations}


def external_service(basic: BasicInfo, address: ExternalAddress, *, namespace: str, creator: str) -> dict[str, Any]:
    """The ExternalName Service of kubesphere.md §2.3."""
    meta = _basic_metadata(basic, {LABEL_APP: basic.name})
    meta["annotations"] = {ANNOTATION_SERVICE_TYPE: EXTERNAL_SERVICE_TYPE, **meta["annotations"]}
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {"type": "ExternalName", "externalName": address.external_name},
    }
    return stamp(service, namespace=namespace, creator=creator)


def workloads_service(
    basic: BasicInfo, settings: ServiceSettings, advanced: AdvancedSettings, *, namespace: str, creator: str
) -> dict[str, Any]:
    """The Service of kubesphere.md §2.4 (without the empty alias), headless when asked."""
    meta = _basic_metadata(basic, row_dict(advanced.labels))
    exposed = advanced.access != "none" and not settings.headless
    if exposed and advanced.access == "LoadBalancer":
        meta["annotations"].update(row_dict(advanced.service_annotations))
    node_ports = {r.name: r.node_port for r in advanced.node_ports if r.node_port is not None}
    ports: list[dict[str, Any]] = []
    for p in settings.filled_ports():
        port: dict[str, Any] = {
            "name": p.name,
            "protocol": k8s_protocol(p.protocol),
            "targetPort": p.container_port,
            "port": p.service_port,
        }
        if exposed and p.name in node_ports:
            port["nodePort"] = node_ports[p.name]
        ports.append(port)
    spec: dict[str, Any] = {}
    if exposed:
        spec["type"] = advanced.access
    if settings.headless:
        spec["clusterIP"] = "None"
    if advanced.sticky_session:
        spec["sessionAffinity"] = "ClientIP"
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": advanced.sticky_timeout}}
    else:
        spec["sessionAffinity"] = "None"
    spec["selector"] = settings.selector_dict()
    if ports:
        spec["ports"] = ports
    service = {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}
    if not meta["annotations"]:
        del meta["annotations"]
    return stamp(service, namespace=namespace, creator=creator)


# ---------------------------------------------------------------------------------------------------
# Name availability (needs the cluster: the caller passes `exists`)


async def check_name_available(name: str, *, exists: Callable[[str], Awaitable[bool]]) -> str | None:
    """The message if a Service of this (valid) name already exists in the project, else None."""
    if await exists(name):
        return _("The name already exists. Please enter another name.")
    return None


# ---------------------------------------------------------------------------------------------------
# Workloads: the picker and the selector hint


@dataclass(frozen=True)
class WorkloadInfo:
    kind: str
    name: str
    pod_labels: dict[str, str]
    replicas: int | None = None
    ready: int | None = None


def workload_info(kind: str, obj: Mapping[str, Any]) -> WorkloadInfo:
    """What the picker shows of a Deployment, StatefulSet or DaemonSet (as listed by the API server)."""
    labels = as_dict(dig(obj, "spec", "template", "metadata", "labels"))
    status = as_dict(obj.get("status"))
    if kind == "DaemonSet":
        replicas, ready = status.get("desiredNumberScheduled"), status.get("numberReady")
    else:
        replicas, ready = dig(obj, "spec", "replicas"), status.get("readyReplicas", 0)
    return WorkloadInfo(
        kind=kind,
        name=str(dig(obj, "metadata", "name", default="")),
        pod_labels={str(k): str(v) for k, v in labels.items()},
        replicas=replicas if isinstance(replicas, int) else None,
        ready=ready if isinstance(ready, int) else None,
    )


def valid_workload_ref(kind: str, name: str) -> bool:
    """Whether a picked (kind, name) is one the picker could have offered (checked before any request)."""
    return kind in PICKER_KINDS and is_dns1123_subdomain(name)


def selector_matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Whether pods with `labels` are selected by a Service's (equality) selector; an empty one selects none."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def selector_text(selector: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in selector.items())


@dataclass(frozen=True)
class SelectorHint:
    """The live hint under the selector rows. `level` is info (matches), warn (none) or muted (unset)."""

    message: str
    level: Literal["info", "warn", "muted"]
    matches: tuple[WorkloadInfo, ...] = ()


def selector_hint(rows: Any, workloads: Sequence[WorkloadInfo] | None) -> SelectorHint:
    """The hint for the selector rows as posted (raw nested values) against the project's workloads
    (None when they could not be listed)."""
    parsed: list[KeyValueRow] = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict):
            continue
        try:
            parsed.append(KeyValueRow.model_validate({k: v for k, v in row.items() if k in ("key", "value")}))
        except ValueError:
            return SelectorHint(_("Fix the selector to see which workloads it matches."), "muted")
    e = Errors()
    check_pairs(e, "selector", parsed, labels=True)
    selector = row_dict(parsed)
    if e:
        return SelectorHint(_("Fix the selector to see which workloads it matches."), "muted")
    if not selector:
        return SelectorHint(_("Please set a workload selector."), "muted")
    if workloads is None:
        return SelectorHint(_("The workloads of this project could not be listed."), "muted")
    found = tuple(w for w in workloads if selector_matches(selector, w.pod_labels))
    if not found:
        return SelectorHint(_("The current selector matches no workload."), "warn")
    names_text = ", ".join(f"{w.name} ({w.kind})" for w in found)
    message = ngettext(
        "The current selector ({selector}) matches {count} workload: {names}.",
        "The current selector ({selector}) matches {count} workloads: {names}.",
        len(found),
    ).format(selector=selector_text(selector), count=len(found), names=names_text)
    return SelectorHint(message, "info", found)


# ---------------------------------------------------------------------------------------------------
# Form operations (add/remove rows, pick a workload, switch protocol or provider): pure on nested values


def _row_list(values: dict[str, Any], key: str) -> list[Any]:
    rows = values.get(key)
    rows = list(rows) if isinstance(rows, list) else []
    values[key] = rows
    return rows


def new_row(key: str, index: int) -> dict[str, Any]:
    if key == "ports":
        return {"protocol": "HTTP", "name": default_port_name("HTTP", index), "container_port": "", "service_port": ""}
    return {"key": "", "value": ""}


ROW_LISTS = frozenset({"selector", "ports", "service_annotations", "labels"})


def apply_op(values: Mapping[str, Any], op: str, *, picked: WorkloadInfo | None = None) -> dict[str, Any]:
    """The form values after a row operation: `add:<list>`, `remove:<list>:<i>`, `pick:<kind>:<name>`
    (with `picked`, the workload fetched by the caller), `protocol:<i>` (the port's protocol changed:
    its name follows when it still has another protocol's prefix), `provider` (the load balancer provider
    changed: its keys with their default values are added). Unknown operations change nothing."""
    out = dict(values)
    kind, _sep, arg = op.partition(":")
    if kind == "add" and arg in ROW_LISTS:
        rows = _row_list(out, arg)
        if len(rows) < MAX_ROWS:
            rows.append(new_row(arg, len(rows)))
    elif kind == "remove":
        key, _sep, index = arg.partition(":")
        if key in ROW_LISTS and index.isdigit():
            rows = _row_list(out, key)
            if int(index) < len(rows):
                del rows[int(index)]
    elif kind == "pick" and picked is not None:
        out["selector"] = [{"key": k, "value": v} for k, v in picked.pod_labels.items()]
    elif kind == "protocol" and arg.isdigit():
        rows = _row_list(out, "ports")
        if int(arg) < len(rows) and isinstance(rows[int(arg)], dict):
            rows[int(arg)] = _follow_protocol(dict(rows[int(arg)]), int(arg))
    elif kind == "provider":
        out["service_annotations"] = _provider_rows(out)
    return out


def _follow_protocol(row: dict[str, Any], index: int) -> dict[str, Any]:
    protocol = row.get("protocol") if row.get("protocol") in PROTOCOLS else "HTTP"
    name = str(row.get("name") or "").strip()
    prefix = port_name_prefix(str(protocol))
    if not name:
        row["name"] = default_port_name(str(protocol), index)
        return row
    for other in PROTOCOLS:
        old = port_name_prefix(other)
        if old == prefix:
            continue
        if name == old or name.startswith(old + "-"):
            # only a whole prefix followed by `-` (or nothing) counts: `http2-x` is not `http` + `2-x`
            row["name"] = prefix + name[len(old):]
            return row
    return row


def _provider_rows(values: Mapping[str, Any]) -> list[dict[str, str]]:
    """Annotation rows after the provider changed: other providers' keys left empty or at their default
    are dropped, the new provider's keys with default values are added where missing."""
    chosen = str(values.get("lb_provider") or "")
    rows = [r for r in (values.get("service_annotations") or []) if isinstance(r, dict)]
    defaults: dict[str, str] = {}
    for provider in LB_PROVIDERS:
        if provider.id != chosen:
            for key in provider.keys:
                defaults[key] = provider.defaults.get(key, "")
    kept = [
        r
        for r in rows
        if not (str(r.get("key") or "") in defaults and str(r.get("value") or "") == defaults[str(r.get("key"))])
        and (r.get("key") or r.get("value"))
    ]
    if chosen in {p.id for p in LB_PROVIDERS}:
        present = {str(r.get("key") or "") for r in kept}
        for key, value in lb_provider(chosen).defaults.items():
            if key not in present:
                kept.append({"key": key, "value": value})
    return kept


def provider_keys(provider_id: str) -> tuple[str, ...]:
    """The annotation keys to suggest: the chosen provider's, or every provider's when none is chosen."""
    if provider_id in {p.id for p in LB_PROVIDERS}:
        return lb_provider(provider_id).keys
    return tuple(k for p in LB_PROVIDERS for k in p.keys)


def guess_provider(values: Mapping[str, Any]) -> str:
    keys = [str(r.get("key") or "") for r in (values.get("service_annotations") or []) if isinstance(r, dict)]
    return detect_provider(keys) or ""


def advanced_defaults(values: Mapping[str, Any], name: str, ports: Sequence[PortRow]) -> dict[str, Any]:
    """Values for Advanced Settings the first time it is shown: the label `app: <name>`."""
    out = dict(values)
    if not out.get("labels"):
        out["labels"] = [{"key": LABEL_APP, "value": name}]
    return align_node_ports(out, ports)


def align_node_ports(values: Mapping[str, Any], ports: Sequence[PortRow]) -> dict[str, Any]:
    """One node-port row per Service port, in the ports' order, keeping values by port name."""
    out = dict(values)
    old = {
        str(r.get("name") or ""): r.get("node_port", "")
        for r in (values.get("node_ports") or [])
        if isinstance(r, dict)
    }
    out["node_ports"] = [{"name": p.name, "node_port": old.get(p.name, "") or ""} for p in ports]
    return out


def settings_defaults(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values for Service Settings the first time it is shown: one empty selector row and one port."""
    out = dict(values)
    if not out.get("selector"):
        out["selector"] = [new_row("selector", 0)]
    if not out.get("ports"):
        out["ports"] = [new_row("ports", 0)]
    return out


def follow_name(values: Mapping[str, Any], old: str, new: str) -> dict[str, Any]:
    """After the name changed from `old` to `new`: the label `app: <old>` becomes `app: <new>`."""
    out = dict(values)
    if old and old != new and isinstance(out.get("labels"), list):
        out["labels"] = [
            {**r, "value": new} if isinstance(r, dict) and r.get("key") == LABEL_APP and r.get("value") == old else r
            for r in out["labels"]
        ]
    return out


# ---------------------------------------------------------------------------------------------------
# Server causes back to form fields


def field_for_cause(flow: Flow, cause: str) -> tuple[str, str] | None:
    """The (step, form field) an API server cause (`spec.ports[0].port`) is about, or None."""
    path = parse_cause(cause)
    external = flow is EXTERNAL
    match path:
        case ["metadata", "name", *_]:
            return ("basic", "name")
        case ["metadata", "annotations", key, *_] if key == ANNOTATION_ALIAS:
            return ("basic", "alias")
        case ["metadata", "annotations", key, *_] if key == ANNOTATION_DESCRIPTION:
            return ("basic", "description")
        case ["spec", "externalName", *_] if external:
            return ("address", "external_name")
        case _ if external:
            return None
        case ["metadata", "annotations", *_]:
            return ("advanced", "service_annotations")
        case ["metadata", "labels", *_]:
            return ("advanced", "labels")
        case ["spec", "selector", *_]:
            return ("settings", "selector")
        case ["spec", "ports", int(i), "nodePort", *_]:
            return ("advanced", f"node_ports.{i}.node_port")
        case ["spec", "ports", int(i), key, *_]:
            attr = {"name": "name", "protocol": "protocol", "targetPort": "container_port"}.get(str(key), "service_port")
            return ("settings", f"ports.{i}.{attr}")
        case ["spec", "ports", *_]:
            return ("settings", "ports")
        case ["spec", "clusterIP" | "clusterIPs", *_]:
            return ("settings", "access_mode")
        case ["spec", "sessionAffinity" | "sessionAffinityConfig", *_]:
            return ("advanced", "sticky_timeout")
        case ["spec", key, *_] if key == "type" or str(key).startswith(("loadBalancer", "externalTraffic")):
            return ("advanced", "access")
    return None


@dataclass
class StepView:
    """One entry of the step indicator."""

    slug: str
    title: str
    state: Literal["done", "current", "todo"]
    index: int = 0


def step_views(flow: Flow, current: str) -> list[StepView]:
    here = flow.index(current)
    return [
        StepView(s.slug, str(s.title), "done" if i < here else "current" if i == here else "todo", i + 1)
        for i, s in enumerate(flow.steps)
    ]
