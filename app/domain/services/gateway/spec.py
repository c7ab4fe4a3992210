"""The HTTPRoute the console writes for "Expose through a Gateway": the form, its validation and the
manifest (pure functions: no cluster).

Which references need what, per the Gateway API spec (gateway-api.sigs.k8s.io, "Security Model" and
"ReferenceGrant"):
- The route lives in the Service's own namespace, so its backendRef (the Service) is in the same
  namespace and needs no ReferenceGrant. A ReferenceGrant is only ever needed in the namespace of the
  *target* of a cross-namespace backendRef (namespace B, "let HTTPRoutes from A refer to my Services"),
  which the console never writes.
- The parentRef to a Gateway in another namespace is not a reference a ReferenceGrant governs: the
  Gateway's owner decides which namespaces may attach, with each listener's `allowedRoutes.namespaces`
  (Same, the default; Selector; or All). The controller refuses a route the listeners do not admit
  (Accepted=False, NotAllowedByListeners), so the cluster enforces what the console offers.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.domain.errors import Invalid
from app.i18n import _, lazy_

Obj = dict[str, Any]

GROUP = "gateway.networking.k8s.io"
API_VERSION = f"{GROUP}/v1"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "dockyard"
SERVICE_LABEL = "dockyard.dev/service"  # the Service the console made the route for
# On a Gateway: the workspaces a platform admin made it available to, comma-separated.
WORKSPACES_ANNOTATION = "dockyard.dev/workspaces"
WORKSPACE_LABEL = "kubesphere.io/workspace"  # on every project namespace (set by the console only)

PATH_TYPES = ("PathPrefix", "Exact")
PATH_TYPE_LABELS = {"PathPrefix": lazy_("Path prefix"), "Exact": lazy_("Exact path")}
MAX_HOSTNAMES = 16  # the CRD's maxItems
HOSTNAME_MAX, PATH_MAX = 253, 1024

# Gateway API's `Hostname`: RFC 1123 labels, optionally led by one wildcard label `*.`, no IP address.
HOSTNAME = re.compile(r"(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL_MAX = 63
# The characters the CRD allows in an Exact or PathPrefix value (RFC 3986 pchar and "/").
PATH_CHARS = re.compile(r"(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})+")


@dataclass
class RouteForm:
    """The "Gateway" part of Edit External Access. `gateway` is "namespace/name"."""

    gateway: str = ""
    hostnames: str = ""  # as typed: one per line, or separated by commas or spaces
    path_type: str = "PathPrefix"
    path: str = "/"
    port: str = ""

    @classmethod
    def from_form(cls, form: Mapping[str, list[str]]) -> RouteForm:
        def one(key: str, default: str = "") -> str:
            return (form.get(key) or [default])[0]

        return cls(gateway=one("gateway").strip(), hostnames=one("hostnames"),
                   path_type=one("path_type", "PathPrefix"), path=one("path", "/").strip(), port=one("port").strip())

    @classmethod
    def of(cls, route: Mapping[str, Any] | None, ports: Sequence[int] = ()) -> RouteForm:
        """The form for an existing route (the console's), or the defaults: the Service's first port."""
        if not route:
            return cls(port=str(ports[0]) if ports else "")
        spec = route.get("spec") or {}
        parent: Obj = next(iter(spec.get("parentRefs") or []), {})
        namespace = parent.get("namespace") or (route.get("metadata") or {}).get("namespace", "")
        rule: Obj = next(iter(spec.get("rules") or []), {})
        match: Obj = next(iter(rule.get("matches") or []), {})
        path = match.get("path") or {}
        backend: Obj = next(iter(rule.get("backendRefs") or []), {})
        return cls(gateway=f"{namespace}/{parent.get('name', '')}" if parent else "",
                   hostnames="\n".join(spec.get("hostnames") or []),
                   path_type=path.get("type", "PathPrefix"), path=path.get("value", "/"),
                   port=str(backend.get("port") or (ports[0] if ports else "")))

    @property
    def hostname_list(self) -> list[str]:
        return [h for h in re.split(r"[\s,]+", self.hostnames.strip()) if h]

    @property
    def gateway_ref(self) -> tuple[str, str]:
        namespace, _sep, name = self.gateway.partition("/")
        return namespace, name


def hostname_problem(host: str) -> str | None:
    """Why `host` is not a Gateway API hostname, or None."""
    if len(host) > HOSTNAME_MAX:
        return _("{host}: a hostname has at most {n} characters.").format(host=host, n=HOSTNAME_MAX)
    if not HOSTNAME.fullmatch(host) or any(len(label) > LABEL_MAX for label in host.split(".")):
        if "*" in host:
            return _("{host}: a wildcard is allowed only as the whole first label, as in *.example.com.").format(
                host=host)
        return _("{host}: use lower-case letters, digits, hyphens and dots, each label starting and ending with a "
                 "letter or digit (RFC 1123), as in shop.example.com.").format(host=host)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    return _("{host}: an IP address is not a hostname; enter a domain name.").format(host=host)


def path_problem(path_type: str, value: str) -> str | None:
    """Why a PathPrefix or Exact value is refused (the CRD's own rules, said plainly), or None."""
    if path_type not in PATH_TYPES:
        return _("Choose a path prefix or an exact path.")
    if not value.startswith("/"):
        return _("A path starts with /.")
    if len(value) > PATH_MAX:
        return _("A path has at most {n} characters.").format(n=PATH_MAX)
    if "//" in value:
        return _("A path may not contain //.")
    if "/./" in value or "/../" in value or value.endswith(("/.", "/..")):
        return _("A path may not contain . or .. segments.")
    if "%2f" in value.lower():
        return _("A path may not contain an encoded slash (%2F).")
    if not PATH_CHARS.fullmatch(value):
        return _("A path may contain letters, digits and - . _ ~ ! $ & ' ( ) * + , ; = : @ / only, other "
                 "characters percent-encoded (%20).")
    return None


def hostnames_intersect(listener: str | None, route: str) -> bool:
    """Whether a listener's hostname (None or "": any) and a route's hostname have a host in common,
    per the HTTPRoute `hostnames` rules (a wildcard matches one or more labels, never the bare domain)."""
    if not listener:
        return True
    if listener == route:
        return True
    if listener.startswith("*.") and route.startswith("*."):
        return route.endswith(listener[1:]) or listener.endswith(route[1:])
    if listener.startswith("*."):
        return route.endswith(listener[1:])
    if route.startswith("*."):
        return listener.endswith(route[1:])
    return False


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector (matchLabels and matchExpressions) against labels. An empty selector
    selects everything, as the API defines it."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key", ""), expr.get("operator", ""), list(expr.get("values") or [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True


def listener_admits(listener: Mapping[str, Any], *, gateway_namespace: str, namespace: str,
                    namespace_labels: Mapping[str, str]) -> bool:
    """Whether a listener lets an HTTPRoute from `namespace` attach: its protocol carries HTTP routes
    (or its `allowedRoutes.kinds` name HTTPRoute) and `allowedRoutes.namespaces` admits the namespace."""
    allowed = listener.get("allowedRoutes") or {}
    kinds = allowed.get("kinds") or []
    if kinds:
        if not any(k.get("kind") == "HTTPRoute" and k.get("group", GROUP) == GROUP for k in kinds):
            return False
    elif listener.get("protocol") not in ("HTTP", "HTTPS"):
        return False
    namespaces = allowed.get("namespaces") or {}
    origin = namespaces.get("from", "Same")
    if origin == "All":
        return True
    if origin == "Selector":
        return namespaces.get("selector") is not None and selector_matches(namespaces.get("selector"),
                                                                           namespace_labels)
    return origin == "Same" and namespace == gateway_namespace


def offered_to(gateway: Mapping[str, Any], workspace: str) -> bool:
    """Whether a platform admin made this Gateway available to `workspace` (its annotation names it)."""
    text = ((gateway.get("metadata") or {}).get("annotations") or {}).get(WORKSPACES_ANNOTATION, "")
    return workspace in {w.strip() for w in text.split(",") if w.strip()}


@dataclass(frozen=True)
class Listener:
    name: str
    protocol: str
    port: int
    hostname: str  # "" for any


@dataclass(frozen=True)
class GatewayOffer:
    """A Gateway offered to the workspace, and whether its listeners admit this project's routes."""

    namespace: str
    name: str
    listeners: tuple[Listener, ...] = ()
    admitting: tuple[Listener, ...] = ()  # the listeners that admit routes from the project's namespace

    @property
    def value(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def admitted(self) -> bool:
        return bool(self.admitting)

    @property
    def hostnames(self) -> list[str]:
        """The hostnames its admitting listeners serve ("*" for any)."""
        return sorted({lst.hostname or "*" for lst in self.admitting})

    @property
    def label(self) -> str:
        served = ", ".join(self.hostnames) if self.admitting else _("does not admit this project")
        return f"{self.name} ({self.namespace}) · {served}"


def gateway_offer(gateway: Mapping[str, Any], *, namespace: str, namespace_labels: Mapping[str, str]) -> GatewayOffer:
    meta = gateway.get("metadata") or {}
    gw_namespace = meta.get("namespace", "")
    listeners, admitting = [], []
    for raw in (gateway.get("spec") or {}).get("listeners") or []:
        lst = Listener(name=raw.get("name", ""), protocol=raw.get("protocol", ""), port=int(raw.get("port") or 0),
                       hostname=raw.get("hostname") or "")
        listeners.append(lst)
        if listener_admits(raw, gateway_namespace=gw_namespace, namespace=namespace,
                           namespace_labels=namespace_labels):
            admitting.append(lst)
    return GatewayOffer(namespace=gw_namespace, name=meta.get("name", ""), listeners=tuple(listeners),
                        admitting=tuple(admitting))


@dataclass
class CheckedRoute:
    """A valid form: what the manifest is built from."""

    gateway_namespace: str
    gateway_name: str
    hostnames: list[str] = field(default_factory=list)
    path_type: str = "PathPrefix"
    path: str = "/"
    port: int = 0


def check_route_form(form: RouteForm, *, offers: Iterable[GatewayOffer], ports: Sequence[int],
                     workspace: str) -> CheckedRoute:
    """The form checked against the Gateway API's rules and what the workspace is offered; every problem
    on its field (`gateway`, `hostnames`, `path`, `port`). Raises Invalid."""
    errors: dict[str, str] = {}
    by_value = {o.value: o for o in offers}
    offer = by_value.get(form.gateway)
    if not form.gateway:
        errors["gateway"] = _("Choose a Gateway.")
    elif offer is None:
        errors["gateway"] = _("The Gateway {gateway} is not offered to the workspace {workspace}.").format(
            gateway=form.gateway, workspace=workspace)
    elif not offer.admitted:
        errors["gateway"] = _("The Gateway {gateway} does not admit routes from this project's namespace (its "
                              "listeners' allowedRoutes). Ask a platform admin.").format(gateway=form.gateway)
    hosts = form.hostname_list
    problems = [p for p in (hostname_problem(h) for h in hosts) if p]
    if problems:
        errors["hostnames"] = problems[0]
    elif len(hosts) > MAX_HOSTNAMES:
        errors["hostnames"] = _("Enter at most {n} hostnames.").format(n=MAX_HOSTNAMES)
    elif len(set(hosts)) != len(hosts):
        errors["hostnames"] = _("A hostname is listed twice.")
    elif offer is not None and offer.admitted and hosts and not any(
            hostnames_intersect(lst.hostname, h) for lst in offer.admitting for h in hosts):
        errors["hostnames"] = _("The Gateway serves {served} only: none of these hostnames is among them.").format(
            served=", ".join(offer.hostnames))
    if problem := path_problem(form.path_type, form.path):
        errors["path"] = problem
    try:
        port = int(form.port)
    except ValueError:
        port = 0
    if not ports:
        errors["port"] = _("The Service has no port to route to. Add one in Edit Service first.")
    elif port not in ports:
        errors["port"] = _("Choose one of the Service's ports.")
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors)
    namespace, name = form.gateway_ref
    return CheckedRoute(gateway_namespace=namespace, gateway_name=name, hostnames=hosts, path_type=form.path_type,
                        path=form.path, port=port)


def route_manifest(service: str, checked: CheckedRoute) -> Obj:
    """The HTTPRoute for a Service, named after it, labelled as the console's and owned by nothing (so
    deleting the Service leaves it, and Delete offers it). Its namespace is the request's."""
    spec: Obj = {
        "parentRefs": [{"group": GROUP, "kind": "Gateway", "namespace": checked.gateway_namespace,
                        "name": checked.gateway_name}],
        "rules": [{
            "matches": [{"path": {"type": checked.path_type, "value": checked.path}}],
            "backendRefs": [{"group": "", "kind": "Service", "name": service, "port": checked.port}],
        }],
    }
    if checked.hostnames:
        spec["hostnames"] = list(checked.hostnames)
    return {
        "apiVersion": API_VERSION, "kind": "HTTPRoute",
        "metadata": {"name": service, "labels": {MANAGED_BY: MANAGER, SERVICE_LABEL: service}},
        "spec": spec,
    }


def is_console_route(route: Mapping[str, Any], service: str) -> bool:
    labels = (route.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY) == MANAGER and labels.get(SERVICE_LABEL) == service


def routes_to(route: Mapping[str, Any], service: str) -> bool:
    """Whether an HTTPRoute sends traffic to the Service `service` of its own namespace."""
    namespace = (route.get("metadata") or {}).get("namespace")
    for rule in (route.get("spec") or {}).get("rules") or []:
        for ref in rule.get("backendRefs") or []:
            if ref.get("group", "") == "" and ref.get("kind", "Service") == "Service" and ref.get("name") == service \
                    and ref.get("namespace", namespace) == namespace:
                return True
    return False


def other_backends(route: Mapping[str, Any], service: str) -> tuple[str, ...]:
    """The other Services (`name` or `namespace/name`) a route sends traffic to."""
    namespace = (route.get("metadata") or {}).get("namespace")
    out: set[str] = set()
    for rule in (route.get("spec") or {}).get("rules") or []:
        for ref in rule.get("backendRefs") or []:
            ref_ns = ref.get("namespace", namespace)
            if ref.get("name") == service and ref_ns == namespace:
                continue
            out.add(ref.get("name", "") if ref_ns == namespace else f"{ref_ns}/{ref.get('name', '')}")
    return tuple(sorted(out))


def field_of(path: str) -> str:
    """The form field an API server cause's path (`spec.hostnames[0]`) belongs on."""
    if path.startswith("spec.hostnames"):
        return "hostnames"
    if path.startswith("spec.parentRefs"):
        return "gateway"
    if ".backendRefs" in path:
        return "port"
    if ".matches" in path or path.startswith("spec.rules"):
        return "path"
    return "_"
