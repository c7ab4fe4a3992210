"""Who changed what: the fields that differ between two versions of an object, each attributed to the
field manager the API server recorded for it (`metadata.managedFields`, fieldsV1).

The API server records, for every manager (kubectl-edit, kubectl-client-side-apply, helm, a
controller, `dockyard/<username>` for the console's users), the fields it last set and when. A field
someone removed is owned by nobody any more: it is put down to the manager that wrote last.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Path = tuple[str, ...]
_MISSING = object()
# Kept by the server or hidden by the editor: never "changed by someone".
_IGNORED = {("metadata", "resourceVersion"), ("metadata", "managedFields"), ("metadata", "generation"),
            ("metadata", "uid"), ("metadata", "creationTimestamp"), ("metadata", "selfLink"), ("status",)}


@dataclass(frozen=True)
class ChangedBy:
    """One manager's share of the changes: its name as recorded, how (Update or Apply), when (RFC 3339),
    and the changed fields as dotted paths."""

    manager: str
    operation: str
    time: str
    paths: tuple[str, ...]

    @property
    def console_user(self) -> str:
        """The Dockyard user when the manager is one (`dockyard/<username>`), else ""."""
        return self.manager.removeprefix("dockyard/") if self.manager.startswith("dockyard/") else ""


def changed_paths(before: Any, after: Any, path: Path = ()) -> list[Path]:
    """The paths whose values differ (a list is one value: its path is reported, not its items')."""
    if any(path[:len(ignored)] == ignored for ignored in _IGNORED):
        return []
    if before == after:
        return []
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        out: list[Path] = []
        for key in [*after, *(k for k in before if k not in after)]:
            out += changed_paths(before.get(key, _MISSING), after.get(key, _MISSING), (*path, str(key)))
        return out
    return [path]


def _owns(fields: Any, path: Path) -> bool:
    """Whether a fieldsV1 tree has `path` (or a field below it, e.g. a list's items)."""
    node = fields
    for segment in path:
        if not isinstance(node, Mapping) or f"f:{segment}" not in node:
            return False
        node = node[f"f:{segment}"]
    return True


def who_changed(before: Mapping[str, Any], after: Mapping[str, Any],
                managed_fields: Sequence[Mapping[str, Any]] | None) -> list[ChangedBy]:
    """The changes from `before` to `after`, grouped by the manager that set each field last (the
    newest entry owning it); most recent first. Paths no entry owns go to the newest writer."""
    entries = [e for e in managed_fields or [] if isinstance(e, Mapping) and e.get("manager")]
    entries.sort(key=lambda e: str(e.get("time") or ""), reverse=True)
    by_entry: dict[int, list[str]] = {}
    for path in changed_paths(before, after):
        owner = next((i for i, e in enumerate(entries) if _owns(e.get("fieldsV1"), path)), 0 if entries else -1)
        by_entry.setdefault(owner, []).append(".".join(path))
    out = []
    for i, paths in sorted(by_entry.items(), key=lambda item: (item[0] < 0, item[0])):
        entry: Mapping[str, Any] = entries[i] if i >= 0 else {}
        out.append(ChangedBy(manager=str(entry.get("manager") or ""), operation=str(entry.get("operation") or ""),
                             time=str(entry.get("time") or ""), paths=tuple(paths)))
    return out
