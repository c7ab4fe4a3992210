"""Fields the API server does not know, found with its own OpenAPI v2 schema.

Kubernetes 1.20 has no `fieldValidation`: it silently drops fields it does not know, so a typo such as
`servicePort` inside a container's ports would vanish without a word. `SchemaIndex` holds the part of
the server's `/openapi/v2` document reachable from the kinds the console writes, and
`unknown_fields` lists the dotted paths of fields that schema does not define, for the caller to
report before anything is sent. Pure: no I/O, no Kubernetes client; the caller fetches the document.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from app.domain.yaml import CREATABLE_KINDS, KIND_API_VERSIONS

__all__ = ["DEFAULT_KINDS", "SchemaIndex"]

DEFAULT_KINDS: frozenset[tuple[str, str]] = frozenset((KIND_API_VERSIONS[k], k) for k in CREATABLE_KINDS)

_REF_PREFIX = "#/definitions/"
# Only what the walk needs; descriptions are most of the 3-5 MB document.
_KEEP = (
    "type",
    "properties",
    "additionalProperties",
    "items",
    "$ref",
    "format",
    "x-kubernetes-preserve-unknown-fields",
)
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _split_api_version(api_version: str) -> tuple[str, str]:
    group, _slash, version = api_version.rpartition("/")
    return group, version


def _slim(schema: Any) -> Any:
    """A schema node reduced to the keys the walk reads (recursively)."""
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key in _KEEP:
        if key not in schema:
            continue
        value = schema[key]
        if key == "properties" and isinstance(value, Mapping):
            out[key] = {name: _slim(sub) for name, sub in value.items()}
        elif key in ("additionalProperties", "items"):
            out[key] = _slim(value)
        else:
            out[key] = value
    return out


def _refs(schema: Any) -> Iterable[str]:
    if isinstance(schema, Mapping):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            yield ref[len(_REF_PREFIX) :]
        for key in ("properties", "additionalProperties", "items"):
            value = schema.get(key)
            if key == "properties" and isinstance(value, Mapping):
                for sub in value.values():
                    yield from _refs(sub)
            elif isinstance(value, Mapping):
                yield from _refs(value)


class SchemaIndex:
    """The definitions reachable from some kinds of an OpenAPI v2 document, $refs resolved on use."""

    def __init__(self, definitions: dict[str, Any], roots: dict[tuple[str, str, str], str]) -> None:
        self._definitions = definitions  # name -> slim schema
        self._roots = roots  # (group, version, kind) -> definition name

    @classmethod
    def from_openapi(
        cls, spec: Mapping[str, Any], *, kinds: Iterable[tuple[str, str]] = DEFAULT_KINDS
    ) -> SchemaIndex:
        """Index `kinds`, given as (apiVersion, kind) pairs, from the document `spec`. Kinds the document
        does not define are simply not indexed (see `covers`). The index keeps no reference to `spec`."""
        wanted = {(*_split_api_version(api_version), kind) for api_version, kind in kinds}
        all_definitions: Mapping[str, Any] = spec.get("definitions") or {}
        roots: dict[tuple[str, str, str], str] = {}
        for name, schema in all_definitions.items():
            for gvk in schema.get("x-kubernetes-group-version-kind") or ():
                key = (gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))
                if key in wanted:
                    roots[key] = name
        definitions: dict[str, Any] = {}
        todo = list(roots.values())
        while todo:
            name = todo.pop()
            if name in definitions or name not in all_definitions:
                continue
            slim = _slim(all_definitions[name])
            definitions[name] = slim
            todo.extend(_refs(slim))
        return cls(definitions, roots)

    def covers(self, api_version: str, kind: str) -> bool:
        return (*_split_api_version(api_version), kind) in self._roots

    @property
    def definition_count(self) -> int:
        return len(self._definitions)

    def unknown_fields(self, obj: Mapping[str, Any]) -> list[str]:
        """Dotted paths (e.g. "spec.template.spec.containers[0].ports[0].servicePort") of the fields of
        `obj` its kind's schema does not define, in document order. Maps (labels, selectors,
        ConfigMap data) take any key; values of the wrong type are the API server's business.
        Raises LookupError for a kind that is not indexed."""
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        root = self._roots.get((*_split_api_version(str(api_version)), str(kind)))
        if root is None:
            raise LookupError(f"no schema indexed for {api_version}/{kind}")
        found: list[str] = []
        self._walk(obj, {"$ref": _REF_PREFIX + root}, "", found)
        return found

    def _resolve(self, schema: Any) -> Any:
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema:  # the index holds plain dicts (`_slim`)
            ref = schema["$ref"]
            name = ref[len(_REF_PREFIX) :] if isinstance(ref, str) and ref.startswith(_REF_PREFIX) else None
            schema = self._definitions.get(name) if name else None
            seen += 1
            if seen > 32:  # a $ref cycle made only of $refs: treat as free-form
                return None
        return schema

    def _walk(self, value: Any, schema: Any, path: str, found: list[str]) -> None:
        schema = self._resolve(schema)
        if not isinstance(schema, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
            return  # unknown definition, or free-form: nothing to check
        if isinstance(value, dict):
            properties = schema.get("properties")
            extra = schema.get("additionalProperties")
            if properties is None and extra is None:
                return  # `type: object` alone (FieldsV1, RawExtension-like): free-form
            for key, sub in value.items():
                if properties is not None and key in properties:
                    if isinstance(sub, (dict, list)):  # a scalar has no fields: no path to make for it
                        self._walk(sub, properties[key], _join(path, key), found)
                elif isinstance(extra, dict):
                    if isinstance(sub, (dict, list)):
                        self._walk(sub, extra, _join(path, key), found)
                elif extra is True:
                    continue
                else:
                    found.append(_join(path, key))
        elif isinstance(value, list):
            items = schema.get("items")
            if items is not None:
                for index, item in enumerate(value):
                    if isinstance(item, (dict, list)):
                        self._walk(item, items, f"{path}[{index}]", found)
        # scalars (including int-or-string and Quantity) have no fields


def _join(path: str, key: str) -> str:
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{key}]"
