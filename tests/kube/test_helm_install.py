"""`helm install` of the chart into a real control plane of its own (issue 17): the hook Job migrates,
two replicas come up behind a Service with a disruption budget, the session secret is made once and kept
on upgrade, and the console's ServiceAccount may do what the console needs and no more (a
SelfSubjectRulesReview as that ServiceAccount)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any

import pytest

from devcluster import localcluster
from tests.unit.test_helm_chart import CHART, HELM, URL, built_helm  # noqa: F401 - the fixture builds helm

NS = "dockyard-system"
SA = f"system:serviceaccount:{NS}:dockyard"


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("helm") / "cluster"
    info = localcluster.ensure_running(root, lambda _m: None)
    yield info
    localcluster.stop(root, lambda _m: None)


def run(info: Any, *args: str, timeout: float = 240) -> str:
    program = str(HELM) if args[0] == "helm" else localcluster.kubectl()
    out = subprocess.run([program, f"--kubeconfig={info.admin_kubeconfig}", *args[1:]], capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, f"{' '.join(args)}: {out.stdout}\n{out.stderr}"
    return out.stdout


def get(info: Any, *args: str) -> dict[str, Any]:
    return json.loads(run(info, "kubectl", "get", *args, "-o", "json"))


def rules_review(info: Any, namespace: str) -> list[dict[str, Any]]:
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
              "spec": {"namespace": namespace}}
    out = subprocess.run([localcluster.kubectl(), f"--kubeconfig={info.admin_kubeconfig}", f"--as={SA}",
                          "create", "--validate=false", "-f", "-", "-o", "json"], input=json.dumps(review), capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["status"]["resourceRules"]


def allows(rules: list[dict[str, Any]], verb: str, group: str, resource: str) -> bool:
    return any((verb in r.get("verbs", []) or "*" in r.get("verbs", []))
               and (group in r.get("apiGroups", []) or "*" in r.get("apiGroups", []))
               and (resource in r.get("resources", []) or "*" in r.get("resources", [])) for r in rules)


async def test_the_chart_installs_upgrades_and_its_identity_is_least_privilege(plane: Any) -> None:
    # The plane's own bootstrap applied deploy/rbac/ already (the same objects): the release adopts them.
    install = ("helm", "install", "dockyard", str(CHART), "--namespace", NS, "--take-ownership",
               "--set", f"database.url={URL}", "--wait", "--timeout", "4m")
    await asyncio.to_thread(run, plane, *install, timeout=300)
    deployment = get(plane, "deployment", "-n", NS, "dockyard")
    assert deployment["status"].get("availableReplicas") == 2
    assert get(plane, "pdb", "-n", NS, "dockyard")["spec"]["minAvailable"] == 1
    assert get(plane, "service", "-n", NS, "dockyard")["spec"]["ports"][0]["targetPort"] == "http"
    secret = get(plane, "secret", "-n", NS, "dockyard-session")["data"]["session-secret"]
    # the migrations ran as a hook Job, which is gone once it succeeded
    jobs = get(plane, "jobs", "-n", NS)["items"]
    assert not [j for j in jobs if j["metadata"]["name"] == "dockyard-migrate"]

    upgrade = ("helm", "upgrade", "dockyard", str(CHART), "--namespace", NS, "--set", f"database.url={URL}",
               "--set", "logLevel=DEBUG", "--wait", "--timeout", "4m")
    await asyncio.to_thread(run, plane, *upgrade, timeout=300)
    assert get(plane, "secret", "-n", NS, "dockyard-session")["data"]["session-secret"] == secret  # kept

    project = json.loads(run(plane, "kubectl", "create", "namespace", "some-project", "-o", "json"))
    for namespace in (project["metadata"]["name"], NS, "dockyard-users"):
        rules = rules_review(plane, namespace)
        # never Secrets, never a workload of its own, never anyone's role but its three
        assert not allows(rules, "get", "", "secrets") and not allows(rules, "list", "", "secrets"), namespace
        assert not allows(rules, "create", "apps", "deployments") and not allows(rules, "create", "", "pods")
        assert not allows(rules, "escalate", "rbac.authorization.k8s.io", "clusterroles")
        assert not allows(rules, "impersonate", "", "users")
        # what the console needs: mirror memberships, make project namespaces, keep its watch cache
        assert allows(rules, "create", "rbac.authorization.k8s.io", "rolebindings")
        assert allows(rules, "create", "", "namespaces")
        assert allows(rules, "watch", "", "services") and allows(rules, "watch", "discovery.k8s.io", "endpointslices")
    users = rules_review(plane, "dockyard-users")
    assert allows(users, "create", "", "serviceaccounts") and allows(users, "create", "", "serviceaccounts/token")
    assert not allows(rules_review(plane, project["metadata"]["name"]), "create", "", "serviceaccounts")
    assert allows(rules_review(plane, NS), "update", "coordination.k8s.io", "leases")
