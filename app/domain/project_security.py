"""A project's Pod Security level: who may choose it, the namespace labels that make the cluster enforce
it, and the report of workloads that do not meet it.

The level lives in the project's row (the console's own gate reads it on every creation path, see
`app.domain.creation`) and in the namespace's `pod-security.kubernetes.io/*` labels (so a cluster with
Pod Security Admission enforces it too, whatever client is used). The reconciler repairs the labels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.access import ProjectAccess
from app.domain.errors import Forbidden, Invalid, Unavailable
from app.domain.pod_security import Level, Violation, namespace_labels, violations
from app.i18n import _, lazy_
from app.kube.client import CONSOLE, Actor, KubeGateway
from app.kube.errors import KubeError
from app.models import Project, WorkspaceRole

log = logging.getLogger("dockyard")
# Kinds whose pods the report looks at: the controllers, and pods no controller owns.
REPORTED_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Pod")

LEVEL_TITLES = {
    Level.PRIVILEGED: lazy_("Privileged"),
    Level.BASELINE: lazy_("Baseline"),
    Level.RESTRICTED: lazy_("Restricted"),
}
LEVEL_HELP = {
    Level.PRIVILEGED: lazy_("No restrictions: pods may use the node's namespaces, files and devices."),
    Level.BASELINE: lazy_("Blocks known privilege escalations: no privileged containers, host namespaces, "
                          "host paths or host ports, and only safe capabilities."),
    Level.RESTRICTED: lazy_("Baseline, and pods must also run as non-root, drop all capabilities, forbid "
                            "privilege escalation and use the runtime's seccomp profile."),
}


def level_of(project: Project) -> Level:
    try:
        return Level(project.pod_security)
    except ValueError:  # a value written by hand in the database: the safe default, not a crash
        return Level.BASELINE


def choice_problem(access: ProjectAccess, level: Level) -> str | None:
    """Why this user may not give the project this level (None when they may)."""
    if access.user.is_platform_admin:
        return None
    if access.workspace_role != WorkspaceRole.admin:
        return _("Only a workspace administrator can change the Pod Security level.")
    if level == Level.PRIVILEGED:
        return _("Only a platform administrator can make a project privileged.")
    return None


def parse_level(value: str) -> Level:
    try:
        return Level(value)
    except ValueError:
        raise Invalid(_("The level {level} does not exist.").format(level=value), field="level") from None


def labels_patch(namespace: dict[str, Any], level: Level) -> dict[str, str] | None:
    """The labels to patch so the namespace enforces `level`; None when it already does."""
    have = (namespace.get("metadata") or {}).get("labels") or {}
    want = namespace_labels(level)
    return None if all(have.get(k) == v for k, v in want.items()) else want


async def apply_labels(kube: KubeGateway, project: Project, level: Level | None = None) -> bool:
    """Label the namespace for `level` (default: the project's), as the console; True when a patch was
    needed."""
    level = level or level_of(project)
    namespace = await kube.get("Namespace", None, project.name, actor=CONSOLE, fresh=True)
    patch = labels_patch(namespace, level)
    if patch is None:
        return False
    await kube.merge_patch("Namespace", None, project.name, {"metadata": {"labels": patch}}, actor=CONSOLE)
    return True


async def label_all(session: AsyncSession, kube: KubeGateway) -> dict[str, bool | str]:
    """Repair every project's labels (the reconciler's pass); a failure is logged, the rest go on."""
    out: dict[str, bool | str] = {}
    for project in await session.scalars(select(Project)):
        try:
            out[project.name] = await apply_labels(kube, project)
        except KubeError as e:
            out[project.name] = str(e)
            if not e.not_found:
                log.warning("pod security labels failed for %s: %s", project.name, e)
    return out


async def set_level(session: AsyncSession, kube: KubeGateway, *, project: Project, access: ProjectAccess,
                    level: str) -> Level:
    """Change the level: the namespace's labels first (what the cluster enforces), then the row."""
    if problem := choice_problem(access, Level.BASELINE):  # may they change it at all? before the input
        raise Forbidden(problem)
    chosen = parse_level(level)
    if problem := choice_problem(access, chosen):
        raise Forbidden(problem)
    try:
        await apply_labels(kube, project, chosen)
    except KubeError as e:
        raise Unavailable(_("The cluster did not take the new level: {msg}").format(msg=e.message)) from None
    # An UPDATE, not a change to `project`: that object may be one kept for several requests
    # (app.domain.recent), and the write must reach every process's kept answers (it does: NOTIFY).
    await session.execute(update(Project).where(Project.id == project.id).values(pod_security=chosen.value))
    await session.commit()
    return chosen


async def set_external_ips(session: AsyncSession, *, project: Project, access: ProjectAccess, allowed: bool) -> None:
    """Let the project's Services set spec.externalIPs, or not: only a platform admin decides (it lets
    a tenant take traffic meant for any address, CVE-2020-8554)."""
    if not access.user.is_platform_admin:
        raise Forbidden(_("Only a platform administrator can allow external IPs."))
    await session.execute(update(Project).where(Project.id == project.id).values(allow_external_ips=allowed))
    await session.commit()


@dataclass(frozen=True)
class Finding:
    """A workload of the project that does not meet a level, and why."""

    kind: str
    name: str
    violations: list[Violation]


def findings(objects: list[dict[str, Any]], level: Level) -> list[Finding]:
    """The objects (of REPORTED_KINDS) that violate `level`; pods made by a controller are left to it."""
    out: list[Finding] = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        if obj.get("kind") == "Pod" and any(ref.get("controller") for ref in meta.get("ownerReferences") or []):
            continue
        if found := violations(obj, level):
            out.append(Finding(obj.get("kind", ""), meta.get("name", ""), found))
    return sorted(out, key=lambda f: (f.kind, f.name))


async def report(kube: KubeGateway, namespace: str, level: Level, *, actor: Actor) -> list[Finding]:
    """What in the project would not meet `level`, read as the user (from the watch cache)."""
    objects: list[dict[str, Any]] = []
    for kind in REPORTED_KINDS:
        for obj in await kube.items(kind, namespace, actor=actor):
            objects.append({**obj, "kind": kind})
    return findings(objects, level)


__all__ = ["LEVEL_HELP", "LEVEL_TITLES", "Finding", "Level", "apply_labels", "choice_problem", "findings", "label_all",
           "level_of", "parse_level", "report", "set_external_ips", "set_level"]
