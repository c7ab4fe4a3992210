"""The double-submit guard (app/domain/submissions.py) across console processes: two processes (each
its own engine and connection pool on the one database) receiving the same form at the same moment
create the Service once, counted on the API server; a failed first attempt lets the second try."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from app.db import new_engine, new_sessionmaker
from app.domain.creation import CreateOutcome, ObjectProblem
from app.domain.submissions import SubmissionGuard
from app.kube.client import CONSOLE, KubeGateway
from app.kube.errors import KubeError
from tests.conftest import DemoProject
from tests.web.services_fixtures import plain_service

pytestmark = pytest.mark.cluster


async def test_the_same_form_sent_to_two_processes_creates_once(
        demo: DemoProject, admin_kube: KubeGateway, database_url: str, app) -> None:  # type: ignore[no-untyped-def]
    engines = [new_engine(database_url), new_engine(database_url)]
    processes = [(SubmissionGuard(), new_sessionmaker(e)) for e in engines]
    name = f"once-{secrets.token_hex(3)}"
    creates: list[str] = []

    async def work() -> CreateOutcome:
        creates.append(name)
        try:
            await admin_kube.create(plain_service(name), namespace=demo.namespace, actor=CONSOLE)
        except KubeError as e:
            return CreateOutcome(problems=[ObjectProblem("Service", name, e.message)])
        await asyncio.sleep(0.3)  # the create takes a while: the other process's submit arrives meanwhile
        return CreateOutcome(created=[("Service", name)])

    key = ("user-1", f"form-{secrets.token_hex(4)}")
    try:
        results = await asyncio.gather(*(guard.once(sessions, key, work) for guard, sessions in processes))
        assert all(r.ok for r in results)
        assert creates == [name]  # one attempt reached the API server
        services = await admin_kube.items("Service", demo.namespace, actor=CONSOLE)
        assert [s["metadata"]["name"] for s in services].count(name) == 1
        # Sent again later (back button, reload): still nothing more.
        assert (await processes[1][0].once(processes[1][1], key, work)).ok and creates == [name]
    finally:
        for e in engines:
            await e.dispose()


async def test_a_failed_first_attempt_lets_the_other_submit_try(database_url: str, app) -> None:  # type: ignore[no-untyped-def]
    engines = [new_engine(database_url), new_engine(database_url)]
    (g1, s1), (g2, s2) = [(SubmissionGuard(), new_sessionmaker(e)) for e in engines]
    attempts: list[int] = []
    first_started = asyncio.Event()

    async def failing() -> CreateOutcome:
        attempts.append(1)
        first_started.set()
        await asyncio.sleep(0.3)
        return CreateOutcome(problems=[ObjectProblem("Service", "x", "quota exceeded")])

    async def succeeding() -> CreateOutcome:
        attempts.append(2)
        return CreateOutcome(created=[("Service", "x")])

    async def second() -> CreateOutcome:
        await first_started.wait()
        return await g2.once(s2, key, succeeding)  # type: ignore[no-any-return]

    key = ("user-1", f"form-{secrets.token_hex(4)}")
    try:
        first, later = await asyncio.gather(g1.once(s1, key, failing), second())
        assert not first.ok and later.ok and later.created == [("Service", "x")]
        assert attempts == [1, 2]  # the second waited for the first, then tried itself
    finally:
        for e in engines:
            await e.dispose()
