"""Services a project member may not make (issue: no tenant leaves its project): external IPs, which
intercept any address's traffic (CVE-2020-8554), and ExternalName aliases of what is inside the cluster
or on the node. Refused on the form (External Service, Edit Service) and in YAML with line and column."""

from __future__ import annotations

import pytest

from app.domain import custom_services, services
from app.domain.errors import Invalid
from app.domain.service_rules import external_name_target_problem, service_abuse
from app.domain.yaml import parse_manifests

REFUSED_TARGETS = ["kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
                   "web.other-project.svc", "web.other-project.svc.cluster.local", "cluster.local",
                   "169.254.169.254", "fe80::1", "127.0.0.1", "10.96.0.1", "localhost", "api.localhost",
                   "KUBERNETES.DEFAULT.SVC.", "[::1]"]
ALLOWED_TARGETS = ["api.example.com", "db.internal.example.org", "svc.example.com", "mysql", "kubernetes.io"]


@pytest.mark.parametrize("target", REFUSED_TARGETS)
def test_external_name_targets_inside_the_cluster_or_on_the_node_are_refused(target: str) -> None:
    assert external_name_target_problem(target)


@pytest.mark.parametrize("target", ALLOWED_TARGETS)
def test_external_names_outside_are_allowed(target: str) -> None:
    assert external_name_target_problem(target) is None


def test_the_external_service_form_refuses_internal_names() -> None:
    problem = custom_services.external_name_problem("kubernetes.default.svc.cluster.local")
    assert problem and "inside the cluster" in problem
    assert custom_services.external_name_problem("api.example.com") is None


def test_edit_service_refuses_an_internal_external_name() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext", "resourceVersion": "3"},
           "spec": {"type": "ExternalName", "externalName": "api.example.com"}}
    form = services.ServiceSettingsForm(access=services.EXTERNAL_NAME, selector=[], ports=[],
                                        external_name="169.254.169.254", resource_version="3")
    with pytest.raises(Invalid) as refused:
        services.apply_service_settings(svc, form)
    assert "link-local" in refused.value.errors["spec.externalName"]


def test_yaml_with_external_ips_or_an_internal_alias_is_refused_at_its_line() -> None:
    text = """apiVersion: v1
kind: Service
metadata:
  name: grab
spec:
  selector: {app: web}
  ports: [{port: 80}]
  externalIPs:
  - 10.96.0.1
---
apiVersion: v1
kind: Service
metadata:
  name: alias
spec:
  type: ExternalName
  externalName: kubernetes.default.svc.cluster.local
"""
    result = parse_manifests(text, namespace="demo")
    assert not result.ok and not result.objects
    found = {(p.line, p.path): p.message for p in result.problems}
    assert any(line == 9 and "CVE-2020-8554" in m for (line, _), m in found.items()), found
    assert any(line == 17 and "inside the cluster" in m for (line, _), m in found.items()), found


def test_an_ordinary_service_passes() -> None:
    assert service_abuse({"spec": {"type": "ClusterIP", "ports": [{"port": 80}]}}) == []
    result = parse_manifests("apiVersion: v1\nkind: Service\nmetadata: {name: ok}\nspec:\n  type: ExternalName\n"
                             "  externalName: api.example.com\n", namespace="demo")
    assert result.ok
