"""Creating a set of objects as one unit: dry-run everything, then create in order, and undo on failure.

Used by every creation path (the wizard, External Service, Specify Workloads, Edit by YAML). The
namespace always comes from the project in the URL. Kubernetes 1.20 drops unknown fields silently, so
objects are also checked against the server's OpenAPI schema and such fields are reported, not lost.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from dataclasses import dataclass, field
from typing import Any

from app.domain.pod_security import Level, violations
from app.domain.schema_check import SchemaIndex
from app.domain.service_rules import service_abuse
from app.domain.yaml import format_path
from app.i18n import _
from app.kube.client import CONSOLE, Actor, KubeGateway
from app.kube.errors import KubeError

Obj = dict[str, Any]

# Creation order: what others refer to comes first, the Service last (it is what the user lands on).
ORDER = {"ConfigMap": 0, "Secret": 0, "PersistentVolumeClaim": 1, "Deployment": 2, "StatefulSet": 2, "Service": 3}


@dataclass(frozen=True)
class ObjectProblem:
    """Why one object cannot be created; `field` is the path the API server named, if any."""

    kind: str
    name: str
    message: str
    field: str = ""
    line: int | None = None  # where the field is written, when the objects came from YAML text
    column: int | None = None

    def __str__(self) -> str:
        where = f"{self.kind} {self.name}" + (f" ({self.field})" if self.field else "")
        if self.line is not None:
            where += ", " + _("line {line}, column {column}").format(line=self.line, column=self.column)
        return f"{where}: {self.message}"

    def located_in(self, text: str) -> ObjectProblem:
        """The same problem, with the line and column of its field in `text` (if found)."""
        from dataclasses import replace

        from app.domain.yaml import locate

        at = locate(text, self.kind, self.name, self.field)
        return replace(self, line=at[0], column=at[1]) if at else self


@dataclass
class CreateOutcome:
    created: list[tuple[str, str]] = field(default_factory=list)
    problems: list[ObjectProblem] = field(default_factory=list)
    rolled_back: list[tuple[str, str]] = field(default_factory=list)
    # (kind, name, uid) of objects whose create answer was lost, found on the server by reading them back
    read_back: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# What a server with strict field validation says (400): `strict decoding error: unknown field "spec.x",
# duplicate field "spec.y"`. The paths are the object's, as the gate and the form causes write them.
_STRICT_FIELD = re.compile(r'(unknown|duplicate) field "([^"]+)"')


def _problems_from(obj: Obj, e: KubeError) -> list[ObjectProblem]:
    kind, name = obj.get("kind", "?"), (obj.get("metadata") or {}).get("name", "?")
    if e.status == 400 and (fields := _STRICT_FIELD.findall(e.message)):
        return [ObjectProblem(kind, name, _("Unknown field: the API server does not know it.") if what == "unknown"
                              else _("This field is written twice."), path) for what, path in fields]
    if e.causes:
        return [ObjectProblem(kind, name, c.message or e.message, c.field) for c in e.causes]
    if e.status == 0:
        return [ObjectProblem(kind, name, e.message)]
    if e.forbidden:
        return [ObjectProblem(kind, name, _("You are not allowed to create this in the cluster: {msg}").format(msg=e.message))]
    if e.conflict:
        return [ObjectProblem(kind, name, _("{kind} {name} already exists.").format(kind=kind, name=name), "metadata.name")]
    return [ObjectProblem(kind, name, e.message)]


def ordered(objects: list[Obj]) -> list[Obj]:
    return sorted(objects, key=lambda o: ORDER.get(o.get("kind", ""), 2))


def pod_security_problems(objects: list[Obj], level: Level) -> list[ObjectProblem]:
    """Every pod template against the project's Pod Security level: the console's own gate, on every
    creation path, so a cluster without Pod Security Admission is protected too."""
    out = []
    for obj in objects:
        kind, name = obj.get("kind", "?"), (obj.get("metadata") or {}).get("name", "?")
        for v in violations(obj, level):
            out.append(ObjectProblem(kind, name, _("{control}: {message}").format(control=v.control, message=v.message),
                                     format_path(v.path)))
    return out


def service_problems(objects: list[Obj], external_ips_allowed: bool) -> list[ObjectProblem]:
    """The YAML gate's Service rules again, for objects that did not come through it (the forms)."""
    out = []
    for obj in objects:
        if obj.get("kind") == "Service":
            name = (obj.get("metadata") or {}).get("name", "?")
            for path, message in service_abuse(obj, external_ips_allowed=external_ips_allowed):
                out.append(ObjectProblem("Service", name, message, format_path(path)))
    return out


async def dry_run_all(kube: KubeGateway, *, actor: Actor, namespace: str, objects: list[Obj],
                      pod_security: Level, external_ips_allowed: bool = False) -> list[ObjectProblem]:
    """Check the pods against the project's level and the Services against what a tenant may reach,
    then ask the API server to validate every object (dryRun=All), as the user, creating nothing."""
    if refused := pod_security_problems(objects, pod_security) + service_problems(objects, external_ips_allowed):
        return refused

    strict = "Strict" if await strict_field_validation(kube) else None

    async def one(obj: Obj) -> list[ObjectProblem]:
        try:
            await kube.create(obj, namespace=namespace, actor=actor, dry_run=True, field_validation=strict)
        except KubeError as e:
            return _problems_from(obj, e)
        return []
    results = await asyncio.gather(*(one(o) for o in objects))
    return [p for r in results for p in r]


async def create_all(kube: KubeGateway, *, actor: Actor, namespace: str, objects: list[Obj],
                     pod_security: Level, external_ips_allowed: bool = False) -> CreateOutcome:
    """All or nothing: check and dry-run all, then create in dependency order; if one fails, delete
    what was made. `pod_security` is the project's level (`project_security.level_of`)."""
    outcome = CreateOutcome()
    for obj in objects:
        obj.setdefault("metadata", {})["namespace"] = namespace
    outcome.problems = await dry_run_all(kube, actor=actor, namespace=namespace, objects=objects,
                                         pod_security=pod_security, external_ips_allowed=external_ips_allowed)
    if outcome.problems:
        return outcome
    for obj in ordered(objects):
        kind, name = obj["kind"], obj["metadata"]["name"]
        try:
            await kube.create(obj, namespace=namespace, actor=actor)
        except KubeError as e:
            # No answer (timed out, cut, unreadable): the server may have made it all the same. The dry
            # run found no such object a moment ago, so one that exists now is this create's.
            found = await _read_back(kube, kind, namespace, name, actor) if e.status == 0 else None
            if isinstance(found, dict):
                outcome.created.append((kind, name))
                outcome.read_back.append((kind, name, (found.get("metadata") or {}).get("uid", "")))
                continue
            outcome.problems = _problems_from(obj, e)
            if found is _UNKNOWN:
                outcome.problems.append(ObjectProblem(kind, name, _(
                    "The cluster did not answer, so it is not known whether {kind} {name} was created. It "
                    "is being removed again if it was.").format(kind=kind, name=name)))
                outcome.created.append((kind, name))  # removed below if it exists; a 404 is fine
            for kind, name in reversed(outcome.created):
                try:
                    # Background: a Service deleted in the foreground keeps its node port held on 1.20.
                    await kube.delete(kind, namespace, name, actor=actor, propagation="Background")
                    outcome.rolled_back.append((kind, name))
                except KubeError as undo:
                    if not undo.not_found:
                        outcome.problems.append(ObjectProblem(kind, name, _(
                            "It was created but could not be removed again: {msg}").format(msg=undo.message)))
            outcome.created = []
            return outcome
        outcome.created.append((kind, name))
    return outcome


_UNKNOWN = object()


async def _read_back(kube: KubeGateway, kind: str, namespace: str, name: str, actor: Actor) -> Obj | object | None:
    """The object as the server has it after a write whose answer was lost: the object, None when it
    does not exist, `_UNKNOWN` when the server does not answer this either."""
    try:
        return await kube.get(kind, namespace, name, actor=actor, fresh=True)
    except KubeError as e:
        return None if e.not_found else _UNKNOWN


# -- fields the server would drop ----------------------------------------------------------------

_schemas: weakref.WeakKeyDictionary[KubeGateway, SchemaIndex] = weakref.WeakKeyDictionary()
_schema_lock = asyncio.Lock()


async def schema_index(kube: KubeGateway) -> SchemaIndex | None:
    """The server's schema for the kinds we create, fetched once per gateway (None if unavailable)."""
    if kube in _schemas:
        return _schemas[kube]
    async with _schema_lock:
        if kube not in _schemas:
            try:
                spec = await kube.openapi_v2()
            except KubeError:
                return None
            _schemas[kube] = SchemaIndex.from_openapi(spec)
            del spec
    return _schemas[kube]


_strict: weakref.WeakKeyDictionary[KubeGateway, bool] = weakref.WeakKeyDictionary()


async def strict_field_validation(kube: KubeGateway) -> bool:
    """Whether the server refuses unknown fields itself when asked (`fieldValidation=Strict`, GA in 1.27),
    asked once per gateway; an older or silent server is checked against its /openapi/v2 instead."""
    if kube not in _strict:
        try:
            version = await kube.version()
        except KubeError:
            return False  # not known now: the dry run goes without it, the schema check stays
        minor = re.match(r"\d+", str(version.get("minor", "")))
        _strict[kube] = str(version.get("major")) == "1" and minor is not None and int(minor.group()) >= 27
    return _strict[kube]


async def dropped_fields(kube: KubeGateway, objects: list[Obj]) -> list[ObjectProblem]:
    """Fields the API server would silently drop: only on servers without strict field validation (older
    than 1.27); the others refuse them in the dry run, at their path."""
    if await strict_field_validation(kube):
        return []
    index = await schema_index(kube)
    if index is None:
        return []
    out: list[ObjectProblem] = []
    for obj in objects:
        if not index.covers(str(obj.get("apiVersion")), str(obj.get("kind"))):
            continue
        for path in index.unknown_fields(obj):
            out.append(ObjectProblem(obj["kind"], obj["metadata"]["name"],
                                     _("Unknown field: Kubernetes would silently drop it."), path))
    return out


# -- double submit --------------------------------------------------------------------------------

__all__ = ["CONSOLE", "CreateOutcome", "ObjectProblem", "create_all", "dropped_fields", "dry_run_all",
           "pod_security_problems"]
