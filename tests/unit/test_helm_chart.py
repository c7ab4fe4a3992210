"""The Helm chart (issue 17): `helm lint`, and `helm template` of several value sets whose every object
validates against the published schemas of Kubernetes 1.30 to 1.37; restricted pods, two replicas with a
disruption budget, spread across nodes; the console's RBAC exactly deploy/rbac's; bad values refused.
Helm is the pinned build of scripts/build-helm.sh."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "dockyard"
HELM = Path(os.environ.get("DOCKYARD_HELM", Path.home() / ".cache" / "dockyard" / "helm-4.3.2" / "helm"))
HELM3 = Path(os.environ.get("DOCKYARD_HELM3", Path.home() / ".cache" / "dockyard" / "helm-3.21.4" / "helm"))
SCHEMA_VERSIONS = [f"1.{minor}.0" for minor in range(30, 38)]
URL = "postgresql+asyncpg://dockyard:pw@db.example.com:5432/dockyard"
CRDS = {"HTTPRoute"}  # not in the core schemas (Gateway API): checked by their own fields below

VALUE_SETS: dict[str, list[str]] = {
    "defaults": [f"database.url={URL}"],
    "existing-secrets": ["database.existingSecret=dockyard-db", "sessionSecret.existingSecret=dockyard-session",
                         "metrics.existingSecret=dockyard-metrics", "bootstrapAdmin.existingSecret=dockyard-admin"],
    "ingress-tls": [f"database.url={URL}", "ingress.enabled=true", "ingress.className=nginx",
                    "ingress.hosts[0].host=dockyard.example.com", "ingress.tls[0].secretName=dockyard-tls",
                    "ingress.tls[0].hosts[0]=dockyard.example.com", "secureCookies=true",
                    "trustedProxies=10.0.0.0/8"],
    "gateway": [f"database.url={URL}", "httpRoute.enabled=true", "httpRoute.parentRefs[0].name=public",
                "httpRoute.parentRefs[0].namespace=gateway-system", "httpRoute.hostnames[0]=dockyard.example.com"],
    "one-replica": [f"database.url={URL}", "replicaCount=1", "topologySpread=false", "migrations.enabled=false"],
    "single-sign-on": [f"database.url={URL}", "oidc.issuer=https://idp.example.com/realms/main",
                       "oidc.clientId=dockyard", "oidc.existingSecret=dockyard-oidc", "oidc.displayName=Corp SSO",
                       "oidc.adminGroups[0]=platform-team", "oidc.adminGroups[1]=ops",
                       "oidc.selfProvisionerGroups[0]=builders"],
}

@pytest.fixture(scope="module", autouse=True)
def built_helm() -> None:
    """The pinned Helm, built once and cached (seconds when it is)."""
    if not HELM.exists():
        out = subprocess.run(["bash", str(REPO / "scripts" / "build-helm.sh")], capture_output=True, text=True,
                             timeout=1800)
        assert out.returncode == 0, out.stdout + out.stderr


def helm(*args: str, program: Path = HELM) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(program), *args], capture_output=True, text=True, timeout=120)


def render(values: list[str], program: Path = HELM) -> list[dict[str, Any]]:
    args = [a for v in values for a in ("--set", v)]
    # the cluster's version as the tests' control plane has it (a Helm built from its module otherwise
    # assumes the version of the client-go it was built with, 1.20 for Helm 3)
    out = helm("template", "dockyard", str(CHART), "--namespace", "dockyard-system", "--kube-version", "1.37.2",
               *args, program=program)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def test_helm_lint_passes() -> None:
    out = helm("lint", str(CHART), "--strict", "--set", f"database.url={URL}")
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.fixture(scope="module")
def helm3() -> Path:
    """Helm 3 (the chart says it works with 3 and 4), pinned, built once like Helm 4."""
    if not HELM3.exists():
        out = subprocess.run(["bash", str(REPO / "scripts" / "build-helm.sh"), "v3.21.4"], capture_output=True,
                             text=True, timeout=1800)
        assert out.returncode == 0, out.stdout + out.stderr
    return HELM3


def test_helm_3_lints_the_chart_and_renders_what_helm_4_renders(helm3: Path) -> None:
    out = helm("lint", str(CHART), "--strict", "--set", f"database.url={URL}", program=helm3)
    assert out.returncode == 0, out.stdout + out.stderr
    def comparable(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for o in objects:  # a generated session secret is random at each render: compare its keys only
            if o["kind"] == "Secret":
                o["data"] = sorted(o.get("data") or {})
                o["stringData"] = sorted(o.get("stringData") or {})
        return objects
    for name, values in VALUE_SETS.items():
        assert comparable(render(values, program=helm3)) == comparable(render(values)), name


@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_every_rendered_object_is_valid_on_1_30_to_1_37(name: str) -> None:
    import kubernetes_validate

    objects = render(VALUE_SETS[name])
    assert objects
    for obj in objects:
        if obj["kind"] in CRDS:
            continue
        for version in SCHEMA_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)  # raises on any unknown or wrong field


def test_the_console_runs_restricted_two_replicas_spread_with_a_budget_and_probes() -> None:
    objects = render(VALUE_SETS["defaults"])
    [deployment] = by_kind(objects, "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 2
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["seccompProfile"] == {
        "type": "RuntimeDefault"}
    [console] = spec["containers"]
    sc = console["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["privileged"] is False
    assert console["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert console["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {c["topologyKey"] for c in spec["topologySpreadConstraints"]} >= {"kubernetes.io/hostname"}
    env = {e["name"]: e for e in console["env"]}
    assert env["DOCKYARD_ENV"]["value"] == "production"  # no demo tenants, no default secret
    assert env["DOCKYARD_SESSION_SECRET"]["valueFrom"]["secretKeyRef"]["key"] == "session-secret"
    assert env["DOCKYARD_LEASE_NAMESPACE"]["value"] == "dockyard-system"
    [pdb] = by_kind(objects, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    [job] = by_kind(objects, "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "upgrade"]
    session = next(s for s in by_kind(objects, "Secret") if s["metadata"]["name"].endswith("-session"))
    assert len(session["data"]["session-secret"]) >= 48  # generated: 48 random characters, base64
    assert not by_kind(objects, "Ingress") and not by_kind(objects, "HTTPRoute")
    assert not by_kind(render(VALUE_SETS["one-replica"]), "PodDisruptionBudget")


def test_ingress_and_route_point_at_the_service() -> None:
    [ingress] = by_kind(render(VALUE_SETS["ingress-tls"]), "Ingress")
    assert ingress["spec"]["tls"][0]["secretName"] == "dockyard-tls"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "dockyard" and backend["port"] == {"name": "http"}
    [route] = by_kind(render(VALUE_SETS["gateway"]), "HTTPRoute")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["parentRefs"] == [{"name": "public", "namespace": "gateway-system"}]
    assert route["spec"]["rules"][0]["backendRefs"] == [{"name": "dockyard", "port": 80}]


def _rules(objects: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    return {(o["kind"], o["metadata"]["name"]): o["rules"] for o in objects if o["kind"] in ("Role", "ClusterRole")}


def test_the_charts_rbac_is_exactly_deploy_rbac() -> None:
    chart = _rules(render(VALUE_SETS["defaults"]))
    files = [d for f in ("console.yaml", "project-roles.yaml")
             for d in yaml.safe_load_all((REPO / "deploy" / "rbac" / f).read_text()) if d]
    assert chart == _rules(files)
    [binding] = [o for o in render(VALUE_SETS["defaults"]) if o["kind"] == "ClusterRoleBinding"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "dockyard", "namespace": "dockyard-system"}]


@pytest.mark.parametrize("values, message", [
    ([], "set database.url"),
    (["database.url=mysql://x"], "/database/url"),
    (["database.url=" + URL, "replicaCount=0"], "replicaCount"),
    (["database.url=" + URL, "service.type=Bogus"], "/service/type"),
    (["database.url=" + URL, "nosuchvalue=1"], "nosuchvalue"),
    (["database.url=" + URL, "httpRoute.enabled=true"], "httpRoute.parentRefs"),
    (["database.url=" + URL, "oidc.issuer=https://idp.example.com"], "/oidc/clientId"),
    (["database.url=" + URL, "oidc.issuer=http://idp.example.com", "oidc.clientId=x"], "/oidc/issuer"),
    (["database.url=" + URL, "oidc.issuer=https://idp.example.com", "oidc.clientId=x", "oidc.scopes=email"],
     "/oidc/scopes"),
])
def test_bad_values_are_refused_with_what_is_wrong(values: list[str], message: str) -> None:
    args = [a for v in values for a in ("--set", v)]
    out = helm("template", "dockyard", str(CHART), *args)
    assert out.returncode != 0 and message in out.stderr, out.stderr


def test_the_first_admin_can_come_from_a_bootstrap_secret() -> None:
    [deployment] = by_kind(render(VALUE_SETS["existing-secrets"]), "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    [console] = spec["containers"]
    assert {"name": "DOCKYARD_BOOTSTRAP_ADMIN_DIR", "value": "/etc/dockyard/bootstrap"} in console["env"]
    assert {"name": "bootstrap-admin", "mountPath": "/etc/dockyard/bootstrap", "readOnly": True} in console["volumeMounts"]
    assert {"name": "bootstrap-admin", "secret": {"secretName": "dockyard-admin", "defaultMode": 0o400}} in spec["volumes"]
    [plain] = by_kind(render(VALUE_SETS["defaults"]), "Deployment")
    assert "bootstrap-admin" not in str(plain)


def test_single_sign_on_settings_reach_the_console_and_its_client_secret_stays_in_a_secret() -> None:
    objects = render(VALUE_SETS["single-sign-on"])
    [deployment] = by_kind(objects, "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DOCKYARD_OIDC_ISSUER"]["value"] == "https://idp.example.com/realms/main"
    assert env["DOCKYARD_OIDC_CLIENT_ID"]["value"] == "dockyard"
    assert env["DOCKYARD_OIDC_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"] == {"name": "dockyard-oidc",
                                                                               "key": "client-secret"}
    assert env["DOCKYARD_OIDC_DISPLAY_NAME"]["value"] == "Corp SSO"
    assert env["DOCKYARD_OIDC_ADMIN_GROUPS"]["value"] == "platform-team,ops"
    assert env["DOCKYARD_OIDC_SELF_PROVISIONER_GROUPS"]["value"] == "builders"
    [job] = by_kind(objects, "Job")  # the migrations need none of it
    assert not [e for e in job["spec"]["template"]["spec"]["containers"][0]["env"] if "OIDC" in e["name"]]
    [default] = by_kind(render(VALUE_SETS["defaults"]), "Deployment")
    assert not [e for e in default["spec"]["template"]["spec"]["containers"][0]["env"] if "OIDC" in e["name"]]
