"""The process's gateway, created on first use so the console starts even when the cluster is down."""

from __future__ import annotations

import asyncio

from app.kube.cache import WatchCache
from app.kube.client import KubeGateway
from app.kube.config import new_gateway
from app.kube.errors import KubeError


class GatewayHolder:
    def __init__(self, kubeconfig: str | None, context: str | None, *, timeout: float,
                 watch_cache: bool = False, cache_idle_seconds: float = 300,
                 access_review_seconds: float = 300) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self.timeout = timeout
        self.watch_cache = watch_cache
        self.cache_idle_seconds = cache_idle_seconds
        self.access_review_seconds = access_review_seconds
        self._gateway: KubeGateway | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def of(cls, gateway: KubeGateway) -> GatewayHolder:
        holder = cls(None, None, timeout=gateway.timeout)
        holder._gateway = gateway
        return holder

    async def get(self) -> KubeGateway:
        if self._gateway is None:
            async with self._lock:
                if self._gateway is None:
                    try:
                        gateway = await new_gateway(self.kubeconfig, self.context, timeout=self.timeout)
                        if self.watch_cache:
                            # Its own connection pool: each store holds one watch open.
                            own = await new_gateway(self.kubeconfig, self.context, timeout=self.timeout,
                                                    pool_size=1024)
                            own.tokens = gateway.tokens  # the access reviews are made with the same tokens
                            gateway.cache = WatchCache(
                                own, idle_seconds=self.cache_idle_seconds,
                                review_seconds=self.access_review_seconds, sync_timeout=self.timeout,
                            )
                    except Exception as e:  # bad kubeconfig, missing file, no in-cluster token
                        raise KubeError(0, "Unconfigured", f"The cluster connection is not configured: {e}") from None
                    self._gateway = gateway
        return self._gateway

    async def close(self) -> None:
        if self._gateway is not None:
            await self._gateway.close()
            self._gateway = None
