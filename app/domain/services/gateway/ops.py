"""The Gateway API in the cluster: is it served, which Gateways the workspace is offered, the routes to
a Service, and writing or removing the console's HTTPRoute (as the user, dry run first).

Gateways are read by the console itself (users may not read the platform's namespaces); the route is
written as the user, in the project's namespace only, so the cluster authorizes it as it does any write.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.domain.creation import strict_field_validation
from app.domain.errors import Invalid
from app.domain.services.gateway.spec import (
    API_VERSION,
    CheckedRoute,
    GatewayOffer,
    RouteForm,
    check_route_form,
    field_of,
    gateway_offer,
    is_console_route,
    offered_to,
    other_backends,
    route_manifest,
    routes_to,
)
from app.domain.services.gateway.status import RouteView, route_view
from app.i18n import _
from app.kube.client import CONSOLE, Actor, KubeGateway
from app.kube.errors import KubeError
from app.kube.resources import ALL_NAMESPACES

Obj = dict[str, Any]

SERVED_SECONDS, NOT_SERVED_SECONDS = 300.0, 20.0  # CRDs may be installed while the console runs
_served: weakref.WeakKeyDictionary[KubeGateway, tuple[float, bool]] = weakref.WeakKeyDictionary()


async def gateway_api_served(kube: KubeGateway) -> bool:
    """Whether the cluster serves gateway.networking.k8s.io/v1 Gateways and HTTPRoutes (discovery, asked
    as the console, kept a few minutes; a "no" is asked again sooner). Not knowing counts as no."""
    kept = _served.get(kube)
    if kept is not None and kept[0] > time.monotonic():
        return kept[1]
    try:
        found = await kube.raw_get(f"/apis/{API_VERSION}", actor=CONSOLE)
    except KubeError as e:
        if e.not_found:
            _served[kube] = (time.monotonic() + NOT_SERVED_SECONDS, False)
        return False
    names = {r.get("name") for r in found.get("resources") or []}
    served = {"gateways", "httproutes"} <= names
    _served[kube] = (time.monotonic() + (SERVED_SECONDS if served else NOT_SERVED_SECONDS), served)
    return served


@dataclass
class GatewayChoice:
    """What Edit External Access can offer for "Gateway", and why not when it cannot."""

    served: bool
    offers: list[GatewayOffer] = field(default_factory=list)
    route: Obj | None = None  # the console's HTTPRoute for this Service
    foreign: str = ""  # the name of a route the console did not make that has the Service's name
    problem: str = ""

    @property
    def available(self) -> bool:
        return self.served and not self.problem and any(o.admitted for o in self.offers)

    @property
    def options(self) -> list[tuple[str, str]]:
        """(value, label) of the Gateways a route may attach to."""
        return [(o.value, o.label) for o in self.offers if o.admitted]

    @property
    def reason(self) -> str:
        """Why the choice is not available, in words."""
        if not self.served:
            return _("This cluster does not serve the Gateway API (gateway.networking.k8s.io/v1): a cluster "
                     "admin installs its CRDs and a Gateway controller first.")
        if self.problem:
            return self.problem
        if not self.offers:
            return _("No Gateway is offered to this workspace. A platform admin offers one by naming the workspace "
                     "in the Gateway's dockyard.dev/workspaces annotation.")
        if not any(o.admitted for o in self.offers):
            return _("The Gateways offered to this workspace do not admit routes from this project's namespace "
                     "(their listeners' allowedRoutes). Ask a platform admin.")
        return ""


async def offered_gateways(kube: KubeGateway, *, workspace: str, namespace: str) -> list[GatewayOffer]:
    """The Gateways a platform admin offered to `workspace` (annotation), each with the listeners that
    admit routes from `namespace` (evaluated on the namespace's labels, as the controller does)."""
    gateways, ns = await asyncio.gather(
        kube.items("Gateway", ALL_NAMESPACES, actor=CONSOLE),
        kube.get("Namespace", None, namespace, actor=CONSOLE),
    )
    labels = dict((ns.get("metadata") or {}).get("labels") or {})
    offers = [gateway_offer(g, namespace=namespace, namespace_labels=labels) for g in gateways if offered_to(g, workspace)]
    return sorted(offers, key=lambda o: (not o.admitted, o.namespace, o.name))


async def _get_route(kube: KubeGateway, namespace: str, name: str, *, actor: Actor, fresh: bool = False) -> Obj | None:
    try:
        return await kube.get("HTTPRoute", namespace, name, actor=actor, fresh=fresh)
    except KubeError as e:
        if e.not_found:
            return None
        raise


async def gateway_choice(kube: KubeGateway, namespace: str, service: str, *, actor: Actor,
                         workspace: str) -> GatewayChoice:
    """The offers and the console's current route for the Edit External Access form."""
    if not await gateway_api_served(kube):
        return GatewayChoice(served=False)
    choice = GatewayChoice(served=True)
    try:
        choice.offers, route = await asyncio.gather(
            offered_gateways(kube, workspace=workspace, namespace=namespace),
            _get_route(kube, namespace, service, actor=actor))
    except KubeError as e:
        choice.problem = _("The Gateways could not be read: {message}").format(message=e.message)
        return choice
    if route is not None:
        if is_console_route(route, service):
            choice.route = route
        else:
            choice.foreign = service
    return choice


@dataclass
class PlannedRoute:
    """A route that passed the checks and the server's dry run, ready to write."""

    manifest: Obj
    replace: bool


def _invalid_from(e: KubeError) -> Invalid:
    errors: dict[str, str] = {}
    for cause in e.causes:
        errors.setdefault(field_of(cause.field or ""), cause.message or e.message)
    errors.setdefault("_", e.message)
    return Invalid(e.message, errors=errors)


async def plan_route(kube: KubeGateway, namespace: str, service: str, form: RouteForm, *, actor: Actor,
                     workspace: str, ports: Sequence[int]) -> PlannedRoute:
    """Check the form against the Gateways offered now, then dry-run the route's create or replace as
    the user with strict field validation. Raises Invalid, every problem on its field."""
    choice = await gateway_choice(kube, namespace, service, actor=actor, workspace=workspace)
    if not choice.served or choice.problem:
        raise Invalid(choice.reason, errors={"mode": choice.reason})
    if choice.foreign:
        message = _("An HTTPRoute named {name} already exists and was not made by the console. Rename or delete it "
                    "(kubectl), or choose another access mode.").format(name=choice.foreign)
        raise Invalid(message, errors={"gateway": message})
    checked: CheckedRoute = check_route_form(form, offers=choice.offers, ports=ports, workspace=workspace)
    manifest = route_manifest(service, checked)
    manifest["metadata"]["namespace"] = namespace
    current = choice.route
    if current is not None:
        meta = current.get("metadata") or {}
        manifest["metadata"]["resourceVersion"] = meta.get("resourceVersion", "")
        manifest["metadata"]["labels"] = {**(meta.get("labels") or {}), **manifest["metadata"]["labels"]}
        if meta.get("annotations"):
            manifest["metadata"]["annotations"] = dict(meta["annotations"])
    strict = "Strict" if await strict_field_validation(kube) else None
    try:
        if current is None:
            await kube.create(manifest, namespace=namespace, actor=actor, dry_run=True, field_validation=strict)
        else:
            await kube.replace(manifest, namespace=namespace, actor=actor, dry_run=True, field_validation=strict)
    except KubeError as e:
        raise _refusal(e, service) from None
    return PlannedRoute(manifest=manifest, replace=current is not None)


def _refusal(e: KubeError, service: str) -> Invalid:
    if e.invalid or e.status == 400:
        return _invalid_from(e)
    if e.conflict:
        message = _("The HTTPRoute {name} changed while it was being saved. Choose OK again.").format(name=service)
    elif e.forbidden:
        message = _("The cluster does not let you write HTTPRoutes in this project: {message}").format(
            message=e.message)
    else:
        message = e.message
    return Invalid(message, errors={"_": message})


async def write_route(kube: KubeGateway, namespace: str, planned: PlannedRoute, *, actor: Actor) -> Obj:
    """Create or replace the route the dry run accepted."""
    try:
        if planned.replace:
            return await kube.replace(planned.manifest, namespace=namespace, actor=actor)
        return await kube.create(planned.manifest, namespace=namespace, actor=actor)
    except KubeError as e:
        invalid = _refusal(e, planned.manifest["metadata"]["name"])
        message = _("The Service was saved, but its HTTPRoute was not: {message}").format(message=invalid.message)
        raise Invalid(message, errors={**invalid.errors, "_": message}) from None


async def remove_route(kube: KubeGateway, namespace: str, service: str, *, actor: Actor) -> bool:
    """Delete the console's route for the Service, if there is one (a route someone else made stays)."""
    if not await gateway_api_served(kube):
        return False
    try:
        route = await _get_route(kube, namespace, service, actor=actor, fresh=True)
    except KubeError as e:
        if e.forbidden:  # roles from before the Gateway API: the console cannot have written one for them
            return False
        raise
    if route is None or not is_console_route(route, service):
        return False
    try:
        await kube.delete("HTTPRoute", namespace, service, actor=actor,
                          uid=(route.get("metadata") or {}).get("uid") or None)
    except KubeError as e:
        if e.not_found:
            return False
        message = _("The Service was saved, but its HTTPRoute could not be removed: {message}").format(
            message=e.message)
        raise Invalid(message, errors={"_": message}) from None
    return True


async def routes_of(kube: KubeGateway, namespace: str, service: str, *, actor: Actor) -> list[Obj]:
    """The HTTPRoutes of the namespace that send traffic to the Service, or the console made for it
    (empty where the cluster has no Gateway API). Served by the watch cache."""
    if not await gateway_api_served(kube):
        return []
    items = await kube.items("HTTPRoute", namespace, actor=actor)
    return [r for r in items if routes_to(r, service) or is_console_route(r, service)]


async def service_routes(kube: KubeGateway, namespace: str, service: str, *, actor: Actor) -> list[RouteView]:
    """The routes to the Service as its page shows them: the console's first."""
    views = [route_view(r, service) for r in await routes_of(kube, namespace, service, actor=actor)]
    return sorted(views, key=lambda v: (not v.mine, v.name))


@dataclass(frozen=True)
class RelatedRoute:
    name: str
    uid: str
    others: tuple[str, ...]  # the other Services it sends traffic to


async def related_routes(kube: KubeGateway, namespace: str, svc: Mapping[str, Any], *, actor: Actor) -> list[RelatedRoute]:
    """The routes the Delete dialog offers with the Service; none when they cannot be read."""
    name = (svc.get("metadata") or {}).get("name", "")
    try:
        routes = await routes_of(kube, namespace, name, actor=actor)
    except KubeError:
        return []
    return [RelatedRoute(name=(r.get("metadata") or {}).get("name", ""), uid=(r.get("metadata") or {}).get("uid", ""),
                         others=other_backends(r, name)) for r in routes]
