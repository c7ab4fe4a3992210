"""The gateway against the real API server: errors arrive as one typed KubeError, and the cluster
itself enforces what the console's identity and the users it acts for may do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, Configuration

from app.kube import identity
from app.kube.client import CONSOLE, Actor, KubeGateway
from app.kube.errors import KubeError
from devcluster import K8S_VERSION
from tests.cluster import eventually, unique_name

pytestmark = pytest.mark.cluster

Obj = dict[str, Any]


def config_map(name: str, data: dict[str, str] | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data or {"k": "v"}}


def deployment(name: str) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}}


async def bind(kube: KubeGateway, namespace: str, user: Actor, role: str, *, actor: Actor = CONSOLE) -> Obj:
    """What the console's reconciler does: a RoleBinding of a Dockyard role for a user."""
    assert user.user_id is not None
    return await kube.create({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": f"{role}-{user.user_id}",
                     "labels": {"app.kubernetes.io/managed-by": "dockyard"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [identity.subject(user.user_id)],
    }, namespace=namespace, actor=actor)


# -- error mapping ---------------------------------------------------------------------------------

async def test_a_missing_object_is_404_not_found(admin_kube: KubeGateway, namespace: str) -> None:
    with pytest.raises(KubeError) as err:
        await admin_kube.get("ConfigMap", namespace, "nope", actor=CONSOLE)
    assert err.value.not_found and err.value.reason == "NotFound"
    assert err.value.kind == "configmaps" and err.value.name == "nope"
    assert not await admin_kube.exists("ConfigMap", namespace, "nope", actor=CONSOLE)


async def test_creating_twice_is_409_already_exists(admin_kube: KubeGateway, namespace: str) -> None:
    await admin_kube.create(config_map("twice"), namespace=namespace, actor=CONSOLE)
    with pytest.raises(KubeError) as err:
        await admin_kube.create(config_map("twice"), namespace=namespace, actor=CONSOLE)
    assert err.value.conflict and err.value.reason == "AlreadyExists"


async def test_replacing_with_a_stale_resource_version_is_409_conflict(admin_kube: KubeGateway,
                                                                       namespace: str) -> None:
    created = await admin_kube.create(config_map("edited"), namespace=namespace, actor=CONSOLE)
    stale = created["metadata"]["resourceVersion"]
    await admin_kube.merge_patch("ConfigMap", namespace, "edited", {"data": {"k": "changed"}}, actor=CONSOLE)
    edit = config_map("edited", {"k": "mine"})
    edit["metadata"]["resourceVersion"] = stale
    with pytest.raises(KubeError) as err:
        await admin_kube.replace(edit, namespace=namespace, actor=CONSOLE)
    assert err.value.conflict and err.value.reason == "Conflict"
    current = await admin_kube.get("ConfigMap", namespace, "edited", actor=CONSOLE)
    assert current["data"] == {"k": "changed"}


async def test_an_invalid_object_is_422_with_the_field_causes(admin_kube: KubeGateway,
                                                              namespace: str) -> None:
    with pytest.raises(KubeError) as err:
        await admin_kube.create(config_map("Not_A_Valid_Name"), namespace=namespace, actor=CONSOLE)
    assert err.value.invalid and err.value.reason == "Invalid"
    assert any(c.field == "metadata.name" and c.reason == "FieldValueInvalid" for c in err.value.causes)


async def test_dry_run_validates_but_creates_nothing(admin_kube: KubeGateway, namespace: str) -> None:
    answer = await admin_kube.create(deployment("dry"), namespace=namespace, actor=CONSOLE, dry_run=True)
    assert answer["metadata"]["name"] == "dry"
    assert not await admin_kube.exists("Deployment", namespace, "dry", actor=CONSOLE)
    with pytest.raises(KubeError) as err:
        await admin_kube.create(deployment("Bad_Name"), namespace=namespace, actor=CONSOLE, dry_run=True)
    assert err.value.invalid


async def test_a_silent_watch_ends_in_a_timeout_error(admin_kube: KubeGateway, namespace: str) -> None:
    listing = await admin_kube.list("ConfigMap", namespace, actor=CONSOLE)
    rv = listing["metadata"]["resourceVersion"]
    with pytest.raises(KubeError) as err:
        async for _event in admin_kube.watch("ConfigMap", namespace, actor=CONSOLE, resource_version=rv,
                                             idle_timeout=0.5):
            pass
    assert err.value.status == 0 and err.value.reason == "Timeout"


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP server that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for w in held:
        w.close()
    server.close()
    await server.wait_closed()


async def test_a_server_that_does_not_answer_is_a_timeout_error(silent_server: int) -> None:
    cfg = Configuration(host=f"http://127.0.0.1:{silent_server}")
    gw = KubeGateway(ApiClient(configuration=cfg), timeout=0.5)
    try:
        with pytest.raises(KubeError) as err:
            await gw.get("ConfigMap", "default", "x", actor=CONSOLE)
        assert err.value.status == 0 and err.value.reason == "Timeout"
    finally:
        await gw.close()


async def test_a_closed_port_is_an_unreachable_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gw = KubeGateway(ApiClient(configuration=Configuration(host=f"http://127.0.0.1:{port}")), timeout=2)
    try:
        with pytest.raises(KubeError) as err:
            await gw.version()
        assert err.value.status == 0 and err.value.reason == "Unreachable"
    finally:
        await gw.close()


# -- the console's identity and impersonation --------------------------------------------------------

async def test_the_console_itself_cannot_create_a_deployment_or_read_secrets(console_kube: KubeGateway,
                                                                             namespace: str) -> None:
    with pytest.raises(KubeError) as err:
        await console_kube.create(deployment("direct"), namespace=namespace, actor=CONSOLE)
    assert err.value.forbidden and err.value.reason == "Forbidden"
    with pytest.raises(KubeError) as err:
        await console_kube.list("Secret", namespace, actor=CONSOLE)
    assert err.value.forbidden


async def test_the_console_reads_health_and_schema(console_kube: KubeGateway) -> None:
    assert (await console_kube.version())["gitVersion"] == f"v{K8S_VERSION}"
    assert await console_kube.get_text("/readyz") == "ok"
    schema = await console_kube.openapi_v2()
    assert "io.k8s.api.apps.v1.Deployment" in schema["definitions"]


async def test_the_console_creates_and_labels_project_namespaces_but_cannot_delete_them(
        console_kube: KubeGateway, admin_kube: KubeGateway) -> None:
    name = unique_name("proj")
    await console_kube.create({"apiVersion": "v1", "kind": "Namespace",
                               "metadata": {"name": name, "labels": {"dockyard.dev/test": "true"}}},
                              namespace=None, actor=CONSOLE)
    try:
        patched = await console_kube.merge_patch("Namespace", None, name,
                                                 {"metadata": {"labels": {"dockyard.dev/project": "p1"}}},
                                                 actor=CONSOLE)
        assert patched["metadata"]["labels"]["dockyard.dev/project"] == "p1"
        with pytest.raises(KubeError) as err:
            await console_kube.delete("Namespace", None, name, actor=CONSOLE)
        assert err.value.forbidden
    finally:
        await admin_kube.delete("Namespace", None, name, actor=CONSOLE)


async def test_the_console_binds_only_dockyard_roles(console_kube: KubeGateway, namespace: str) -> None:
    user = Actor.user(unique_name("u"))
    await bind(console_kube, namespace, user, "dockyard-project-admin")
    for role in ("cluster-admin", "admin", "edit"):
        with pytest.raises(KubeError) as err:
            await bind(console_kube, namespace, user, role)
        assert err.value.forbidden, role


async def test_an_impersonated_viewer_reads_but_the_api_server_refuses_its_writes(
        console_kube: KubeGateway, namespace: str) -> None:
    viewer = Actor.user(unique_name("viewer"))
    await bind(console_kube, namespace, viewer, "dockyard-project-viewer")

    # RBAC caches settle quickly; the first read may race the new binding.
    await eventually(lambda: console_kube.list("Pod", namespace, actor=viewer))
    assert (await console_kube.list("ConfigMap", namespace, actor=viewer))["items"] is not None
    with pytest.raises(KubeError) as err:
        await console_kube.create(deployment("nope"), namespace=namespace, actor=viewer)
    assert err.value.forbidden
    assert viewer.identity is not None and viewer.identity in err.value.message


async def test_an_impersonated_user_without_a_binding_sees_nothing(console_kube: KubeGateway,
                                                                   namespace: str) -> None:
    stranger = Actor.user(unique_name("stranger"))
    with pytest.raises(KubeError) as err:
        await console_kube.list("Pod", namespace, actor=stranger)
    assert err.value.forbidden


async def test_an_impersonated_operator_deploys_but_cannot_touch_rbac_or_the_namespace(
        console_kube: KubeGateway, namespace: str) -> None:
    operator = Actor.user(unique_name("op"))
    await bind(console_kube, namespace, operator, "dockyard-project-operator")
    created = await eventually(
        lambda: console_kube.create(deployment("ok"), namespace=namespace, actor=operator))
    assert created["metadata"]["name"] == "ok"
    with pytest.raises(KubeError) as err:
        await bind(console_kube, namespace, Actor.user("someone"), "dockyard-project-viewer", actor=operator)
    assert err.value.forbidden
    with pytest.raises(KubeError) as err:
        await console_kube.merge_patch("Namespace", None, namespace, {"metadata": {"labels": {"x": "y"}}},
                                       actor=operator)
    assert err.value.forbidden



async def test_an_impersonated_project_admin_adds_members_but_cannot_escalate(console_kube: KubeGateway,
                                                                              namespace: str) -> None:
    admin = Actor.user(unique_name("admin"))
    await bind(console_kube, namespace, admin, "dockyard-project-admin")
    member = Actor.user(unique_name("member"))
    await eventually(lambda: bind(console_kube, namespace, member, "dockyard-project-operator", actor=admin))
    for role in ("edit", "admin", "cluster-admin"):
        with pytest.raises(KubeError) as err:
            await bind(console_kube, namespace, member, role, actor=admin)
        assert err.value.forbidden, role
    with pytest.raises(KubeError) as err:
        await console_kube.delete("Namespace", None, namespace, actor=admin)
    assert err.value.forbidden


@pytest.fixture
async def garbling_server() -> AsyncIterator[tuple[int, list[bytes]]]:
    """An HTTP server answering 200 with whatever body the test puts first in the list."""
    bodies: list[bytes] = [b"<html><body>Proxy login</body></html>"]

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = bodies[0]
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], bodies
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize("body", [b"<html><body>Proxy login</body></html>", b'{"kind": "ConfigMap", "metad',
                                  b"\xff\xfe not utf-8", b'["a", "list"]'])
async def test_an_answer_that_is_not_a_kubernetes_object_is_a_clear_error(
        garbling_server: tuple[int, list[bytes]], body: bytes) -> None:
    port, bodies = garbling_server
    bodies[0] = body
    gw = KubeGateway(ApiClient(configuration=Configuration(host=f"http://127.0.0.1:{port}")), timeout=2)
    try:
        with pytest.raises(KubeError) as err:
            await gw.get("ConfigMap", "default", "x", actor=CONSOLE)
        assert err.value.status == 0 and err.value.reason == "Unreadable"
        assert "not a Kubernetes object" in err.value.message
    finally:
        await gw.close()
