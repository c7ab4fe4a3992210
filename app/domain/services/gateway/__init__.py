"""Expose a Service through a Gateway (Gateway API HTTPRoute): the form and manifest (`spec`), the
cluster side (`ops`) and the page's view of a route's status (`status`)."""

from __future__ import annotations

from app.domain.services.gateway.ops import (
    GatewayChoice,
    PlannedRoute,
    RelatedRoute,
    gateway_api_served,
    gateway_choice,
    offered_gateways,
    plan_route,
    related_routes,
    remove_route,
    routes_of,
    service_routes,
    write_route,
)
from app.domain.services.gateway.spec import (
    PATH_TYPE_LABELS,
    PATH_TYPES,
    WORKSPACES_ANNOTATION,
    CheckedRoute,
    GatewayOffer,
    RouteForm,
    check_route_form,
    hostname_problem,
    hostnames_intersect,
    listener_admits,
    path_problem,
    route_manifest,
    selector_matches,
)
from app.domain.services.gateway.status import (
    ANSWER_SECONDS,
    ConditionView,
    ParentView,
    RouteView,
    route_view,
)

__all__ = [
    "ANSWER_SECONDS",
    "PATH_TYPES",
    "PATH_TYPE_LABELS",
    "WORKSPACES_ANNOTATION",
    "CheckedRoute",
    "ConditionView",
    "GatewayChoice",
    "GatewayOffer",
    "ParentView",
    "PlannedRoute",
    "RelatedRoute",
    "RouteForm",
    "RouteView",
    "check_route_form",
    "gateway_api_served",
    "gateway_choice",
    "hostname_problem",
    "hostnames_intersect",
    "listener_admits",
    "offered_gateways",
    "path_problem",
    "plan_route",
    "related_routes",
    "remove_route",
    "route_manifest",
    "route_view",
    "routes_of",
    "selector_matches",
    "service_routes",
    "write_route",
]
