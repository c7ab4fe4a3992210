"""A shared, watch-backed cache of what the pages read, so a page costs no API round trip.

One *store* per kind and namespace, started by the first read of it: a list, then a watch from the
list's version, made with the console's own identity. Stores nobody has read for `idle_seconds` stop.
Objects are decoded once per watch event and kept with indexes (`app.kube.store`): a read costs what
it returns, not what the project holds.

The cluster still decides what each user may read: before a user's read is served from a store, a
SelfSubjectAccessReview made *as that user* must allow that verb on that resource in that namespace.
Its answer is kept for `review_seconds`, and every answer is dropped as soon as a RoleBinding, a
ClusterRoleBinding, a Role or a ClusterRole changes anywhere (watches of the four) or the console
reconciles a membership: the watches, not the expiry, are what make a revocation take effect. A kept
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
import builtins
import contextlib
import functools
import gc
import logging
import time
from collections.abc import Callable
from typing import Any

from app import observability
from app.kube.client import CONSOLE, Actor, KubeGateway
from app.kube.errors import KubeError
from app.kube.resources import ALL_NAMESPACES, Resource, resource_for
from app.kube.store import Page, Store, _int, copy_json, parse_selector, selector_matcher, version_of

__all__ = ["WatchCache", "selector_matcher"]

log = logging.getLogger("dockyard.kube.cache")

Obj = dict[str, Any]

# What the pages read over and over. Not Secrets (the console never holds them), not PodMetrics
# (metrics.k8s.io cannot be watched). Events are kept slimmed, for the Events tab's index only.
CACHED_KINDS = frozenset({
    "Service", "EndpointSlice", "Pod", "Deployment", "StatefulSet", "DaemonSet", "ConfigMap",
    "PersistentVolumeClaim", "StorageClass", "Event",
    "HTTPRoute",  # Gateway API (a CRD): read only where it is served (app.domain.services.gateway)
})
INDEX_ONLY_KINDS = frozenset({"Event"})  # never answer a plain list or get: the objects are slimmed
# Writes to these change what users may do: the console forgets its access reviews at once.
RBAC_KINDS = frozenset({"RoleBinding", "ClusterRoleBinding", "Role", "ClusterRole"})
WATCH_SECONDS = 290
LIST_PAGE = 500
RETRY_SECONDS = (0.5, 1, 2, 5)
UNWATCHABLE_SECONDS = 300
FREEZE_AFTER = 1000  # objects in one list


class WatchCache:
    """The stores, the access reviews, and the tasks that keep them current."""

    def __init__(self, gateway: KubeGateway, *, idle_seconds: float = 300, review_seconds: float = 300,
                 max_stores: int = 512, sync_timeout: float = 10.0) -> None:
        self.gateway = gateway  # the console's own identity, with its own connection pool
        self.idle_seconds = idle_seconds
        self.review_seconds = review_seconds
        self.max_stores = max_stores
        self.sync_timeout = sync_timeout
        self._stores: dict[tuple[str, str | None], Store] = {}
        self._unwatchable: dict[str, float] = {}  # kind -> when to try watching it again
        self._reviews: dict[tuple[str, str, str, str, str], tuple[float, bool]] = {}
        self._rbac_generation = 0
        self._pending_reviews: dict[tuple[str, str, str, str, str], asyncio.Task[bool]] = {}
        self._reaper: asyncio.Task[None] | None = None
        self._rbac: list[Store] = []
        self._added_since_freeze = 0  # objects the watches added since the last gc.freeze()
        self.closed = False
        observability.report_cache_sizes(self.sizes)

    def _freeze(self) -> None:
        """Thousands of decoded objects that live as long as their store go out of the cyclic GC, whose
        full passes over them would stall every request (hundreds of ms at 10,000 objects): after a big
        list, and after every FREEZE_AFTER * 5 objects a growing project's watches added (a project grown
        from 100 to 10,000 Services is never listed big). They hold no cycles, so reference counting still
        frees them when the store drops them; the collection first keeps real garbage from being frozen."""
        gc.collect()
        gc.freeze()
        self._added_since_freeze = 0

    def sizes(self) -> dict[str, int]:
        """Objects held now, by kind (the metrics read it when scraped)."""
        out: dict[str, int] = {}
        if self.closed:
            return out
        for (kind, _ns), store in list(self._stores.items()):
            out[kind] = out.get(kind, 0) + len(store.objects)
        return out

    # -- reads -------------------------------------------------------------------------------------
    def keeps(self, kind: str) -> bool:
        if kind not in CACHED_KINDS or self.closed:
            return False
        until = self._unwatchable.get(kind)
        return until is None or until < time.monotonic()

    async def list(self, kind: str, namespace: str | None, label_selector: str | None,
                   template_selector: str | None = None) -> Obj | None:
        """A `<Kind>List` of the shared objects (never change them), or None when the caller must read
        live. `template_selector` also filters by pod template labels (the workloads behind a selector)."""
        if kind in INDEX_ONLY_KINDS:
            return None
        labels, template = parse_selector(label_selector), parse_selector(template_selector)
        store = await self._ready(kind, namespace) if labels is not None and template is not None else None
        if store is None or labels is None:
            return None
        res = resource_for(kind)
        return {"kind": f"{kind}List", "apiVersion": res.api_version,
                "metadata": {"resourceVersion": store.resource_version},
                "items": store.select(labels, template)}

    async def about(self, namespace: str, objects: frozenset[tuple[str, str]], prefixes: builtins.list[str]
                    ) -> builtins.list[Obj] | None:
        """The shared (slimmed) Events about these objects, by the index; None to read live."""
        store = await self._ready("Event", namespace)
        return None if store is None else store.about(objects, prefixes)

    async def page(self, kind: str, namespace: str | None, *, order: str, descending: bool, page: int,
                   limit: int, match: Callable[[Obj], bool] | None) -> Page | None:
        """One page of the shared objects in `order`, filtered by `match`; None to read live."""
        store = await self._ready(kind, namespace)
        if store is None:
            return None
        return store.page(order=order, descending=descending, page=page, limit=limit, match=match)

    async def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        """A copy of the object from the store (a KubeError 404 if it is not there), or None to read live."""
        if kind in INDEX_ONLY_KINDS:
            return None
        store = await self._ready(kind, namespace)
        if store is None:
            return None
        entry = store.objects.get(name)
        if entry is None:
            res = resource_for(kind)
            plural = f"{res.plural}.{res.group}" if res.group else res.plural
            raise KubeError(404, "NotFound", f'{plural} "{name}" not found', kind=res.plural, name=name)
        return copy_json(entry.obj)  # type: ignore[no-any-return]

    async def _ready(self, kind: str, namespace: str | None) -> Store | None:
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
            except TimeoutError:
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
            store.remove(name, version_of(answer) if answer.get("kind") == kind else 0)

    def _store_of(self, kind: str, namespace: str | None) -> Store | None:
        return self._stores.get(_key(kind, namespace)) if kind in CACHED_KINDS else None

    # -- access reviews ----------------------------------------------------------------------------
    async def allowed(self, actor: Actor, verb: str, kind: str, namespace: str | None) -> bool:
        """Whether the cluster lets this user `verb` this kind in this namespace. A kept refusal only
        sends the read to the API server, which decides afresh: keeping it can never let anyone in."""
        res = resource_for(kind)
        group = res.group
        ns = namespace if res.namespaced else None
        key = (actor.user_id or "", verb, group, res.plural, ns or "")
        now = time.monotonic()
        kept = self._reviews.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        pending = self._pending_reviews.get(key)
        if pending is None:
            # Its own task: the readers waiting on one review share it, and one of them leaving (a closed
            # stream, a page past its deadline) neither cancels it for the others nor loses its answer.
            pending = asyncio.get_running_loop().create_task(self._review(actor, verb, res, ns, key, now))
            self._pending_reviews[key] = pending
            pending.add_done_callback(functools.partial(self._review_done, key))
        return await asyncio.shield(pending)

    async def _review(self, actor: Actor, verb: str, res: Resource, ns: str | None,
                      key: tuple[str, str, str, str, str], now: float) -> bool:
        generation = self._rbac_generation
        attributes = {"verb": verb, "group": res.group, "resource": res.plural}
        if ns:
            attributes["namespace"] = ns
        answer = await self.gateway.create(
            {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
             "spec": {"resourceAttributes": attributes}},
            namespace=None, actor=actor, field_manager=None,
        )
        ok = bool((answer.get("status") or {}).get("allowed"))
        # Kept only while the RBAC watches are in step: while they are down (an API server restart), a
        # revocation could go unseen, so every read asks again.
        if generation == self._rbac_generation and all(r.healthy for r in self._rbac):
            if len(self._reviews) > 50_000:
                self._reviews = {}
            self._reviews[key] = (now + self.review_seconds, ok)
        return ok

    def _review_done(self, key: tuple[str, str, str, str, str], task: asyncio.Task[bool]) -> None:
        if self._pending_reviews.get(key) is task:
            del self._pending_reviews[key]
        if not task.cancelled():
            task.exception()  # retrieved here too: every waiter may have left before it ended

    def forget_reviews(self, _changed: Obj | None = None) -> None:
        """RBAC changed: ask the cluster again."""
        self._reviews = {}
        self._rbac_generation += 1

    # -- stores ------------------------------------------------------------------------------------
    def _start(self, kind: str, namespace: str | None) -> Store:
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap(), name="watch-cache reaper")
            self._rbac = self._start_rbac_watches()
        idle = [s for s in self._stores.values() if not s.listeners]
        if len(self._stores) >= self.max_stores and idle:
            self._stop(min(idle, key=lambda s: s.last_read))
        store = Store(kind, namespace)
        self._stores[(kind, namespace)] = store
        store.task = asyncio.create_task(self._run(store), name=f"watch-cache {kind} {namespace or ''}")
        return store

    def _start_rbac_watches(self) -> builtins.list[Store]:
        """Watches that only say "RBAC changed": RoleBindings and Roles in every namespace, ClusterRoleBindings
        and ClusterRoles (a grant or revocation through a binding, or a rule changed in a role, drops every
        kept answer at once)."""
        stores = [Store("RoleBinding", ALL_NAMESPACES), Store("ClusterRoleBinding", None),
                  Store("Role", ALL_NAMESPACES), Store("ClusterRole", None)]
        for store in stores:
            store.listeners.append(self.forget_reviews)
            store.task = asyncio.create_task(self._run(store, keep=False), name=f"watch-cache rbac {store.kind}")
        return stores

    def _stop(self, store: Store) -> None:
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

    async def _run(self, store: Store, *, keep: bool = True) -> None:
        """List, then watch from there. A broken watch resumes from the last version seen (reads go live
        until its first event or bookmark arrives); a version too old (410 Gone) lists again.
        `keep=False` only signals changes."""
        failures = 0
        listed = listed_once = False
        while True:
            try:
                if not listed:
                    await self._list(store, keep)
                    listed = listed_once = True
                    store.healthy = True
                    store.synced.set()
                    store.changed()
                while True:  # the server ends each watch after its timeout: go on from where it stopped
                    async for event in self.gateway.watch(
                        store.kind, store.namespace, actor=CONSOLE, resource_version=store.resource_version,
                        timeout_seconds=WATCH_SECONDS,
                    ):
                        _apply(store, event, keep)
                        if keep and event.get("type") == "ADDED":
                            self._added_since_freeze += 1
                            if self._added_since_freeze >= FREEZE_AFTER * 5:
                                self._freeze()
                        if not store.healthy:  # resumed: the server has replayed what we missed up to here
                            store.healthy = True
                            store.changed()
                        failures = 0
            except asyncio.CancelledError:
                store.healthy = False
                raise
            except _Relist:
                observability.WATCH_RESTARTS.labels(store.kind, "gone").inc()
                listed = False
                store.healthy = False
                store.changed()
            except KubeError as e:
                store.healthy = False
                store.synced.set()  # readers stop waiting and read live
                store.changed()
                # Refused from the start: the console's role lacks it (read live; try again later).
                # Refused after it worked (an API server whose authorizer is still starting): retry.
                if (e.forbidden or e.status in (404, 405)) and keep and not listed_once:
                    log.warning("not caching %s: the console may not watch it (%s)", store.kind, e.message)
                    self._unwatchable[store.kind] = time.monotonic() + UNWATCHABLE_SECONDS
                    self._stores.pop((store.kind, store.namespace), None)
                    return
                if e.status == 410 or not store.resource_version:
                    listed = False
                observability.WATCH_RESTARTS.labels(store.kind, "gone" if e.status == 410 else "error").inc()
                failures += 1
            except Exception:  # a malformed event or the like: start again from a fresh list
                log.exception("watch cache %s %s", store.kind, store.namespace)
                observability.WATCH_RESTARTS.labels(store.kind, "malformed").inc()
                listed = False
                store.healthy = False
                store.synced.set()
                store.changed()
                failures += 1
            if failures:
                await asyncio.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1])

    async def _list(self, store: Store, keep: bool) -> None:
        """Fill the store from a list, in pages: 5,000 pods at once would briefly cost hundreds of MB.
        Readers keep the old contents (or wait) until the whole list is in: never a half-filled store."""
        items: list[Obj] = []
        token: str | None = None
        version = ""
        while True:
            page = await self.gateway.list(store.kind, store.namespace, actor=CONSOLE, limit=LIST_PAGE,
                                           continue_token=token)
            meta = page.get("metadata") or {}
            version = version or str(meta.get("resourceVersion", ""))  # every page is of the same snapshot
            if keep:
                items.extend(page.get("items") or [])
            del page
            token = meta.get("continue")
            if not token:
                break
        store.fill(items)
        if len(items) >= FREEZE_AFTER:
            self._freeze()
        store.resource_version = version
        store.change_version = max(store.change_version, _int(version))  # anything may have changed

    async def close(self) -> None:
        self.closed = True
        tasks = [s.task for s in self._stores.values() if s.task] + [
            t for t in (self._reaper, *(s.task for s in self._rbac), *self._pending_reviews.values()) if t
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


def _apply(store: Store, event: Obj, keep: bool) -> None:
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
        store.remove((obj.get("metadata") or {}).get("name", ""), version_of(obj))
    if kind in ("ADDED", "MODIFIED", "DELETED"):
        store.change_version = max(store.change_version, version_of(obj))
        store.changed(obj)


def _key(kind: str, namespace: str | None) -> tuple[str, str | None]:
    """A store's key: cluster-scoped kinds have one store, whatever namespace the caller named."""
    return kind, namespace if resource_for(kind).namespaced else None
