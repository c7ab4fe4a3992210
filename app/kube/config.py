"""Build the process's one ApiClient: from a kubeconfig (optionally a chosen context) or in-cluster."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import cast

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from kubernetes_asyncio import config as kconfig
from kubernetes_asyncio.client import ApiClient, Configuration
from yarl import URL

from app.kube.client import KubeGateway

IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


def discover_kubeconfig(explicit: str | None) -> str | None:
    """The kubeconfig to use: DOCKYARD_KUBECONFIG, else KUBECONFIG, else ~/.kube/config; None if absent."""
    if explicit:
        return explicit
    env = os.environ.get("KUBECONFIG")
    if env:
        first = env.split(os.pathsep)[0]
        if Path(first).exists():
            return first
    home = Path.home() / ".kube" / "config"
    return str(home) if home.exists() else None


def in_cluster_available() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and IN_CLUSTER_TOKEN.exists()


async def new_gateway(kubeconfig: str | None, context: str | None = None, *, timeout: float = 10.0,
                      pool_size: int = 64) -> KubeGateway:
    """A gateway for a kubeconfig file, or for the in-cluster service account when `kubeconfig` is None."""
    cfg = Configuration()
    if kubeconfig:
        await kconfig.load_kube_config(config_file=kubeconfig, context=context, client_configuration=cfg)
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
    return KubeGateway(api, timeout=timeout, users_api=users)


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
