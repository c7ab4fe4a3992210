"""The Kubernetes gateway: one ApiClient per process, a timeout on every call, errors as KubeError.

Requests made on behalf of a user carry that user's own token (their ServiceAccount's, from
`app.kube.identity`), set per call (never as a default header of the shared client); only the console's
own requests (reconciler, health, the token requests) carry the console's credentials.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
from kubernetes_asyncio.client import ApiClient

from app import observability
from app.kube import identity
from app.kube.breaker import Breaker, time_left
from app.kube.errors import KubeError
from app.kube.resources import Resource, resource_for
from app.kube.store import Page, is_about, page_of, selector_matcher, template_labels

if TYPE_CHECKING:
    from app.kube.cache import WatchCache

KEPT_SECONDS = {"PodMetrics": 10.0}  # kinds whose lists are kept briefly (see KubeGateway._kept)
# Kinds listed with resourceVersion=0: the API server answers from its watch cache instead of reading
# every object of the namespace from etcd (225 ms for a label's metrics among 1,000 pods, 3 ms cached).
# Metrics are a scrape seconds old anyway, so its cache is fresh enough.
ANY_VERSION_KINDS = frozenset({"PodMetrics", "NodeMetrics"})

Obj = dict[str, Any]


@dataclass(frozen=True)
class Actor:
    """Who a request is made for: a Dockyard user (`user_id`, acting through their ServiceAccount's
    token) or the console itself (`None`)."""

    user_id: str | None
    # The user's name, for the field manager of their writes (managedFields then say who changed
    # what, and a conflict can name them); not part of the identity.
    name: str = field(default="", compare=False)

    @classmethod
    def user(cls, user_id: int | str, name: str = "") -> Actor:
        return cls(str(user_id), name)

    def field_manager(self, default: str | None) -> str | None:
        """The console's writes as `dockyard`; a user's as `dockyard/<username>`."""
        return f"{default}/{self.name}"[:128] if default == "dockyard" and self.name else default

    @property
    def identity(self) -> str | None:
        """The user name the API server sees (None: the console's own)."""
        return None if self.user_id is None else identity.username(self.user_id)


CONSOLE = Actor(None)


class KubeGateway:
    """Methods named by intent over the raw REST API. JSON in, dicts out: no model classes."""

    def __init__(self, api_client: ApiClient, *, timeout: float = 10.0, users_api: ApiClient | None = None) -> None:
        self.api = api_client
        self.users_api = users_api or api_client  # for users' requests: never the console's client certificate
        self.timeout = timeout
        # Renews the console's own credentials (set by app.kube.config for exec plugins and token files).
        self.renew_credentials: Callable[..., Awaitable[None]] | None = None
        self.cache: WatchCache | None = None  # reads served from watches (app.kube.cache), when set
        # Metrics cannot be watched and change only when the pipeline scrapes (every 15 s): an answer
        # is kept briefly, per user (the cluster decided for that user), so busy pages do not re-ask.
        self._kept: dict[tuple[str, str, str, str], tuple[float, Obj]] = {}
        self.breaker = Breaker(self._probe)
        self.tokens = identity.UserTokens(self._as_console)

    async def close(self) -> None:
        await self.breaker.close()
        if self.cache is not None:
            await self.cache.close()
        await self.api.close()
        if self.users_api is not self.api:
            await self.users_api.close()

    async def _as_console(self, method: str, path: str, body: Obj | None) -> Obj:
        return await self._json(method, path, actor=CONSOLE, body=body)

    async def _probe(self) -> None:
        """The breaker's question: does the API server answer at all (any status will do)?"""
        resp = await self._send("GET", "/readyz", actor=CONSOLE, timeout=2.0, content_type="text/plain",
                                probe=True)
        resp.release()

    async def _cached(self, kind: str, namespace: str | None, actor: Actor, verb: str) -> WatchCache | None:
        """The cache, if it may answer this read: it keeps the kind and the cluster lets the user do it.
        A refusal (or a failed review) reads live, so the user sees the API server's own answer."""
        cache = self.cache
        if cache is None or not cache.keeps(kind):
            return None
        if actor.user_id is None:
            return cache
        try:
            return cache if await cache.allowed(actor, verb, kind, namespace) else None
        except KubeError:
            return None

    # -- the one place requests are made -------------------------------------------------------
    async def _send(
        self,
        method: str,
        path: str,
        *,
        actor: Actor,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | aiohttp.ClientTimeout | None = None,
        what: str = "",
        probe: bool = False,
    ) -> aiohttp.ClientResponse:
        """Send one request. Unless it is the breaker's own probe, an open breaker refuses it at once, and
        a plain timeout is shortened to what is left of the page's deadline."""
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        what = what or f"{method} {path}"
        t = timeout if timeout is not None else self.timeout
        if not probe:
            self.breaker.check(what)
            if not isinstance(t, aiohttp.ClientTimeout):
                t = time_left(t)
        for attempt in (1, 2):
            if actor.user_id is not None:
                headers["Authorization"] = "Bearer " + await self.tokens.token(actor.user_id)
            verb = "watch" if query and ("watch", "true") in query else method.lower()
            try:
                resp = await self._call(method, path, query=query, headers=headers, body=body, timeout=t,
                                        what=what, as_console=actor.user_id is None)
            except KubeError as e:
                # no answer at all (a timeout, a network error): its reason is the outcome
                observability.KUBE_REQUESTS.labels(verb, observability.kube_resource(path),
                                                   observability.kube_outcome(None, e.reason.lower())).inc()
                if not probe:
                    self.breaker.record(e)
                raise
            observability.KUBE_REQUESTS.labels(verb, observability.kube_resource(path),
                                               observability.kube_outcome(resp.status)).inc()
            if not probe:
                self.breaker.record(None)
            if resp.status == 401 and actor.user_id is None and attempt == 1 and self.renew_credentials:
                # The console's own token expired early or was revoked: renew it (exec plugin, token file).
                resp.release()
                await self.renew_credentials(force=True)
                continue
            if resp.status == 401 and actor.user_id is not None and attempt == 1:
                # The token kept here was revoked (the account was removed and made again): a new one.
                resp.release()
                self.tokens.forget(actor.user_id)
                continue
            break
        if resp.status >= 400:
            try:
                data = await resp.read()
            finally:
                resp.release()
            raise KubeError.from_response(resp.status, data, resp.reason or "")
        return resp

    async def _call(self, method: str, path: str, *, query: list[tuple[str, str]] | None, headers: dict[str, str],
                    body: Any, timeout: float | aiohttp.ClientTimeout, what: str,
                    as_console: bool) -> aiohttp.ClientResponse:
        t = timeout
        try:
            resp: aiohttp.ClientResponse = await (self.api if as_console else self.users_api).call_api(
                path,
                method,
                query_params=query or [],
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"] if as_console else [],
                _preload_content=False,
                _request_timeout=t,
            )
        except TimeoutError:
            raise KubeError.timeout(what, t if isinstance(t, (int, float)) else self.timeout) from None
        except aiohttp.ClientError as e:
            raise KubeError.unreachable(what, str(e)) from None
        return resp

    async def _read(self, resp: aiohttp.ClientResponse, what: str) -> bytes:
        try:
            return await resp.read()
        except TimeoutError:
            raise KubeError.timeout(what, self.timeout) from None
        except aiohttp.ClientError as e:
            raise KubeError.unreachable(what, str(e)) from None
        finally:
            resp.release()

    async def _json(self, method: str, path: str, *, actor: Actor, **kw: Any) -> Obj:
        what = kw.get("what") or f"{method} {path}"
        resp = await self._send(method, path, actor=actor, **kw)
        raw = await self._read(resp, what)
        return _decoded(raw, what) if raw else {}

    def _stream_timeout(self, idle: float) -> aiohttp.ClientTimeout:
        """For a response read as it arrives: no total, each read waits at most `idle` seconds."""
        return aiohttp.ClientTimeout(total=None, sock_connect=self.timeout, sock_read=idle)

    async def _chunks(self, resp: aiohttp.ClientResponse, what: str, idle: float
                      ) -> AsyncGenerator[bytes, None]:
        """A streamed body as it arrives; a silent or broken stream ends with a KubeError."""
        try:
            async for chunk in resp.content.iter_any():
                yield chunk
        except TimeoutError:
            raise KubeError.timeout(what, idle) from None
        except aiohttp.ClientError as e:
            raise KubeError.unreachable(what, str(e)) from None
        finally:
            resp.release()

    async def _lines(self, resp: aiohttp.ClientResponse, what: str, idle: float) -> AsyncIterator[bytes]:
        """Lines of a streamed body, of any length (aiohttp's own line reader stops at 128 KiB)."""
        pending = b""
        async with contextlib.aclosing(self._chunks(resp, what, idle)) as chunks:
            async for chunk in chunks:
                pending += chunk
                if b"\n" not in chunk:
                    continue
                *complete, pending = pending.split(b"\n")
                for line in complete:
                    yield line + b"\n"
        if pending:
            yield pending

    # -- reads -----------------------------------------------------------------------------------
    async def get(self, kind: str, namespace: str | None, name: str, *, actor: Actor, fresh: bool = False) -> Obj:
        """One object; `fresh` reads it from the API server even when the cache keeps its kind."""
        cache = None if fresh else await self._cached(kind, namespace, actor, "get")
        if cache is not None:
            found = await cache.get(kind, namespace, name)
            if found is not None:
                return found
        return await self._json("GET", resource_for(kind).path(namespace, name), actor=actor)

    async def exists(self, kind: str, namespace: str | None, name: str, *, actor: Actor) -> bool:
        try:
            await self.get(kind, namespace, name, actor=actor)
        except KubeError as e:
            if e.not_found:
                return False
            raise
        return True

    async def list(
        self,
        kind: str,
        namespace: str | None,
        *,
        actor: Actor,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        fresh: bool = False,
        template_selector: str | None = None,
    ) -> Obj:
        """A `<Kind>List`. Items served from the cache are shared: read them, never change them.
        `template_selector` keeps only workloads whose pod template labels it selects (the cache answers
        from an index; a live read filters here)."""
        if not (fresh or field_selector or limit or continue_token):
            cache = await self._cached(kind, namespace, actor, "list")
            if cache is not None:
                found = await cache.list(kind, namespace, label_selector, template_selector)
                if found is not None:
                    return found
        keep_for = (KEPT_SECONDS.get(kind, 0) if self.cache is not None  # the console's own gateway
                    and not (fresh or field_selector or limit or continue_token) else 0)
        if keep_for:
            key = (actor.user_id or "", kind, namespace or "", label_selector or "")
            kept = self._kept.get(key)
            if kept is not None and kept[0] > time.monotonic():
                return kept[1]
        result = await self._list_live(kind, namespace, actor=actor, label_selector=label_selector,
                                       field_selector=field_selector, limit=limit, continue_token=continue_token)
        if keep_for:
            if len(self._kept) > 10_000:
                self._kept = {}
            self._kept[key] = (time.monotonic() + keep_for, result)
        if template_selector:
            picks = selector_matcher(template_selector)
            if picks is None:
                raise ValueError(f"unsupported template selector: {template_selector!r}")
            result["items"] = [o for o in result.get("items") or [] if picks(template_labels(o))]
        return result

    async def page(self, kind: str, namespace: str, *, actor: Actor, order: str, descending: bool, page: int,
                   limit: int, match: Callable[[Obj], bool] | None = None) -> Page:
        """One page of a list in `order` ("name" or "created"), filtered by `match`, the page clamped to
        those there are. From the cache it costs the page (plus one `match` per object); live, the list."""
        cache = await self._cached(kind, namespace, actor, "list")
        if cache is not None:
            found = await cache.page(kind, namespace, order=order, descending=descending, page=page,
                                     limit=limit, match=match)
            if found is not None:
                return found
        result = await self._list_live(kind, namespace, actor=actor)
        return page_of(result.get("items") or [], order=order, descending=descending, page=page, limit=limit,
                       match=match, resource_version=(result.get("metadata") or {}).get("resourceVersion", ""))

    async def _list_live(self, kind: str, namespace: str | None, *, actor: Actor, label_selector: str | None = None,
                         field_selector: str | None = None, limit: int | None = None,
                         continue_token: str | None = None) -> Obj:
        query: list[tuple[str, str]] = []
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        if limit:
            query.append(("limit", str(limit)))
        if continue_token:
            query.append(("continue", continue_token))
        elif kind in ANY_VERSION_KINDS:
            query.append(("resourceVersion", "0"))
        return await self._json("GET", resource_for(kind).path(namespace), actor=actor, query=query)

    async def check_watch(self, kind: str, namespace: str, *, actor: Actor, label_selector: str | None = None,
                          field_selector: str | None = None) -> None:
        """Raise the API server's KubeError (403) unless it lets `actor` watch this: a kept access review
        when the cache follows the kind, else a list of one item."""
        if await self._cached(kind, namespace, actor, "watch") is None:
            await self.list(kind, namespace, actor=actor, label_selector=label_selector,
                            field_selector=field_selector, limit=1)

    async def events_about(self, namespace: str, *, actor: Actor, objects: frozenset[tuple[str, str]],
                           prefixes: builtins.list[str]) -> builtins.list[Obj]:
        """Events about these (kind, name) objects, or about a Pod/ReplicaSet/ControllerRevision whose
        name starts with one of `prefixes`. From the cache's index when it may answer; live, the list."""
        cache = await self._cached("Event", namespace, actor, "list")
        if cache is not None:
            found = await cache.about(namespace, objects, prefixes)
            if found is not None:
                return found
        return [e for e in await self.items("Event", namespace, actor=actor) if is_about(e, objects, prefixes)]

    async def items(self, kind: str, namespace: str | None, *, actor: Actor, **kw: Any) -> builtins.list[Obj]:
        return list((await self.list(kind, namespace, actor=actor, **kw)).get("items") or [])

    # -- writes ----------------------------------------------------------------------------------
    def _written(self, answer: Obj, namespace: str | None, dry_run: bool) -> Obj:
        """Write-through: the page that follows a write shows it, whatever the watch's lag."""
        if self.cache is not None and not dry_run and answer.get("kind"):
            self.cache.written(answer, namespace)
        return answer

    @staticmethod
    def _write_query(dry_run: bool, field_manager: str | None,
                     field_validation: str | None = None) -> builtins.list[tuple[str, str]]:
        q: list[tuple[str, str]] = []
        if dry_run:
            q.append(("dryRun", "All"))
        if field_manager:
            q.append(("fieldManager", field_manager))
        if field_validation:
            q.append(("fieldValidation", field_validation))  # Strict: unknown or duplicate fields are refused
        return q

    async def create(
        self, obj: Obj, *, namespace: str | None, actor: Actor, dry_run: bool = False,
        field_manager: str | None = "dockyard", field_validation: str | None = None,
    ) -> Obj:
        res = resource_for(obj["kind"])
        return self._written(await self._json(
            "POST", res.path(namespace if res.namespaced else None), actor=actor, body=obj,
            query=self._write_query(dry_run, actor.field_manager(field_manager), field_validation),
        ), namespace, dry_run)

    async def replace(
        self, obj: Obj, *, namespace: str | None, actor: Actor, dry_run: bool = False,
        field_manager: str | None = "dockyard", field_validation: str | None = None,
    ) -> Obj:
        """PUT; a `metadata.resourceVersion` in `obj` makes it conditional (409 if stale)."""
        res = resource_for(obj["kind"])
        name = obj["metadata"]["name"]
        return self._written(await self._json(
            "PUT", res.path(namespace if res.namespaced else None, name), actor=actor, body=obj,
            query=self._write_query(dry_run, actor.field_manager(field_manager), field_validation),
        ), namespace, dry_run)

    async def merge_patch(
        self, kind: str, namespace: str | None, name: str, patch: Obj, *, actor: Actor,
        dry_run: bool = False, subresource: str | None = None, field_manager: str = "dockyard",
    ) -> Obj:
        """JSON merge patch (lists are replaced whole); `subresource="status"` patches the status."""
        return self._written(await self._json(
            "PATCH", resource_for(kind).path(namespace, name, subresource), actor=actor, body=patch,
            content_type="application/merge-patch+json", query=self._write_query(dry_run, actor.field_manager(field_manager)),
        ), namespace, dry_run)

    async def create_subresource(
        self, kind: str, namespace: str | None, name: str, subresource: str, body: Obj, *, actor: Actor,
    ) -> Obj:
        """POST to a subresource, e.g. a Pod's `binding` or `eviction`."""
        return await self._json(
            "POST", resource_for(kind).path(namespace, name, subresource), actor=actor, body=body,
        )

    async def apply(
        self, obj: Obj, *, namespace: str | None, actor: Actor, field_manager: str, force: bool = True,
    ) -> Obj:
        """Server-side apply, for objects the console owns (RoleBindings, Namespaces)."""
        res = resource_for(obj["kind"])
        q = [("fieldManager", field_manager)] + ([("force", "true")] if force else [])
        return self._written(await self._json(
            "PATCH", res.path(namespace if res.namespaced else None, obj["metadata"]["name"]), actor=actor,
            body=obj, content_type="application/apply-patch+yaml", query=q,
        ), namespace, False)

    async def delete(
        self, kind: str, namespace: str | None, name: str, *, actor: Actor,
        propagation: str = "Background", dry_run: bool = False,
        grace_period_seconds: int | None = None, uid: str | None = None,
    ) -> Obj:
        """Delete; `uid` makes it conditional on the object still being that one (409 otherwise)."""
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if dry_run:
            body["dryRun"] = ["All"]
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        if uid is not None:
            body["preconditions"] = {"uid": uid}
        answer = await self._json("DELETE", resource_for(kind).path(namespace, name), actor=actor, body=body)
        if self.cache is not None and not dry_run:
            self.cache.deleted(kind, namespace, name, answer)
        return answer

    # -- streams ---------------------------------------------------------------------------------
    async def watch(
        self, kind: str, namespace: str | None, *, actor: Actor, resource_version: str | None = None,
        label_selector: str | None = None, timeout_seconds: int = 300, field_selector: str | None = None,
        idle_timeout: float | None = None,
    ) -> AsyncIterator[Obj]:
        """Yield watch events `{type, object}` until the server closes the stream.

        `namespace=ALL_NAMESPACES` watches a namespaced kind everywhere. A stream silent for longer than
        `idle_timeout` (default: the server-side timeout plus 30 s) ends with a `KubeError` Timeout.
        """
        query = [("watch", "true"), ("timeoutSeconds", str(timeout_seconds)), ("allowWatchBookmarks", "true")]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        path = resource_for(kind).path(namespace)
        idle = idle_timeout if idle_timeout is not None else timeout_seconds + 30
        resp = await self._send(
            "GET", path, actor=actor, query=query,
            timeout=self._stream_timeout(idle),
        )
        try:
            async for line in self._lines(resp, f"watch {path}", idle):
                if line.strip():
                    yield _decoded(line, f"watch {path}")
        finally:
            resp.release()

    async def pod_logs(
        self, namespace: str, pod: str, container: str, *, actor: Actor, tail_lines: int | None = 500,
        timestamps: bool = False, previous: bool = False,
    ) -> str:
        query = _log_query(container, tail_lines=tail_lines, timestamps=timestamps, previous=previous)
        path = resource_for("Pod").path(namespace, pod, "log")
        resp = await self._send("GET", path, actor=actor, query=query)
        return (await self._read(resp, f"GET {path}")).decode("utf-8", "replace")

    async def pod_log_chunks(
        self, namespace: str, pod: str, container: str, *, actor: Actor, tail_lines: int | None = None,
        previous: bool = False, idle_timeout: float = 60,
    ) -> AsyncGenerator[bytes, None]:
        """A container's log as it arrives, in chunks (a download of any size, never whole in memory).
        The request is made, and its refusal raised, at the first chunk; each read waits `idle_timeout`."""
        query = _log_query(container, tail_lines=tail_lines, previous=previous)
        path = resource_for("Pod").path(namespace, pod, "log")
        resp = await self._send("GET", path, actor=actor, query=query, timeout=self._stream_timeout(idle_timeout))
        try:
            async for chunk in self._chunks(resp, f"GET {path}", idle_timeout):
                yield chunk
        finally:
            resp.release()

    async def follow_pod_logs(
        self, namespace: str, pod: str, container: str, *, actor: Actor, tail_lines: int = 100,
        idle_timeout: float = 300,
    ) -> AsyncIterator[str]:
        query = _log_query(container, tail_lines=tail_lines, follow=True)
        path = resource_for("Pod").path(namespace, pod, "log")
        resp = await self._send("GET", path, actor=actor, query=query, timeout=self._stream_timeout(idle_timeout))
        try:
            async for line in self._lines(resp, f"follow {path}", idle_timeout):
                yield line.decode("utf-8", "replace")
        finally:
            resp.release()

    # -- cluster-level reads for health and schema checks --------------------------------------------
    async def version(self) -> Obj:
        return await self._json("GET", "/version", actor=CONSOLE, timeout=min(self.timeout, 5.0))

    async def openapi_v3(self, group_version: str) -> Obj:
        """One group-version's OpenAPI v3 document, e.g. "api/v1" or "apis/apps/v1"."""
        return await self._json("GET", f"/openapi/v3/{group_version}", actor=CONSOLE, timeout=max(self.timeout, 30.0))

    async def openapi_v2(self) -> Obj:
        return await self._json("GET", "/openapi/v2", actor=CONSOLE, timeout=max(self.timeout, 30.0))

    async def raw_get(self, path: str, *, actor: Actor, query: builtins.list[tuple[str, str]] | None = None
                      ) -> Obj:
        return await self._json("GET", path, actor=actor, query=query)

    async def get_text(self, path: str, *, actor: Actor = CONSOLE, timeout: float | None = None) -> str:
        """A plain-text endpoint such as `/readyz` or `/healthz`."""
        resp = await self._send("GET", path, actor=actor, timeout=timeout)
        return (await self._read(resp, f"GET {path}")).decode("utf-8", "replace")


def _decoded(raw: bytes, what: str) -> Obj:
    """The JSON object the API server answered; anything else is a KubeError, never a crash."""
    try:
        found = json.loads(raw)
    except ValueError as e:  # also UnicodeDecodeError
        first = raw.lstrip()[:1]
        shape = "HTML" if first == b"<" else "cut off" if first in (b"{", b"[") else "not JSON"
        raise KubeError.unreadable(what, f"{shape}, {len(raw)} bytes: {e.__class__.__name__}") from None
    if not isinstance(found, dict):
        raise KubeError.unreadable(what, f"a JSON {type(found).__name__}, not an object")
    return found


def resource(kind: str) -> Resource:
    return resource_for(kind)


def _log_query(container: str, *, tail_lines: int | None = None, timestamps: bool = False, previous: bool = False,
               follow: bool = False) -> list[tuple[str, str]]:
    """The query of a container's log read (`tail_lines` None or 0: everything the node still has)."""
    query = [("container", container)]
    if tail_lines:
        query.append(("tailLines", str(tail_lines)))
    for name, on in (("timestamps", timestamps), ("previous", previous), ("follow", follow)):
        if on:
            query.append((name, "true"))
    return query
