"""What the Service's page shows of an HTTPRoute: its hostnames, path, Gateways and, per Gateway, the
conditions its controller set (Accepted, ResolvedRefs), or that no controller has answered yet."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.domain.services.gateway.spec import GROUP, is_console_route

# A controller normally answers within a second or two; until then the page says it is waiting.
ANSWER_SECONDS = 30
SHOWN_CONDITIONS = ("Accepted", "ResolvedRefs")


@dataclass(frozen=True)
class ConditionView:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str
    since: str
    stale: bool  # set for an earlier generation of the route

    @property
    def health(self) -> str:
        return "ok" if self.status == "True" else ("err" if self.status == "False" else "warn")


@dataclass(frozen=True)
class ParentView:
    """One Gateway the route attaches to, and what its controller says (nothing: `answered` False)."""

    namespace: str
    name: str
    section: str
    controller: str = ""
    conditions: tuple[ConditionView, ...] = ()

    @property
    def answered(self) -> bool:
        return bool(self.conditions)

    @property
    def text(self) -> str:
        return f"{self.namespace}/{self.name}" + (f" ({self.section})" if self.section else "")


@dataclass(frozen=True)
class RouteView:
    name: str
    mine: bool  # made by the console for this Service (Edit External Access edits it)
    hostnames: tuple[str, ...]
    paths: tuple[str, ...]  # "PathPrefix /shop"
    parents: tuple[ParentView, ...] = ()
    waiting: bool = False  # no answer yet, but created moments ago
    created: str = ""

    @property
    def unanswered(self) -> bool:
        return any(not p.answered for p in self.parents)


def _parent_key(ref: Mapping[str, Any], namespace: str) -> tuple[str, str, str]:
    return (ref.get("namespace") or namespace, ref.get("name", ""), ref.get("sectionName") or "")


def route_view(route: Mapping[str, Any], service: str, *, now: dt.datetime | None = None) -> RouteView:
    """The page's view of one route. Status entries are matched to the spec's parentRefs; those a
    controller wrote for a parent the route no longer names are left out."""
    meta = route.get("metadata") or {}
    namespace = meta.get("namespace", "")
    generation = int(meta.get("generation") or 0)
    spec = route.get("spec") or {}
    answers: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    for entry in (route.get("status") or {}).get("parents") or []:
        answers[_parent_key(entry.get("parentRef") or {}, namespace)] = entry
    parents = []
    for ref in spec.get("parentRefs") or []:
        if ref.get("group", GROUP) != GROUP or ref.get("kind", "Gateway") != "Gateway":
            continue
        key = _parent_key(ref, namespace)
        entry = answers.get(key) or {}
        conditions = tuple(
            ConditionView(type=c.get("type", ""), status=c.get("status", "Unknown"), reason=c.get("reason", ""),
                          message=c.get("message", ""), since=c.get("lastTransitionTime", ""),
                          stale=bool(generation) and int(c.get("observedGeneration") or generation) < generation)
            for c in sorted(entry.get("conditions") or [],
                            key=lambda c: (SHOWN_CONDITIONS.index(c["type"]) if c.get("type") in SHOWN_CONDITIONS
                                           else len(SHOWN_CONDITIONS), c.get("type", "")))
        )
        parents.append(ParentView(namespace=key[0], name=key[1], section=key[2],
                                  controller=entry.get("controllerName", ""), conditions=conditions))
    paths = []
    for rule in spec.get("rules") or []:
        for match in rule.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]:
            path = match.get("path") or {"type": "PathPrefix", "value": "/"}
            paths.append(f"{path.get('type', 'PathPrefix')} {path.get('value', '/')}")
    created = meta.get("creationTimestamp", "")
    waiting = False
    if created:
        try:
            when = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
            waiting = ((now or dt.datetime.now(dt.UTC)) - when).total_seconds() < ANSWER_SECONDS
        except ValueError:
            waiting = False
    return RouteView(name=meta.get("name", ""), mine=is_console_route(route, service),
                     hostnames=tuple(spec.get("hostnames") or ()), paths=tuple(dict.fromkeys(paths)),
                     parents=tuple(parents), waiting=waiting, created=created)
