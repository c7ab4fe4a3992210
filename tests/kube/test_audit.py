"""The audit log holds every write: a full create / edit / delete, and the refused attempts."""

from __future__ import annotations

import json
import logging

import pytest

from tests.conftest import DemoProject, Tenants

pytestmark = pytest.mark.cluster

SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: audited
spec:
  selector: {app: audited}
  ports: [{name: http-0, port: 80, targetPort: 80}]
"""


async def test_create_edit_delete_are_audited(demo: DemoProject, tenants: Tenants, caplog) -> None:  # type: ignore[no-untyped-def]
    from app.models import PlatformRole

    op = await tenants.browser(demo.operator)
    caplog.set_level(logging.INFO, logger="dockyard.audit")
    assert (await op.post(f"{demo.base}/services/-/new/yaml", {"action": "create", "text": SERVICE, "submission": "a1"})).status_code == 303
    resp = await op.post(f"{demo.base}/services/audited/information", {"alias": "Audited", "description": "x"})
    assert resp.status_code in (200, 303)
    resp = await op.post(f"{demo.base}/services/audited/delete", {})
    assert resp.status_code in (200, 303)
    viewer = await tenants.browser(demo.viewer)
    assert (await viewer.post(f"{demo.base}/services/audited/delete", {})).status_code == 403

    admin = await tenants.browser(await tenants.user("padmin", PlatformRole.admin))
    page = await admin.get(f"/admin/audit?project={demo.project.name}")
    assert page.status_code == 200
    text = page.text
    for verb in ("create", "edit-information", "delete"):
        assert f"<td>{verb}</td>" in text, verb
    assert demo.operator.username in text and demo.viewer.username in text
    assert "denied" in text
    only_denied = await admin.get(f"/admin/audit?project={demo.project.name}&outcome=denied")
    assert demo.viewer.username in only_denied.text and "edit-information" not in only_denied.text
    # and each write was also written as a JSON log line
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "dockyard.audit"]
    assert {(line["verb"], line["outcome"]) for line in lines} >= {("create", "success"), ("edit-information", "success"),
                                                                  ("delete", "success"), ("post", "denied")}
    assert all(line["request_id"] for line in lines)
