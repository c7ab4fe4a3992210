"""The custom Services' rows and steps (Basic Information, External Service Address, Service Settings, Advanced Settings)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

from app.domain import service_rules
from app.domain.forms import Errors, FormResult, OptInt, Text, validate_data
from app.domain.k8s import names
from app.domain.k8s.names import DNS1035_LABEL, DNS1123_SUBDOMAIN
from app.domain.k8s.service_traffic import TrafficFields
from app.domain.manifests import (
    LB_PROVIDERS,
    STICKY_TIMEOUT_DEFAULT,
    k8s_protocol,
    port_name_prefix,
)
from app.domain.service_rules import (
    NodePortRow,
    PortRow,
    check_exposure,
    check_pairs,
    check_sticky_session,
    external_name_target_problem,
    row_dict,
)
from app.i18n import LazyString, _, lazy_

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
    def validate_values(cls, values: Mapping[str, Any], context: StepContext) -> FormResult[Any]:
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


class AdvancedSettings(Step, TrafficFields):
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
        self.check_traffic(e, {})
        check_sticky_session(e, self.sticky_session, self.sticky_timeout)
        if not row_dict(self.labels):
            e.add("labels", _("Please add a label."))
        check_pairs(e, "labels", self.labels, labels=True)
        return dict(e)
