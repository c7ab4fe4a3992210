"""Unknown fields, found with the API server's OpenAPI v2 schema (Kubernetes 1.20 drops them silently).

The fixture is the real Kubernetes v1.20.2 `api/openapi-spec/swagger.json`, trimmed to the definitions
reachable from the six creatable kinds plus Namespace and Role, with descriptions removed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from app.domain.schema_check import SchemaIndex
from app.domain.yaml import parse_manifests

FIXTURE = Path(__file__).parent.parent / "data" / "openapi-v2-excerpt.json"
SPEC: dict[str, Any] = json.loads(FIXTURE.read_text())
NS = "demo"

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "web",
        "namespace": NS,
        "labels": {"app": "web", "app.kubernetes.io/name": "web"},
        "annotations": {"kubesphere.io/alias-name": "Web"},
    },
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "nginx",
                        "image": "nginx:1.25",
                        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                        "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "a"}}}],
                        "resources": {"limits": {"cpu": "500m", "memory": "512Mi"}, "requests": {"cpu": 0.1}},
                        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 5},
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    }
                ],
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
            },
        },
    },
}

SERVICE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {
        "name": "web",
        "namespace": NS,
        "annotations": {"kubesphere.io/serviceType": "statelessservice"},
    },
    "spec": {
        "type": "NodePort",
        "selector": {"app": "web"},
        "sessionAffinity": "ClientIP",
        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
        "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http", "nodePort": 30080}],
    },
}

STATEFULSET: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "StatefulSet",
    "metadata": {"name": "db", "namespace": NS},
    "spec": {
        "serviceName": "db",
        "selector": {"matchLabels": {"app": "db"}},
        "template": {
            "metadata": {"labels": {"app": "db"}},
            "spec": {"containers": [{"name": "db", "image": "x"}]},
        },
        "volumeClaimTemplates": [
            {
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            }
        ],
    },
}


@pytest.fixture(scope="module")
def index() -> SchemaIndex:
    return SchemaIndex.from_openapi(SPEC)


def test_correct_deployment_service_and_statefulset_have_no_unknown_fields(index: SchemaIndex) -> None:
    for obj in (DEPLOYMENT, SERVICE, STATEFULSET):
        assert index.unknown_fields(obj) == []


def test_the_other_creatable_kinds_are_known(index: SchemaIndex) -> None:
    objs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a.conf": "x"},
         "binaryData": {"b": "AAAA"}, "immutable": True},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque",
         "stringData": {"password": "x"}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "p"},
         "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local",
                  "resources": {"requests": {"storage": "1Gi"}}}},
    ]
    assert [index.unknown_fields(o) for o in objs] == [[], [], []]


def test_service_port_inside_container_ports_is_found(index: SchemaIndex) -> None:
    obj = copy.deepcopy(DEPLOYMENT)
    ports = obj["spec"]["template"]["spec"]["containers"][0]["ports"]
    ports.append({"containerPort": 9090, "servicePort": 90})
    assert index.unknown_fields(obj) == ["spec.template.spec.containers[0].ports[1].servicePort"]


def test_unknown_top_level_spec_key_is_found(index: SchemaIndex) -> None:
    obj = copy.deepcopy(SERVICE)
    obj["spec"]["externalIp"] = "1.2.3.4"  # the field is externalIPs
    obj["spec2"] = {}
    assert index.unknown_fields(obj) == ["spec.externalIp", "spec2"]


def test_unknown_fields_in_metadata_and_in_nested_definitions_are_found(index: SchemaIndex) -> None:
    obj = copy.deepcopy(STATEFULSET)
    obj["metadata"]["lables"] = {"app": "db"}
    obj["spec"]["volumeClaimTemplates"][0]["spec"]["size"] = "1Gi"
    obj["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limit": {"cpu": "1"}}
    assert index.unknown_fields(obj) == [
        "metadata.lables",
        "spec.template.spec.containers[0].resources.limit",
        "spec.volumeClaimTemplates[0].spec.size",
    ]


def test_maps_take_any_key_and_odd_keys_are_bracketed(index: SchemaIndex) -> None:
    obj = copy.deepcopy(SERVICE)
    obj["metadata"]["labels"] = {"any.key/at-all": "v", "x": "y"}
    obj["spec"]["selector"] = {"app.kubernetes.io/name": "web"}
    assert index.unknown_fields(obj) == []
    obj["spec"]["ports"][0]["app.kubernetes.io/x"] = 1
    assert index.unknown_fields(obj) == ["spec.ports[0][app.kubernetes.io/x]"]


def test_int_or_string_and_quantities_are_leaves(index: SchemaIndex) -> None:
    obj = copy.deepcopy(SERVICE)
    obj["spec"]["ports"][0]["targetPort"] = 8080
    assert index.unknown_fields(obj) == []
    obj["spec"]["ports"][0]["targetPort"] = {"port": 8080}  # a wrong type is the server's to report
    assert index.unknown_fields(obj) == []


def test_free_form_objects_are_not_checked(index: SchemaIndex) -> None:
    obj = copy.deepcopy(SERVICE)
    obj["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {"f:ports": {}}}}]
    assert index.unknown_fields(obj) == []


def test_only_the_requested_kinds_and_what_they_reach_are_indexed(index: SchemaIndex) -> None:
    assert index.covers("apps/v1", "Deployment") and index.covers("v1", "Service")
    assert not index.covers("v1", "Namespace")
    assert not index.covers("rbac.authorization.k8s.io/v1", "Role")
    assert index.definition_count < len(SPEC["definitions"])
    with pytest.raises(LookupError):
        index.unknown_fields({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}})

    kinds = [("v1", "Namespace"), ("rbac.authorization.k8s.io/v1", "Role")]
    wider = SchemaIndex.from_openapi(SPEC, kinds=kinds)
    assert wider.covers("rbac.authorization.k8s.io/v1", "Role")
    assert not wider.covers("v1", "Service")
    assert wider.unknown_fields({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"},
                                 "spec": {"finalizers": ["kubernetes"], "owner": "me"}}) == ["spec.owner"]


def test_the_index_keeps_no_reference_to_the_document() -> None:
    spec = copy.deepcopy(SPEC)
    index = SchemaIndex.from_openapi(spec)
    spec["definitions"].clear()
    assert index.unknown_fields({**SERVICE, "spex": {}}) == ["spex"]


def test_gate_output_checked_against_the_schema() -> None:
    text = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx
          ports:
            - containerPort: 80
              servicePort: 80
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
"""
    result = parse_manifests(text, namespace=NS)
    index = SchemaIndex.from_openapi(SPEC)
    assert [index.unknown_fields(m.obj) for m in result.objects] == [
        ["spec.template.spec.containers[0].ports[0].servicePort"],
        [],
    ]
