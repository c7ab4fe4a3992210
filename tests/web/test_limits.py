"""Limits before work: bodies are capped before anything reads them (16 KiB without a session, 16 MiB
with one), and nobody signed in leaves rows in the audit log."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import func, select

from app.middleware import MAX_ANONYMOUS_BODY, MAX_BODY, MAX_FORM_BODY
from app.models.audit import AuditEvent
from tests.conftest import DemoProject, Tenants


async def test_a_big_anonymous_body_is_refused_before_it_is_read(tenants: Tenants) -> None:
    b = await tenants.browser()
    big = b"username=x&password=" + b"a" * (50 * 1024 * 1024)
    answer = await b.client.post("/login", content=big, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 413 and "too large" in answer.text
    assert answer.headers["x-content-type-options"] == "nosniff" and "content-security-policy" in answer.headers

    sent = 0

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        nonlocal sent
        for _ in range(1000):
            sent += 1
            yield b"a" * 1024
    answer = await b.client.post("/login", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 413, answer.text[:500]
    assert sent * 1024 <= MAX_ANONYMOUS_BODY + 2 * 1024  # stopped reading at the cap, not at the end


async def test_a_signed_in_body_over_the_cap_is_refused(demo: DemoProject, tenants: Tenants) -> None:
    b = await tenants.browser(demo.operator)
    url = f"{demo.base}/services/-/new/yaml"
    answer = await b.post(url, {"yaml": "a" * (MAX_BODY + 1)})
    assert answer.status_code == 413
    # and a normal form still works
    assert (await b.post(url, {"yaml": "kind: Service"})).status_code in (200, 422)


async def test_a_plain_form_is_capped_at_one_mebibyte_and_yaml_is_left_to_the_gate(
        demo: DemoProject, tenants: Tenants) -> None:
    b = await tenants.browser(demo.operator)
    await b.get(f"{demo.base}/members")
    answer = await b.post(f"{demo.base}/members", {"username": "a" * (MAX_FORM_BODY + 1), "role": "viewer"})
    assert answer.status_code == 413 and "1024 KiB" in answer.text
    # The same size as a file on the YAML page: the gate reads it and answers in the form.
    url = f"{demo.base}/services/-/new/yaml"
    await b.get(url)
    big = b"# " + b"a" * (MAX_FORM_BODY + 1) + b"\n"
    answer = await b.client.post(url, data={"csrf_token": b.csrf, "action": "upload"},
                                 files={"files": ("big.yaml", big, "application/x-yaml")})
    assert answer.status_code == 422, answer.text[:500]
    assert "big.yaml" in answer.text and "KiB" in answer.text


async def test_anonymous_refusals_write_no_audit_rows(demo: DemoProject, tenants: Tenants, db) -> None:  # type: ignore[no-untyped-def]
    before = await db.scalar(select(func.count()).select_from(AuditEvent))
    b = await tenants.browser()
    for _ in range(20):
        answer = await b.client.post(f"{demo.base}/services/-/new/yaml", data={"yaml": "x"})
        assert answer.status_code in (303, 401, 403)
    db.expire_all()
    assert await db.scalar(select(func.count()).select_from(AuditEvent)) == before
