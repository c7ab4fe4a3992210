"""Text to plain objects: decoding, then libyaml's events read into dicts and lists within the limits."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from app.domain.yaml.problems import MAX_BYTES, MAX_DEPTH, MAX_DOCUMENTS, MAX_KEY_CHARS, MAX_NODES, Problem
from app.domain.yaml.scalars import (
    _SCALAR_TAGS,
    MAP_TAG,
    SEQ_TAG,
    _resolve_plain,
    _resolve_tagged,
    _Surprise,
    _tag_name,
)
from app.i18n import _

# ---------------------------------------------------------------------------------------------------
# Decoding


try:  # libyaml: same grammar as go-yaml v2, and fast
    from yaml import CBaseLoader as _EventLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import BaseLoader as _EventLoader  # type: ignore[assignment]

EventLoader = _EventLoader  # exported: locate composes nodes with the same loader

if TYPE_CHECKING:
    from app.domain.yaml.gate import Gate

_BINARY_MAGIC = (
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"%PDF",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"\x7fELF",
    b"BZh",
    b"\xfd7zXZ",
)
# YAML's printable set, plus what the scanner handles itself (tab, line breaks).
_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def decode(data: str | bytes, source: str, budget: int) -> tuple[str | None, int, Problem | None]:
    """(text, size in bytes, None), or (None, 0, problem). `budget` is what is left of the byte cap."""

    def whole(message: str, line: int | None = None, column: int | None = None) -> Problem:
        return Problem(source, 0, line, column, message)

    if budget < MAX_BYTES:  # earlier files of the same upload used part of it
        too_big = _("Together, the files are larger than {limit} KiB; upload fewer at a time.")
    else:
        too_big = _("The YAML is larger than {limit} KiB; split it or remove what is not needed.")
    too_big = too_big.format(limit=MAX_BYTES // 1024)
    if isinstance(data, bytes):
        if len(data) > budget:
            return None, 0, whole(too_big)
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return None, 0, whole(_("The file is UTF-16 text; save it as UTF-8."))
        if data.startswith(_BINARY_MAGIC) or b"\x00" in data[:8192]:
            return None, 0, whole(_("This is a binary file, not YAML text."))
        size = len(data)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            good = data[: exc.start].decode("utf-8")
            line, col = _line_col(good, len(good))
            return None, 0, whole(
                _("The file is not UTF-8 text (maybe Latin-1 or another encoding); save it as UTF-8."),
                line,
                col,
            )
    else:
        if len(data) > budget:  # characters <= bytes
            return None, 0, whole(too_big)
        try:
            size = len(data.encode("utf-8"))
        except UnicodeEncodeError as exc:
            line, col = _line_col(data, exc.start)
            return None, 0, whole(_("The text contains characters that are not valid Unicode."), line, col)
        if size > budget:
            return None, 0, whole(too_big)
        text = data
    if text.startswith("\ufeff"):
        text = text[1:]
    bad = _NOT_PRINTABLE.search(text)
    if bad is not None:
        line, col = _line_col(text, bad.start())
        char = bad.group()
        if char == "\x00":
            return None, 0, whole(_("The text contains a NUL byte: binary data is not YAML."), line, col)
        return None, 0, whole(
            _("The text contains the control character U+{code:04X}, which YAML does not allow.").format(
                code=ord(char)
            ),
            line,
            col,
        )
    return text, size, None


# ---------------------------------------------------------------------------------------------------
# Events -> plain objects


class ReadAborted(Exception):
    """Stop reading this text (a cap was hit, or the problem limit)."""


# Where a value is inside its document: mapping keys and list indexes, from the root.
Path = tuple[str | int, ...]

_NO_KEY = object()  # the mapping expects a key next
_BAD_KEY = object()  # the next value belongs to a refused key: drop it


@dataclass(frozen=True, slots=True)
class _Mark:
    line: int  # 0-based, like libyaml's marks
    column: int


class _Frame:
    __slots__ = ("container", "is_map", "key", "key_mark", "path")

    def __init__(self, container: dict[str, Any] | list[Any], path: Path) -> None:
        self.container = container
        self.is_map = isinstance(container, dict)
        self.key: Any = _NO_KEY
        self.key_mark: Any = None
        self.path = path


class Document:
    __slots__ = ("index", "root", "line", "column", "positions", "empty", "broken")

    def __init__(self, index: int) -> None:
        self.index = index
        self.root: Any = None
        self.line = 1
        self.column = 1
        # (line, column) of the values at paths of length 1 and 2, e.g. ("metadata", "name")
        self.positions: dict[Path, tuple[int, int]] = {}
        self.empty = False
        self.broken = False  # structural problems: skip the object checks


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


PORT_KEYS = frozenset({"port", "targetPort", "nodePort", "containerPort", "hostPort"})


def port_problems(node: Any, path: Path = ()) -> list[tuple[Path, str]]:
    """Port numbers beyond 65535 anywhere in the object (the API server would answer with its decoder's
    raw message about int32); the other port rules are the schema's and the server's."""
    out: list[tuple[Path, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in PORT_KEYS and type(value) is int and not 0 <= value <= 65535:
                out.append(((*path, key), _("{field} is {value}: a port number is between 1 and 65535.")
                            .format(field=key, value=value)))
            elif isinstance(value, (dict, list)):
                out.extend(port_problems(value, (*path, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(port_problems(value, (*path, i)))
    return out


def format_path(path: Iterable[Any]) -> str:
    """("spec", "ports", 0, "port") -> "spec.ports[0].port"; keys with dots etc. go in brackets."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{part}]"
    return out


# JSON writes characters outside the BMP as UTF-16 surrogate pairs (`\ud83d\ude00`), which YAML's
# double-quoted strings do not accept; YAML spells them `\U0001f600`. Escaped backslashes are matched
# first so that `\\ud83d` (a backslash, then text) is left alone.
_JSON_SURROGATE_PAIR = re.compile(r"\\\\|\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})")
_LOOKS_LIKE_JSON = re.compile(r"\s*[{\[]")


def _json_surrogates_to_yaml(text: str) -> str:
    """For JSON input (which kubectl reads with a JSON decoder): write surrogate-pair escapes the YAML
    way. Columns after such a pair on the same line shift by two."""
    if "\\u" not in text or not _LOOKS_LIKE_JSON.match(text):
        return text

    def repl(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return match.group(0)
        high, low = int(match.group(1), 16), int(match.group(2), 16)
        return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08X}"

    return _JSON_SURROGATE_PAIR.sub(repl, text)


class Reader:
    """Builds the documents of one text from libyaml events, collecting problems."""

    def __init__(self, gate: Gate, source: str) -> None:
        self.gate = gate
        self.source = source
        self.docs: list[Document] = []
        self.doc: Document | None = None
        self.stack: list[_Frame] = []
        self.nodes = 0
        self.once: set[tuple[int, str]] = set()  # (document, class) for problems reported once

    # -- problems

    def problem(self, mark: Any, message: str, path: Path | None = None, once: str | None = None) -> None:
        """Report at a libyaml mark (0-based line/column), or nowhere in particular (None)."""
        doc = self.doc
        # libyaml reports a syntax error before it announces the document holding it: the next one
        index = doc.index if doc else len(self.docs) + 1
        if once is not None:
            if (index, once) in self.once:
                return
            self.once.add((index, once))
        if doc is not None:
            doc.broken = True
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        self.gate.add(
            Problem(self.source, index, line, column, message, format_path(path) if path else None)
        )

    def here(self) -> Path:
        """The path of the node being read."""
        if not self.stack:
            return ()
        top = self.stack[-1]
        if top.is_map:
            key = top.key
            return top.path + ((key,) if isinstance(key, str) else ())
        return top.path + (len(top.container),)

    # -- reading

    def read(self, text: str) -> list[Document]:
        try:
            for event in yaml.parse(_json_surrogates_to_yaml(text), Loader=EventLoader):
                self.on_event(event)
        except ReadAborted:
            pass
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            detail = exc.problem or exc.context or ""
            self.syntax_problem(text, mark, detail)
        except yaml.YAMLError as exc:  # pragma: no cover - the reader checks were done in decode
            self.problem(None, _("The YAML could not be read: {detail}").format(detail=exc))
        return self.docs

    def syntax_problem(self, text: str, mark: Any, detail: str) -> None:
        if mark is not None:
            lines = text.split("\n")
            line_text = lines[mark.line] if mark.line < len(lines) else ""
            indent = line_text[: len(line_text) - len(line_text.lstrip(" \t"))]
            if "\t" in indent:
                self.problem(
                    _Mark(mark.line, indent.index("\t")),
                    _("A tab is used for indentation; YAML allows only spaces there."),
                    once="syntax",
                )
                return
            key = line_text[: mark.column].strip().removeprefix("- ").strip("'\"")
            if len(key) > MAX_KEY_CHARS:  # YAML's own limit on a key written without `? `
                self.problem(
                    _Mark(mark.line, len(indent)),
                    _("This key is {n} characters long; keys are at most {limit} characters (a label key at "
                      "most 317).").format(n=len(key), limit=MAX_KEY_CHARS),
                    once="syntax",
                )
                return
        self.problem(
            mark,
            _("The YAML is not well formed: {detail}.").format(detail=detail),
            once="syntax",
        )

    def on_event(self, event: Any) -> None:
        kind = type(event)
        if kind is ScalarEvent:
            self.on_scalar(event)
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            self.on_collection(event, {} if kind is MappingStartEvent else [])
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            self.stack.pop()
        elif kind is AliasEvent:
            self.count(event)
            self.problem(
                event.start_mark,
                _("Aliases (*{name}) are not allowed; write the content out in full.").format(
                    name=event.anchor
                ),
                self.here(),
                once="alias",
            )
            self.attach(None, event.start_mark)
        elif kind is DocumentStartEvent:
            doc = Document(len(self.docs) + 1)
            self.docs.append(doc)
            self.doc = doc
            if self.gate.documents_left <= 0:
                self.problem(
                    event.start_mark,
                    _("There are more than {limit} documents; split the YAML.").format(limit=MAX_DOCUMENTS),
                )
                raise ReadAborted
            self.gate.documents_left -= 1
        elif kind is DocumentEndEvent:
            self.doc = None

    def count(self, event: Any) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self.problem(
                event.start_mark,
                _("The YAML has more than {limit} values; split it.").format(limit=MAX_NODES),
            )
            raise ReadAborted

    def check_anchor(self, event: Any) -> None:
        if event.anchor is not None:
            self.problem(
                event.start_mark,
                _("Anchors (&{name}) are not allowed; write the content out in full.").format(
                    name=event.anchor
                ),
                self.here(),
                once="anchor",
            )

    def refuse_tag(self, event: Any) -> None:
        self.problem(
            event.start_mark,
            _("The tag {tag} is not allowed; remove it.").format(tag=_tag_name(event.tag)),
            self.here(),
            once="tag:" + event.tag,
        )

    def on_collection(self, event: Any, container: dict[str, Any] | list[Any]) -> None:
        self.count(event)
        self.check_anchor(event)
        tag = event.tag
        if tag is not None and tag != (MAP_TAG if isinstance(container, dict) else SEQ_TAG):
            self.refuse_tag(event)
        path = self.here()
        if len(self.stack) >= MAX_DEPTH:
            self.problem(
                event.start_mark,
                _("The YAML is nested more than {limit} levels deep.").format(limit=MAX_DEPTH),
                path,
            )
            raise ReadAborted
        top = self.stack[-1] if self.stack else None
        if top is not None and top.is_map and top.key is _NO_KEY:
            self.problem(event.start_mark, _("Keys must be text, not lists or mappings."), path)
            top.key = _BAD_KEY  # drop the value that follows; read the key's content, then forget it
        else:
            self.attach(container, event.start_mark)
        self.stack.append(_Frame(container, path))

    def on_scalar(self, event: Any) -> None:
        self.count(event)
        self.check_anchor(event)
        tag = event.tag
        value = event.value
        plain = not event.style  # libyaml says "", the Python parser None
        top = self.stack[-1] if self.stack else None
        is_key = top is not None and top.is_map and top.key is _NO_KEY
        try:
            if tag is not None:
                if tag not in _SCALAR_TAGS:
                    self.refuse_tag(event)
                    resolved: Any = value
                else:
                    resolved = _resolve_tagged(tag, value)
            elif plain:
                if is_key and value == "<<":
                    self.problem(
                        event.start_mark,
                        _("Merge keys (<<) are not allowed; write the keys out in full."),
                        self.here(),
                    )
                    top.key = _BAD_KEY  # type: ignore[union-attr]
                    return
                resolved = _resolve_plain(value)
            else:
                resolved = value
        except _Surprise as surprise:
            path = top.path if is_key else self.here()  # type: ignore[union-attr]
            self.problem(event.start_mark, surprise.message, path)
            if is_key:
                top.key = _BAD_KEY  # type: ignore[union-attr]
                return
            resolved = value
        if is_key:
            self.on_key(top, resolved, event)  # type: ignore[arg-type]
        else:
            if not self.stack and plain and tag is None and value == "" and self.doc is not None:
                if event.start_mark.index == event.end_mark.index:
                    self.doc.empty = True  # nothing at all between the separators
            self.attach(resolved, event.start_mark)

    def on_key(self, top: _Frame, key: Any, event: Any) -> None:
        if not isinstance(key, str):
            self.problem(
                event.start_mark,
                _("The key {key} is not text; write it in quotes.").format(key=event.value or '""'),
                top.path,
            )
            top.key = _BAD_KEY
            return
        if len(key) > MAX_KEY_CHARS:
            self.problem(
                event.start_mark,
                _("A key is longer than {limit} characters.").format(limit=MAX_KEY_CHARS),
                top.path,
            )
            top.key = _BAD_KEY
            return
        if key in top.container:
            self.problem(
                event.start_mark,
                _("The key {key} appears twice in the same mapping.").format(key=key),
                top.path + (key,),
            )
            top.key = _BAD_KEY
            return
        top.key = key
        top.key_mark = event.start_mark

    def attach(self, value: Any, mark: Any) -> None:
        if not self.stack:
            doc = self.doc
            if doc is not None:
                doc.root = value
                doc.line = mark.line + 1
                doc.column = mark.column + 1
            return
        top = self.stack[-1]
        if top.is_map:
            key = top.key
            top.key = _NO_KEY
            if key is _BAD_KEY:
                return
            top.container[key] = value
            if len(top.path) < 2 and self.doc is not None:
                self.doc.positions[top.path + (key,)] = (mark.line + 1, mark.column + 1)
        else:
            top.container.append(value)  # type: ignore[union-attr]
