"""Fair under abuse (app/fairness.py): one session firing many requests at once is answered 429 with
Retry-After past its share, while other sessions are served; and no list parameter, however odd, is a 500."""

from __future__ import annotations

import asyncio

import pytest

from app.kube.client import Actor, KubeGateway
from tests.conftest import DemoProject, Tenants

pytestmark = pytest.mark.cluster


async def test_one_session_flooding_does_not_starve_another(demo: DemoProject, tenants: Tenants, kube: KubeGateway,
                                                          monkeypatch: pytest.MonkeyPatch, app) -> None:  # type: ignore[no-untyped-def]
    flooder = await tenants.browser(demo.operator)
    calm = await tenants.browser(demo.viewer)
    assert (await flooder.get(f"{demo.base}/services")).status_code == 200
    assert (await calm.get(f"{demo.base}/services")).status_code == 200

    # The flooder's reads hang (a slow API server for them only), so their requests stay in flight.
    release = asyncio.Event()
    original = type(kube).page
    flooding = Actor.user(demo.operator.uid)

    async def slow_for_the_flooder(self, *args, actor, **kw):  # type: ignore[no-untyped-def]
        if actor == flooding:
            await release.wait()
        return await original(self, *args, actor=actor, **kw)
    monkeypatch.setattr(type(kube), "page", slow_for_the_flooder)

    limit = app.state.settings.session_concurrency
    flood = [asyncio.create_task(flooder.get(f"{demo.base}/services?page={i}")) for i in range(limit * 5)]
    refused = []
    for task in asyncio.as_completed(flood[:]):
        resp = await task
        refused.append(resp)
        if len(refused) == limit * 4:
            break
    assert all(r.status_code == 429 and r.headers["retry-after"] == "1" for r in refused)
    assert "content-security-policy" in refused[0].headers  # answered inside the security headers
    # Meanwhile, the other session is served at once.
    assert (await asyncio.wait_for(calm.get(f"{demo.base}/services"), 10)).status_code == 200
    release.set()
    served = [r for r in await asyncio.gather(*flood) if r.status_code == 200]
    assert len(served) == limit  # the share that was in flight completes
    assert (await flooder.get(f"{demo.base}/services")).status_code == 200  # and the flooder may go on


@pytest.mark.parametrize("query", ["page=-1", "page=999999", "page=abc", "page=1e9", "sort=evil", "order=sideways",
                                   "limit=-5", "limit=100000", "name=" + "x" * 10_000, "app=%00%ff", "page=" + "9" * 400])
async def test_odd_list_parameters_give_a_page_never_an_error(demo: DemoProject, tenants: Tenants, query: str) -> None:
    b = await tenants.browser(demo.operator)
    resp = await b.get(f"{demo.base}/services?{query}")
    assert resp.status_code == 200, resp.text[:300]
    assert "Services" in resp.text
