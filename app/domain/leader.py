"""One leader among the console's processes for background work (the RoleBinding reconciler), through a
`coordination.k8s.io/v1` Lease, as Kubernetes' own controllers elect theirs.

Every process tries every `renew_seconds`: it creates the Lease if there is none, renews it while it holds
it, and takes it over once the holder has not renewed for `lease_seconds` (a dead process). Each write is
conditional on the Lease's resourceVersion, so of two processes racing for it exactly one wins. A holder
that cannot renew in time stops leading before its Lease could be taken, so two leaders never overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable

from app.kube.client import CONSOLE, KubeGateway
from app.kube.errors import KubeError

log = logging.getLogger("dockyard.leader")

NAMESPACE = os.environ.get("DOCKYARD_LEASE_NAMESPACE", "dockyard-system")
LEASE = "dockyard-reconciler"


def new_identity() -> str:
    """This process among the replicas: host, pid and a random part (pids repeat across pods)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _age_seconds(stamp: str | None) -> float:
    if not stamp:
        return float("inf")
    try:
        when = dt.datetime.strptime(stamp.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        try:
            when = dt.datetime.strptime(stamp.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S%z")
        except ValueError:
            return float("inf")
    return (dt.datetime.now(dt.UTC) - when).total_seconds()


class Leadership:
    def __init__(self, kube: Callable[[], Awaitable[KubeGateway]], *, identity: str | None = None,
                 name: str = LEASE, namespace: str = NAMESPACE, lease_seconds: int = 15,
                 renew_seconds: float = 5.0) -> None:
        self.kube = kube
        self.identity = identity or new_identity()
        self.name, self.namespace = name, namespace
        self.lease_seconds, self.renew_seconds = lease_seconds, renew_seconds
        self.leading = False
        self._renewed_at = 0.0  # monotonic time of the last successful acquire or renewal

    def _spec(self, transitions: int, acquired: str | None = None) -> dict[str, object]:
        now = _now()
        return {"holderIdentity": self.identity, "leaseDurationSeconds": self.lease_seconds,
                "acquireTime": acquired or now, "renewTime": now, "leaseTransitions": transitions}

    async def try_lead(self) -> bool:
        """One round: create, renew or take over the Lease. Returns whether this process leads now."""
        kube = await self.kube()
        try:
            lease = await kube.get("Lease", self.namespace, self.name, actor=CONSOLE, fresh=True)
        except KubeError as e:
            if not e.not_found:
                raise
            try:
                await kube.create({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                   "metadata": {"name": self.name, "namespace": self.namespace},
                                   "spec": self._spec(0)}, namespace=self.namespace, actor=CONSOLE)
            except KubeError as e:
                if e.conflict:  # another process created it first
                    return self._lost()
                raise
            return self._won()
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity")
        expired = _age_seconds(spec.get("renewTime")) > float(spec.get("leaseDurationSeconds") or self.lease_seconds)
        if holder != self.identity and holder and not expired:
            return self._lost()
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if holder == self.identity else 1)
        lease["spec"] = self._spec(transitions, spec.get("acquireTime") if holder == self.identity else None)
        try:
            await kube.replace(lease, namespace=self.namespace, actor=CONSOLE)  # conditional: its resourceVersion
        except KubeError as e:
            if e.conflict:
                return self._lost()
            raise
        if holder != self.identity:
            log.info("leader: %s took the Lease %s/%s over from %s", self.identity, self.namespace, self.name,
                     holder or "nobody")
        return self._won()

    def _won(self) -> bool:
        self.leading = True
        self._renewed_at = time.monotonic()
        return True

    def _lost(self) -> bool:
        if self.leading:
            log.info("leader: %s lost the Lease %s/%s", self.identity, self.namespace, self.name)
        self.leading = False
        return False

    def still_leading(self) -> bool:
        """Leading, and renewed recently enough that nobody else can have taken the Lease yet."""
        return self.leading and time.monotonic() - self._renewed_at < self.lease_seconds - self.renew_seconds

    async def run(self, work: Callable[[], Awaitable[None]], interval: float) -> None:
        """Forever: keep the Lease (or keep trying for it); while leading, `work` runs every `interval`
        seconds, at once when leadership is gained so a new leader repairs what the old one left. The
        work runs beside the renewals, so a long round never lets the Lease lapse."""
        worker = asyncio.create_task(self._work(work, interval), name="leader work")
        try:
            while True:
                try:
                    await asyncio.wait_for(self.try_lead(), self.renew_seconds)
                except KubeError as e:
                    if e.forbidden or e.not_found:
                        # No Lease can be kept (an older install without the Role, or no namespace):
                        # a single console still repairs its RoleBindings; replicas need the Role.
                        if not self.leading:
                            log.warning("leader: cannot hold the Lease %s/%s (%s); leading alone",
                                        self.namespace, self.name, e.message)
                        self._won()
                    else:
                        log.warning("leader: could not renew the Lease %s/%s: %s", self.namespace, self.name, e)
                except (TimeoutError, OSError) as e:
                    log.warning("leader: could not renew the Lease %s/%s: %r", self.namespace, self.name, e)
                if not self.still_leading():
                    self.leading = False
                await asyncio.sleep(self.renew_seconds)
        finally:
            worker.cancel()
            with contextlib.suppress(BaseException):
                await worker

    async def _work(self, work: Callable[[], Awaitable[None]], interval: float) -> None:
        was_leading = False
        next_round = 0.0
        while True:
            if self.still_leading():
                if not was_leading or time.monotonic() >= next_round:
                    next_round = time.monotonic() + interval
                    try:
                        await work()
                    except Exception as e:  # the next round retries
                        log.warning("leader: background work failed: %s", e)
                was_leading = True
            else:
                was_leading = False
            await asyncio.sleep(0.5)

    async def release(self) -> None:
        """On a clean stop: give the Lease up at once, so another process leads without waiting."""
        if not self.leading:
            return
        self.leading = False
        with contextlib.suppress(Exception):
            kube = await self.kube()
            lease = await kube.get("Lease", self.namespace, self.name, actor=CONSOLE, fresh=True)
            if (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                lease["spec"]["holderIdentity"] = None
                lease["spec"]["renewTime"] = None
                await kube.replace(lease, namespace=self.namespace, actor=CONSOLE)
