"""Valid everywhere (issue 16): every manifest Dockyard writes validates, strictly (no unknown field),
against the published schemas of Kubernetes 1.30 to 1.37: the wizard's objects over a generated corpus
(both flavours, every access mode, probes, volumes, claim templates), the golden examples, External
Service and Specify Workloads in each of their shapes, the Edit by YAML starting text, and the results of
Edit Service and Edit External Access."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from app.domain import services as svc
from app.domain import yaml_creation
from app.domain.custom_services.build import external_service, workloads_service
from app.domain.custom_services.steps import AdvancedSettings, BasicInfo, ExternalAddress, ServiceSettings
from app.domain.wizard import Draft, WizardStep
from app.domain.yaml import parse_manifests
from tests.unit.test_wizard import GOLDEN, walked

VERSIONS = [f"1.{minor}.0" for minor in range(30, 38)]
NS = "demo-project"


def assert_valid(obj: dict[str, Any]) -> None:
    for version in VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            raise AssertionError(f"{obj['kind']} {obj['metadata'].get('name')} on {version}: {e.message} "
                                 f"at {'/'.join(map(str, e.path))}") from None


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(walked())
def test_the_wizards_objects_are_valid_on_every_supported_release(case: tuple[Draft, dict[str, WizardStep]]) -> None:
    draft, _values = case
    for obj in draft.objects(namespace=NS, creator="project-regular"):
        assert_valid(obj)


@pytest.mark.parametrize("name", sorted(p.name for p in GOLDEN.glob("*.yaml")))
def test_the_golden_examples_are_valid(name: str) -> None:
    result = parse_manifests((GOLDEN / name).read_text(), namespace=NS)
    assert result.ok, result.problems
    for manifest in result.objects:
        assert_valid(manifest.obj)


BASIC = BasicInfo(name="partner-api", alias="Partner-API", description="upstream")
SETTINGS = {
    "virtual-ip": ServiceSettings.model_validate({"access_mode": "virtual_ip", "selector": [
        {"key": "app", "value": "web"}], "ports": [
        {"protocol": "HTTP", "name": "http-web", "container_port": 8080, "service_port": 80},
        {"protocol": "UDP", "name": "udp-dns", "container_port": 53, "service_port": 53}]}),
    "headless": ServiceSettings.model_validate({"access_mode": "headless", "selector": [
        {"key": "app", "value": "db"}], "ports": []}),
}
ADVANCED = {
    "none": AdvancedSettings(),
    "node-port": AdvancedSettings.model_validate({"access": "NodePort", "node_ports": [
        {"name": "http-web", "node_port": 30080}], "labels": [{"key": "tier", "value": "front"}]}),
    "load-balancer-sticky": AdvancedSettings.model_validate({
        "access": "LoadBalancer", "service_annotations": [{"key": "lb.kubesphere.io/v1alpha1", "value": "openelb"}],
        "sticky_session": True, "sticky_timeout": 600}),
}


@pytest.mark.parametrize("settings_name", list(SETTINGS))
@pytest.mark.parametrize("advanced_name", list(ADVANCED))
def test_specify_workloads_services_are_valid(settings_name: str, advanced_name: str) -> None:
    assert_valid(workloads_service(BASIC, SETTINGS[settings_name], ADVANCED[advanced_name], namespace=NS,
                                   creator="project-regular"))


def test_external_services_and_the_yaml_template_are_valid() -> None:
    assert_valid(external_service(BASIC, ExternalAddress(external_name="api.example.com"), namespace=NS,
                                  creator="project-regular"))
    # the starting text leaves the names for the user to write: with one, each object is valid
    documents = [d for d in yaml.safe_load_all(yaml_creation.template(NS)) if d]
    assert documents
    for doc in documents:
        doc.setdefault("metadata", {}).update(name=doc["metadata"].get("name") or "web")
        assert_valid(doc)


def test_the_results_of_the_edits_are_valid() -> None:
    current = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": NS,
                                                                    "resourceVersion": "7"},
               "spec": {"type": "NodePort", "clusterIP": "10.96.0.9", "selector": {"app": "web"},
                        "ports": [{"name": "http-0", "protocol": "TCP", "port": 80, "targetPort": 80,
                                   "nodePort": 30080}]}}
    form = svc.ServiceSettingsForm.of(current)
    form.ports.append(svc.PortRow(name="grpc-api", protocol="GRPC", target_port="9090", port="9090"))
    form.ports.append(svc.PortRow(name="metrics", protocol="TCP", target_port="metrics", port="9100"))
    assert_valid(svc.apply_service_settings(current, form))
    for mode in ("None", "NodePort", "LoadBalancer"):
        access = svc.ExternalAccessForm(mode=mode, node_ports=None, annotations=None, resource_version="7")
        assert_valid(svc.apply_external_access(current, access))
