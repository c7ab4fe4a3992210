"""A shared, watch-backed cache of what the pages read, so a page costs no API round trip.

One *store* per kind and namespace, started by the first read of it: a list, then a watch from the
list's version, made with the console's own identity. Stores nobody has read for `idle_seconds` stop.
Objects are kept as their JSON text (compact, and each reader gets its own copy to change).

The cluster still decides what each user may read: before a user's read is served from a store, a
SelfSubjectAccessReview made *as that user* must allow that verb on that resource in that namespace.
Its answer is kept for `review_seconds`, and every answer is dropped as soon as a RoleBinding or a
ClusterRoleBinding changes anywhere (watches of both) or the console reconciles a membership. A kept
refusal sends the read to the API server as the user (which decides afresh), so keeping it never lets
anyone in.

Reads fall back to a live call (as the user) whenever the cache cannot answer: a kind it does not
keep, a field selector or a page of a list, a selector it cannot evaluate, a store that is not in
step with the API server (starting, or re-listing after a broken watch), or a kind the console may not
watch. Writes the console makes are applied to the stores at once (write-through), so a page that
follows a write shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.kube.client import CONSOLE, Actor, KubeGateway
from app.kube.errors import KubeError
from app.kube.resources import ALL_NAMESPACES, resource_for

log = logging.getLogger("dockyard.kube.cache")

Obj = dict[str, Any]

# What the pages read over and over. Not Secrets (the console never holds them), not Events (many,
# short-lived, read on demand), not PodMetrics (metrics.k8s.io cannot be watched).
CACHED_KINDS = frozenset({
    "Service", "Endpoints", "Pod", "Deployment", "StatefulSet", "DaemonSet", "ConfigMap",
    "PersistentVolumeClaim", "StorageClass",
})
# Writes to these change what users may do: the console forgets its access reviews at once.
RBAC_KINDS = frozenset({"RoleBinding", "ClusterRoleBinding", "Role", "ClusterRole"})
WATCH_SECONDS = 290
LIST_PAGE = 500
RETRY_SECONDS = (0.5, 1, 2, 5)


# -- label selectors -------------------------------------------------------------------------------

_TERM = re.compile(
    r"\s*(?:(?P<not>!)\s*(?P<absent>[\w./-]+)"
    r"|(?P<key>[\w./-]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>[\w.-]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?)\s*(?:,|$)"
)


def selector_matcher(selector: str | None) -> Callable[[dict[str, str]], bool] | None:
    """A predicate over labels for a label selector (equality and set based), None if it cannot parse."""
    if not selector or not selector.strip():
        return lambda labels: True
    tests: list[Callable[[dict[str, str]], bool]] = []
    pos = 0
    text = selector.strip()
    while pos < len(text):
        m = _TERM.match(text, pos)
        if not m or m.end() == pos:
            return None
        pos = m.end()
        if m["absent"]:
            tests.append(lambda labels, k=m["absent"]: k not in labels)
        elif m["op"]:
            k, v = m["key"], m["value"]
            if m["op"] == "!=":
                tests.append(lambda labels, k=k, v=v: labels.get(k) != v)
            else:
                tests.append(lambda labels, k=k, v=v: labels.get(k) == v)
        elif m["setop"]:
            values = frozenset(s.strip() for s in m["values"].split(",") if s.strip())
            if m["setop"] == "in":
                tests.append(lambda labels, k=m["key"], vs=values: labels.get(k) in vs)
            else:
                tests.append(lambda labels, k=m["key"], vs=values: labels.get(k) not in vs)
        else:
            tests.append(lambda labels, k=m["key"]: k in labels)
    return lambda labels: all(t(labels) for t in tests)


def _int(version: Any) -> int:
    """A resourceVersion as a number (0 if it is not one)."""
    try:
        return int(version or 0)
    except (TypeError, ValueError):
        return 0


def _version(obj: Obj) -> int:
    """An object's resourceVersion as a number, to drop stale events."""
    return _int((obj.get("metadata") or {}).get("resourceVersion"))


@dataclass
class _Entry:
    labels: dict[str, str]
    version: int
    text: str


@dataclass
class _Store:
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

    def put(self, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        name = meta.get("name")
        if not name:
            return
        version = _version(obj)
        current = self.objects.get(name)
        if current is not None and version and current.version > version:
            return  # an older state than the one kept (e.g. a late event after a write-through)
        if version and self.deleted.get(name, -1) >= version:
            return
        meta.pop("managedFields", None)  # never shown, and most of an object's size
        if "kind" not in obj:  # list items come without them; a GET answers with them
            res = resource_for(self.kind)
            obj = {"kind": self.kind, "apiVersion": res.api_version, **obj}
        self.objects[name] = _Entry(dict(meta.get("labels") or {}), version, json.dumps(obj))

    def remove(self, name: str, version: int = 0) -> None:
        """Forget an object; `version` 0 (unknown, e.g. a delete answered with a Status) always removes."""
        current = self.objects.get(name)
        if current is not None and version and current.version > version:
            return
        self.objects.pop(name, None)
        if len(self.deleted) > 256:  # tombstones only matter until the watch catches up
            self.deleted.clear()
        self.deleted[name] = max(version, current.version if current else 0)

    def changed(self, obj: Obj | None = None) -> None:
        """Tell the listeners (live updates) what changed; None: anything may have (a re-list)."""
        for listener in list(self.listeners):
            listener(obj)


class WatchCache:
    """The stores, the access reviews, and the tasks that keep them current."""

    def __init__(self, gateway: KubeGateway, *, idle_seconds: float = 300, review_seconds: float = 10,
                 max_stores: int = 512, sync_timeout: float = 10.0) -> None:
        self.gateway = gateway  # the console's own identity, with its own connection pool
        self.idle_seconds = idle_seconds
        self.review_seconds = review_seconds
        self.max_stores = max_stores
        self.sync_timeout = sync_timeout
        self._stores: dict[tuple[str, str | None], _Store] = {}
        self._unwatchable: set[str] = set()
        self._reviews: dict[tuple[str, str, str, str, str], tuple[float, bool]] = {}
        self._rbac_generation = 0
        self._pending_reviews: dict[tuple[str, str, str, str, str], asyncio.Future[bool]] = {}
        self._reaper: asyncio.Task[None] | None = None
        self._rbac: list[_Store] = []
        self.closed = False

    # -- reads -------------------------------------------------------------------------------------
    def keeps(self, kind: str) -> bool:
        return kind in CACHED_KINDS and kind not in self._unwatchable and not self.closed

    async def list(self, kind: str, namespace: str | None, label_selector: str | None) -> Obj | None:
        """A `<Kind>List` from the store, or None when the caller must read live."""
        matches = selector_matcher(label_selector)
        store = await self._ready(kind, namespace) if matches is not None else None
        if store is None or matches is None:
            return None
        loads = json.loads
        items = [loads(store.objects[name].text) for name in sorted(store.objects)
                 if matches(store.objects[name].labels)]
        res = resource_for(kind)
        return {"kind": f"{kind}List", "apiVersion": res.api_version,
                "metadata": {"resourceVersion": store.resource_version}, "items": items}

    async def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        """The object from the store (a KubeError 404 if it is not there), or None to read live."""
        store = await self._ready(kind, namespace)
        if store is None:
            return None
        entry = store.objects.get(name)
        if entry is None:
            res = resource_for(kind)
            plural = f"{res.plural}.{res.group}" if res.group else res.plural
            raise KubeError(404, "NotFound", f'{plural} "{name}" not found', kind=res.plural, name=name)
        return json.loads(entry.text)  # type: ignore[no-any-return]

    async def _ready(self, kind: str, namespace: str | None) -> _Store | None:
        if not self.keeps(kind) or namespace == ALL_NAMESPACES:
            return None
        key = _key(kind, namespace)
        store = self._stores.get(key)
        if store is None:
            store = self._start(*key)
        store.last_read = time.monotonic()
        if not store.synced.is_set():
            try:
                await asyncio.wait_for(asyncio.shield(store.synced.wait()), self.sync_timeout)
            except asyncio.TimeoutError:
                return None
        return store if store.healthy else None

    async def subscribe(self, kind: str, namespace: str, listener: Callable[[Obj | None], None]
                        ) -> tuple[Callable[[str], bool], Callable[[], None]] | None:
        """Call `listener` on every change the store sees. Returns (changed since a version?, unsubscribe),
        or None when the cache cannot follow this kind (the caller watches the API server itself)."""
        store = await self._ready(kind, namespace)
        if store is None:
            return None
        store.listeners.append(listener)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                store.listeners.remove(listener)
            store.last_read = time.monotonic()

        def changed_since(version: str) -> bool:
            seen = _int(version)
            return not seen or store.change_version > seen

        return changed_since, unsubscribe

    # -- write-through -----------------------------------------------------------------------------
    def written(self, obj: Obj, namespace: str | None) -> None:
        """The API server's answer to a create, update or patch the console made."""
        if obj.get("kind") in RBAC_KINDS:
            self.forget_reviews()
        store = self._store_of(obj.get("kind", ""), namespace)
        if store is not None and store.healthy:
            store.put(obj)

    def deleted(self, kind: str, namespace: str | None, name: str, answer: Obj) -> None:
        """The answer to a delete: the object (still there while it finalizes) or a Status."""
        if kind in RBAC_KINDS:
            self.forget_reviews()
        store = self._store_of(kind, namespace)
        if store is None or not store.healthy:
            return
        if answer.get("kind") == kind and (answer.get("metadata") or {}).get("deletionTimestamp"):
            store.put(answer)
        else:
            store.remove(name, _version(answer) if answer.get("kind") == kind else 0)

    def _store_of(self, kind: str, namespace: str | None) -> _Store | None:
        return self._stores.get(_key(kind, namespace)) if kind in CACHED_KINDS else None

    # -- access reviews ----------------------------------------------------------------------------
    async def allowed(self, actor: Actor, verb: str, kind: str, namespace: str | None) -> bool:
        """Whether the cluster lets this user `verb` this kind in this namespace. A kept refusal only
        sends the read to the API server, which decides afresh: keeping it can never let anyone in."""
        res = resource_for(kind)
        group = res.group
        ns = namespace if res.namespaced else None
        key = (actor.impersonate or "", verb, group, res.plural, ns or "")
        now = time.monotonic()
        kept = self._reviews.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        pending = self._pending_reviews.get(key)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._pending_reviews[key] = pending
            generation = self._rbac_generation
            try:
                attributes = {"verb": verb, "group": group, "resource": res.plural}
                if ns:
                    attributes["namespace"] = ns
                answer = await self.gateway.create(
                    {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                     "spec": {"resourceAttributes": attributes}},
                    namespace=None, actor=actor, field_manager=None,
                )
                ok = bool((answer.get("status") or {}).get("allowed"))
                if generation == self._rbac_generation:  # no RBAC change while we asked
                    if len(self._reviews) > 50_000:
                        self._reviews = {}
                    self._reviews[key] = (now + self.review_seconds, ok)
                pending.set_result(ok)
            except BaseException as e:
                pending.set_exception(e)
                raise
            finally:
                self._pending_reviews.pop(key, None)
            return ok
        return await asyncio.shield(pending)

    def forget_reviews(self, _changed: Obj | None = None) -> None:
        """RBAC changed: ask the cluster again."""
        self._reviews = {}
        self._rbac_generation += 1

    # -- stores ------------------------------------------------------------------------------------
    def _start(self, kind: str, namespace: str | None) -> _Store:
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap(), name="watch-cache reaper")
            self._rbac = self._start_rbac_watches()
        idle = [s for s in self._stores.values() if not s.listeners]
        if len(self._stores) >= self.max_stores and idle:
            self._stop(min(idle, key=lambda s: s.last_read))
        store = _Store(kind, namespace)
        self._stores[(kind, namespace)] = store
        store.task = asyncio.create_task(self._run(store), name=f"watch-cache {kind} {namespace or ''}")
        return store

    def _start_rbac_watches(self) -> list[_Store]:
        """Watches that only say "RBAC changed": RoleBindings in every namespace, and ClusterRoleBindings
        (a grant or revocation through either drops every kept answer at once)."""
        stores = [_Store("RoleBinding", ALL_NAMESPACES), _Store("ClusterRoleBinding", None)]
        for store in stores:
            store.listeners.append(self.forget_reviews)
            store.task = asyncio.create_task(self._run(store, keep=False), name=f"watch-cache rbac {store.kind}")
        return stores

    def _stop(self, store: _Store) -> None:
        self._stores.pop((store.kind, store.namespace), None)
        store.healthy = False
        if store.task is not None:
            store.task.cancel()

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, min(30.0, self.idle_seconds / 4)))
            now = time.monotonic()
            for store in list(self._stores.values()):
                if now - store.last_read > self.idle_seconds and not store.listeners:
                    self._stop(store)

    async def _run(self, store: _Store, *, keep: bool = True) -> None:
        """List, then watch from there; on any break, list again. `keep=False` only signals changes."""
        failures = 0
        while True:
            try:
                await self._list(store, keep)
                store.healthy = True
                store.synced.set()
                store.changed()
                failures = 0
                while True:  # the server ends each watch after its timeout: go on from where it stopped
                    async for event in self.gateway.watch(
                        store.kind, store.namespace, actor=CONSOLE, resource_version=store.resource_version,
                        timeout_seconds=WATCH_SECONDS,
                    ):
                        _apply(store, event, keep)
            except asyncio.CancelledError:
                store.healthy = False
                raise
            except _Relist:
                store.healthy = False
                store.changed()
            except KubeError as e:
                store.healthy = False
                store.synced.set()  # readers stop waiting and read live
                store.changed()
                if e.forbidden or e.status in (404, 405):
                    log.warning("not caching %s: the console may not watch it (%s)", store.kind, e.message)
                    self._unwatchable.add(store.kind)
                    self._stores.pop((store.kind, store.namespace), None)
                    return
                failures += 1
            except Exception:  # a malformed event or the like: start again from a fresh list
                log.exception("watch cache %s %s", store.kind, store.namespace)
                store.healthy = False
                store.synced.set()
                store.changed()
                failures += 1
            if failures:
                await asyncio.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1])

    async def _list(self, store: _Store, keep: bool) -> None:
        """Fill the store from a list, in pages: 5,000 pods at once would briefly cost hundreds of MB."""
        fresh = _Store(store.kind, store.namespace)
        token: str | None = None
        version = ""
        while True:
            page = await self.gateway.list(store.kind, store.namespace, actor=CONSOLE, limit=LIST_PAGE,
                                           continue_token=token)
            meta = page.get("metadata") or {}
            version = version or str(meta.get("resourceVersion", ""))  # every page is of the same snapshot
            if keep:
                for item in page.get("items") or []:
                    fresh.put(item)
            del page
            token = meta.get("continue")
            if not token:
                break
        store.objects, store.resource_version = fresh.objects, version
        store.change_version = max(store.change_version, _int(version))  # anything may have changed
        store.deleted.clear()

    async def close(self) -> None:
        self.closed = True
        tasks = [s.task for s in self._stores.values() if s.task] + [
            t for t in (self._reaper, *(s.task for s in self._rbac)) if t
        ]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        self._stores.clear()
        await self.gateway.close()


class _Relist(Exception):
    """The watch cannot go on (410 Gone: its version is too old): list again."""


def _apply(store: _Store, event: Obj, keep: bool) -> None:
    kind = event.get("type")
    obj = event.get("object") or {}
    if kind == "ERROR":
        raise _Relist()
    version = (obj.get("metadata") or {}).get("resourceVersion")
    if version:
        store.resource_version = str(version)
    if kind in ("ADDED", "MODIFIED") and keep:
        store.put(obj)
    elif kind == "DELETED" and keep:
        store.remove((obj.get("metadata") or {}).get("name", ""), _version(obj))
    if kind in ("ADDED", "MODIFIED", "DELETED"):
        store.change_version = max(store.change_version, _version(obj))
        store.changed(obj)


def _key(kind: str, namespace: str | None) -> tuple[str, str | None]:
    """A store's key: cluster-scoped kinds have one store, whatever namespace the caller named."""
    return kind, namespace if resource_for(kind).namespaced else None
