"""pytest plugin: the real local control plane for the test session (`devcluster.localcluster`).

Fixtures
- `cluster` (session): the running `ClusterInfo`, started once if needed (reused when `make cluster`
  already started it). `DOCKYARD_TEST_CLUSTER_ROOT` picks another root;
  `DOCKYARD_STOP_CLUSTER_AFTER_TESTS=1` stops it at the end if this session started it.
- `admin_kube` (session, async): a `KubeGateway` with the admin identity (system:masters).
- `console_kube` (session, async): a `KubeGateway` with the console's own least-privilege identity.
- `make_namespace` (function, async factory): `await make_namespace("prefix")` -> a new namespace
  name, labelled `dockyard.dev/test=true`, ready for pods; every one is deleted after the test.
- `namespace` (function, async): one such namespace.

Helper: `await eventually(check, timeout=30, interval=0.2)` for waiting on cluster state.
Tests that use `cluster` (directly or through the other fixtures) are marked `cluster`.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio

from app.kube.client import CONSOLE, KubeGateway
from app.kube.config import new_gateway
from app.kube.errors import KubeError
from devcluster import localcluster

REPO = Path(__file__).resolve().parents[1]
TEST_LABEL = "dockyard.dev/test"

T = TypeVar("T")


async def eventually(check: Callable[[], T | Awaitable[T]], timeout: float = 30, interval: float = 0.2) -> T:
    """Call `check` (sync or async) until it returns a truthy value, and return that value.

    An `AssertionError`, `KubeError`, `LookupError` (a field the object has not got yet) or `ValueError`
    (unpacking a list of the wrong length) from `check` counts as "not yet". After `timeout` seconds
    the last such error is raised (or an AssertionError naming the last falsy value).
    """
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    value: Any = None
    while True:
        try:
            value = check()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value  # type: ignore[no-any-return]
            last = None
        except (AssertionError, KubeError, LookupError, ValueError) as e:
            last = e
        if time.monotonic() >= deadline:
            if last is not None:
                raise last
            raise AssertionError(f"condition not met within {timeout:g} s (last value: {value!r})")
        await asyncio.sleep(interval)


def unique_name(prefix: str = "t") -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def cluster() -> Any:
    root = Path(os.environ.get("DOCKYARD_TEST_CLUSTER_ROOT") or REPO / ".dockyard" / "cluster")
    info = localcluster.ensure_running(root, log=print)
    yield info
    if os.environ.get("DOCKYARD_STOP_CLUSTER_AFTER_TESTS") == "1" and not info.reused:
        localcluster.stop(root, log=print)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def admin_kube(cluster: localcluster.ClusterInfo) -> AsyncIterator[KubeGateway]:
    gw = await new_gateway(str(cluster.admin_kubeconfig), timeout=30)
    yield gw
    await gw.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def console_kube(cluster: localcluster.ClusterInfo) -> AsyncIterator[KubeGateway]:
    gw = await new_gateway(str(cluster.console_kubeconfig), timeout=30)
    yield gw
    await gw.close()


async def create_test_namespace(kube: KubeGateway, prefix: str = "t") -> str:
    """A new namespace where pods can be created at once (its default ServiceAccount exists: since 1.24
    pods get a projected token, not a Secret)."""
    name = unique_name(prefix)
    await kube.create({"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": name, "labels": {TEST_LABEL: "true"}}},
                      namespace=None, actor=CONSOLE)

    async def service_account_ready() -> bool:
        return await kube.exists("ServiceAccount", name, "default", actor=CONSOLE)

    await eventually(service_account_ready, timeout=30)
    return name


@pytest_asyncio.fixture(loop_scope="session")
async def make_namespace(admin_kube: KubeGateway) -> AsyncIterator[Callable[..., Awaitable[str]]]:
    created: list[str] = []

    async def make(prefix: str = "t") -> str:
        name = await create_test_namespace(admin_kube, prefix)
        created.append(name)
        return name

    yield make
    for name in created:
        try:
            await admin_kube.delete("Namespace", None, name, actor=CONSOLE)
        except KubeError as e:
            if not e.not_found:
                raise


@pytest_asyncio.fixture(loop_scope="session")
async def namespace(make_namespace: Callable[..., Awaitable[str]]) -> str:
    return await make_namespace()
