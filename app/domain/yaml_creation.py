"""Edit by YAML: a project member's documents, through the YAML gate, created all or nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.domain import creation
from app.domain.creation import ObjectProblem
from app.domain.manifests import stamp
from app.domain.pod_security import Level
from app.domain.yaml import Manifest, Problem, dump_yaml, locate, parse_many, strip_server_fields
from app.i18n import _
from app.kube.client import Actor, KubeGateway

MAX_FILES = 20


def template(namespace: str) -> str:
    """The editor's starting text: the original's Service template, for this project."""
    return dump_yaml({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"namespace": namespace, "name": "", "labels": {}},
        "spec": {"sessionAffinity": "None", "selector": {}, "ports": []},
    })


@dataclass
class Plan:
    """What the text would create, or why it cannot."""

    objects: list[Manifest] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    dropped: list[ObjectProblem] = field(default_factory=list)
    server_problems: list[ObjectProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.server_problems

    @property
    def in_order(self) -> list[Manifest]:
        """The objects in the order they are created (what others use first, Services last)."""
        return sorted(self.objects, key=lambda m: creation.ORDER.get(m.kind, 2))

    @property
    def service_name(self) -> str | None:
        return next((m.name for m in self.objects if m.kind == "Service"), None)

    def server_problems_in(self, text: str) -> list[ObjectProblem]:
        """The API server's problems, each at the line and column of its field in `text` (the editor's)."""
        return [p if p.line is not None or not p.field else p.located_in(text) for p in self.server_problems]

    def as_dicts(self) -> list[dict[str, Any]]:
        return [strip_server_fields(m.obj, for_create=True) for m in self.objects]


def read(files: list[tuple[str, str | bytes]], *, namespace: str, pod_security: Level,
         external_ips_allowed: bool = False) -> Plan:
    """Parse and check the documents, pods against the project's Pod Security level (no cluster call)."""
    if len(files) > MAX_FILES:
        return Plan(problems=[Problem("", 0, None, None, _("At most {n} files at once.").format(n=MAX_FILES))])
    result = parse_many(files, namespace=namespace, external_ips_allowed=external_ips_allowed)
    plan = Plan(objects=result.objects, problems=result.problems)
    if plan.ok:
        plan.problems = _pod_security_problems(files, plan.objects, pod_security)
        if plan.problems:
            plan.objects = []
    if plan.ok and not plan.service_name:
        plan.problems.append(Problem("", 0, None, None, _(
            "Add at least one Service: this page creates a Service and the objects it uses.")))
    return plan


def _pod_security_problems(files: list[tuple[str, str | bytes]], objects: list[Manifest],
                           level: Level) -> list[Problem]:
    """A refusal per control a pod template breaks, at the line and column of the field."""
    texts = {source: data.decode("utf-8", "replace") if isinstance(data, bytes) else data for source, data in files}
    out: list[Problem] = []
    for m in objects:
        for p in creation.pod_security_problems([m.obj], level):
            at = locate(texts.get(m.source, ""), p.kind, p.name, p.field) or (m.line, None)
            out.append(Problem(m.source, m.document, at[0], at[1], p.message, p.field))
    return out


async def check(kube: KubeGateway, plan: Plan, *, actor: Actor, namespace: str, pod_security: Level,
                external_ips_allowed: bool = False) -> Plan:
    """Server-side checks: unknown fields, then a dry run of every object as the user."""
    if not plan.ok:
        return plan
    objs = plan.as_dicts()
    plan.dropped = await creation.dropped_fields(kube, objs)
    plan.server_problems = await creation.dry_run_all(kube, actor=actor, namespace=namespace, objects=objs,
                                                      pod_security=pod_security,
                                                      external_ips_allowed=external_ips_allowed)
    return plan


async def create(kube: KubeGateway, plan: Plan, *, actor: Actor, namespace: str, creator: str,
                 pod_security: Level, external_ips_allowed: bool = False) -> creation.CreateOutcome:
    """Create the objects as the user, each marked with who made it (`kubesphere.io/creator`, as the
    wizard marks its own; a creator written in the text is replaced: it is who pressed Create)."""
    objects = [stamp(obj, namespace=namespace, creator=creator) for obj in plan.as_dicts()]
    return await creation.create_all(kube, actor=actor, namespace=namespace, objects=objects,
                                     pod_security=pod_security, external_ips_allowed=external_ips_allowed)


def download_name(text_objects: list[Manifest], namespace: str) -> str:
    first = text_objects[0] if text_objects else None
    if first is None:
        return f"default.{namespace}.yaml"
    return f"{first.name}.{namespace}.{first.kind.lower()}.yaml"
