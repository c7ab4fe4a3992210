"""One kind in one namespace, as the watch cache keeps it: decoded objects and the indexes pages need.

Objects are decoded once, when their watch event arrives, and shared by every reader: readers never
change them (a `get` hands out a copy, since callers edit what they got; lists and pages hand out the
shared objects, and `tests/kube/test_cache.py` checks that no page changes them). The indexes keep a
read O(what it returns): by name, by creation time, and inverted indexes of labels and of pod
template labels (a Service's pods and the workloads behind it, without scanning every pod). Events are
kept slimmed to what the pages show and indexed by the object they are about.
"""

from __future__ import annotations

import asyncio
import bisect
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from app.kube.resources import resource_for

Obj = dict[str, Any]
Labels = dict[str, str]


# -- label selectors -------------------------------------------------------------------------------

_TERM = re.compile(
    r"\s*(?:(?P<not>!)\s*(?P<absent>[\w./-]+)"
    r"|(?P<key>[\w./-]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>[\w.-]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?)\s*(?:,|$)"
)


@dataclass(frozen=True)
class Requirement:
    """One term of a label selector: `op` is "in" (= and == are "in" one value), "notin", "exists" or "absent"."""

    key: str
    op: str
    values: frozenset[str] = frozenset()

    def __call__(self, labels: Labels) -> bool:
        if self.op == "in":
            return labels.get(self.key) in self.values
        if self.op == "notin":
            return labels.get(self.key) not in self.values
        if self.op == "exists":
            return self.key in labels
        return self.key not in labels


def parse_selector(selector: str | None) -> list[Requirement] | None:
    """The terms of a label selector (equality and set based), None if it cannot parse."""
    out: list[Requirement] = []
    text = (selector or "").strip()
    pos = 0
    while pos < len(text):
        m = _TERM.match(text, pos)
        if not m or m.end() == pos:
            return None
        pos = m.end()
        if m["absent"]:
            out.append(Requirement(m["absent"], "absent"))
        elif m["op"]:
            out.append(Requirement(m["key"], "notin" if m["op"] == "!=" else "in", frozenset([m["value"]])))
        elif m["setop"]:
            values = frozenset(s.strip() for s in m["values"].split(",") if s.strip())
            out.append(Requirement(m["key"], m["setop"], values))
        else:
            out.append(Requirement(m["key"], "exists"))
    return out


def selector_matcher(selector: str | None) -> Callable[[Labels], bool] | None:
    """A predicate over labels for a label selector, None if it cannot parse."""
    terms = parse_selector(selector)
    if terms is None:
        return None
    return lambda labels: all(t(labels) for t in terms)


def template_labels(obj: Obj) -> Labels:
    """The labels a workload gives its pods (spec.template.metadata.labels)."""
    return dict(((((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")) or {})


# -- one copy of each short string ------------------------------------------------------------------

# Kept objects repeat the same keys and short values ("metadata", "Ready", "TCP", an image, a node...):
# each decoded event has its own copies. One shared copy of each halves what a pod costs (13 KB -> 6 KB
# at 10,000 pods). Longer strings (most are unique: a uid is shorter, but annotations are not) are left.
_SHARED: dict[str, str] = {}
SHARED_MAX_LENGTH = 64
SHARED_MAX_ENTRIES = 300_000


def share_strings(obj: Any) -> Any:
    """A copy of decoded JSON with its keys and short strings replaced by shared ones (same values)."""
    if len(_SHARED) > SHARED_MAX_ENTRIES:
        _SHARED.clear()  # strings already shared stay shared; new ones start a new table
    return _share(obj, _SHARED.setdefault)


def _share(obj: Any, one: Callable[[str, str], str]) -> Any:
    kind = type(obj)
    if kind is dict:
        return {one(k, k): _share(v, one) for k, v in obj.items()}
    if kind is list:
        return [_share(v, one) for v in obj]
    if kind is str and len(obj) <= SHARED_MAX_LENGTH:
        return one(obj, obj)
    return obj


# -- ordering and pages ----------------------------------------------------------------------------

ORDERS = ("name", "created")  # created: by creationTimestamp, then name


def order_key(obj: Obj, order: str) -> tuple[str, str] | str:
    meta = obj.get("metadata") or {}
    if order == "created":
        return meta.get("creationTimestamp") or "", meta.get("name") or ""
    return meta.get("name") or ""


@dataclass(frozen=True)
class Page:
    """One page of a sorted, filtered list: `page` is clamped to 1..pages."""

    items: list[Obj]
    total: int
    page: int
    pages: int
    resource_version: str


def clamp_page(total: int, page: int, limit: int) -> tuple[int, int, int]:
    """(page, pages, start) with page clamped to the pages there are."""
    pages = max(1, -(-total // limit))
    page = min(max(page, 1), pages)
    return page, pages, (page - 1) * limit


@dataclass(frozen=True)
class TextMatch:
    """A search for `needle` in a text derived from each object by `text` (a module-level function:
    the store keeps each object's text with it, derived once per object version), and `rest`, if any."""

    text: Callable[[Obj], str]
    needle: str
    rest: Callable[[Obj], bool] | None = None

    def __call__(self, obj: Obj) -> bool:
        return self.needle in self.text(obj) and (self.rest is None or self.rest(obj))


def page_of(items: Iterable[Obj], *, order: str, descending: bool, page: int, limit: int,
            match: Callable[[Obj], bool] | None, resource_version: str) -> Page:
    """A page cut from a whole list (a live read): the same order and clamping as the store's pages."""
    found = [o for o in items if match is None or match(o)]
    found.sort(key=lambda o: order_key(o, order), reverse=descending)
    page, pages, start = clamp_page(len(found), page, limit)
    return Page(found[start:start + limit], len(found), page, pages, resource_version)


# -- events and the objects they are about ---------------------------------------------------------

# A pod that crashed and was replaced, or a ReplicaSet, is found by its workload's name prefix.
PREFIXED_KINDS = frozenset({"Pod", "ReplicaSet", "ControllerRevision"})
_EVENT_FIELDS = ("type", "reason", "message", "note", "count", "series", "lastTimestamp", "eventTime",
                 "firstTimestamp", "involvedObject", "regarding")


def involved_object(event: Obj) -> tuple[str, str]:
    """(kind, name) of what an Event is about (core/v1 `involvedObject`, events/v1 `regarding`)."""
    obj = event.get("involvedObject") or event.get("regarding") or {}
    return str(obj.get("kind", "")), str(obj.get("name", ""))


def is_about(event: Obj, objects: frozenset[tuple[str, str]], prefixes: Iterable[str]) -> bool:
    kind, name = involved_object(event)
    return (kind, name) in objects or (kind in PREFIXED_KINDS and any(name.startswith(p) for p in prefixes))


def _involved_key(event: Obj, name: str) -> tuple[str, str, str]:
    kind, about = involved_object(event)
    return about, kind, name


def _slim_event(event: Obj) -> Obj:
    """What the Events tab shows of an Event: a fraction of its memory in a project of thousands."""
    meta = event.get("metadata") or {}
    kept = {k: event[k] for k in _EVENT_FIELDS if k in event}
    kept["metadata"] = {k: meta[k] for k in ("name", "namespace", "resourceVersion", "creationTimestamp")
                        if k in meta}
    return kept


def copy_json(value: Any) -> Any:
    """A deep copy of decoded JSON (dicts, lists, scalars): a reader's own object to change."""
    if type(value) is dict:
        return {k: copy_json(v) for k, v in value.items()}
    if type(value) is list:
        return [copy_json(v) for v in value]
    return value


# -- the store -------------------------------------------------------------------------------------

def _int(version: Any) -> int:
    """A resourceVersion as a number (0 if it is not one)."""
    try:
        return int(version or 0)
    except (TypeError, ValueError):
        return 0


def version_of(obj: Obj) -> int:
    """An object's resourceVersion as a number, to drop stale events."""
    return _int((obj.get("metadata") or {}).get("resourceVersion"))


@dataclass
class _Entry:
    obj: Obj  # decoded once, shared, never changed
    labels: Labels
    template: Labels
    version: int
    created: str
    texts: dict[Callable[[Obj], str], str] = field(default_factory=dict)  # TextMatch texts, derived once

    def text(self, derive: Callable[[Obj], str]) -> str:
        found = self.texts.get(derive)
        if found is None:
            found = self.texts[derive] = derive(self.obj)
        return found


class _LabelIndex:
    """key -> value -> names, to find the objects an equality selector picks without scanning them all."""

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, set[str]]] = {}

    def add(self, name: str, labels: Labels) -> None:
        for k, v in labels.items():
            self.keys.setdefault(k, {}).setdefault(v, set()).add(name)

    def drop(self, name: str, labels: Labels) -> None:
        for k, v in labels.items():
            values = self.keys.get(k)
            names = values.get(v) if values else None
            if names is not None:
                names.discard(name)
                if not names:
                    del values[v]  # type: ignore[union-attr]
                    if not values:
                        del self.keys[k]

    def candidates(self, terms: list[Requirement]) -> set[str] | None:
        """Names that satisfy every "in"/"exists" term (None: no such term, every object is a candidate)."""
        best: set[str] | None = None
        for t in terms:
            if t.op not in ("in", "exists"):
                continue
            values = self.keys.get(t.key, {})
            chosen = values.values() if t.op == "exists" else (values.get(v, set()) for v in t.values)
            names: set[str] = set().union(*chosen)
            best = names if best is None else best & names
            if not best:
                return set()
        return best


_SEP = "\x00"  # between the texts of two objects: never in a search (the list strips it)


@dataclass(frozen=True)
class _Searchable:
    blob: str  # every object's text, in name order, each followed by _SEP
    starts: list[int]  # where each object's text starts in `blob`
    names: list[str]  # the objects, in the same order

    @classmethod
    def of(cls, names: list[str], texts: Iterable[str]) -> _Searchable:
        starts, parts, at = [], [], 0
        for text in texts:
            text = text.replace(_SEP, "")
            starts.append(at)
            parts.append(text)
            at += len(text) + 1
        return cls(_SEP.join(parts) + _SEP, starts, names)

    def find(self, needle: str) -> list[str]:
        """The names whose text contains `needle`, in name order."""
        if not needle or _SEP in needle:
            return list(self.names) if not needle else []
        found, blob, starts = [], self.blob, self.starts
        i = blob.find(needle)
        while i != -1:
            k = bisect.bisect_right(starts, i) - 1
            found.append(self.names[k])
            if k + 1 >= len(starts):
                break
            i = blob.find(needle, starts[k + 1])
        return found


@dataclass
class Store:
    kind: str
    namespace: str | None
    objects: dict[str, _Entry] = field(default_factory=dict)
    resource_version: str = ""  # where the watch resumes (bookmarks move it too)
    # The version of the last change seen, to tell whether a page read before it: kinds share one
    # version sequence (etcd's), so a page's version from another store compares correctly.
    change_version: int = 0
    synced: asyncio.Event = field(default_factory=asyncio.Event)
    healthy: bool = False
    last_read: float = field(default_factory=time.monotonic)
    task: asyncio.Task[None] | None = None
    deleted: dict[str, int] = field(default_factory=dict)  # name -> version it was deleted at
    listeners: list[Callable[[Obj | None], None]] = field(default_factory=list)
    by_name: list[str] = field(default_factory=list)
    by_created: list[tuple[str, str]] = field(default_factory=list)
    labels: _LabelIndex = field(default_factory=_LabelIndex)
    templates: _LabelIndex = field(default_factory=_LabelIndex)
    # Events only: (object name, object kind, event name), sorted, for exact and prefix lookups.
    involved: list[tuple[str, str, str]] = field(default_factory=list)
    # TextMatch texts of every object, joined in name order, by derive function: a search is then
    # str.find over one string (C speed, what it finds) instead of a Python pass over the objects.
    # Built at the first search after a change; a few hundred KB at 10,000 objects.
    searchable: dict[Callable[[Obj], str], _Searchable] = field(default_factory=dict)

    # -- changes ---------------------------------------------------------------------------------
    def _entry(self, obj: Obj) -> _Entry | None:
        meta = obj.get("metadata") or {}
        if not meta.get("name"):
            return None
        meta.pop("managedFields", None)  # never shown, and most of an object's size
        if self.kind == "Event":
            obj = _slim_event(obj)
        if "kind" not in obj:  # list items come without them; a GET answers with them
            obj = {"kind": self.kind, "apiVersion": resource_for(self.kind).api_version, **obj}
        obj = share_strings(obj)
        return _Entry(obj, dict(meta.get("labels") or {}), template_labels(obj), version_of(obj),
                      meta.get("creationTimestamp") or "")

    def put(self, obj: Obj) -> None:
        entry = self._entry(obj)
        if entry is None:
            return
        name = entry.obj["metadata"]["name"]
        current = self.objects.get(name)
        if current is not None and entry.version and current.version > entry.version:
            return  # an older state than the one kept (e.g. a late event after a write-through)
        if entry.version and self.deleted.get(name, -1) >= entry.version:
            return
        if current is not None:
            self._unindex(name, current)
        else:
            bisect.insort(self.by_name, name)
        self.searchable.clear()
        self.objects[name] = entry
        bisect.insort(self.by_created, (entry.created, name))
        self.labels.add(name, entry.labels)
        self.templates.add(name, entry.template)
        if self.kind == "Event":
            bisect.insort(self.involved, _involved_key(entry.obj, name))

    def remove(self, name: str, version: int = 0) -> None:
        """Forget an object; `version` 0 (unknown, e.g. a delete answered with a Status) always removes."""
        current = self.objects.get(name)
        if current is not None and version and current.version > version:
            return
        if current is not None:
            del self.objects[name]
            self._unindex(name, current)
            del self.by_name[bisect.bisect_left(self.by_name, name)]
            self.searchable.clear()
        if len(self.deleted) > 256:  # tombstones only matter until the watch catches up
            self.deleted.clear()
        self.deleted[name] = max(version, current.version if current else 0)

    def _unindex(self, name: str, entry: _Entry) -> None:
        i = bisect.bisect_left(self.by_created, (entry.created, name))
        if i < len(self.by_created) and self.by_created[i] == (entry.created, name):
            del self.by_created[i]
        self.labels.drop(name, entry.labels)
        self.templates.drop(name, entry.template)
        if self.kind == "Event":
            key = _involved_key(entry.obj, name)
            i = bisect.bisect_left(self.involved, key)
            if i < len(self.involved) and self.involved[i] == key:
                del self.involved[i]

    def fill(self, items: Iterable[Obj]) -> None:
        """Replace everything with a fresh list's items (indexes built once, not item by item)."""
        objects: dict[str, _Entry] = {}
        for item in items:
            entry = self._entry(item)
            if entry is not None:
                objects[entry.obj["metadata"]["name"]] = entry
        self.objects = objects
        self.searchable.clear()
        self.by_name = sorted(objects)
        self.by_created = sorted((e.created, n) for n, e in objects.items())
        self.labels, self.templates = _LabelIndex(), _LabelIndex()
        for name, e in objects.items():
            self.labels.add(name, e.labels)
            self.templates.add(name, e.template)
        if self.kind == "Event":
            self.involved = sorted(_involved_key(e.obj, n) for n, e in objects.items())
        self.deleted.clear()

    def changed(self, obj: Obj | None = None) -> None:
        """Tell the listeners (live updates) what changed; None: anything may have (a re-list)."""
        for listener in list(self.listeners):
            listener(obj)

    # -- reads -----------------------------------------------------------------------------------
    def select(self, labels: list[Requirement], template: list[Requirement] | None = None) -> list[Obj]:
        """The shared objects whose labels (and pod template labels) satisfy the terms, by name."""
        names: set[str] | None = self.labels.candidates(labels)
        if template:
            by_template = self.templates.candidates(template)
            if by_template is not None:
                names = by_template if names is None else names & by_template
        ordered: Iterable[str] = self.by_name if names is None else sorted(names)
        out = []
        for name in ordered:
            e = self.objects[name]
            if all(t(e.labels) for t in labels) and all(t(e.template) for t in template or ()):
                out.append(e.obj)
        return out

    def about(self, objects: frozenset[tuple[str, str]], prefixes: Iterable[str]) -> list[Obj]:
        """The Events about `objects` (kind, name), or about a Pod/ReplicaSet named with one of `prefixes`:
        O(what they find), by the index."""
        found: set[str] = set()
        for kind, name in objects:
            i = bisect.bisect_left(self.involved, (name, kind, ""))
            while i < len(self.involved) and self.involved[i][:2] == (name, kind):
                found.add(self.involved[i][2])
                i += 1
        for prefix in prefixes:
            i = bisect.bisect_left(self.involved, (prefix, "", ""))
            while i < len(self.involved) and self.involved[i][0].startswith(prefix):
                if self.involved[i][1] in PREFIXED_KINDS:
                    found.add(self.involved[i][2])
                i += 1
        return [self.objects[n].obj for n in sorted(found)]

    def _searchable(self, derive: Callable[[Obj], str]) -> _Searchable:
        found = self.searchable.get(derive)
        if found is None:
            names = list(self.by_name)
            found = self.searchable[derive] = _Searchable.of(names, (self.objects[n].text(derive) for n in names))
        return found

    def page(self, *, order: str, descending: bool, page: int, limit: int,
             match: Callable[[Obj], bool] | None) -> Page:
        """A page in `order`: O(page) without `match`, one pass of `match` over the objects with it."""
        keys: list[Any] = self.by_created if order == "created" else self.by_name
        if match is None:
            total = len(keys)
            page, pages, start = clamp_page(total, page, limit)
            lo, hi = (total - start - limit, total - start) if descending else (start, start + limit)
            window = keys[max(lo, 0):max(hi, 0)]
            if descending:
                window.reverse()
            chosen = [k[1] if order == "created" else k for k in window]
            return Page([self.objects[n].obj for n in chosen], total, page, pages, self.resource_version)
        ordered = reversed(keys) if descending else iter(keys)
        names = (k[1] for k in ordered) if order == "created" else ordered
        if isinstance(match, TextMatch):  # one find over the kept texts: costs what it finds
            hits = self._searchable(match.text).find(match.needle)
            if order == "created":
                hits.sort(key=lambda n: (self.objects[n].created, n))
            if descending:
                hits.reverse()
            rest = match.rest
            found = [self.objects[n].obj for n in hits if rest is None or rest(self.objects[n].obj)]
        else:
            found = [self.objects[n].obj for n in names if match(self.objects[n].obj)]
        page, pages, start = clamp_page(len(found), page, limit)
        return Page(found[start:start + limit], len(found), page, pages, self.resource_version)
