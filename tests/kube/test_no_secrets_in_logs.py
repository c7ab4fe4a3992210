"""Nothing secret reaches the audit log or the console's log lines (Rancher's CVE-2023-22649: Secrets and
tokens written to logs). Planted: a password (the right one and a wrong one), a Secret's value (created,
and refused by the gate), and the user's cluster token; then the flows run and every audit row and
every log line is searched for them."""

from __future__ import annotations

import base64
import logging
import secrets

import pytest
from sqlalchemy import select

from app.domain.yaml import dump_yaml
from app.kube.client import CONSOLE, KubeGateway
from app.models import AuditEvent
from tests.conftest import PASSWORD, DemoProject, Tenants
from tests.web.test_creation_pages import post_yaml, problems_shown, yaml_browser


async def test_no_password_secret_value_or_token_is_written_anywhere(
        demo: DemoProject, tenants: Tenants, kube: KubeGateway, admin_kube: KubeGateway,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)  # the console's level: libraries' DEBUG lines (SQL parameters) are off
    marker = secrets.token_hex(6)
    wrong_password = f"wrong-password-{marker}"
    secret_value = f"secret-value-{marker}"
    b64_value = base64.b64encode(secret_value.encode()).decode()

    # A failed sign-in, with the password typed in the user name field too (a common slip).
    stranger = await tenants.browser()
    await stranger.login(demo.operator.username, wrong_password)
    await stranger.login(wrong_password, wrong_password)

    # A Secret created through Edit by YAML, and one the gate refuses (bad name), each with the value.
    world = await yaml_browser(demo, tenants)
    good = [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-credentials"},
             "type": "Opaque", "stringData": {"password": secret_value}, "data": {"again": b64_value}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
             "spec": {"selector": {"app": "db"}, "ports": [{"name": "tcp-5432", "port": 5432}]}}]
    resp = await post_yaml(world, text=dump_yaml(good), action="create")
    assert resp.status_code == 303, problems_shown(resp.text)
    made = await admin_kube.get("Secret", demo.namespace, "db-credentials", actor=CONSOLE, fresh=True)
    assert base64.b64decode(made["data"]["password"]).decode() == secret_value
    bad = [{**good[0], "metadata": {"name": "Bad_Name"}}, good[1]]
    world = await yaml_browser(demo, tenants)
    resp = await post_yaml(world, text=dump_yaml(bad), action="create")
    assert resp.status_code == 422
    assert secret_value in resp.text  # the editor keeps what the user typed, for them only

    # The user's own cluster token, used for every request above.
    token = await kube.tokens.token(demo.operator.uid)

    async with tenants.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        rows = list(await s.scalars(select(AuditEvent)))
    assert any(r.verb == "create" and r.object_name == "db" for r in rows)  # the flows were audited
    planted = {"password": PASSWORD, "wrong password": wrong_password, "secret value": secret_value, "secret value (base64)": b64_value,
               "token": token, "token (part)": token[20:60]}
    for row in rows:
        text = " ".join(str(getattr(row, c.key)) for c in AuditEvent.__table__.columns)
        for what, value in planted.items():
            assert value not in text, f"{what} in the audit row {row.id}: {text[:300]}"
    lines = [r.getMessage() + " " + repr(r.__dict__.get("args")) for r in caplog.records]
    assert lines, "nothing was logged: the test would prove nothing"
    for line in lines:
        for what, value in planted.items():
            assert value not in line, f"{what} in a log line: {line[:300]}"
