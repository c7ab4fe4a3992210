"""What an operator watches (issue 17): one JSON log line per request (request id, user, route template,
status, milliseconds; never the query or a secret) and Prometheus metrics behind a bearer token."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from pydantic import SecretStr

from app.observability import JsonFormatter
from tests.conftest import DemoProject, Tenants

ROUTE = "/workspaces/{ws}/projects/{project}/services"


async def _get_metrics(app, token: str | None) -> httpx.Response:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.get("/metrics", headers=headers)


async def test_metrics_are_served_only_to_the_scraper_with_the_token(
        app, demo: DemoProject, tenants: Tenants) -> None:  # type: ignore[no-untyped-def]
    assert (await _get_metrics(app, "anything")).status_code == 404  # no token set: no metrics at all
    settings = app.state.settings
    app.state.settings = settings.model_copy(update={"metrics_token": SecretStr("scrape-me-0123456789")})
    try:
        await _scrape(app, demo, tenants)
    finally:
        app.state.settings = settings


async def _scrape(app, demo: DemoProject, tenants: Tenants) -> None:  # type: ignore[no-untyped-def]
    browser = await tenants.browser(demo.operator)
    assert (await browser.get(f"{demo.base}/services")).status_code == 200
    assert (await _get_metrics(app, None)).status_code == 401
    assert (await _get_metrics(app, "wrong-token")).status_code == 401
    resp = await _get_metrics(app, "scrape-me-0123456789")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    # latency by route template (never a project's name), Kubernetes calls, cache sizes, sessions
    assert f'dockyard_http_request_duration_seconds_count{{method="GET",route="{ROUTE}",status="200"}}' in text
    assert demo.project.name not in text
    assert 'dockyard_kube_requests_total{outcome="ok",resource="' in text
    assert 'dockyard_cache_objects{kind="Service"}' in text
    sessions = next(line for line in text.splitlines() if line.startswith("dockyard_sessions_active "))
    assert float(sessions.split()[1]) >= 1
    assert "dockyard_event_streams_open" in text and "dockyard_watch_restarts_total" in text


async def test_each_request_is_one_json_line_without_its_query(
        demo: DemoProject, tenants: Tenants, caplog: pytest.LogCaptureFixture) -> None:
    browser = await tenants.browser(demo.operator)
    with caplog.at_level(logging.INFO, logger="dockyard.http"):
        assert (await browser.get(f"{demo.base}/services?name=hunter2-secret-search")).status_code == 200
    [record] = [r for r in caplog.records if r.name == "dockyard.http" and getattr(r, "route", "") == ROUTE]
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "request" and line["level"] == "info" and line["route"] == ROUTE
    assert line["status"] == 200 and line["method"] == "GET" and isinstance(line["ms"], float)
    assert line["user_id"] == str(demo.operator.uid) and len(line["request_id"]) == 16
    assert "hunter2" not in JsonFormatter().format(record)


def test_an_audit_line_is_merged_into_the_json_object() -> None:
    record = logging.LogRecord("dockyard.audit", logging.INFO, __file__, 1,
                               json.dumps({"audit": True, "verb": "create", "kind": "Service"}), None, None)
    line = json.loads(JsonFormatter().format(record))
    assert line["audit"] is True and line["verb"] == "create" and "message" not in line
