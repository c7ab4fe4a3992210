"""Read KubeSphere's tenancy from the cluster (through app.kube, as the console's own identity).

Discovery first: which of KubeSphere's groups and versions the cluster serves (3.4: iam v1alpha2, tenant
v1alpha2/v1alpha1; 4.x: v1beta1, and its own iam Role and RoleBinding), so a cluster without KubeSphere,
or a KubeSphere whose shapes we do not know (4.2 is not public), is one clear error, not a wrong import.
"""

from __future__ import annotations

import asyncio
from typing import Any

from app.domain.errors import DomainError, Unavailable
from app.domain.project_security import REPORTED_KINDS
from app.domain.projects import WORKSPACE_LABEL
from app.domain.rbac import MANAGED_BY, MANAGER
from app.i18n import _
from app.kube.client import CONSOLE, KubeGateway
from app.kube.errors import KubeError
from app.kube.resources import ALL_NAMESPACES, KUBESPHERE_KINDS, qualified

from .model import KubeSphere, Obj
from .plan import ENFORCE_LABEL, SYSTEM_WORKSPACE

IAM, TENANT = "iam.kubesphere.io", "tenant.kubesphere.io"
RBAC_HINT = "deploy/kubesphere-import/rbac.yaml"
PARALLEL_READS = 8  # projects read at once (their Services, and workloads to choose a Pod Security level)


class NotKubeSphere(DomainError):
    """The cluster serves no KubeSphere tenancy we know."""

    status = 404


class NotReadable(DomainError):
    """The console's identity may not read KubeSphere's objects (a setting of the cluster, not a refusal
    of the user who asked)."""

    status = 403


async def _discover(kube: KubeGateway) -> dict[str, str]:
    """plural -> the apiVersion to read it at (the group's preferred version when it serves it)."""
    groups = {g.get("name"): g for g in (await kube.raw_get("/apis", actor=CONSOLE)).get("groups") or []}
    if IAM not in groups:
        raise NotKubeSphere(_("The cluster has no KubeSphere: the API group {group} is not served.").format(group=IAM))
    known = {r.api_version for r in KUBESPHERE_KINDS}
    served: dict[str, str] = {}
    for group in (IAM, TENANT):
        info = groups.get(group) or {}
        preferred = (info.get("preferredVersion") or {}).get("groupVersion", "")
        versions = [v.get("groupVersion", "") for v in info.get("versions") or []]
        for gv in sorted((v for v in versions if v in known), key=lambda v: v != preferred):
            for r in (await kube.raw_get(f"/apis/{gv}", actor=CONSOLE)).get("resources") or []:
                name = str(r.get("name") or "")
                if "/" not in name:
                    served.setdefault(f"{name}.{group}", gv)
    if f"users.{IAM}" not in served or not ({f"workspacetemplates.{TENANT}", f"workspaces.{TENANT}"} & set(served)):
        shown = ", ".join(v.get("groupVersion", "") for g in (IAM, TENANT)
                          for v in (groups.get(g) or {}).get("versions") or [])
        raise NotKubeSphere(_("The cluster serves KubeSphere's API at versions this import does not know ({versions}).")
                            .format(versions=shown or "-"))
    return served


def _labels(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


async def _items(kube: KubeGateway, served: dict[str, str], kind: str, plural: str, group: str,
                 namespace: str | None = None) -> list[Obj]:
    gv = served.get(f"{plural}.{group}")
    if gv is None:
        return []
    return await kube.items(qualified(kind, gv), namespace, actor=CONSOLE)


async def read(kube: KubeGateway) -> KubeSphere:
    """Everything the plan needs. Raises NotKubeSphere, NotReadable (the console may not read it: the
    message names the manifest that lets it) or Unavailable (the cluster did not answer)."""
    try:
        return await _read(kube)
    except KubeError as e:
        if e.forbidden:
            raise NotReadable(_("The console may not read KubeSphere's objects ({error}). Apply {manifest} to "
                              "let it (read only), or run `dockyard import kubesphere` with a kubeconfig that may.")
                            .format(error=e.message, manifest=RBAC_HINT)) from None
        raise Unavailable(_("The cluster did not answer: {msg}").format(msg=e.message)) from None


async def _read(kube: KubeGateway) -> KubeSphere:
    served = await _discover(kube)
    edition = "4.x" if f"roles.{IAM}" in served else "3.4"

    def ks(kind: str, plural: str, group: str = IAM, namespace: str | None = None) -> Any:
        return _items(kube, served, kind, plural, group, namespace)

    (users, global_roles, global_role_bindings, workspace_roles, workspace_role_bindings, templates, workspaces,
     groups, group_bindings, namespaces) = await asyncio.gather(
        ks("User", "users"), ks("GlobalRole", "globalroles"), ks("GlobalRoleBinding", "globalrolebindings"),
        ks("WorkspaceRole", "workspaceroles"), ks("WorkspaceRoleBinding", "workspacerolebindings"),
        ks("WorkspaceTemplate", "workspacetemplates", TENANT), ks("Workspace", "workspaces", TENANT),
        ks("Group", "groups"), ks("GroupBinding", "groupbindings"), kube.items("Namespace", None, actor=CONSOLE))
    if edition == "4.x":  # iam.kubesphere.io's own; the core copies and 3.4's stale ones are not memberships
        roles, role_bindings = await asyncio.gather(ks("Role", "roles", namespace=ALL_NAMESPACES),
                                                    ks("RoleBinding", "rolebindings", namespace=ALL_NAMESPACES))
    else:
        roles, role_bindings = await asyncio.gather(kube.items("Role", ALL_NAMESPACES, actor=CONSOLE),
                                                    kube.items("RoleBinding", ALL_NAMESPACES, actor=CONSOLE))
    names = {(t.get("metadata") or {}).get("name") for t in templates}
    projects = [ns for ns in namespaces if _labels(ns).get(WORKSPACE_LABEL) not in (None, "", SYSTEM_WORKSPACE)
                and _labels(ns).get(MANAGED_BY) != MANAGER]  # Dockyard's own: nothing to learn from them
    services: dict[str, list[Obj]] = {}
    workloads: dict[str, list[Obj]] = {}
    limit = asyncio.Semaphore(PARALLEL_READS)

    async def project(ns: Obj) -> None:
        name = ns["metadata"]["name"]
        async with limit:
            services[name] = await kube.items("Service", name, actor=CONSOLE)
            if not _labels(ns).get(ENFORCE_LABEL):
                found = [await kube.items(kind, name, actor=CONSOLE) for kind in REPORTED_KINDS]
                workloads[name] = [{**o, "kind": kind} for kind, objs in zip(REPORTED_KINDS, found, strict=True)
                                   for o in objs]
    await asyncio.gather(*(project(ns) for ns in projects))
    return KubeSphere(
        edition=edition, users=users, global_roles=global_roles, global_role_bindings=global_role_bindings,
        workspace_roles=workspace_roles, workspace_role_bindings=workspace_role_bindings,
        workspaces=[*templates, *(w for w in workspaces if (w.get("metadata") or {}).get("name") not in names)],
        groups=groups, group_bindings=group_bindings, namespaces=namespaces, roles=roles,
        role_bindings=role_bindings, services=services, workloads=workloads)
