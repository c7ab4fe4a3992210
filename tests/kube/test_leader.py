"""One leader among console processes (app/domain/leader.py), through a real Lease on the local control
plane, with the console's own least-privilege identity: never two leaders at once, the Lease moves within
its duration when the leader dies, and the new leader repairs a deleted RoleBinding at once."""

from __future__ import annotations

import asyncio
import contextlib
import secrets

import pytest

from app.domain import rbac
from app.domain.leader import Leadership
from app.kube.client import CONSOLE, KubeGateway
from app.kube.errors import KubeError
from tests.cluster import eventually
from tests.conftest import DemoProject

pytestmark = pytest.mark.cluster


async def test_one_leader_at_a_time_and_a_dead_leaders_lease_moves(
        console_kube: KubeGateway, admin_kube: KubeGateway, demo: DemoProject, app) -> None:  # type: ignore[no-untyped-def]
    name = f"test-leader-{secrets.token_hex(3)}"

    async def gateway() -> KubeGateway:
        return console_kube

    rounds: dict[str, int] = {"a": 0, "b": 0}

    def worker(who: str):  # type: ignore[no-untyped-def]
        async def work() -> None:
            rounds[who] += 1
            async with app.state.sessionmaker() as session:
                await rbac.reconcile_all(session, console_kube)
        return work

    a = Leadership(gateway, identity="replica-a", name=name, lease_seconds=4, renew_seconds=0.5)
    b = Leadership(gateway, identity="replica-b", name=name, lease_seconds=4, renew_seconds=0.5)
    tasks = {"a": asyncio.create_task(a.run(worker("a"), 3600)), "b": asyncio.create_task(b.run(worker("b"), 3600))}
    try:
        first = await eventually(lambda: "a" if a.still_leading() else "b" if b.still_leading() else "", timeout=15)
        leader, other = (a, b) if first == "a" else (b, a)
        for _ in range(20):  # a few renewals: the other never leads meanwhile
            assert leader.still_leading() and not other.still_leading()
            await asyncio.sleep(0.1)
        await eventually(lambda: rounds[first] == 1)  # the leader's work ran at once, the other's never
        assert rounds["b" if first == "a" else "a"] == 0

        # The leader dies (no clean release); meanwhile a managed RoleBinding is deleted behind its back.
        tasks[first].cancel()
        with contextlib.suppress(BaseException):
            await tasks[first]
        bindings = await admin_kube.items("RoleBinding", demo.namespace, actor=CONSOLE,
                                          label_selector=f"{rbac.MANAGED_BY}={rbac.MANAGER}")
        victim = bindings[0]["metadata"]["name"]
        await admin_kube.delete("RoleBinding", demo.namespace, victim, actor=CONSOLE)

        loop = asyncio.get_running_loop()
        died = loop.time()
        await eventually(other.still_leading, timeout=15, interval=0.1)
        assert loop.time() - died <= 4 + 2  # within the Lease's duration (plus a renewal or two)
        lease = await admin_kube.get("Lease", "dockyard-system", name, actor=CONSOLE)
        assert lease["spec"]["holderIdentity"] == other.identity and lease["spec"]["leaseTransitions"] >= 1

        async def repaired() -> bool:
            try:
                await admin_kube.get("RoleBinding", demo.namespace, victim, actor=CONSOLE)
            except KubeError as e:
                if e.not_found:
                    return False
                raise
            return True
        await eventually(repaired, timeout=15)  # by the new leader, without waiting for its interval
    finally:
        for task in tasks.values():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        with contextlib.suppress(KubeError):
            await admin_kube.delete("Lease", "dockyard-system", name, actor=CONSOLE)


async def test_a_clean_stop_hands_the_lease_over_at_once(console_kube: KubeGateway, admin_kube: KubeGateway) -> None:
    name = f"test-leader-{secrets.token_hex(3)}"

    async def gateway() -> KubeGateway:
        return console_kube

    a = Leadership(gateway, identity="replica-a", name=name, lease_seconds=30, renew_seconds=0.5)
    b = Leadership(gateway, identity="replica-b", name=name, lease_seconds=30, renew_seconds=0.5)
    try:
        assert await a.try_lead() is True
        assert await b.try_lead() is False  # held, and not expired
        await a.release()
        assert await b.try_lead() is True  # no 30 s wait
        assert await a.try_lead() is False
    finally:
        with contextlib.suppress(KubeError):
            await admin_kube.delete("Lease", "dockyard-system", name, actor=CONSOLE)
