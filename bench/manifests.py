"""The objects the benchmarks create: a stateless Service as the wizard makes it (a Deployment
`<name>-v1` labelled app/version, and a Service selecting app=<name>)."""

from __future__ import annotations

from typing import Any

import yaml

Obj = dict[str, Any]
IMAGE = "nginx:1.25"


def deployment(name: str, namespace: str, replicas: int = 1, *, version: str = "v1") -> Obj:
    labels = {"app": name, "version": version}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": f"{name}-{version}",
            "namespace": namespace,
            "labels": labels,
            "annotations": {"kubesphere.io/creator": "bench"},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "container-1",
                            "image": IMAGE,
                            "imagePullPolicy": "IfNotPresent",
                            "ports": [{"name": "http-80", "containerPort": 80, "protocol": "TCP"}],
                            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                        }
                    ]
                },
            },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
        },
    }


def service(name: str, namespace: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": name, "version": "v1"},
            "annotations": {
                "kubesphere.io/serviceType": "statelessservice",
                "kubesphere.io/creator": "bench",
            },
        },
        "spec": {
            "selector": {"app": name},
            "sessionAffinity": "None",
            "ports": [{"name": "http-80", "protocol": "TCP", "port": 80, "targetPort": 80}],
        },
    }


def stateless(name: str, namespace: str, replicas: int = 1) -> list[Obj]:
    return [deployment(name, namespace, replicas), service(name, namespace)]


def as_yaml(objects: list[Obj]) -> str:
    return "---\n".join(yaml.safe_dump(o, sort_keys=False) for o in objects)
