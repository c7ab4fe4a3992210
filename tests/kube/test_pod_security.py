"""Pod Security Standards on every creation path, against the local control plane (V1 of the red team):
a project member's privileged, host-namespace or hostPath pod is refused by the console's own gate, at
its line and column in YAML and on the field in the wizard, and nothing is created; the namespace carries
the level's labels for the cluster's own admission; who may change the level, and the report of the
workloads that do not meet it."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from sqlalchemy import select

from app.domain import creation, project_security
from app.domain.pod_security import Level
from app.domain.yaml import dump_yaml
from app.kube.client import CONSOLE, Actor, KubeGateway
from app.kube.errors import KubeError
from app.models import AuditEvent, PlatformRole
from tests.cluster import eventually
from tests.conftest import DemoProject, Tenants
from tests.hostile_pods import BASELINE_ONLY, HOSTILE, INVALID_ON_THE_SERVER, restricted_clean
from tests.web.test_creation_pages import post_yaml, problems_shown, yaml_browser
from tests.web.test_wizard_pages import Wizard, stateless_basics

LABELS = "pod-security.kubernetes.io/"


def _service_for(obj: dict[str, Any]) -> dict[str, Any]:
    labels = obj["spec"]["template"]["metadata"]["labels"]
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": obj["metadata"]["name"]},
            "spec": {"selector": labels, "ports": [{"name": "http-80", "port": 80, "targetPort": 80}]}}


async def _nothing_created(admin_kube: KubeGateway, namespace: str) -> None:
    for kind in ("Deployment", "StatefulSet", "Service"):
        assert await admin_kube.items(kind, namespace, actor=CONSOLE, fresh=True) == [], kind


async def test_a_new_project_is_baseline_and_its_namespace_says_so(demo: DemoProject, admin_kube: KubeGateway) -> None:
    assert demo.project.pod_security == "baseline"
    ns = await admin_kube.get("Namespace", None, demo.namespace, actor=CONSOLE, fresh=True)
    labels = ns["metadata"]["labels"]
    for mode in ("enforce", "warn", "audit"):
        assert labels[LABELS + mode] == "baseline" and labels[LABELS + mode + "-version"] == "latest"


@pytest.mark.parametrize("level", ["baseline", "restricted"])
async def test_every_hostile_pod_is_refused_by_edit_by_yaml_at_its_line(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway, level: str) -> None:
    await tenants.pod_security(demo.project, level)
    world = await yaml_browser(demo, tenants)
    for case, obj in HOSTILE:
        text = dump_yaml([_service_for(obj), obj])
        resp = await post_yaml(world, text=text, action="create")
        assert resp.status_code == 422, case
        shown = problems_shown(resp.text)
        assert "line" in shown and obj["metadata"]["name"] in resp.text, (case, shown)
    await _nothing_created(admin_kube, demo.namespace)


async def test_an_uploaded_file_is_judged_like_the_editor(demo: DemoProject, tenants: Tenants,
                                                          admin_kube: KubeGateway) -> None:
    world = await yaml_browser(demo, tenants)
    for case, obj in HOSTILE[:8]:
        resp = await post_yaml(world, files=[("app.yaml", dump_yaml([_service_for(obj), obj]))], action="upload")
        assert resp.status_code == 422, case
        assert "app.yaml" in problems_shown(resp.text), case
    await _nothing_created(admin_kube, demo.namespace)


async def test_the_privileged_pod_of_the_red_team_is_refused_with_the_field_and_control(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    root = restricted_clean("rootkit", "Deployment")
    pod = root["spec"]["template"]["spec"]
    pod.update({"hostNetwork": True, "hostPID": True,
                "volumes": [{"name": "host", "hostPath": {"path": "/"}}]})
    pod["containers"][0]["securityContext"] = {"privileged": True}
    pod["containers"][0]["volumeMounts"] = [{"name": "host", "mountPath": "/host"}]
    text = dump_yaml([_service_for(root), root])
    resp = await post_yaml(await yaml_browser(demo, tenants), text=text, action="create")
    assert resp.status_code == 422
    shown = problems_shown(resp.text)
    for control in ("Privileged Containers", "Host Namespaces", "HostPath Volumes"):
        assert control in shown, shown
    privileged_line = next(i for i, line in enumerate(text.splitlines(), 1) if "privileged: true" in line)
    assert re.search(rf"line {privileged_line}\b", shown), shown
    await _nothing_created(admin_kube, demo.namespace)


async def test_the_creation_gate_refuses_the_corpus_for_every_path_as_the_operator(
        demo: DemoProject, tenants: Tenants, kube: KubeGateway, admin_kube: KubeGateway) -> None:
    """`create_all` is what the wizard, Edit Mode, Specify Workloads and Edit by YAML end in."""
    operator = Actor.user(demo.operator.uid)
    for case, obj in HOSTILE:
        outcome = await creation.create_all(kube, actor=operator, namespace=demo.namespace,
                                            objects=[_service_for(obj), copy.deepcopy(obj)],
                                            pod_security=Level.BASELINE)
        assert not outcome.ok and not outcome.created, case
        assert all(p.field.startswith("spec.") for p in outcome.problems), (case, outcome.problems)
    await _nothing_created(admin_kube, demo.namespace)


async def test_a_privileged_project_takes_the_corpus(demo: DemoProject, tenants: Tenants, kube: KubeGateway,
                                                     admin_kube: KubeGateway) -> None:
    """The same specs pass the console's gate and the API server's dry run; a few are really created."""
    await tenants.pod_security(demo.project, "privileged")
    operator = Actor.user(demo.operator.uid)
    for case, obj in HOSTILE:
        obj = {**obj, "metadata": {**obj["metadata"], "namespace": demo.namespace}}
        problems = await creation.dry_run_all(kube, actor=operator, namespace=demo.namespace, objects=[obj],
                                              pod_security=Level.PRIVILEGED)
        if case.startswith(INVALID_ON_THE_SERVER):
            assert [p.field for p in problems] == [next(p.field for p in problems if "procMount" in p.field)]
            continue
        assert problems == [], (case, problems)
    world = await yaml_browser(demo, tenants)
    made = [(c, o) for c, o in HOSTILE if c in ("privileged-ctr-deploy", "hostpath-sts", "hostnetwork-deploy")]
    assert len(made) == 3
    for case, obj in made:
        resp = await post_yaml(world, text=dump_yaml([_service_for(obj), obj]), action="create")
        assert resp.status_code == 303, (case, problems_shown(resp.text))
        world = await yaml_browser(demo, tenants)
    names = {d["metadata"]["name"] for d in await admin_kube.items("Deployment", demo.namespace, actor=CONSOLE,
                                                                    fresh=True)}
    names |= {d["metadata"]["name"] for d in await admin_kube.items("StatefulSet", demo.namespace, actor=CONSOLE,
                                                                     fresh=True)}
    assert {obj["metadata"]["name"] for _c, obj in made} <= names


async def test_baseline_allows_what_only_restricted_refuses(demo: DemoProject, tenants: Tenants,
                                                           kube: KubeGateway) -> None:
    operator = Actor.user(demo.operator.uid)
    for case, obj in BASELINE_ONLY:
        obj = {**obj, "metadata": {**obj["metadata"], "namespace": demo.namespace}}
        assert await creation.dry_run_all(kube, actor=operator, namespace=demo.namespace, objects=[obj],
                                          pod_security=Level.BASELINE) == [], case
        assert creation.pod_security_problems([obj], Level.RESTRICTED), case


# -- the wizard ---------------------------------------------------------------------------------------

async def test_the_wizard_shows_host_paths_disabled_with_the_reason_and_refuses_them(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    w = await Wizard(await tenants.browser(demo.operator), f"{demo.base}/services/-/new/stateless").open()
    await stateless_basics(w, name="hostile")
    button = re.search(r'<button[^>]*id="add-volume-hostpath"[^>]*>', w.page).group(0)  # type: ignore[union-attr]
    assert "disabled" in button and 'aria-describedby="add-volume-hostpath-why"' in button
    assert "does not allow HostPath volumes" in w.page
    # A browser without the disabled button (or a hand-made request) is refused on the field.
    resp = await w.press("add-volume:hostpath")
    assert resp.status_code == 200
    resp = await w.fill(volumes__0__name="root", volumes__0__host_path="/", volumes__0__mounts__0__mount_path="/host")
    assert resp.status_code == 422 and w.step == "volumes"
    assert "does not allow HostPath volumes" in w.message("volumes.0.host_path")
    await _nothing_created(admin_kube, demo.namespace)


async def test_the_wizard_refuses_the_host_timezone_in_a_baseline_project(demo: DemoProject, tenants: Tenants) -> None:
    w = await Wizard(await tenants.browser(demo.operator), f"{demo.base}/services/-/new/stateless").open()
    await w.fill(name="clock")
    await w.press("add-container:worker")
    box = re.search(r'<input[^>]*id="f-containers-0-sync_host_timezone"[^>]*>', w.page).group(0)  # type: ignore[union-attr]
    assert "disabled" in box
    resp = await w.fill(containers__0__image="nginx:1.25", containers__0__ports__0__container_port=80,
                        containers__0__ports__0__service_port=80, containers__0__sync_host_timezone=True)
    assert resp.status_code == 422 and w.step == "image"
    assert "does not allow HostPath volumes" in w.message("containers.0.sync_host_timezone")


async def test_edit_mode_yaml_with_a_privileged_container_is_refused_at_its_line(demo: DemoProject,
                                                                                 tenants: Tenants,
                                                                                 admin_kube: KubeGateway) -> None:
    w = await Wizard(await tenants.browser(demo.operator), f"{demo.base}/services/-/new/stateless").open()
    await stateless_basics(w, name="edited")
    await w.press("next")
    await w.press("edit-mode-on")
    text = w.form.get("yaml")
    assert "image: nginx:1.25" in text
    line_of_image = next(t for t in text.splitlines() if t.strip().endswith("image: nginx:1.25"))
    indent = " " * (len(line_of_image) - len(line_of_image.lstrip(" -")))
    hostile = text.replace(line_of_image, f"{line_of_image}\n{indent}securityContext:\n{indent}  privileged: true", 1)
    resp = await w.press("create", w.form.set("yaml", hostile))
    assert resp.status_code == 422, w.page[-2000:]
    line = next(i for i, t in enumerate(hostile.splitlines(), 1) if "privileged: true" in t)
    assert "Privileged Containers" in w.page and re.search(rf"line {line}\b", w.page), w.page[-3000:]
    await _nothing_created(admin_kube, demo.namespace)


# -- the level --------------------------------------------------------------------------------------

async def _audit(tenants: Tenants, verb: str, name: str) -> list[AuditEvent]:
    async with tenants.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        return list(await s.scalars(select(AuditEvent).where(AuditEvent.verb == verb, AuditEvent.object_name == name)
                                    .order_by(AuditEvent.id)))  # in the order written (PostgreSQL has no other)


async def test_who_may_change_the_level(demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    url = f"{demo.base}/pod-security"
    operator = await tenants.browser(demo.operator)
    await operator.get(demo.base)
    assert (await operator.post(url, {"level": "restricted"})).status_code == 403

    ws_admin = await tenants.browser(demo.admin)  # the workspace's admin
    page = await ws_admin.get(demo.base)
    assert re.search(r'id="level-privileged"[^>]*disabled', page.text)
    assert "Only a platform administrator can make a project privileged." in page.text
    resp = await ws_admin.post(url, {"level": "restricted"})
    assert resp.status_code == 303
    ns = await admin_kube.get("Namespace", None, demo.namespace, actor=CONSOLE, fresh=True)
    assert ns["metadata"]["labels"][LABELS + "enforce"] == "restricted"
    resp = await ws_admin.post(url, {"level": "privileged"})
    assert resp.status_code == 403
    assert [e.outcome for e in await _audit(tenants, "set-pod-security", demo.namespace)] == ["denied", "success", "denied"]  # operator, ws admin, ws admin
    resp = await ws_admin.post(url, {"level": "everything"})
    assert resp.status_code == 422 and "does not exist" in resp.text

    platform = await tenants.browser(await tenants.user("platform", PlatformRole.admin))
    await platform.get(demo.base)
    assert (await platform.post(url, {"level": "privileged"})).status_code == 303
    ns = await admin_kube.get("Namespace", None, demo.namespace, actor=CONSOLE, fresh=True)
    assert ns["metadata"]["labels"][LABELS + "enforce"] == "privileged"
    page = await ws_admin.get(demo.base)
    assert 'id="pod-security-level">Privileged' in page.text


async def test_the_overview_reports_workloads_that_do_not_meet_the_level(
        demo: DemoProject, tenants: Tenants, admin_kube: KubeGateway) -> None:
    made_elsewhere = restricted_clean("legacy-agent", "Deployment")
    made_elsewhere["spec"]["template"]["spec"]["hostNetwork"] = True
    await admin_kube.create(made_elsewhere, namespace=demo.namespace, actor=CONSOLE)  # e.g. by kubectl, before
    viewer = await tenants.browser(demo.viewer)

    async def shown() -> str:
        page = await viewer.get(demo.base)
        assert "legacy-agent" in page.text
        return page.text
    page = await eventually(shown, timeout=20)
    assert "Host Namespaces" in page and 'id="pod-security-findings"' in page
    assert project_security.findings([made_elsewhere], Level.PRIVILEGED) == []


async def test_the_reconciler_labels_a_namespace_made_before_levels_existed(
        demo: DemoProject, tenants: Tenants, kube: KubeGateway, admin_kube: KubeGateway) -> None:
    patch = {"metadata": {"labels": {LABELS + m: None for m in ("enforce", "warn", "audit")}}}
    await admin_kube.merge_patch("Namespace", None, demo.namespace, patch, actor=CONSOLE)
    async with tenants.app.state.sessionmaker() as s:  # type: ignore[attr-defined]
        done = await project_security.label_all(s, kube)
    assert done[demo.namespace] is True
    ns = await admin_kube.get("Namespace", None, demo.namespace, actor=CONSOLE, fresh=True)
    assert ns["metadata"]["labels"][LABELS + "enforce"] == "baseline"


async def test_external_ips_only_where_a_platform_admin_allowed_them(demo: DemoProject, tenants: Tenants,
                                                                    admin_kube: KubeGateway) -> None:
    def service(name: str) -> str:
        return dump_yaml({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                          "spec": {"selector": {"app": name}, "ports": [{"name": "http-80", "port": 80}],
                                   "externalIPs": ["203.0.113.7"]}})
    resp = await post_yaml(await yaml_browser(demo, tenants), text=service("grab"), action="create")
    assert resp.status_code == 422 and "ask a platform administrator" in problems_shown(resp.text)

    url = f"{demo.base}/external-ips"
    ws_admin = await tenants.browser(demo.admin)
    page = await ws_admin.get(demo.base)
    assert "may not set external IPs" in page.text and 'id="toggle-external-ips"' not in page.text
    assert (await ws_admin.post(url, {"allowed": "on"})).status_code == 403
    platform = await tenants.browser(await tenants.user("platform", PlatformRole.admin))
    await platform.get(demo.base)
    assert (await platform.post(url, {"allowed": "on"})).status_code == 303

    resp = await post_yaml(await yaml_browser(demo, tenants), text=service("allowed"), action="create")
    assert resp.status_code == 303, problems_shown(resp.text)
    made = await admin_kube.get("Service", demo.namespace, "allowed", actor=CONSOLE, fresh=True)
    assert made["spec"]["externalIPs"] == ["203.0.113.7"]

    await platform.get(demo.base)
    assert (await platform.post(url, {"allowed": ""})).status_code == 303
    resp = await post_yaml(await yaml_browser(demo, tenants), text=service("again"), action="create")
    assert resp.status_code == 422
    assert [e.outcome for e in await _audit(tenants, "set-external-ips", demo.namespace)] == ["denied", "success",
                                                                                               "success"]


async def test_the_api_server_itself_refuses_a_privileged_pod_by_the_namespace_label(
        demo: DemoProject, kube: KubeGateway) -> None:
    """Pod Security Admission (issue 16): a project operator who goes around the console, straight to the
    API server (impersonated: the cluster's own RBAC lets operators create pods), is refused by the
    namespace's enforce label; the same pod without the privileged bits is admitted."""
    operator = Actor.user(demo.operator.uid)

    def pod(name: str, privileged: bool) -> dict[str, Any]:
        container: dict[str, Any] = {"name": "main", "image": "busybox:1.36"}
        spec: dict[str, Any] = {"containers": [container]}
        if privileged:
            container["securityContext"] = {"privileged": True}
            spec.update({"hostPID": True, "volumes": [{"name": "host", "hostPath": {"path": "/"}}]})
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}

    with pytest.raises(KubeError) as refused:
        await kube.create(pod("rootkit", privileged=True), namespace=demo.namespace, actor=operator)
    assert refused.value.forbidden and "violates PodSecurity" in str(refused.value), str(refused.value)
    assert 'baseline:latest' in str(refused.value) and "privileged" in str(refused.value)
    await kube.create(pod("plain", privileged=False), namespace=demo.namespace, actor=operator)
    assert await kube.exists("Pod", demo.namespace, "plain", actor=operator)
    assert not await kube.exists("Pod", demo.namespace, "rootkit", actor=operator)
