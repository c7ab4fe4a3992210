"""Build the process's one ApiClient: from a kubeconfig (optionally a chosen context) or in-cluster."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import math
import os
import time
from pathlib import Path
from typing import Any, cast

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from kubernetes_asyncio import config as kconfig
from kubernetes_asyncio.client import ApiClient, Configuration
from yarl import URL

from app.kube.client import KubeGateway
from app.kube.errors import KubeError

IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


def discover_kubeconfig(explicit: str | None) -> str | None:
    """The kubeconfig to use: DOCKYARD_KUBECONFIG, else KUBECONFIG, else ~/.kube/config; None if absent.
    KUBECONFIG may name several files: they are merged as kubectl merges them (the first file that sets
    a value wins), so every existing path is kept, in order."""
    if explicit:
        return explicit
    env = os.environ.get("KUBECONFIG")
    if env:
        present = [p for p in env.split(os.pathsep) if p and Path(p).exists()]
        if present:
            return os.pathsep.join(present)
    home = Path.home() / ".kube" / "config"
    return str(home) if home.exists() else None


class CredentialRefresher:
    """Keeps the console's own credentials from a kubeconfig current: an exec plugin's token (EKS, GKE,
    AKS, OIDC helpers) is asked for again shortly before its `expirationTimestamp`, a `tokenFile` is read
    again every minute (projected tokens rotate), and either is renewed at once after a 401.
    kubernetes_asyncio reads them once; a token that expires would stop the console after ~15 minutes."""

    TOKEN_FILE_SECONDS = 60.0

    def __init__(self, loader: Any, cfg: Configuration) -> None:
        self.loader = loader
        self.cfg = cfg
        user = getattr(loader, "_user", None) or {}
        self.exec = "exec" in user
        self.dynamic = self.exec or "tokenFile" in user or "auth-provider" in user
        self.renews = 0
        self._due = self._next_due()
        self._lock = asyncio.Lock()

    def _next_due(self) -> float:
        if not self.dynamic:
            return math.inf
        expiry = getattr(self.loader, "exec_plugin_expiry", None)
        if self.exec and isinstance(expiry, dt.datetime):
            left: float = (expiry - dt.datetime.now(dt.UTC)).total_seconds()
            # renew a little before it ends: 10 s, or half the life of a short-lived token
            return time.monotonic() + max(0.0, left - min(10.0, left / 2))
        return time.monotonic() + (0.0 if self.exec else self.TOKEN_FILE_SECONDS)

    async def __call__(self, _cfg: Configuration) -> None:
        if time.monotonic() >= self._due:
            await self.renew()

    async def renew(self, *, force: bool = False) -> None:
        if not self.dynamic:
            return
        async with self._lock:
            if not force and time.monotonic() < self._due:
                return  # another request renewed it meanwhile
            if hasattr(self.loader, "exec_plugin_expiry"):
                del self.loader.exec_plugin_expiry  # its own check keeps tokens 5 min short of expiry
            try:
                await self.loader.load_and_set(self.cfg)
            except Exception as e:  # the plugin failed, is missing, or printed no credential
                self._due = time.monotonic()  # try again on the next request
                raise KubeError(401, "Unauthorized", "The console's credentials for the cluster expired and "
                                "could not be renewed (kubeconfig: " + (str(e) or type(e).__name__) + ").") from None
            self.renews += 1
            self._due = self._next_due()


def in_cluster_available() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and IN_CLUSTER_TOKEN.exists()


async def new_gateway(kubeconfig: str | None, context: str | None = None, *, timeout: float = 10.0,
                      pool_size: int = 64) -> KubeGateway:
    """A gateway for a kubeconfig file, or for the in-cluster service account when `kubeconfig` is None."""
    cfg = Configuration()
    refresher: CredentialRefresher | None = None
    if kubeconfig:
        loader = await kconfig.load_kube_config(config_file=kubeconfig, context=context, client_configuration=cfg,
                                                persist_config=False)
        refresher = CredentialRefresher(loader, cfg)
        if refresher.dynamic:
            cfg.refresh_api_key_hook = refresher
    else:
        # kubernetes_asyncio ships py.typed but leaves this function unannotated
        kconfig.load_incluster_config(  # type: ignore[no-untyped-call]
            client_configuration=cfg, try_refresh_token=True
        )
    cfg.connection_pool_maxsize = pool_size
    users = users_cfg = None
    if cfg.cert_file:
        # The API server reads a client certificate before a bearer token: users' requests, which carry
        # their own token, must not present the console's certificate too.
        users_cfg = copy.deepcopy(cfg)
        users_cfg.cert_file = users_cfg.key_file = None
        users = ApiClient(configuration=users_cfg)
    api = ApiClient(configuration=cfg)
    _settle_proxy(api, cfg)
    if users is not None and users_cfg is not None:
        _settle_proxy(users, users_cfg)
    gateway = KubeGateway(api, timeout=timeout, users_api=users)
    if refresher is not None and refresher.dynamic:
        gateway.renew_credentials = refresher.renew
    return gateway


def _settle_proxy(client: ApiClient, cfg: Configuration) -> None:
    """Decide once which proxy reaches the API server, instead of on every request: kubernetes_asyncio's
    session trusts the environment, and aiohttp then looks up HTTPS_PROXY/NO_PROXY and reads ~/.netrc in
    a worker thread for each call (two thread hops a request, a few per cent of the console's CPU under
    load). A kubeconfig's proxy-url wins; else the environment's proxy for the server, as before."""
    if not cfg.proxy:
        try:
            # kubernetes_asyncio's stub says str | None; the property always returns the server's URL
            proxy, auth = get_env_proxy_for_url(URL(cast(str, cfg.host)))
        except LookupError:
            proxy, auth = None, None
        if proxy is not None:
            cfg.proxy = str(proxy)
            client.rest_client.proxy = str(proxy)
            if auth is not None:
                headers = {"Proxy-Authorization": auth.encode()}
                cfg.proxy_headers = headers
                client.rest_client.proxy_headers = headers
    session: aiohttp.ClientSession = client.rest_client.pool_manager
    session._trust_env = False  # noqa: SLF001  (no public setter; the lookups above are what it did)
