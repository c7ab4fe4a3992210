"""Writing YAML: data to libyaml's events, exactly as `yaml.safe_dump_all` would write it, faster."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import ScalarNode

from app.domain.yaml.scalars import CORE_TAG, MAP_TAG, SEQ_TAG, needs_quotes

# ---------------------------------------------------------------------------------------------------
# Writing


# Data is turned into YAML events here, and libyaml's emitter writes them. PyYAML's representer and
# serializer would make a node of every value and ask the resolver twice per scalar, all in Python: twice
# the time for the same text. Each event gets the tag and implicit flags PyYAML's serializer would give
# it, so the output is exactly `yaml.safe_dump_all` with the options below (a test compares them).

try:  # libyaml's emitter
    from yaml import CSafeDumper as _BaseDumper
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeDumper as _BaseDumper  # type: ignore[assignment]

_STR_TAG, _INT_TAG, _FLOAT_TAG = CORE_TAG + "str", CORE_TAG + "int", CORE_TAG + "float"
_BOOL_TAG, _NULL_TAG = CORE_TAG + "bool", CORE_TAG + "null"
_RESOLVER = yaml.resolver.Resolver()
_MEMO_LIMIT = 4096  # distinct short strings remembered (keys and common values repeat across dumps)
_styles: dict[str, str | None] = {}
_implicit: dict[tuple[str, str], tuple[bool, bool]] = {}


def _str_style(data: str) -> str | None:
    style = _styles.get(data, "?")
    if style != "?":
        return style
    if needs_quotes(data):
        style = '"'
    elif "\n" in data:
        style = "|"  # the emitter falls back to quotes when a block can't hold the text exactly
    else:
        style = None
    if len(data) <= 64:
        if len(_styles) >= _MEMO_LIMIT:
            _styles.clear()
        _styles[data] = style
    return style


def _scalar(tag: str, value: str, style: str | None = None) -> ScalarEvent:
    """The event PyYAML's serializer makes for a scalar node: `implicit` says whether the text, plain or
    quoted, reads back with this tag (if not, the emitter quotes it or writes the tag)."""
    key = (tag, value)
    implicit = _implicit.get(key)
    if implicit is None:
        # types-PyYAML leaves Resolver.resolve unannotated
        implicit = (
            _RESOLVER.resolve(ScalarNode, value, (True, False)) == tag,  # type: ignore[no-untyped-call]
            _RESOLVER.resolve(ScalarNode, value, (False, True)) == tag,  # type: ignore[no-untyped-call]
        )
        if len(value) <= 64:
            if len(_implicit) >= _MEMO_LIMIT:
                _implicit.clear()
            _implicit[key] = implicit
    return ScalarEvent(None, tag, implicit, value, style=style)


def _float_text(data: float) -> str:
    """As PyYAML's SafeRepresenter writes a float."""
    if data != data:
        return ".nan"
    if data in (float("inf"), float("-inf")):
        return ".inf" if data > 0 else "-.inf"
    value = repr(data).lower()
    return value.replace("e", ".0e", 1) if "." not in value and "e" in value else value


def _events(data: Any, out: list[Any]) -> None:
    kind = type(data)
    if kind is str:
        out.append(_scalar(_STR_TAG, data, _str_style(data)))
    elif kind is dict:
        out.append(MappingStartEvent(None, MAP_TAG, True, flow_style=False))
        for key, value in data.items():
            _events(key, out)
            _events(value, out)
        out.append(MappingEndEvent())
    elif kind is list:
        out.append(SequenceStartEvent(None, SEQ_TAG, True, flow_style=False))
        for value in data:
            _events(value, out)
        out.append(SequenceEndEvent())
    elif kind is bool:
        out.append(_scalar(_BOOL_TAG, "true" if data else "false"))
    elif kind is int:
        out.append(_scalar(_INT_TAG, str(data)))
    elif data is None:
        out.append(_scalar(_NULL_TAG, "null"))
    elif kind is float:
        out.append(_scalar(_FLOAT_TAG, _float_text(data)))
    else:  # what yaml.safe_dump refuses too
        raise yaml.representer.RepresenterError("cannot represent an object", data)


def dump_yaml(objs: list[dict[str, Any]] | dict[str, Any]) -> str:
    """Block-style YAML for one object or several (documents separated by `---`), keys in insertion
    order, no anchors or aliases even for shared sub-objects. Strings that any YAML reader could take
    for something else (`on`, `yes`, `0755`, `1:30`, `0.5`, `80`, `""`, ...) are quoted, so kubectl and
    this gate read back exactly the same values: `parse_manifests(dump_yaml(objs))` gives `objs`."""
    docs = [objs] if isinstance(objs, dict) else list(objs)
    events: list[Any] = [StreamStartEvent()]
    for doc in docs:
        events.append(DocumentStartEvent(explicit=False))
        _events(doc, events)
        events.append(DocumentEndEvent(explicit=False))
    events.append(StreamEndEvent())
    text: str = yaml.emit(events, Dumper=_BaseDumper, allow_unicode=True, width=1 << 30)  # its emitter only
    return text
