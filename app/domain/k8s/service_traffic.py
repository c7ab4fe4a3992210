"""Today's Service traffic fields, in one home for every form that sets them (the wizards' Advanced
Settings, Specify Workloads' Advanced Settings, Edit Service): their choices, which Services each
applies to, how a form's value is checked and how it is written into a Service's spec.

A form shows a field only when the cluster's schema has it (`app/domain/services/capabilities.py`); a
field it does not show is carried as it was. The API server still checks every value (strict field
validation in the dry run): these rules give the user the message on the field before that.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from pydantic import BaseModel, model_validator

from app.domain.forms import Errors, Text
from app.domain.k8s.names import is_label_key
from app.i18n import LazyString, _, lazy_

INTERNAL_TRAFFIC_POLICIES = ("Cluster", "Local")
EXTERNAL_TRAFFIC_POLICIES = ("Cluster", "Local")
# PreferClose is deprecated (1.34) for PreferSameZone: not offered, but kept where a Service has it.
TRAFFIC_DISTRIBUTIONS = ("PreferSameZone", "PreferSameNode")
IP_FAMILY_POLICIES = ("SingleStack", "PreferDualStack", "RequireDualStack")
IP_FAMILIES = ("IPv4", "IPv6", "IPv4,IPv6", "IPv6,IPv4")  # the first is the Service's primary family

# form field -> the Service spec's key
FIELDS = {
    "internal_traffic_policy": "internalTrafficPolicy",
    "traffic_distribution": "trafficDistribution",
    "ip_family_policy": "ipFamilyPolicy",
    "ip_families": "ipFamilies",
    "publish_not_ready_addresses": "publishNotReadyAddresses",
    "external_traffic_policy": "externalTrafficPolicy",
    "load_balancer_class": "loadBalancerClass",
}
_CHOICES = {
    "internal_traffic_policy": INTERNAL_TRAFFIC_POLICIES,
    "traffic_distribution": TRAFFIC_DISTRIBUTIONS,
    "ip_family_policy": IP_FAMILY_POLICIES,
    "ip_families": IP_FAMILIES,
    "external_traffic_policy": EXTERNAL_TRAFFIC_POLICIES,
}
NODE_TYPES = ("NodePort", "LoadBalancer")
# The access modes a field needs on a form (shown with them, data-show); the others need none.
NEEDS_ACCESS = {"external_traffic_policy": "NodePort LoadBalancer", "load_balancer_class": "LoadBalancer"}

# What the forms show: label, choices ("" first: the cluster's default) and help, in one place.
LABELS: dict[str, LazyString] = {
    "internal_traffic_policy": lazy_("Internal Traffic Policy"),
    "traffic_distribution": lazy_("Traffic Distribution"),
    "ip_family_policy": lazy_("IP Family Policy"),
    "ip_families": lazy_("IP Families"),
    "publish_not_ready_addresses": lazy_("Publish the addresses of pods that are not ready"),
    "external_traffic_policy": lazy_("External Traffic Policy"),
    "load_balancer_class": lazy_("Load Balancer Class"),
}
OPTIONS: dict[str, tuple[tuple[str, LazyString], ...]] = {
    "internal_traffic_policy": (("Cluster", lazy_("Cluster: to every endpoint")),
                                ("Local", lazy_("Local: only to endpoints on the caller's node"))),
    "traffic_distribution": (("", lazy_("No preference")),
                             ("PreferSameZone", lazy_("Prefer endpoints in the same zone")),
                             ("PreferSameNode", lazy_("Prefer endpoints on the same node"))),
    "ip_family_policy": (("SingleStack", lazy_("Single stack")),
                         ("PreferDualStack", lazy_("Dual stack when the cluster has it")),
                         ("RequireDualStack", lazy_("Dual stack, required"))),
    "ip_families": (("", lazy_("The cluster's default")), ("IPv4", lazy_("IPv4")), ("IPv6", lazy_("IPv6")),
                    ("IPv4,IPv6", lazy_("IPv4, then IPv6")), ("IPv6,IPv4", lazy_("IPv6, then IPv4"))),
    "external_traffic_policy": (("Cluster", lazy_("Cluster: any node forwards to any endpoint")),
                                ("Local", lazy_("Local: only nodes with an endpoint answer; keeps the client's address"))),
}
# What the API server sets when a Service leaves the field out: shown as chosen, and not written
# into a new Service (the manifest stays as the original console writes it).
DEFAULTS = {"internal_traffic_policy": "Cluster", "external_traffic_policy": "Cluster", "ip_family_policy": "SingleStack"}
HELP: dict[str, LazyString] = {
    "traffic_distribution": lazy_("A hint to the network proxy: endpoints close to the caller first."),
    "ip_families": lazy_("The first family is the Service's primary one; it cannot change after creation."),
    "publish_not_ready_addresses": lazy_(
        "For peers that must find each other before they are ready, such as a database cluster's members."),
    "load_balancer_class": lazy_(
        "Which load balancer implementation serves this Service, e.g. service.k8s.aws/nlb; empty: the "
        "cluster's default. It cannot change once set."),
}


def applicable(service_type: str, *, headless: bool) -> tuple[str, ...]:
    """The spec keys a Service of `service_type` may carry. Routing through a virtual IP needs one
    (internal policy, distribution); the external policy needs node ports; the class a load balancer."""
    keys = ["publishNotReadyAddresses", "ipFamilyPolicy", "ipFamilies"]
    if headless:
        return tuple(keys)
    keys += ["internalTrafficPolicy", "trafficDistribution"]
    if service_type in NODE_TYPES:
        keys.append("externalTrafficPolicy")
    if service_type == "LoadBalancer":
        keys.append("loadBalancerClass")
    return tuple(keys)


def offered(schema_fields: Collection[str], *, headless: bool, service_type: str | None = None) -> frozenset[str]:
    """The spec keys a form shows: those the cluster's schema has and the Service can carry (with
    `service_type` None, those of any type: the form shows each with the access mode it needs)."""
    keys = applicable(service_type or "LoadBalancer", headless=headless)
    return frozenset(k for k in keys if k in schema_fields)


_FIELD_OF_KEY = {key: name for name, key in FIELDS.items()}


def field_of_cause(path: list[str | int]) -> str | None:
    """The form field of a server's cause path (`spec.ipFamilies[0]` -> ip_families), if it is one of these."""
    match path:
        case ["spec", str(key), *_] if key in _FIELD_OF_KEY:
            return _FIELD_OF_KEY[key]
    return None


def form_fields(offered_keys: Collection[str], *, with_access: bool) -> list[str]:
    """The form fields to show, in order: those needing an access mode (`with_access`), or the others."""
    return [name for name, key in FIELDS.items() if key in offered_keys and (name in NEEDS_ACCESS) == with_access]


def _families(value: Any) -> str:
    return ",".join(str(f) for f in value) if isinstance(value, list) else ""


class TrafficFields(BaseModel):
    """The fields as a form posts them: "" leaves the cluster's default (nothing written)."""

    internal_traffic_policy: Text = ""
    traffic_distribution: Text = ""
    ip_family_policy: Text = ""
    ip_families: Text = ""
    publish_not_ready_addresses: bool = False
    external_traffic_policy: Text = ""
    load_balancer_class: Text = ""

    @model_validator(mode="after")
    def _traffic_canonical(self) -> TrafficFields:
        """One value per meaning: "" is the default the API server sets; a field the chosen access mode
        (a step's `access`, where it has one) cannot carry is back at its default."""
        for name, default in DEFAULTS.items():
            if not getattr(self, name):
                setattr(self, name, default)
        access = getattr(self, "access", None)
        if access is not None:
            if access not in NODE_TYPES:
                self.external_traffic_policy = DEFAULTS["external_traffic_policy"]
            if access != "LoadBalancer":
                self.load_balancer_class = ""
        return self

    @staticmethod
    def values_of(spec: Mapping[str, Any]) -> dict[str, Any]:
        """The form's values for a Service spec (for `model_construct` or a form); a field left out
        shows what the API server would set."""
        return {
            "internal_traffic_policy": str(spec.get("internalTrafficPolicy") or "Cluster"),
            "traffic_distribution": str(spec.get("trafficDistribution") or ""),
            "ip_family_policy": str(spec.get("ipFamilyPolicy") or "SingleStack"),
            "ip_families": _families(spec.get("ipFamilies")),
            "publish_not_ready_addresses": spec.get("publishNotReadyAddresses") is True,
            "external_traffic_policy": str(spec.get("externalTrafficPolicy") or "Cluster"),
            "load_balancer_class": str(spec.get("loadBalancerClass") or ""),
        }

    def check_traffic(self, e: Errors, current: Mapping[str, Any], *, only: Collection[str] | None = None) -> None:
        """Messages for values no Service takes. A value the Service already has is accepted as it is
        (a deprecated one such as PreferClose stays until the user changes it). `only`: the form fields
        checked (default all)."""
        had = self.values_of(current)
        for name, choices in _CHOICES.items():
            value = getattr(self, name)
            if (only is None or name in only) and value and value != had[name] and value not in choices:
                e.add(name, _("Please select a valid option."))
        lb_class = self.load_balancer_class
        if (only is None or "load_balancer_class" in only) and lb_class and lb_class != had["load_balancer_class"]:
            if not is_label_key(lb_class) or "/" not in lb_class:
                e.add("load_balancer_class", _(
                    "Enter the class as a domain-prefixed name, such as service.k8s.aws/nlb (the prefix is a "
                    "DNS subdomain, the name up to 63 letters, digits, '-', '_' or '.')."))

    def apply_traffic(self, spec: dict[str, Any], *, service_type: str, headless: bool,
                      only: Collection[str] | None = None) -> None:
        """Write the fields into `spec`; a field this Service cannot carry (e.g. the external policy of
        a Service without node ports) is removed, whatever the form said. `only`: the form fields the
        form showed; the others keep what the spec has."""
        allowed = applicable(service_type, headless=headless)
        for name, key in FIELDS.items():
            if key not in allowed:
                spec.pop(key, None)
                continue
            if only is not None and name not in only:
                continue
            value = getattr(self, name)
            if key == "publishNotReadyAddresses":
                if value:
                    spec[key] = True
                elif spec.get(key):
                    spec[key] = False
            elif key == "ipFamilies":
                if value:
                    spec[key] = value.split(",")
                else:
                    spec.pop(key, None)
            elif value and not (value == DEFAULTS.get(name) and key not in spec):
                spec[key] = value
            elif not value:
                spec.pop(key, None)
