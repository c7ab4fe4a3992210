"""Small readers of manifests shared by the steps: values of unknown type read defensively (the objects may
come from Edit Mode), a pod's containers in form order, and rows matched to the objects they came from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.domain.manifests import dig


def dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def as_str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def int_or_raw(value: Any, default: Any = None) -> Any:
    """Numbers from a manifest as the form shows them (strings stay strings: validation complains)."""
    if value is None:
        return default
    return value


def containers_of(workload: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(type, container) in the order the form lists them: worker containers, then init containers."""
    pod = dig(workload, "spec", "template", "spec", default={})
    return [("worker", c) for c in dicts(dig(pod, "containers"))] + [
        ("init", c) for c in dicts(dig(pod, "initContainers"))
    ]


def match_rows(new_names: Sequence[str], old_names: Sequence[Any]) -> list[int | None]:
    """For each new row, the index of the old object it continues: the one of the same name, else the
    one at the same position (a rename), else None (a new object)."""
    taken: set[int] = set()
    result: list[int | None] = [None] * len(new_names)
    first: dict[Any, int] = {}
    for i, name in enumerate(old_names):
        if isinstance(name, str) and name:
            first.setdefault(name, i)
    for k, name in enumerate(new_names):
        found = first.get(name)
        if found is not None and found not in taken:
            result[k] = found
            taken.add(found)
    for k in range(len(new_names)):
        if result[k] is None and k < len(old_names) and k not in taken and old_names[k] not in new_names:
            result[k] = k
            taken.add(k)
    return result
