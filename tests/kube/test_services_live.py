"""Live updates on the local control plane: the SSE endpoints push "changed" when Services or pods
change, follow a container's log, are made as the user (the cluster refuses what the user may not
watch), share one watch per user and target, and end on disconnect and on shutdown."""

from __future__ import annotations

import asyncio
import re

import pytest

from app.domain import live
from app.kube.client import CONSOLE, Actor, KubeGateway
from tests.cluster import eventually
from tests.conftest import DemoProject, Tenants
from tests.web.services_fixtures import create, plain_service, read_sse, running_pods, sse_url, stateless

pytestmark = pytest.mark.cluster


async def test_list_stream_sends_changed_when_a_service_is_created(
        app, demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:  # type: ignore[no-untyped-def]
    b = await tenants.browser(demo.viewer)
    page = await b.get(f"{demo.base}/services")
    url = sse_url(page.text)
    assert url.startswith(f"{demo.base}/services/-/watch?rv=")

    async def add_service() -> None:
        await admin_kube.create(plain_service("fresh"), namespace=demo.namespace, actor=CONSOLE)
    text = await read_sse(app, b, url, until="event: changed", after_connect=add_service, timeout=20)
    assert text.startswith("retry: 3000\n: connected") and "event: changed\ndata: 1\n\n" in text
    # the re-fetch the event triggers (htmx, same URL) has the new row
    rows = await b.get(f"{demo.base}/services", headers={"HX-Request": "true"})
    assert 'id="service-row-fresh"' in rows.text


async def test_a_change_made_between_page_and_stream_is_not_missed(
        app, demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:  # type: ignore[no-untyped-def]
    b = await tenants.browser(demo.operator)
    page = await b.get(f"{demo.base}/services")
    await admin_kube.create(plain_service("early"), namespace=demo.namespace, actor=CONSOLE)
    text = await read_sse(app, b, sse_url(page.text), until="event: changed", timeout=20)
    assert "event: changed" in text


async def test_detail_stream_sends_changed_when_pods_change(
        app, demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:  # type: ignore[no-untyped-def]
    deployment, web = stateless("web")
    await create(admin_kube, demo.namespace, deployment, web)
    await running_pods(admin_kube, demo.namespace, "app=web", 1)
    b = await tenants.browser(demo.viewer)
    page = await b.get(f"{demo.base}/services/web")
    url = sse_url(page.text)
    assert url.startswith(f"{demo.base}/services/web/watch?rv=")

    async def scale() -> None:
        await admin_kube.merge_patch("Deployment", demo.namespace, "web-v1", {"spec": {"replicas": 2}}, actor=CONSOLE)
    await read_sse(app, b, url, until="event: changed", after_connect=scale, timeout=30)
    tab = await eventually(lambda: _two_pods(b, demo), timeout=60)
    assert tab.lstrip().startswith('<div id="tab"')


async def _two_pods(b, demo: DemoProject) -> str:  # type: ignore[no-untyped-def]
    resp = await b.get(f"{demo.base}/services/web?tab=resource-status", headers={"HX-Request": "true"})
    assert resp.text.count('class="containers-row"') == 2
    return resp.text


async def test_follow_streams_log_lines_escaped(
        app, demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:  # type: ignore[no-untyped-def]
    deployment, web = stateless("web")
    await create(admin_kube, demo.namespace, deployment, web)
    [pod] = await running_pods(admin_kube, demo.namespace, "app=web", 1)
    name = pod["metadata"]["name"]
    b = await tenants.browser(demo.viewer)
    logs = f"{demo.base}/pods/{name}/containers/container-web/logs"
    page = await b.get(logs + "?follow=1&tail=100")
    assert page.status_code == 200 and 'sse-swap="line"' in page.text
    url = re.search(r'sse-connect="([^"]+)"', page.text).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    assert url == logs + "/stream?tail=100"
    text = await read_sse(app, b, url, until="event: line", timeout=30)
    assert "event: line\ndata: " in text
    # with one line a second, a later read sees lines the first did not (it follows)
    again = await read_sse(app, b, logs + "/stream?tail=1", until="GET /", timeout=30)
    assert "&quot;" in again or "&#x27;" in again or "GET /" in again  # HTML-escaped, never raw markup
    assert "<" not in again.split("event: line", 1)[1]


async def test_streams_end_on_shutdown(app, demo: DemoProject, tenants: Tenants) -> None:  # type: ignore[no-untyped-def]
    b = await tenants.browser(demo.viewer)
    page = await b.get(f"{demo.base}/services")
    hub = live.hub(app)

    async def shut_down() -> None:
        await live.shutdown(app)
    text = await read_sse(app, b, sse_url(page.text), until="event: end", after_connect=shut_down, timeout=15)
    assert text.rstrip().endswith("event: end\ndata:")
    assert hub.closed and hub.open_streams == 0
    assert live.hub(app) is not hub and not live.hub(app).closed  # the next page gets a new hub


async def test_disconnect_stops_the_watch(app, demo: DemoProject, tenants: Tenants,
                                          admin_kube: KubeGateway) -> None:  # type: ignore[no-untyped-def]
    b = await tenants.browser(demo.viewer)
    page = await b.get(f"{demo.base}/services")
    hub = live.hub(app)

    async def add() -> None:
        await admin_kube.create(plain_service("x"), namespace=demo.namespace, actor=CONSOLE)
    await read_sse(app, b, sse_url(page.text), until="event: changed", after_connect=add)
    assert hub.open_streams == 0 and not hub._feeds  # read_sse disconnected: the feed is gone


async def test_watch_is_made_as_the_user(demo: DemoProject, tenants: Tenants, kube: KubeGateway,
                                         make_namespace) -> None:  # type: ignore[no-untyped-def]
    """The cluster itself refuses a watch the user may not make (the console's check bypassed)."""
    elsewhere = await make_namespace("foreign")
    hub = live.LiveHub()
    viewer = Actor.user(demo.viewer.uid)
    signals = hub.changes(kube, [live.Target("Service", elsewhere, viewer)], heartbeat=5)
    first = await asyncio.wait_for(signals.__anext__(), 15)
    assert first.kind == live.ERROR and "forbidden" in first.message.lower()
    await signals.aclose()
    # in their own project the same watch works
    signals = hub.changes(kube, [live.Target("Service", demo.namespace, viewer)], heartbeat=0.5)
    assert (await asyncio.wait_for(signals.__anext__(), 15)).kind == live.PING
    await signals.aclose()
    await hub.close()


async def test_subscribers_of_the_same_target_share_one_watch(
        demo: DemoProject, kube: KubeGateway, admin_kube: KubeGateway) -> None:
    hub = live.LiveHub()
    target = live.Target("Service", demo.namespace, Actor.user(demo.operator.uid))
    first = hub.changes(kube, [target], heartbeat=30)
    second = hub.changes(kube, [target], heartbeat=30)
    reads = [asyncio.ensure_future(first.__anext__()), asyncio.ensure_future(second.__anext__())]
    await eventually(lambda: len(hub._feeds) == 1 and len(next(iter(hub._feeds.values())).subscribers) == 2,
                     timeout=10)
    await admin_kube.create(plain_service("shared"), namespace=demo.namespace, actor=CONSOLE)
    got = await asyncio.wait_for(asyncio.gather(*reads), 20)
    assert [g.kind for g in got] == [live.CHANGED, live.CHANGED]
    await first.aclose()
    assert len(hub._feeds) == 1
    await second.aclose()
    assert not hub._feeds
    await hub.close()


async def test_users_share_a_feed_but_the_cluster_still_decides_for_each(
        demo: DemoProject, tenants, kube: KubeGateway, admin_kube: KubeGateway) -> None:  # type: ignore[no-untyped-def]
    """An operator and a viewer looking at the same Services share one watch; a user the cluster does not
    let read them is refused, even though the watch already runs for someone else."""
    hub = live.LiveHub()
    op = hub.changes(kube, [live.Target("Service", demo.namespace, Actor.user(demo.operator.uid))], heartbeat=30)
    viewer = hub.changes(kube, [live.Target("Service", demo.namespace, Actor.user(demo.viewer.uid))], heartbeat=30)
    reads = [asyncio.ensure_future(op.__anext__()), asyncio.ensure_future(viewer.__anext__())]
    await eventually(lambda: len(hub._feeds) == 1 and len(next(iter(hub._feeds.values())).subscribers) == 2,
                     timeout=10)
    stranger = await tenants.user("stranger")
    refused = hub.changes(kube, [live.Target("Service", demo.namespace, Actor.user(stranger.uid))], heartbeat=30)
    first = await asyncio.wait_for(refused.__anext__(), 10)
    assert first.kind == live.ERROR and "forbidden" in first.message.lower()
    await admin_kube.create(plain_service("shared-by-two"), namespace=demo.namespace, actor=CONSOLE)
    got = await asyncio.wait_for(asyncio.gather(*reads), 20)
    assert [g.kind for g in got] == [live.CHANGED, live.CHANGED]
    await op.aclose()
    await viewer.aclose()
    await refused.aclose()
    assert not hub._feeds
    await hub.close()


async def test_feeds_that_follow_the_watch_cache_need_no_watch_each_and_filter_by_selector(
        demo: DemoProject, kube: KubeGateway, admin_kube: KubeGateway) -> None:
    """More feeds than the console may hold watches for, all open: they follow the cache's one watch of
    the namespace's Services, and each hears only about what its selector picks."""
    assert kube.cache is not None
    hub = live.LiveHub()
    op = Actor.user(demo.operator.uid)
    count = live.MAX_FEEDS + 8
    streams = [hub.changes(kube, [live.Target("Service", demo.namespace, op, label_selector=f"app=a{i}")],
                           heartbeat=30) for i in range(count)]
    reads = [asyncio.ensure_future(s.__anext__()) for s in streams]
    await eventually(lambda: len(hub._feeds) == count and all(f.changed_since for f in hub._feeds.values()), timeout=10)
    assert not any(r.done() for r in reads)  # nobody refused
    svc = plain_service("only-a3")
    svc["metadata"]["labels"] = {"app": "a3"}
    await admin_kube.create(svc, namespace=demo.namespace, actor=CONSOLE)
    got = await asyncio.wait_for(reads[3], 10)
    assert got.kind == live.CHANGED
    # A later change for a4 is heard by a4 alone: once it is, a3's change has long reached everyone it
    # concerned, and nobody else heard either.
    svc = plain_service("only-a4")
    svc["metadata"]["labels"] = {"app": "a4"}
    await admin_kube.create(svc, namespace=demo.namespace, actor=CONSOLE)
    assert (await asyncio.wait_for(reads[4], 10)).kind == live.CHANGED
    assert [i for i, r in enumerate(reads) if r.done()] == [3, 4]
    for r in reads:
        r.cancel()
    await asyncio.gather(*reads, return_exceptions=True)
    for s in streams:
        await s.aclose()
    assert not hub._feeds
    await hub.close()


async def test_a_detail_page_that_saw_the_latest_gets_no_change_signal_at_once(
        demo: DemoProject, tenants: Tenants, kube: KubeGateway, admin_kube: KubeGateway) -> None:
    """Its stream joins two feeds (the Service, its pods) with the one version the page read: a feed
    must not take a version of the other kind's store for a change (every view would re-fetch itself)."""
    deployment, web = stateless("web")
    await create(admin_kube, demo.namespace, deployment, web)
    b = await tenants.browser(demo.viewer)
    await running_pods(admin_kube, demo.namespace, "app=web", 1)
    await b.get(f"{demo.base}/services/web")  # the stores start now; the pods change after
    await admin_kube.merge_patch("Deployment", demo.namespace, "web-v1", {"spec": {"replicas": 2}}, actor=CONSOLE)
    await running_pods(admin_kube, demo.namespace, "app=web", 2)
    await asyncio.sleep(1)  # the pods' last status updates have landed
    rv = sse_url((await b.get(f"{demo.base}/services/web")).text).split("rv=", 1)[1]
    actor = Actor.user(demo.viewer.uid)
    hub = live.LiveHub()
    stream = hub.changes(kube, [live.Target("Service", demo.namespace, actor, field_selector="metadata.name=web"),
                                live.Target("Pod", demo.namespace, actor, label_selector="app=web")],
                         resource_version=rv, heartbeat=1.0)
    first = await asyncio.wait_for(stream.__anext__(), 10)
    assert first.kind == live.PING
    await admin_kube.merge_patch("Service", demo.namespace, "web", {"metadata": {"labels": {"touched": "yes"}}},
                                 actor=CONSOLE)
    following = await asyncio.wait_for(stream.__anext__(), 10)
    assert following.kind == live.CHANGED
    await stream.aclose()
    await hub.close()
