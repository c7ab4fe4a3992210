"""Edit YAML: the editable text, and a conflict shown and merged rather than overwritten."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.domain.errors import Invalid
from app.domain.k8s.managed_fields import ChangedBy, who_changed
from app.domain.services.detail import get_service
from app.domain.services.edits import EditConflict, write_checked
from app.domain.services.view import meta_of
from app.domain.yaml import dump_yaml, parse_manifests, strip_server_fields
from app.i18n import _
from app.kube.client import Actor, KubeGateway

Obj = dict[str, Any]


# -- Edit YAML -----------------------------------------------------------------------------------------

def editable_yaml(svc: Mapping[str, Any]) -> str:
    """The object as the user edits and downloads it: without status, uid, resourceVersion,
    managedFields and the other fields the server owns."""
    return dump_yaml(strip_server_fields(dict(svc), for_create=False))


def download_name(svc: Mapping[str, Any]) -> str:
    meta = meta_of(svc)
    return f"{meta.get('name', 'service')}.{meta.get('namespace', 'default')}.service.yaml"


def parse_service_yaml(text: str, *, namespace: str, name: str, external_ips_allowed: bool = False) -> Obj:
    """Exactly one Service, this one; refusals carry line and column."""
    result = parse_manifests(text, namespace=namespace, allowed_kinds=frozenset({"Service"}),
                             external_ips_allowed=external_ips_allowed)
    if not result.ok:
        problems = [str(p) for p in result.problems]
        raise Invalid(problems[0], errors={"yaml": "\n".join(problems)}, problems=result.problems)
    if len(result.objects) != 1:
        message = _("Edit YAML updates this Service only: keep exactly one document.")
        raise Invalid(message, errors={"yaml": message})
    obj = result.objects[0].obj
    if obj["metadata"]["name"] != name:
        message = _("The name cannot be changed here (it is {name}). To rename, create a new Service.").format(
            name=name)
        raise Invalid(message, errors={"yaml": message})
    return obj


async def update_from_yaml(kube: KubeGateway, namespace: str, name: str, *, actor: Actor, text: str,
                           resource_version: str, external_ips_allowed: bool = False) -> Obj:
    """Replace the Service with the edited YAML, on condition that it is still the version the user
    loaded. Owner references (hidden from the editor) are carried over from the server's copy."""
    obj = parse_service_yaml(text, namespace=namespace, name=name, external_ips_allowed=external_ips_allowed)
    if not resource_version:
        raise Invalid(_("The form is missing the version it was loaded from. Reload the page."))
    current = await get_service(kube, namespace, name, actor=actor, fresh=True)  # a write: the server's copy
    if meta_of(current).get("resourceVersion") != resource_version:
        raise EditConflict(current)
    owners = meta_of(current).get("ownerReferences")
    if owners:
        obj["metadata"]["ownerReferences"] = owners
    obj["metadata"]["resourceVersion"] = resource_version
    return await write_checked(kube, namespace, name, kube.replace(obj, namespace=namespace, actor=actor), actor=actor)


_MISSING = object()


def three_way_merge(base: Any, mine: Any, latest: Any, path: str = "") -> tuple[Any, list[str]]:
    """Apply the user's changes (base -> mine) to the latest version. A field both sides changed to
    different values is a conflict: the user's value is kept and its path reported. Lists are values."""
    if mine == base:
        return latest, []
    if latest == base or latest == mine:
        return mine, []
    if isinstance(base, dict) and isinstance(mine, dict) and isinstance(latest, dict):
        merged: dict[str, Any] = {}
        conflicts: list[str] = []
        keys = list(latest) + [k for k in mine if k not in latest] + [k for k in base if k not in latest and k not in mine]
        for key in keys:
            sub = f"{path}.{key}" if path else key
            value, found = three_way_merge(base.get(key, _MISSING), mine.get(key, _MISSING),
                                           latest.get(key, _MISSING), sub)
            conflicts += found
            if value is not _MISSING:
                merged[key] = value
        return merged, conflicts
    return mine, [path or "."]


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "add" | "del" | "hunk" | ""
    text: str


def diff_lines(before: str, after: str) -> list[DiffLine]:
    out: list[DiffLine] = []
    for line in list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=2))[2:]:
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "")
        out.append(DiffLine(kind, line))
    return out


@dataclass(frozen=True)
class ConflictView:
    """What the page shows after a 409: the server's changes since the user's base, and the user's edit."""

    server_changes: list[DiffLine]
    my_changes: list[DiffLine]
    latest_yaml: str
    latest_version: str
    changed_by: list[ChangedBy]  # who made the server's changes, from its managedFields


def conflict_view(base_text: str, mine_text: str, latest: Mapping[str, Any]) -> ConflictView:
    latest_yaml = editable_yaml(latest)
    namespace = str(meta_of(latest).get("namespace") or "")
    base_result = parse_manifests(base_text, namespace=namespace, allowed_kinds=frozenset({"Service"}))
    base = base_result.objects[0].obj if base_result.ok and len(base_result.objects) == 1 else {}
    changed_by = who_changed(base, strip_server_fields(dict(latest), for_create=False),
                             meta_of(latest).get("managedFields"))
    return ConflictView(server_changes=diff_lines(base_text, latest_yaml), my_changes=diff_lines(base_text, mine_text),
                        latest_yaml=latest_yaml, latest_version=meta_of(latest).get("resourceVersion", ""),
                        changed_by=changed_by)


@dataclass(frozen=True)
class MergeResult:
    text: str  # the user's edit applied to the latest version, for review in the editor
    resource_version: str  # of the latest version
    base_text: str  # the latest version, the new base
    conflicts: list[str]


async def apply_edit_to_latest(kube: KubeGateway, namespace: str, name: str, *, actor: Actor, base_text: str,
                               mine_text: str) -> MergeResult:
    """Merge the user's edit (base -> mine) into the server's latest version. Nothing is sent: the
    result goes back into the editor for the user to review and update."""
    mine = parse_service_yaml(mine_text, namespace=namespace, name=name)
    base_result = parse_manifests(base_text, namespace=namespace, allowed_kinds=frozenset({"Service"}))
    base = base_result.objects[0].obj if base_result.ok and len(base_result.objects) == 1 else {}
    latest = await get_service(kube, namespace, name, actor=actor, fresh=True)
    latest_clean = strip_server_fields(latest, for_create=False)
    merged, conflicts = three_way_merge(base, mine, latest_clean)
    return MergeResult(text=dump_yaml(merged), resource_version=meta_of(latest).get("resourceVersion", ""),
                       base_text=dump_yaml(latest_clean), conflicts=conflicts)
