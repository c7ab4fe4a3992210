"""The console's own credentials can act as a Dockyard user and as nothing else (red team: "one bug or a
stolen console token is any identity in the cluster"). Each user is a ServiceAccount of their own in
`dockyard-users`, used through short-lived tokens; the console may impersonate no one."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest
import yaml

from app.kube import identity
from app.kube.client import CONSOLE, Actor, KubeGateway
from app.kube.errors import KubeError
from app.models import PlatformRole
from tests.cluster import eventually
from tests.conftest import DemoProject, Tenants


class RawConsole:
    """Requests made with the console's token exactly as a thief holding it would make them."""

    def __init__(self, kubeconfig: Path) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        self.server = config["clusters"][0]["cluster"]["server"]
        self.token = config["users"][0]["user"]["token"]
        self.ca = str(kubeconfig.parent / "pki" / "ca.crt")

    async def status(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                     body: dict | None = None, token: str | None = None) -> int:
        context = ssl.create_default_context(cafile=self.ca)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as s:
            async with s.request(method, self.server + path, json=body,
                                 headers={"Authorization": f"Bearer {token or self.token}", **(headers or {})}) as r:
                return r.status


@pytest.fixture
def raw(cluster) -> RawConsole:  # type: ignore[no-untyped-def]
    return RawConsole(Path(cluster.console_kubeconfig))


@pytest.mark.parametrize("headers", [
    {"Impersonate-User": "system:admin"},
    {"Impersonate-User": "admin"},
    {"Impersonate-User": "kubernetes-admin"},
    {"Impersonate-User": "dockyard:user:anyone"},  # the old prefix: no longer a way in
    {"Impersonate-User": "system:serviceaccount:kube-system:namespace-controller"},
    {"Impersonate-User": "system:serviceaccount:dockyard-users:user-x"},  # not even its own users' names
    {"Impersonate-User": "someone", "Impersonate-Group": "system:masters"},
    {"Impersonate-User": "someone", "Impersonate-Extra-Scopes": "all"},
], ids=lambda h: "+".join(h.values()))
async def test_the_console_token_impersonates_no_one(raw: RawConsole, headers: dict[str, str]) -> None:
    assert await raw.status("GET", "/api/v1/namespaces/kube-system/secrets", headers=headers) == 403


async def test_the_console_token_cannot_mint_tokens_or_accounts_outside_dockyard_users(raw: RawConsole) -> None:
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
    for ns, sa in (("kube-system", "default"), ("kube-system", "namespace-controller"), ("dockyard-system", "dockyard"),
                   ("default", "default")):
        assert await raw.status("POST", f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token", body=request) == 403
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sneaky"}}
    assert await raw.status("POST", "/api/v1/namespaces/kube-system/serviceaccounts", body=account) == 403
    # ... nor read or change the users' accounts in any other way (no list, no update, no Secrets).
    assert await raw.status("GET", "/api/v1/namespaces/dockyard-users/serviceaccounts") == 403
    assert await raw.status("GET", "/api/v1/namespaces/dockyard-users/secrets") == 403


async def test_a_user_reaches_the_cluster_as_their_own_account_and_only_with_their_roles(
        demo: DemoProject, kube: KubeGateway, admin_kube: KubeGateway) -> None:
    operator = Actor.user(demo.operator.uid)
    with pytest.raises(KubeError) as refused:
        await kube.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                           "metadata": {"name": "me-admin"},
                           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                       "name": "cluster-admin"},
                           "subjects": [identity.subject(demo.operator.uid)]},
                          namespace=demo.namespace, actor=operator)
    assert refused.value.forbidden
    assert f"system:serviceaccount:dockyard-users:user-{demo.operator.uid}" in refused.value.message
    account = await admin_kube.get("ServiceAccount", identity.USERS_NAMESPACE, identity.account_name(demo.operator.uid),
                                   actor=CONSOLE, fresh=True)
    assert account["automountServiceAccountToken"] is False
    assert await kube.items("Service", demo.namespace, actor=operator) == []  # its project role works


async def test_disabling_a_user_revokes_their_tokens_at_once(demo: DemoProject, tenants: Tenants, kube: KubeGateway,
                                                            raw: RawConsole, admin_kube: KubeGateway) -> None:
    token = await kube.tokens.token(demo.viewer.uid)
    path = f"/api/v1/namespaces/{demo.namespace}/services"
    assert await raw.status("GET", path, token=token) == 200
    admin = await tenants.browser(await tenants.user("root", PlatformRole.admin))
    await admin.get("/admin/users")
    assert (await admin.post(f"/admin/users/{demo.viewer.username}/disable")).status_code == 303

    async def revoked() -> bool:
        return await raw.status("GET", path, token=token) == 401
    assert await eventually(revoked, timeout=10)
    with pytest.raises(KubeError) as gone:
        await admin_kube.get("ServiceAccount", identity.USERS_NAMESPACE, identity.account_name(demo.viewer.uid),
                             actor=CONSOLE, fresh=True)
    assert gone.value.not_found
