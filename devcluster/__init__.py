"""The development cluster: a real local control plane (etcd, kube-apiserver, kube-controller-manager on
loopback), the node simulator and its fake kubelet. For development, tests and benchmarks only: it ships
outside the console's wheel, and `app/` never imports it (`python -m devcluster up|down|status`)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable
from typing import Any

# The Kubernetes release the development cluster runs (scripts/build-kubernetes.sh builds it).
K8S_VERSION = "1.37.2"

# The simulated nodes' InternalIPs (dockyard-node-1 is 127.0.0.2, -2 is 127.0.0.3, ...): each node has its
# own loopback address, so the API server (logs) and metrics-server (/metrics/resource) reach that node's
# kubelet endpoint and the fake kubelet knows which node is asked. The kubelet certificate covers MAX_NODES.
MAX_NODES = 16


def node_ip(index: int) -> str:
    """The InternalIP of the simulated node `index` (0-based)."""
    if not 0 <= index < MAX_NODES:
        raise ValueError(f"the node simulator runs at most {MAX_NODES} nodes")
    return f"127.0.0.{index + 2}"


async def run_until_signalled(work: Awaitable[None], gateway: Any, log: logging.Logger) -> None:
    """Run one of the cluster's own processes (the node simulator, the Gateway controller) until SIGTERM
    or SIGINT, then close its gateway."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: task and task.cancel())
    try:
        await work
    except asyncio.CancelledError:
        log.info("stopping")
    finally:
        await gateway.close()
