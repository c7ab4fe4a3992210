"""The gateway decides once which proxy reaches the API server (never a lookup per request), and still
honours the environment's proxy and NO_PROXY as it did when it looked them up on every request."""

from __future__ import annotations

import pytest

from app.kube.config import new_gateway

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://10.20.30.40:6443", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: abc}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


@pytest.fixture
def kubeconfig(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "absent-netrc"))
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    return str(path)


async def test_environment_proxy_is_used_and_not_looked_up_again(kubeconfig, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    gw = await new_gateway(kubeconfig)
    try:
        rest = gw.api.rest_client
        assert rest.proxy == "http://proxy.example:3128"
        assert rest.pool_manager.trust_env is False
    finally:
        await gw.close()


async def test_no_proxy_for_the_api_server_means_a_direct_connection(kubeconfig, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "10.20.30.40")
    gw = await new_gateway(kubeconfig)
    try:
        assert not gw.api.rest_client.proxy
        assert gw.api.rest_client.pool_manager.trust_env is False
    finally:
        await gw.close()


async def test_without_a_proxy_the_connection_is_direct(kubeconfig) -> None:  # type: ignore[no-untyped-def]
    gw = await new_gateway(kubeconfig)
    try:
        assert not gw.api.rest_client.proxy
    finally:
        await gw.close()
