"""The watch cache the pages read from (app/kube/cache.py), against the local control plane: reads cost no
round trip once a store is in step, follow changes made elsewhere, show the console's own writes at once,
and the cluster still decides what each user may read."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from app.domain import rbac
from app.kube import identity
from app.kube.cache import selector_matcher
from app.kube.client import CONSOLE, Actor, KubeGateway
from app.kube.errors import KubeError
from app.models import ProjectRole
from tests.cluster import eventually
from tests.conftest import DemoProject

pytestmark = pytest.mark.cluster


def _config_map(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels},
            "data": {"k": "v"}}


async def _list_refused(kube: KubeGateway, namespace: str, who: Actor) -> bool:
    """Whether listing the project's ConfigMaps as `who` is refused now."""
    try:
        await kube.items("ConfigMap", namespace, actor=who)
    except KubeError as e:
        return e.forbidden
    return False


class _Calls:
    """Counts the requests one gateway sends (the page's own, not the cache's watches)."""

    def __init__(self, kube: KubeGateway, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: list[str] = []
        original = type(kube)._send

        async def counting(gw, method, path, **kw):  # type: ignore[no-untyped-def]
            if gw is kube:
                self.sent.append(f"{method} {path}")
            return await original(gw, method, path, **kw)

        monkeypatch.setattr(type(kube), "_send", counting)


async def test_reads_are_served_from_the_watch_and_follow_changes_made_elsewhere(
        demo: DemoProject, kube: KubeGateway, admin_kube: KubeGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    assert kube.cache is not None
    op = Actor.user(demo.operator.uid)
    await admin_kube.create(_config_map("first"), namespace=demo.namespace, actor=CONSOLE)
    first = await kube.items("ConfigMap", demo.namespace, actor=op)  # starts the store, asks the cluster once
    assert "first" in {c["metadata"]["name"] for c in first}
    calls = _Calls(kube, monkeypatch)
    await admin_kube.create(_config_map("second"), namespace=demo.namespace, actor=CONSOLE)

    async def listed() -> set[str]:
        return {c["metadata"]["name"] for c in await kube.items("ConfigMap", demo.namespace, actor=op)}

    assert await eventually(lambda: _has(listed(), "second"), timeout=10)
    one = await kube.get("ConfigMap", demo.namespace, "second", actor=op)
    assert one["kind"] == "ConfigMap" and one["data"] == {"k": "v"} and "managedFields" not in one["metadata"]
    with pytest.raises(KubeError) as err:
        await kube.get("ConfigMap", demo.namespace, "never-made", actor=op)
    assert err.value.not_found and '"never-made" not found' in err.value.message
    assert calls.sent == []  # not one round trip
    # a reader cannot spoil what the next one gets
    one["data"]["k"] = "changed by a page"
    assert (await kube.get("ConfigMap", demo.namespace, "second", actor=op))["data"] == {"k": "v"}

    await admin_kube.delete("ConfigMap", demo.namespace, "first", actor=CONSOLE)
    assert await eventually(lambda: _lacks(listed(), "first"), timeout=10)


async def _has(names: Any, name: str) -> bool:
    return name in await names


async def _lacks(names: Any, name: str) -> bool:
    return name not in await names


async def test_the_consoles_own_writes_show_at_once(demo: DemoProject, kube: KubeGateway) -> None:
    op = Actor.user(demo.operator.uid)
    await kube.items("ConfigMap", demo.namespace, actor=op)
    await kube.create(_config_map("mine"), namespace=demo.namespace, actor=op)
    assert "mine" in {c["metadata"]["name"] for c in await kube.items("ConfigMap", demo.namespace, actor=op)}
    await kube.merge_patch("ConfigMap", demo.namespace, "mine", {"data": {"k": "v2"}}, actor=op)
    assert (await kube.get("ConfigMap", demo.namespace, "mine", actor=op))["data"] == {"k": "v2"}
    await kube.delete("ConfigMap", demo.namespace, "mine", actor=op)
    assert not await kube.exists("ConfigMap", demo.namespace, "mine", actor=op)
    # a dry run changes nothing, in the cluster or in the cache
    await kube.create(_config_map("dry"), namespace=demo.namespace, actor=op, dry_run=True)
    assert not await kube.exists("ConfigMap", demo.namespace, "dry", actor=op)


async def test_label_selectors_filter_like_the_api_server(demo: DemoProject, kube: KubeGateway,
                                                        admin_kube: KubeGateway) -> None:
    for name, labels in (("a", {"app": "web", "tier": "front"}), ("b", {"app": "web"}), ("c", {"app": "db"})):
        await admin_kube.create(_config_map(name, **labels), namespace=demo.namespace, actor=CONSOLE)
    op = Actor.user(demo.operator.uid)
    for selector in ("app=web", "app=web,tier=front", "app!=web", "app in (db, web),!tier", "tier", "app notin (web)"):
        cached = {c["metadata"]["name"] for c in await kube.items("ConfigMap", demo.namespace, actor=op,
                                                                    label_selector=selector)}
        live = {c["metadata"]["name"] for c in await admin_kube.items("ConfigMap", demo.namespace, actor=CONSOLE,
                                                                        label_selector=selector)}
        assert cached == live and live, selector


def test_selector_parser() -> None:
    match = selector_matcher("app=web, tier in (front,back),!canary,release")
    assert match is not None
    assert match({"app": "web", "tier": "front", "release": "1"})
    assert not match({"app": "web", "tier": "front", "release": "1", "canary": "y"})
    assert not match({"app": "web", "tier": "middle", "release": "1"})
    assert not match({"app": "web", "tier": "front"})
    assert selector_matcher("app==web")({"app": "web"})  # type: ignore[misc]
    assert selector_matcher("")({"any": "thing"})  # type: ignore[misc]
    for unknown in ("app=(", "app >= 3", "=web"):
        assert selector_matcher(unknown) is None, unknown  # read live: the API server says what it means


async def test_the_cluster_still_decides_who_reads(demo: DemoProject, kube: KubeGateway,
                                                   admin_kube: KubeGateway) -> None:
    op = Actor.user(demo.operator.uid)
    await admin_kube.create(_config_map("data"), namespace=demo.namespace, actor=CONSOLE)
    await kube.items("ConfigMap", demo.namespace, actor=op)  # the store is warm
    # someone the cluster does not know gets the API server's own refusal, not the cached objects
    with pytest.raises(KubeError) as err:
        await kube.items("ConfigMap", demo.namespace, actor=Actor.user("no-such-user"))
    assert err.value.forbidden and "cannot list resource" in err.value.message
    with pytest.raises(KubeError) as err:
        await kube.get("ConfigMap", demo.namespace, "data", actor=Actor.user("no-such-user"))
    assert err.value.forbidden
    # Secrets are never kept: the viewer's refusal comes straight from the API server
    assert kube.cache is not None and not kube.cache.keeps("Secret")
    with pytest.raises(KubeError) as err:
        await kube.items("Secret", demo.namespace, actor=Actor.user(demo.viewer.uid))
    assert err.value.forbidden


async def test_a_reader_that_leaves_does_not_fail_the_others_waiting_on_the_same_review(
        demo: DemoProject, kube: KubeGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """Readers asking at once share one access review. The first one going away (its stream closed, or
    its page past the deadline) must not cancel the review for the rest, nor leave them an error."""
    assert kube.cache is not None
    kube.cache.forget_reviews()
    op = Actor.user(demo.operator.uid)
    release = asyncio.Event()
    started = asyncio.Event()
    original = type(kube).create

    async def slow_review(gw, body, **kw):  # type: ignore[no-untyped-def]
        if body.get("kind") == "SelfSubjectAccessReview":
            started.set()
            await release.wait()
        return await original(gw, body, **kw)

    monkeypatch.setattr(type(kube), "create", slow_review)
    first = asyncio.create_task(kube.cache.allowed(op, "list", "ConfigMap", demo.namespace))
    await started.wait()
    second = asyncio.create_task(kube.cache.allowed(op, "list", "ConfigMap", demo.namespace))
    await asyncio.sleep(0)  # let the second join the review in flight
    first.cancel()
    release.set()
    assert await asyncio.wait_for(second, 10) is True
    with contextlib.suppress(asyncio.CancelledError):
        await first
    assert first.cancelled()
    # ... and its answer was kept for the next reader, who does not ask again
    started.clear()
    assert await kube.cache.allowed(op, "list", "ConfigMap", demo.namespace) is True
    assert not started.is_set()


async def test_a_removed_rolebinding_refuses_cached_reads_well_before_the_review_expires(
        demo: DemoProject, kube: KubeGateway, admin_kube: KubeGateway) -> None:
    op = Actor.user(demo.operator.uid)
    await kube.items("ConfigMap", demo.namespace, actor=op)  # allowed, and the answer is kept
    binding = rbac.role_binding(demo.namespace, demo.operator.uid, ProjectRole.operator)["metadata"]["name"]
    await admin_kube.delete("RoleBinding", demo.namespace, binding, actor=CONSOLE)

    assert kube.cache is not None and kube.cache.review_seconds >= 10
    # the RoleBinding watch drops the kept answer
    assert await eventually(lambda: _list_refused(kube, demo.namespace, op), timeout=5)


async def test_a_removed_clusterrolebinding_refuses_cached_reads_well_before_the_review_expires(
        demo: DemoProject, tenants, kube: KubeGateway, admin_kube: KubeGateway,  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A grant made outside the console, cluster-wide (say `view` for an auditor), and its revocation."""
    auditor = await tenants.user("auditor")
    who = Actor.user(auditor.uid)
    name = f"dockyard-test-view-{auditor.uid}"
    await admin_kube.create({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [identity.subject(auditor.uid)],
    }, namespace=None, actor=CONSOLE)
    try:
        calls = _Calls(kube, monkeypatch)
        assert kube.cache is not None
        reviews: list[str] = []
        ask = kube.cache.gateway.create

        async def counted(obj, **kw):  # type: ignore[no-untyped-def]
            reviews.append(obj.get("kind", ""))
            return await ask(obj, **kw)
        monkeypatch.setattr(kube.cache.gateway, "create", counted)

        async def from_the_cache() -> bool:
            calls.sent.clear()
            reviews.clear()
            await kube.items("ConfigMap", demo.namespace, actor=who)
            return not calls.sent and not reviews  # no round trip at all: the cache answered, the grant was kept

        assert await eventually(from_the_cache, timeout=5)
        await admin_kube.delete("ClusterRoleBinding", None, name, actor=CONSOLE)
    finally:
        with contextlib.suppress(KubeError):
            await admin_kube.delete("ClusterRoleBinding", None, name, actor=CONSOLE)

    assert kube.cache is not None and kube.cache.review_seconds >= 10
    # the ClusterRoleBinding watch drops the kept answer
    assert await eventually(lambda: _list_refused(kube, demo.namespace, who), timeout=5)


async def test_a_rule_removed_from_a_role_refuses_cached_reads_well_before_the_review_expires(
        demo: DemoProject, tenants, kube: KubeGateway, admin_kube: KubeGateway,  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A grant through a Role made outside the console: the binding stays, the Role loses its rule. The
    answer kept for minutes must not outlive it (the Role watch drops it)."""
    reader = await tenants.user("cm-reader")
    who = Actor.user(reader.uid)
    name = f"dockyard-test-cm-{reader.uid}"
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": name, "namespace": demo.namespace},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]}
    await admin_kube.create(role, namespace=demo.namespace, actor=CONSOLE)
    await admin_kube.create({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": demo.namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [identity.subject(reader.uid)],
    }, namespace=demo.namespace, actor=CONSOLE)
    assert kube.cache is not None
    reviews: list[str] = []
    ask = kube.cache.gateway.create

    async def counted(obj, **kw):  # type: ignore[no-untyped-def]
        reviews.append(obj.get("kind", ""))
        return await ask(obj, **kw)
    monkeypatch.setattr(kube.cache.gateway, "create", counted)

    async def kept() -> bool:
        reviews.clear()
        await kube.items("ConfigMap", demo.namespace, actor=who)
        return not reviews  # allowed, and the answer kept

    assert await eventually(kept, timeout=5)
    await admin_kube.merge_patch("Role", demo.namespace, name, {"rules": [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}, actor=CONSOLE)

    assert kube.cache.review_seconds >= 60
    assert await eventually(lambda: _list_refused(kube, demo.namespace, who), timeout=5)


async def test_a_kept_refusal_never_outlives_a_grant(demo: DemoProject, tenants, kube: KubeGateway,  # type: ignore[no-untyped-def]
                                                     admin_kube: KubeGateway) -> None:
    """A refusal is kept too, but it only sends the read to the API server, which decides afresh."""
    newcomer = await tenants.user("newcomer")
    who = Actor.user(newcomer.uid)
    await kube.items("ConfigMap", demo.namespace, actor=Actor.user(demo.operator.uid))
    with pytest.raises(KubeError) as err:
        await kube.items("ConfigMap", demo.namespace, actor=who)
    assert err.value.forbidden
    await admin_kube.create(rbac.role_binding(demo.namespace, newcomer.uid, ProjectRole.viewer),
                            namespace=demo.namespace, actor=CONSOLE)

    async def let_in() -> bool:
        return isinstance(await kube.items("ConfigMap", demo.namespace, actor=who), list)

    assert await eventually(let_in, timeout=5)


async def test_with_the_cache_turned_off_every_read_goes_to_the_api_server(
        settings, demo: DemoProject, admin_kube: KubeGateway) -> None:  # type: ignore[no-untyped-def]
    import httpx

    from app.main import create_app
    from tests.conftest import Browser

    await admin_kube.create(_config_map("plain"), namespace=demo.namespace, actor=CONSOLE)
    app = create_app(settings.model_copy(update={"watch_cache": False}), reconcile=False)
    async with app.router.lifespan_context(app):
        kube = await app.state.kube.get()
        assert kube.cache is None
        op = Actor.user(demo.operator.uid)
        assert "plain" in {c["metadata"]["name"] for c in await kube.items("ConfigMap", demo.namespace, actor=op)}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            b = Browser(client)
            assert (await b.login(demo.operator.username)).status_code == 303
            assert (await b.get(f"{demo.base}/services")).status_code == 200


async def test_pages_recover_after_the_api_server_restarts_and_never_show_what_was_deleted_meanwhile(
        demo: DemoProject, tenants, kube: KubeGateway, admin_kube: KubeGateway, cluster) -> None:  # type: ignore[no-untyped-def]
    """The API server goes away under the cache's watches and comes back; a Service deleted before the
    console's watch is back must never show, and the pages serve from the cache again afterwards."""
    import asyncio

    from devcluster import localcluster
    from tests.web.services_fixtures import plain_service

    assert kube.cache is not None
    for name in ("keep", "doomed"):
        await admin_kube.create(plain_service(name), namespace=demo.namespace, actor=CONSOLE)
    b = await tenants.browser(demo.operator)
    await eventually(lambda: _listed(b, demo, "keep", "doomed"))
    store = kube.cache._stores[("Service", demo.namespace)]
    assert store.healthy

    await asyncio.to_thread(localcluster.restart_apiserver, cluster.root)
    await admin_kube.delete("Service", demo.namespace, "doomed", actor=CONSOLE)  # before the watch is back

    async def recovered() -> bool:
        page = await b.get(f"{demo.base}/services")
        assert "doomed" not in page.text  # never, at any moment after the delete
        return page.status_code == 200 and "keep" in page.text and store.healthy and "doomed" not in store.objects
    await eventually(recovered, timeout=60, interval=0.1)

    await admin_kube.create(plain_service("after"), namespace=demo.namespace, actor=CONSOLE)
    await eventually(lambda: "after" in store.objects)  # the watch follows changes again
    assert kube.cache._stores[("Service", demo.namespace)] is store  # the same store: no console restart
    assert "after" in (await b.get(f"{demo.base}/services")).text


async def _listed(b, demo: DemoProject, *names: str) -> bool:  # type: ignore[no-untyped-def]
    page = await b.get(f"{demo.base}/services")
    return page.status_code == 200 and all(f">{n}<" in page.text or f"/services/{n}\"" in page.text for n in names)
