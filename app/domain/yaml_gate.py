"""The YAML gate: the only way YAML from a user becomes objects the console sends to Kubernetes.

Every path that accepts YAML (Edit by YAML creation, the wizard's Edit Mode, Edit YAML of an existing
object) calls `parse_manifests` or `parse_many`; everything the console shows as YAML is written by
`dump_yaml`. Pure functions: no I/O, no Kubernetes client.

How it reads YAML (and why):
* The event stream comes from libyaml (PyYAML's C parser): go-yaml v2, which kubectl and the API
  server use, is a port of libyaml, so both sides agree on the grammar; and it parses 256 KiB in tens
  of milliseconds where the pure-Python parsers (PyYAML, ruamel.yaml) need about a second.
* The events are turned into plain dicts/lists here, not by a library constructor, so that every
  node keeps its line and column and nothing is ever expanded: anchors, aliases (hence alias bombs),
  merge keys and non-core tags are refused as they are met, before anything is built from them.
* Scalars are resolved with the YAML 1.2 core schema. Where YAML 1.1 readers such as kubectl would
  read the same plain text differently (`on`, `yes`, `y`, `0755`, `1:30`, `1_000`, `2024-01-01`, ...),
  the gate reports it and asks the user to quote it or write what they mean: it never guesses.
* JSON is YAML: a manifest written as JSON goes through the same path (libyaml accepts JSON's tab
  indentation inside flow collections), so it is accepted exactly like the same manifest in YAML.

Decisions (see `parse_manifests`): a document with no content at all (only comments or whitespace,
e.g. between two `---`) is skipped; an explicit `null` or `~` document is refused like any other
non-mapping. `metadata.generateName` is refused: the console needs names to show and link objects.
Secrets of type `kubernetes.io/service-account-token` are refused (they mint API credentials).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

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
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import ScalarNode

from app.domain.k8s.names import is_dns1035_label, is_dns1123_subdomain
from app.domain.manifests import plain_copy
from app.domain.service_rules import service_abuse
from app.i18n import _

try:  # libyaml: same grammar as go-yaml v2, and fast
    from yaml import CBaseLoader as _EventLoader
    from yaml import CSafeDumper as _BaseDumper
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import BaseLoader as _EventLoader  # type: ignore[assignment]
    from yaml import SafeDumper as _BaseDumper  # type: ignore[assignment]

__all__ = [
    "CREATABLE_KINDS",
    "KIND_API_VERSIONS",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_DOCUMENTS",
    "GateResult",
    "format_path",
    "Manifest",
    "Problem",
    "dump_yaml",
    "parse_many",
    "parse_manifests",
    "strip_server_fields",
]

# ---------------------------------------------------------------------------------------------------
# Limits and kinds

MAX_BYTES = 256 * 1024  # per text, and for all files of one upload together
MAX_DOCUMENTS = 50  # per text, and for all files of one upload together
MAX_DEPTH = 64  # nested mappings/sequences; real manifests stay under 20
MAX_NODES = 100_000  # scalars + collections per text; 256 KiB of real manifests is ~40 000
MAX_KEY_CHARS = 1024  # label keys are at most 317 characters, ConfigMap keys 253
MAX_PROBLEMS = 50  # stop reading after this many; the user fixes these first

# The apiVersion the console accepts for each kind it knows how to create or edit.
KIND_API_VERSIONS: dict[str, str] = {
    "Service": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "PersistentVolumeClaim": "v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
}

# What a project member may create from YAML: a Service, the workloads behind it, and the namespaced
# objects those workloads use (configuration, credentials, storage claims). All are namespaced and
# within what the cluster's `edit` role allows; nothing here grants permissions or reaches outside the
# project (no RBAC, no ServiceAccounts or their tokens, no cluster-scoped kinds).
CREATABLE_KINDS: frozenset[str] = frozenset(
    {"Service", "Deployment", "StatefulSet", "ConfigMap", "Secret", "PersistentVolumeClaim"}
)

_RBAC_KINDS = frozenset({"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"})
_RBAC_GROUP = "rbac.authorization.k8s.io"
_CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterTrustBundle",
        "ComponentStatus",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "FlowSchema",
        "IngressClass",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PodSecurityPolicy",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "RuntimeClass",
        "SelfSubjectAccessReview",
        "SelfSubjectRulesReview",
        "StorageClass",
        "SubjectAccessReview",
        "TokenReview",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    }
)
_SA_TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"

# Written by the API server; meaningless or harmful in a body we send.
_SERVER_METADATA_FIELDS = (
    "uid",
    "resourceVersion",
    "managedFields",
    "creationTimestamp",
    "selfLink",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
)


# ---------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason the input was refused.

    `document` is 1-based within `source` (every `---` counts, empty documents included); 0 means the
    input as a whole (size, encoding, nothing found). `line`/`column` are 1-based, None when the
    problem has no single place. `path` names the field, e.g. "spec.ports[0].port".
    """

    source: str
    document: int
    line: int | None
    column: int | None
    message: str
    path: str | None = None

    def where(self) -> str:
        parts: list[str] = []
        if self.source:
            parts.append(self.source)
        if self.document:
            parts.append(_("document {n}").format(n=self.document))
        if self.line is not None:
            parts.append(_("line {line}").format(line=self.line))
            if self.column is not None:
                parts.append(_("column {column}").format(column=self.column))
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message


@dataclass(slots=True)
class Manifest:
    """One object the gate accepted: a fresh plain dict, plus where it came from (1-based)."""

    obj: dict[str, Any]
    document: int
    line: int
    source: str = ""

    @property
    def kind(self) -> str:
        return self.obj["kind"]

    @property
    def name(self) -> str:
        return self.obj["metadata"]["name"]


@dataclass(slots=True)
class GateResult:
    """All or nothing: `objects` is empty whenever `problems` is not."""

    objects: list[Manifest] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# ---------------------------------------------------------------------------------------------------
# Public API


def parse_manifests(
    text: str | bytes,
    *,
    namespace: str,
    allowed_kinds: frozenset[str] = CREATABLE_KINDS,
    source: str = "",
    external_ips_allowed: bool = False,
) -> GateResult:
    """Read one text of YAML (or JSON) documents into Kubernetes objects for `namespace`.

    Each object must be a mapping with a string `apiVersion` and `kind` (an allowed kind at the
    apiVersion in KIND_API_VERSIONS) and a valid `metadata.name`. A missing (or empty) namespace becomes
    `namespace`; any other is refused. Server-managed fields are stripped as by
    `strip_server_fields(obj, for_create=False)`: creation paths also call it with `for_create=True`.
    Services may not point outside what a tenant may reach (`service_rules.service_abuse`), nor set
    externalIPs unless `external_ips_allowed` (the project's allowance, from its row).
    """
    return parse_many([(source, text)], namespace=namespace, allowed_kinds=allowed_kinds,
                      external_ips_allowed=external_ips_allowed)


def parse_many(
    files: Iterable[tuple[str, str | bytes]],
    *,
    namespace: str,
    allowed_kinds: frozenset[str] = CREATABLE_KINDS,
    external_ips_allowed: bool = False,
) -> GateResult:
    """Like `parse_manifests` for several uploaded files (several documents each), judged together:
    the size and document caps apply to all files at once, a kind+name may appear only once across
    them, and nothing is accepted if any file has a problem. Problems carry the file name."""
    unknown = allowed_kinds - KIND_API_VERSIONS.keys()
    if unknown:
        raise ValueError(f"no apiVersion known for kinds {sorted(unknown)}")
    gate = _Gate(namespace=namespace, allowed_kinds=allowed_kinds, external_ips_allowed=external_ips_allowed)
    for source, data in files:
        gate.read(source, data)
    return gate.result()


def strip_server_fields(obj: dict[str, Any], *, for_create: bool) -> dict[str, Any]:
    """A deep copy of `obj` without the fields the API server owns: `status` and metadata's uid,
    resourceVersion, managedFields, creationTimestamp, selfLink, generation, deletionTimestamp,
    deletionGracePeriodSeconds and ownerReferences.

    With `for_create`, a Service also loses the addresses the cluster assigned to the original
    (`spec.clusterIP`, `spec.clusterIPs`) unless it is headless (`clusterIP: None` is kept): they
    cannot be reused by a new object. For an update (Edit YAML) they stay, as they are immutable; the
    caller adds the resourceVersion it read, as the optimistic-concurrency precondition.
    """
    copy = plain_copy(obj)
    _strip_in_place(copy, for_create=for_create)
    return copy


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


# ---------------------------------------------------------------------------------------------------
# Decoding


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


def _decode(data: str | bytes, source: str, budget: int) -> tuple[str | None, int, Problem | None]:
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
# Scalars: YAML 1.2 core schema, and where YAML 1.1 readers (kubectl) disagree

_INT_DEC = re.compile(r"[-+]?[0-9]+")
_INT_OCT = re.compile(r"0o[0-7]+")
_INT_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_NONFINITE = re.compile(r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
# YAML 1.1 booleans (any case: no reader should be trusted with `oN` either).
_BOOL_11 = re.compile(r"(?:y|yes|n|no|on|off)", re.IGNORECASE)
# Numbers YAML 1.1 / Go's ParseInt would read and the 1.2 core schema reads as text: underscores,
# binary, upper-case prefixes.
_NUMBER_11 = re.compile(
    r"[-+]?(?:0[bB][01_]+|0[xX][0-9a-fA-F_]+|0[oO][0-7_]+"
    r"|[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?)"
)
_SEXAGESIMAL = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?"
)
# First characters of every plain scalar that is not simply text (fast path for the rest).
_SPECIAL_FIRST = frozenset("0123456789+-.~nNtTfFyYoO")
_INT64 = 1 << 63


class _Surprise(Exception):
    """A plain scalar the gate will not interpret."""

    def __init__(self, message: str) -> None:
        self.message = message


def _resolve_plain(s: str) -> Any:
    """The YAML 1.2 core value of a plain scalar; `_Surprise` where readers disagree or JSON can't."""
    if not s:
        return None
    if s[0] not in _SPECIAL_FIRST:
        return s
    if s in _NULLS:
        return None
    if s in _BOOLS:
        return _BOOLS[s]
    if _INT_DEC.fullmatch(s):
        digits = s.lstrip("+-")
        if len(digits) > 1 and digits[0] == "0":
            raise _Surprise(
                _(
                    "{value} is an octal number to YAML 1.1 readers such as kubectl and a decimal one "
                    "to YAML 1.2: write 0o{digits} for octal, the decimal number, or \"{value}\" for text."
                ).format(value=s, digits=digits.lstrip("0") or "0")
            )
        return _checked_int(s, int(s))
    if _INT_OCT.fullmatch(s):
        return _checked_int(s, int(s[2:], 8))
    if _INT_HEX.fullmatch(s):
        return _checked_int(s, int(s[2:], 16))
    if _FLOAT.fullmatch(s):
        return float(s)
    if _NONFINITE.fullmatch(s):
        raise _Surprise(_("{value} is not a finite number and cannot be sent as JSON.").format(value=s))
    if _BOOL_11.fullmatch(s):
        raise _Surprise(
            _(
                "{value} means true or false to YAML 1.1 readers such as kubectl, but text to YAML 1.2: "
                "write \"{value}\" for text, or true or false."
            ).format(value=s)
        )
    if _SEXAGESIMAL.fullmatch(s):
        raise _Surprise(
            _(
                "{value} is a base-60 number (like a time) to YAML 1.1 readers: write \"{value}\" for "
                "text, or the number you mean."
            ).format(value=s)
        )
    if _TIMESTAMP.fullmatch(s):
        raise _Surprise(
            _(
                "{value} is a date to YAML 1.1 readers such as kubectl, which rewrite it: "
                "write \"{value}\" for text."
            ).format(value=s)
        )
    if _NUMBER_11.fullmatch(s):
        raise _Surprise(
            _(
                "{value} is a number to YAML 1.1 readers such as kubectl but text to YAML 1.2: write "
                "\"{value}\" for text, or the number without underscores and with a lower-case 0x/0o "
                "prefix."
            ).format(value=s)
        )
    return s


def _checked_int(text: str, value: int) -> int:
    if -_INT64 <= value < _INT64:
        return value
    raise _Surprise(_("{value} does not fit in a 64-bit integer.").format(value=text))


def _needs_quotes(s: str) -> bool:
    """Whether a string written plain would be read back as something else (by us or by kubectl)."""
    if s == "<<" or s == "=":
        return True
    try:
        return not isinstance(_resolve_plain(s), str)
    except _Surprise:
        return True


_CORE_TAG = "tag:yaml.org,2002:"


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_CORE_TAG) :] if tag.startswith(_CORE_TAG) else tag


def _resolve_tagged(tag: str, value: str) -> Any:
    """Scalars with one of the core tags (`!!str 0755`); other tags were refused already."""
    kind = tag[len(_CORE_TAG) :]
    if kind == "str":
        return value
    resolved = _resolve_plain(value)
    if kind == "null" and resolved is None:
        return None
    if kind == "bool" and isinstance(resolved, bool):
        return resolved
    if kind == "int" and isinstance(resolved, int) and not isinstance(resolved, bool):
        return resolved
    if kind == "float" and isinstance(resolved, (int, float)) and not isinstance(resolved, bool):
        return float(resolved)
    raise _Surprise(_("{value} is not a valid {tag}.").format(value=value, tag=_tag_name(tag)))


_SCALAR_TAGS = frozenset(_CORE_TAG + k for k in ("str", "int", "float", "bool", "null"))
_MAP_TAG = _CORE_TAG + "map"
_SEQ_TAG = _CORE_TAG + "seq"

# ---------------------------------------------------------------------------------------------------
# Events -> plain objects


class _Abort(Exception):
    """Stop reading this text (a cap was hit, or the problem limit)."""


_NO_KEY = object()  # the mapping expects a key next
_BAD_KEY = object()  # the next value belongs to a refused key: drop it


@dataclass(frozen=True, slots=True)
class _Mark:
    line: int  # 0-based, like libyaml's marks
    column: int


class _Frame:
    __slots__ = ("container", "is_map", "key", "key_mark", "path")

    def __init__(self, container: dict | list, path: tuple) -> None:
        self.container = container
        self.is_map = isinstance(container, dict)
        self.key: Any = _NO_KEY
        self.key_mark: Any = None
        self.path = path


class _Doc:
    __slots__ = ("index", "root", "line", "column", "positions", "empty", "broken")

    def __init__(self, index: int) -> None:
        self.index = index
        self.root: Any = None
        self.line = 1
        self.column = 1
        # (line, column) of the values at paths of length 1 and 2, e.g. ("metadata", "name")
        self.positions: dict[tuple, tuple[int, int]] = {}
        self.empty = False
        self.broken = False  # structural problems: skip the object checks


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


PORT_KEYS = frozenset({"port", "targetPort", "nodePort", "containerPort", "hostPort"})


def _port_problems(node: Any, path: tuple = ()) -> list[tuple[tuple, str]]:
    """Port numbers beyond 65535 anywhere in the object (the API server would answer with its decoder's
    raw message about int32); the other port rules are the schema's and the server's."""
    out: list[tuple[tuple, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in PORT_KEYS and type(value) is int and not 0 <= value <= 65535:
                out.append(((*path, key), _("{field} is {value}: a port number is between 1 and 65535.")
                            .format(field=key, value=value)))
            elif isinstance(value, (dict, list)):
                out.extend(_port_problems(value, (*path, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_port_problems(value, (*path, i)))
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


class _Reader:
    """Builds the documents of one text from libyaml events, collecting problems."""

    def __init__(self, gate: _Gate, source: str) -> None:
        self.gate = gate
        self.source = source
        self.docs: list[_Doc] = []
        self.doc: _Doc | None = None
        self.stack: list[_Frame] = []
        self.nodes = 0
        self.once: set[tuple[int, str]] = set()  # (document, class) for problems reported once

    # -- problems

    def problem(self, mark: Any, message: str, path: tuple | None = None, once: str | None = None) -> None:
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

    def here(self) -> tuple:
        """The path of the node being read."""
        if not self.stack:
            return ()
        top = self.stack[-1]
        if top.is_map:
            key = top.key
            return top.path + ((key,) if isinstance(key, str) else ())
        return top.path + (len(top.container),)

    # -- reading

    def read(self, text: str) -> list[_Doc]:
        try:
            for event in yaml.parse(_json_surrogates_to_yaml(text), Loader=_EventLoader):
                self.on_event(event)
        except _Abort:
            pass
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            detail = exc.problem or exc.context or ""
            self.syntax_problem(text, mark, detail)
        except yaml.YAMLError as exc:  # pragma: no cover - the reader checks were done in _decode
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
            doc = _Doc(len(self.docs) + 1)
            self.docs.append(doc)
            self.doc = doc
            if self.gate.documents_left <= 0:
                self.problem(
                    event.start_mark,
                    _("There are more than {limit} documents; split the YAML.").format(limit=MAX_DOCUMENTS),
                )
                raise _Abort
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
            raise _Abort

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

    def on_collection(self, event: Any, container: dict | list) -> None:
        self.count(event)
        self.check_anchor(event)
        tag = event.tag
        if tag is not None and tag != (_MAP_TAG if isinstance(container, dict) else _SEQ_TAG):
            self.refuse_tag(event)
        path = self.here()
        if len(self.stack) >= MAX_DEPTH:
            self.problem(
                event.start_mark,
                _("The YAML is nested more than {limit} levels deep.").format(limit=MAX_DEPTH),
                path,
            )
            raise _Abort
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
            top.container[key] = value  # type: ignore[index]
            if len(top.path) < 2 and self.doc is not None:
                self.doc.positions[top.path + (key,)] = (mark.line + 1, mark.column + 1)
        else:
            top.container.append(value)  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------------
# Documents -> checked objects


class _Gate:
    def __init__(self, *, namespace: str, allowed_kinds: frozenset[str], external_ips_allowed: bool) -> None:
        self.namespace = namespace
        self.allowed_kinds = allowed_kinds
        self.external_ips_allowed = external_ips_allowed
        self.bytes_left = MAX_BYTES
        self.documents_left = MAX_DOCUMENTS
        self.problems: list[Problem] = []
        self.objects: list[Manifest] = []
        self.seen: dict[tuple[str, str], tuple[str, int]] = {}  # (kind, name) -> (source, document)
        self.full = False

    def add(self, problem: Problem) -> None:
        if self.full:
            raise _Abort
        self.problems.append(problem)
        if len(self.problems) >= MAX_PROBLEMS:
            self.full = True
            self.problems.append(
                Problem(
                    problem.source,
                    problem.document,
                    None,
                    None,
                    _("Stopped after {limit} problems; fix these first.").format(limit=MAX_PROBLEMS),
                )
            )
            raise _Abort

    def read(self, source: str, data: str | bytes) -> None:
        if self.full:
            return
        text, size, problem = _decode(data, source, self.bytes_left)
        if problem is not None:
            self.problems.append(problem)
            return
        assert text is not None
        self.bytes_left -= size
        before = len(self.problems)
        self.text = text  # to find deep fields' lines (`locate`) for the problems of this text
        docs = _Reader(self, source).read(text)
        found = False
        try:
            for doc in docs:
                if doc.empty:
                    continue
                found = True
                if not doc.broken:
                    self.check(source, doc)
        except _Abort:
            return
        if not found and len(self.problems) == before:
            self.problems.append(
                Problem(source, 0, None, None, _("No objects found: the YAML is empty or only comments."))
            )

    def result(self) -> GateResult:
        if self.problems:
            return GateResult(objects=[], problems=self.problems)
        return GateResult(objects=self.objects, problems=[])

    # -- one document

    def check(self, source: str, doc: _Doc) -> None:
        """The object rules for one well-formed document; accept it if they all hold."""

        def report(message: str, path: tuple | None = None, at: tuple | None = None) -> None:
            """`at` is where to point when it differs from `path` (the parent of a missing key)."""
            where = at or path or ()
            found = doc.positions.get(where)
            if found is None and len(where) > 2 and isinstance(obj, dict):
                meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
                found = locate(self.text, str(obj.get("kind")), str(meta.get("name")), format_path(where))
            line, column = found or (doc.line, doc.column)
            self.add(Problem(source, doc.index, line, column, message, format_path(path) if path else None))

        obj = doc.root
        if not isinstance(obj, dict):
            report(
                _("Document {n} is {what}, not a Kubernetes object (a mapping with apiVersion and kind).")
                .format(n=doc.index, what=_describe(obj))
            )
            return
        kind_ok = self.check_type(obj, report)
        metadata = obj.get("metadata")
        if "metadata" not in obj:
            report(_("metadata is missing; it must hold at least a name."))
            return
        if not isinstance(metadata, dict):
            report(_("metadata must be a mapping (name, labels, ...)."), ("metadata",))
            return
        kind = obj.get("kind")
        name = metadata.get("name")
        name_ok = self.check_metadata(metadata, kind if kind_ok else None, report)
        if not (kind_ok and name_ok):
            return
        if kind == "Secret" and obj.get("type") == _SA_TOKEN_SECRET_TYPE:
            report(
                _("Secrets of type {type} cannot be created here: they hold credentials for the cluster.")
                .format(type=_SA_TOKEN_SECRET_TYPE),
                ("type",),
            )
            return
        out_of_range = _port_problems(obj)
        for path, message in out_of_range:
            report(message, path)
        if out_of_range:
            return
        if kind == "Service":
            refused = service_abuse(obj, external_ips_allowed=self.external_ips_allowed)
            for path, message in refused:
                report(message, path)
            if refused:
                return
        first = self.seen.get((kind, name))
        if first is not None:
            first_source, first_doc = first
            if first_source:
                where = _("{source}, document {n}").format(source=first_source, n=first_doc)
            else:
                where = _("document {n}").format(n=first_doc)
            message = _("{kind} {name} appears twice (first in {where}).")
            report(message.format(kind=kind, name=name, where=where), ("metadata", "name"))
            return
        self.seen[(kind, name)] = (source, doc.index)
        obj["metadata"] = _with_namespace(metadata, self.namespace)
        _strip_in_place(obj, for_create=False)
        self.objects.append(Manifest(obj=obj, document=doc.index, line=doc.line, source=source))

    def check_type(self, obj: dict[str, Any], report: Any) -> bool:
        """apiVersion and kind: present, text, and an allowed pair."""
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        ok = True
        if "apiVersion" not in obj:
            report(_("apiVersion is missing."))
            ok = False
        elif not isinstance(api_version, str) or not api_version:
            report(_("apiVersion must be text, like v1 or apps/v1."), ("apiVersion",))
            ok = False
        if "kind" not in obj:
            report(_("kind is missing."))
            ok = False
        elif not isinstance(kind, str) or not kind:
            report(_("kind must be text, like Service or Deployment."), ("kind",))
            ok = False
        return ok and self.check_kind(api_version, kind, report)  # type: ignore[arg-type]

    def check_metadata(self, metadata: dict[str, Any], kind: str | None, report: Any) -> bool:
        """A valid name (by the rules of `kind`, when it is known to be allowed), and no other namespace."""
        ok = True
        name = metadata.get("name")
        if "generateName" in metadata:
            report(
                _("generateName is not supported here: give the object a name."), ("metadata", "generateName")
            )
            ok = False
        elif name is None or name == "":
            report(_("metadata.name is missing."), ("metadata", "name"), at=("metadata",))
            ok = False
        if name is not None and name != "" and not isinstance(name, str):
            report(_("metadata.name must be text."), ("metadata", "name"))
            ok = False
        elif isinstance(name, str) and name and kind is not None and not self.check_name(kind, name, report):
            ok = False
        given = metadata.get("namespace")
        if given is None or given == "":
            return ok
        if not isinstance(given, str):
            report(_("metadata.namespace must be text."), ("metadata", "namespace"))
            return False
        if given != self.namespace:
            report(
                _("The namespace {given} is not this project's namespace {namespace}.").format(
                    given=given, namespace=self.namespace
                ),
                ("metadata", "namespace"),
            )
            return False
        return ok

    def check_kind(self, api_version: str, kind: str, report: Any) -> bool:
        if kind in self.allowed_kinds:
            expected = KIND_API_VERSIONS[kind]
            if api_version == expected:
                return True
            report(
                _("{kind} must use apiVersion {expected}, not {given}.").format(
                    kind=kind, expected=expected, given=api_version
                ),
                ("apiVersion",),
            )
            return False
        group = api_version.rpartition("/")[0]
        if kind == "List" or kind.endswith("List"):
            message = _(
                "{kind} wraps several objects; write each object as its own document, separated by ---."
            )
        elif kind in _RBAC_KINDS or group == _RBAC_GROUP:
            message = _(
                "{kind} is an access-control object and cannot be created here; project members and "
                "roles are managed on the Members page."
            )
        elif kind in _CLUSTER_SCOPED_KINDS:
            message = _(
                "{kind} is a cluster-wide object; only objects inside this project can be created here."
            )
        else:
            message = _("The kind {kind} cannot be created here; allowed kinds: {allowed}.")
        report(message.format(kind=kind, allowed=", ".join(sorted(self.allowed_kinds))), ("kind",))
        return False

    def check_name(self, kind: str, name: str, report: Any) -> bool:
        if kind == "Service":
            if is_dns1035_label(name):
                return True
            report(
                _(
                    "{name} is not a valid Service name: use at most 63 lower-case letters, digits and "
                    "'-', starting with a letter and ending with a letter or digit."
                ).format(name=name),
                ("metadata", "name"),
            )
            return False
        if is_dns1123_subdomain(name):
            return True
        report(
            _(
                "{name} is not a valid {kind} name: use at most 253 lower-case letters, digits, '-' "
                "and '.', starting and ending with a letter or digit."
            ).format(name=name, kind=kind),
            ("metadata", "name"),
        )
        return False


def _describe(value: Any) -> str:
    if value is None:
        return _("null")
    if isinstance(value, list):
        return _("a list")
    if isinstance(value, bool):
        return _("a boolean")
    if isinstance(value, (int, float)):
        return _("a number")
    return _("a piece of text")


def _with_namespace(metadata: dict[str, Any], namespace: str) -> dict[str, Any]:
    """metadata with the project's namespace, placed after the name when it was missing."""
    if metadata.get("namespace") == namespace:
        return metadata
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if key == "namespace":
            continue
        out[key] = value
        if key == "name":
            out["namespace"] = namespace
    if "namespace" not in out:
        out["namespace"] = namespace
    return out


def _strip_in_place(obj: dict[str, Any], *, for_create: bool) -> None:
    obj.pop("status", None)
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        for key in _SERVER_METADATA_FIELDS:
            metadata.pop(key, None)
    if for_create and obj.get("kind") == "Service":
        spec = obj.get("spec")
        if isinstance(spec, dict):
            spec.pop("clusterIPs", None)
            if spec.get("clusterIP") != "None":
                spec.pop("clusterIP", None)


# ---------------------------------------------------------------------------------------------------
# Writing


# Data is turned into YAML events here, and libyaml's emitter writes them. PyYAML's representer and
# serializer would make a node of every value and ask the resolver twice per scalar, all in Python: twice
# the time for the same text. Each event gets the tag and implicit flags PyYAML's serializer would give
# it, so the output is exactly `yaml.safe_dump_all` with the options below (a test compares them).

_STR_TAG, _INT_TAG, _FLOAT_TAG = _CORE_TAG + "str", _CORE_TAG + "int", _CORE_TAG + "float"
_BOOL_TAG, _NULL_TAG = _CORE_TAG + "bool", _CORE_TAG + "null"
_RESOLVER = yaml.resolver.Resolver()
_MEMO_LIMIT = 4096  # distinct short strings remembered (keys and common values repeat across dumps)
_styles: dict[str, str | None] = {}
_implicit: dict[tuple[str, str], tuple[bool, bool]] = {}


def _str_style(data: str) -> str | None:
    style = _styles.get(data, "?")
    if style != "?":
        return style
    if _needs_quotes(data):
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
        implicit = (_RESOLVER.resolve(ScalarNode, value, (True, False)) == tag,
                    _RESOLVER.resolve(ScalarNode, value, (False, True)) == tag)
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
        out.append(MappingStartEvent(None, _MAP_TAG, True, flow_style=False))
        for key, value in data.items():
            _events(key, out)
            _events(value, out)
        out.append(MappingEndEvent())
    elif kind is list:
        out.append(SequenceStartEvent(None, _SEQ_TAG, True, flow_style=False))
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


def locate(text: str, kind: str, name: str, path: str) -> tuple[int, int] | None:
    """Where (1-based line, column) the field `path` (e.g. "spec.ports[0].nodePort") of the document
    `kind`/`name` is written in `text`: so a problem the API server reports by field lands on its line.

    Only for text the gate has accepted (no aliases); returns the deepest part of the path that exists.
    """
    steps: list[str | int] = []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]|\[[^\]]*\]", path or ""):
        if part.startswith("[") and part[1:-1].isdigit():
            steps.append(int(part[1:-1]))
        else:
            steps.append(part.strip("[]"))
    try:
        documents = list(yaml.compose_all(text, Loader=_EventLoader))
    except yaml.YAMLError:
        return None

    def child(node: Any, step: str | int) -> Any:
        if isinstance(step, int) and isinstance(node, yaml.SequenceNode) and step < len(node.value):
            return node.value[step]
        if isinstance(step, str) and isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == step:
                    return value
        return None

    for doc in documents:
        if not isinstance(doc, yaml.MappingNode):
            continue
        meta = child(doc, "metadata")
        if getattr(child(doc, "kind"), "value", None) != kind or getattr(child(meta, "name"), "value", None) != name:
            continue
        node = doc
        for step in steps:
            nxt = child(node, step)
            if nxt is None:
                break
            node = nxt
        return node.start_mark.line + 1, node.start_mark.column + 1
    return None
