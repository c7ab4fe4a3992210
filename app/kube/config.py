"""Build the process's one ApiClient: from a kubeconfig (optionally a chosen context) or in-cluster."""

from __future__ import annotations

import copy
import os
from pathlib import Path

from kubernetes_asyncio import config as kconfig
from kubernetes_asyncio.client import ApiClient, Configuration

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
        kconfig.load_incluster_config(client_configuration=cfg, try_refresh_token=True)
    cfg.connection_pool_maxsize = pool_size
    users = None
    if cfg.cert_file:
        # The API server reads a client certificate before a bearer token: users' requests, which carry
        # their own token, must not present the console's certificate too.
        users_cfg = copy.deepcopy(cfg)
        users_cfg.cert_file = users_cfg.key_file = None
        users = ApiClient(configuration=users_cfg)
    return KubeGateway(ApiClient(configuration=cfg), timeout=timeout, users_api=users)
