"""Live updates pushed to pages: server-sent events fed by Kubernetes watches.

A feed of a kind the watch cache keeps (app/kube/cache.py) follows the cache's store: no connection of
its own, and the cluster decides for each user with an access review. Other kinds open a watch made
as the user who opened the feed.

A page subscribes to a *feed*: the changes of one kind in one namespace (optionally narrowed by a label
or field selector). Everyone who looks at the same thing shares the feed, whoever they are: the stream
only says "something changed" and each page then re-fetches as its own user, so sharing shows nobody
anything. The cluster still decides for each user: joining costs an access review (kept a few seconds)
or one small read as the joiner, and a refusal ends their stream.
A feed stops when its last subscriber leaves. Each subscriber gets a debounced "changed" signal, which the page turns
into an htmx re-fetch of the part it shows; the data itself always comes from a normal page request.

Streams end cleanly: when the client disconnects (Starlette cancels the response), when the hub
closes (application shutdown, or the server receiving SIGINT/SIGTERM, so uvicorn does not wait for
open streams), and after `MAX_STREAM_SECONDS` (the browser reconnects by itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from app.i18n import _
from app.kube.cache import selector_matcher
from app.kube.client import Actor, KubeGateway
from app.kube.errors import KubeError

log = logging.getLogger("dockyard.live")

HEARTBEAT_SECONDS = 15.0
DEBOUNCE_SECONDS = 0.3
MAX_STREAM_SECONDS = 15 * 60
RETRY_SECONDS = 5.0
WATCH_TIMEOUT_SECONDS = 240
# Each feed holds one connection of the gateway's pool (64); keep most of them for page requests.
MAX_FEEDS = 32


@dataclass(frozen=True)
class Target:
    """What a feed watches, as whom."""

    kind: str
    namespace: str
    actor: Actor
    label_selector: str | None = None
    field_selector: str | None = None


@dataclass(frozen=True)
class Signal:
    """What a subscriber receives: "changed", "ping" (keep-alive), "error" (with a message) or "end"."""

    kind: str
    message: str = ""


CHANGED, PING, ERROR, END = "changed", "ping", "error", "end"


class _Feed:
    """One watch shared by every subscriber of the same target."""

    def __init__(self, hub: LiveHub, kube: KubeGateway, target: Target, resource_version: str) -> None:
        self.hub = hub
        self.kube = kube
        self.target = target
        self.resource_version = resource_version
        self.subscribers: set[asyncio.Queue[Signal]] = set()
        self.task: asyncio.Task[None] | None = None
        self.allowed: set[Actor] = {target.actor}  # who the cluster has let read what this feed watches
        self.cached = asyncio.Event()  # set once the feed knows whether it follows the watch cache
        # When it follows the cache: whether the store saw a change after a given version.
        self.changed_since: Callable[[str], bool] | None = None
        # Parsed once: a feed that follows the cache filters every change of its namespace's kind.
        self.label_matches = selector_matcher(target.label_selector) if target.label_selector else None

    def missed(self, page_version: str) -> bool:
        """Whether a page that read at `page_version` may have missed a change this feed saw."""
        if self.changed_since is not None:
            return self.changed_since(page_version)
        return page_version != self.resource_version

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"live-feed {self.target.kind} {self.target.namespace}")

    def publish(self, item: Signal) -> None:
        for queue in list(self.subscribers):
            if item.kind == CHANGED and not queue.empty():
                continue  # a pending signal already says it
            queue.put_nowait(item)

    async def _current_version(self) -> str:
        t = self.target
        result = await self.kube.list(t.kind, t.namespace, actor=t.actor, label_selector=t.label_selector,
                                      field_selector=t.field_selector, limit=1)
        return str((result.get("metadata") or {}).get("resourceVersion", ""))

    def _matches(self, obj: Any) -> bool:
        """Whether a change the watch cache saw concerns this feed (None: anything may have changed)."""
        if obj is None:
            return True
        t = self.target
        meta = obj.get("metadata") or {}
        if t.field_selector and t.field_selector.startswith("metadata.name="):
            if meta.get("name") != t.field_selector.split("=", 1)[1]:
                return False
        if t.label_selector:
            return self.label_matches is None or self.label_matches(meta.get("labels") or {})
        return True

    async def _follow_cache(self) -> bool:
        """Follow the watch cache's store instead of opening a watch (no connection per feed);
        False when the cache cannot follow this kind."""
        cache = self.kube.cache
        if cache is None or not cache.keeps(self.target.kind):
            return False

        def on_change(obj: Any) -> None:
            if self._matches(obj):
                self.publish(Signal(CHANGED))

        followed = await cache.subscribe(self.target.kind, self.target.namespace, on_change)
        if followed is None:
            return False
        self.changed_since, unsubscribe = followed
        self.cached.set()
        try:
            await asyncio.Event().wait()  # until the feed is cancelled
        finally:
            unsubscribe()
        return True

    async def _run(self) -> None:
        t = self.target
        try:
            if await self._follow_cache():
                return
        finally:
            self.cached.set()  # joiners stop waiting either way
        while True:
            try:
                if not self.resource_version:
                    self.resource_version = await self._current_version()
                async for event in self.kube.watch(
                    t.kind, t.namespace, actor=t.actor, resource_version=self.resource_version,
                    label_selector=t.label_selector, field_selector=t.field_selector,
                    timeout_seconds=WATCH_TIMEOUT_SECONDS,
                ):
                    kind = event.get("type")
                    obj = event.get("object") or {}
                    version = (obj.get("metadata") or {}).get("resourceVersion")
                    if kind == "ERROR":
                        # 410 Gone: the version is too old. Start again from now; something may have changed.
                        self.resource_version = ""
                        self.publish(Signal(CHANGED))
                        break
                    if version:
                        self.resource_version = version
                    if kind in ("ADDED", "MODIFIED", "DELETED"):
                        self.publish(Signal(CHANGED))
            except asyncio.CancelledError:
                raise
            except KubeError as e:
                if e.forbidden or e.not_found:
                    self.publish(Signal(ERROR, e.message))
                    return
                if e.status == 410:
                    self.resource_version = ""
                    self.publish(Signal(CHANGED))
                    continue
                log.info("watch %s in %s failed, retrying: %s", t.kind, t.namespace, e)
                await asyncio.sleep(RETRY_SECONDS)
            except Exception:  # a bug here must not leave subscribers hanging silently
                log.exception("watch %s in %s crashed", t.kind, t.namespace)
                self.publish(Signal(ERROR, _("Live updates stopped; use Refresh.")))
                return


class LiveHub:
    """Every open stream of the process, so that shutdown can end them all."""

    def __init__(self) -> None:
        self.closing = asyncio.Event()
        self._feeds: dict[tuple[str, str, str | None, str | None], _Feed] = {}
        self._streams = 0

    @property
    def closed(self) -> bool:
        return self.closing.is_set()

    @property
    def open_streams(self) -> int:
        return self._streams

    async def close(self) -> None:
        self.closing.set()
        feeds, self._feeds = list(self._feeds.values()), {}
        for feed in feeds:
            if feed.task:
                feed.task.cancel()
        for feed in feeds:
            if feed.task:
                with contextlib.suppress(BaseException):
                    await feed.task

    async def _join(self, kube: KubeGateway, target: Target, resource_version: str) -> tuple[_Feed, asyncio.Queue[Signal]]:
        queue: asyncio.Queue[Signal] = asyncio.Queue()
        key = _key(target)
        follows_cache = kube.cache is not None and kube.cache.keeps(target.kind)

        def running() -> _Feed | None:
            found = self._feeds.get(key)
            return found if found is not None and found.task is not None and not found.task.done() else None

        feed = running()
        if (feed is None and follows_cache) or (feed is not None and target.actor not in feed.allowed):
            # The cluster decides whether this user may read it (KubeError 403 if not): a feed that
            # follows the cache watches as the console, and a running feed was opened by someone else.
            await kube.check_watch(target.kind, target.namespace, actor=target.actor,
                                   label_selector=target.label_selector, field_selector=target.field_selector)
            feed = running()  # it may have started or ended while we asked
        if feed is None:
            if not follows_cache and self._api_watches() >= MAX_FEEDS:
                raise KubeError(503, "TooManyStreams", _("Too many live updates are open; use Refresh."))
            feed = _Feed(self, kube, target, resource_version)
            self._feeds[key] = feed
            feed.start()
        feed.allowed.add(target.actor)
        feed.subscribers.add(queue)  # before waiting: the feed must not stop under us
        try:
            await feed.cached.wait()
        except BaseException:
            self._leave(feed, queue)
            raise
        if resource_version and feed.missed(resource_version):
            queue.put_nowait(Signal(CHANGED))  # the page may have missed what the feed saw before it joined
        return feed, queue

    def _api_watches(self) -> int:
        """Feeds holding a watch of their own (one connection each), not following the watch cache."""
        return sum(1 for f in self._feeds.values() if f.changed_since is None)

    def _leave(self, feed: _Feed, queue: asyncio.Queue[Signal]) -> None:
        feed.subscribers.discard(queue)
        if not feed.subscribers and self._feeds.get(_key(feed.target)) is feed:
            del self._feeds[_key(feed.target)]
            if feed.task:
                feed.task.cancel()

    async def changes(self, kube: KubeGateway, targets: list[Target], *, resource_version: str = "",
                      heartbeat: float = HEARTBEAT_SECONDS, debounce: float = DEBOUNCE_SECONDS,
                      max_seconds: float = MAX_STREAM_SECONDS) -> AsyncIterator[Signal]:
        """Signals for one page: "changed" (debounced) when any target changes, "ping" every
        `heartbeat` seconds, "error" when a watch is refused, and "end" before the stream closes."""
        joined: list[tuple[_Feed, asyncio.Queue[Signal]]] = []
        merged: asyncio.Queue[Signal] = asyncio.Queue()
        pumps: list[asyncio.Task[None]] = []
        self._streams += 1
        try:
            try:
                for target in targets:
                    joined.append(await self._join(kube, target, resource_version))
            except KubeError as e:
                yield Signal(ERROR, e.message)
                yield Signal(END)
                return

            async def pump(queue: asyncio.Queue[Signal]) -> None:
                while True:
                    merged.put_nowait(await queue.get())

            pumps = [asyncio.create_task(pump(q)) for _f, q in joined]
            async for item in _merge(merged, self.closing, heartbeat=heartbeat, debounce=debounce,
                                     max_seconds=max_seconds):
                yield item
        finally:
            self._streams -= 1
            for task in pumps:
                task.cancel()
            for feed, queue in joined:
                self._leave(feed, queue)

    async def lines(self, source: AsyncIterator[str], *, heartbeat: float = HEARTBEAT_SECONDS,
                    batch_seconds: float = 0.25, max_seconds: float = MAX_STREAM_SECONDS) -> AsyncIterator[list[str]]:
        """Batches of lines from a stream (a container's log), an empty batch as keep-alive; ends when
        the source ends, the hub closes, or after `max_seconds`."""
        queue: asyncio.Queue[str | None | BaseException] = asyncio.Queue()

        async def read() -> None:
            try:
                async for line in source:
                    queue.put_nowait(line)
            except asyncio.CancelledError:
                raise
            except BaseException as e:  # handed to the reader, which re-raises it
                queue.put_nowait(e)
                return
            queue.put_nowait(None)

        reader = asyncio.create_task(read())
        self._streams += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_seconds
        try:
            while not self.closing.is_set():
                first = await _next_or_stop(queue, self.closing, min(heartbeat, max(0.0, deadline - loop.time())))
                if first is _STOP:
                    return
                if first is _TIMEOUT:
                    if loop.time() >= deadline:
                        return
                    yield []
                    continue
                batch: list[str] = []
                item: Any = first
                end = loop.time() + batch_seconds
                while True:
                    if item is None:
                        if batch:
                            yield batch
                        return
                    if isinstance(item, BaseException):
                        if batch:
                            yield batch
                        raise item
                    batch.append(item)
                    remaining = end - loop.time()
                    if remaining <= 0 or len(batch) >= 500:
                        break
                    item = await _next_or_stop(queue, self.closing, remaining)
                    if item is _STOP or item is _TIMEOUT:
                        break
                yield batch
        finally:
            self._streams -= 1
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
            with contextlib.suppress(BaseException):
                await source.aclose()  # type: ignore[attr-defined]


def _key(target: Target) -> tuple[str, str, str | None, str | None]:
    """What a feed watches, whoever asks: feeds are shared across users."""
    return (target.kind, target.namespace, target.label_selector, target.field_selector)


_STOP, _TIMEOUT = object(), object()


async def _next_or_stop(queue: asyncio.Queue[Any], closing: asyncio.Event, timeout: float) -> Any:
    """The next item, or _STOP when the hub closes, or _TIMEOUT after `timeout` seconds."""
    getter = asyncio.ensure_future(queue.get())
    stopper = asyncio.ensure_future(closing.wait())
    try:
        done, _pending = await asyncio.wait({getter, stopper}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (getter, stopper):
            if not task.done():
                task.cancel()
    if getter in done:
        return getter.result()
    if stopper in done:
        return _STOP
    return _TIMEOUT


async def _merge(queue: asyncio.Queue[Signal], closing: asyncio.Event, *, heartbeat: float, debounce: float,
                 max_seconds: float) -> AsyncIterator[Signal]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_seconds
    while True:
        left = deadline - loop.time()
        if left <= 0:
            yield Signal(END)
            return
        item = await _next_or_stop(queue, closing, min(heartbeat, left))
        if item is _STOP:
            yield Signal(END)
            return
        if item is _TIMEOUT:
            if loop.time() < deadline:
                yield Signal(PING)
            continue
        if item.kind == CHANGED:
            # Let a burst (a rollout, a bulk delete) settle into one re-fetch.
            await asyncio.sleep(debounce)
            errors = []
            while not queue.empty():
                extra = queue.get_nowait()
                if extra.kind == ERROR:
                    errors.append(extra)
            yield item
            for e in errors[:1]:
                yield e
            continue
        yield item


# -- the process's hub ---------------------------------------------------------------------------------

def hub(app: Any) -> LiveHub:
    """The application's hub, created on first use (and again after a shutdown, for tests)."""
    current: LiveHub | None = getattr(app.state, "live_hub", None)
    if current is None or current.closed:
        current = LiveHub()
        app.state.live_hub = current
        _HUBS.add(current)
        _close_on_exit_signals()
    return current


_HUBS: weakref.WeakSet[LiveHub] = weakref.WeakSet()


def _close_all_hubs(signum: int) -> None:
    for live in list(_HUBS):
        live.closing.set()


def _close_on_exit_signals() -> None:
    """Servers wait for open responses before running the application's shutdown, and a live stream
    never finishes by itself: end the streams as soon as the server is asked to stop. The previous
    handler still runs, so the server's own behaviour is unchanged. Installed once per handler."""
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        if not callable(previous) or getattr(previous, "_dockyard_live", False):
            continue

        def handler(signum: int, frame: Any, _previous: Callable[..., Any] = previous) -> None:
            with contextlib.suppress(RuntimeError):  # the loop may already be closed
                loop.call_soon_threadsafe(_close_all_hubs, signum)
            _previous(signum, frame)

        handler._dockyard_live = True  # type: ignore[attr-defined]
        try:
            signal.signal(sig, handler)
        except (ValueError, OSError):
            return


async def shutdown(app: Any) -> None:
    live = getattr(app.state, "live_hub", None)
    if live is not None:
        await live.close()
