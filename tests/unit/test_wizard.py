"""The Create Service wizard's domain: steps, their rules and messages, the manifests they build, and
the lossless form <-> manifests <-> YAML round trip."""

from __future__ import annotations

import base64
import copy
import json
import re
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.forms import flatten, parse_form, validate_data
from app.domain.k8s.service_traffic import (
    EXTERNAL_TRAFFIC_POLICIES,
    INTERNAL_TRAFFIC_POLICIES,
    IP_FAMILIES,
    IP_FAMILY_POLICIES,
    TRAFFIC_DISTRIBUTIONS,
)
from app.domain.manifests import ACCESS_MODES, PROTOCOLS, join_list
from app.domain.wizard import (
    DRAFT_ERROR_KEY,
    MAX_TOKEN_BYTES,
    STEPS,
    AdvancedSettings,
    BasicInfo,
    ClaimTemplateRow,
    ContainerImage,
    ContainerRow,
    Draft,
    DraftError,
    StepContext,
    VolumeRow,
    Volumes,
    VolumesContext,
    WizardStep,
    check_name_available,
    field_for_cause,
    step_of,
    submit_step,
    validate_all,
)
from app.domain.yaml import dump_yaml, parse_manifests

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
NS = "demo-project"
CREATOR = "project-regular"
MYSQL_RESOURCES = VolumesContext(
    configmaps={},
    secrets={"mysql-secret": ["password"]},
    pvcs=[],
    storage_classes=["local"],
    default_storage_class="local",
)

# Messages the tests expect, word for word.
SERVICE_NAME_RULE = (
    "The name can contain only lowercase letters, numbers, and hyphens (-), must start with a lowercase "
    "letter, and must end with a lowercase letter or number. The maximum length is 63 characters."
)
ALIAS_RULE = (
    "The alias name can contain only letters, numbers, and hyphens (-), and cannot start or end with a "
    "hyphen. The maximum length is 63 characters."
)
VERSION_RULE = (
    "The version can contain only lowercase letters and numbers. The maximum length is 16 characters."
)
DESCRIPTION_RULE = "The description can contain any characters and the maximum length is 256 characters."
NEEDS_SERVICE_PORT = "Please set at least one service port: the Service needs a port to forward to the pods."
NAME_RULE = (
    "Invalid name. The name can contain only lowercase letters, numbers, and hyphens (-), and must start "
    "and end with a lowercase letter or number. The maximum length is 63 characters."
)
PORT_NAME_RULE = (
    "The port name can contain only lowercase letters, numbers and hyphens (-), and must start with a "
    "lowercase letter and end with a lowercase letter or number. The maximum length is 15 characters."
)
CPU_RULE = "Enter a number of cores with up to 3 decimal places, such as 0.5, or millicores, such as 500m."
MEMORY_RULE = "Enter a size in Mi, such as 512, or with a unit, such as 512Mi or 1Gi."
UNCLOSED_QUOTE = "A quote is not closed: end the item with the same quote it starts with."
ENV_NAME_RULE = (
    "The key of an environment variable can contain only letters, numbers, underscores (_), hyphens (-), "
    "and periods (.), and must not start with a number."
)
SUCCESS_THRESHOLD_RULE = "The success threshold must be 1 for liveness and startup checks."
MAX_SURGE_EMPTY = (
    "Please set the maximum number or percentage of extra pod replicas allowed during the update process."
)
MOUNT_PATH_IN_USE = "The mount path is already in use. Please enter another mount path."
ANNOTATION_KEY_RULE = (
    "The key can contain only letters, numbers, hyphens (-), underscores (_), and dots (.), may start with "
    "a domain name and a slash (/), and must start and end with a letter or number."
)

# ---------------------------------------------------------------------------------------------------
# Helpers: post a step the way the browser does (flat form fields)


def post(
    draft: Draft, step: type[WizardStep], data: dict[str, Any], resources: VolumesContext | None = None
) -> Draft:
    result = submit_step(draft, step.step, flatten(data), resources=resources)
    assert result.errors == {}, result.errors
    return result.draft


def errors(
    draft: Draft, step: type[WizardStep], data: dict[str, Any], resources: VolumesContext | None = None
) -> dict[str, str]:
    return submit_step(draft, step.step, flatten(data), resources=resources).errors


def current(draft: Draft, step: type[WizardStep], **changes: Any) -> dict[str, Any]:
    values = step.read(draft).form_values()
    values.update(changes)
    return values


def container(name: str = "web", image: str = "nginx:1.25", **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": image, **fields}


def http_port(
    name: str = "http-0", container_port: int = 80, service_port: int | None = 80, protocol: str = "HTTP"
) -> dict[str, Any]:
    return {
        "protocol": protocol,
        "name": name,
        "container_port": container_port,
        "service_port": service_port,
    }


def named(flavor: str = "stateless", name: str = "web", version: str = "v1") -> Draft:
    return post(Draft.new(flavor), BasicInfo, {"name": name, "version": version})  # type: ignore[arg-type]


def with_containers(flavor: str = "stateless", *containers: dict[str, Any], **image: Any) -> Draft:
    draft = named(flavor)
    rows = list(containers) or [container(ports=[http_port()])]
    return post(draft, ContainerImage, current(draft, ContainerImage, containers=rows, **image))


def golden(name: str) -> list[dict[str, Any]]:
    result = parse_manifests((GOLDEN / name).read_text(), namespace=NS)
    assert result.ok, result.problems
    return [m.obj for m in result.objects]


def nginx_demo() -> Draft:
    """kubesphere.md §2.1, entered through the four steps."""
    draft = Draft.new("stateless")
    draft = post(
        draft,
        BasicInfo,
        {"name": "nginx-demo", "alias": "Nginx-Demo", "version": "v1", "description": "demo"},
    )
    draft = post(
        draft,
        ContainerImage,
        current(
            draft,
            ContainerImage,
            containers=[
                ContainerRow.new(name="container-k3x9qa").form_values()
                | {
                    "image": "nginx:1.25",
                    "cpu_request": "0.1",
                    "cpu_limit": "0.5",
                    "memory_request": "128",
                    "memory_limit": "512",
                    "ports": [http_port()],
                    "sync_host_timezone": True,
                }
            ],
        ),
    )
    draft = post(draft, Volumes, current(draft, Volumes))
    return post(
        draft, AdvancedSettings, current(draft, AdvancedSettings, access="NodePort", sticky_session=True)
    )


def mysql() -> Draft:
    """kubesphere.md §2.2, entered through the four steps."""
    draft = post(Draft.new("stateful"), BasicInfo, {"name": "mysql", "alias": "MySQL", "version": "v1"})
    row = ContainerRow.new(name="container-7hq2mz").form_values() | {
        "image": "mysql:8.0",
        "ports": [http_port("tcp-0", 3306, 3306, "TCP")],
        "env": [
            {"type": "secret", "name": "MYSQL_ROOT_PASSWORD", "resource": "mysql-secret", "key": "password"}
        ],
    }
    draft = post(draft, ContainerImage, current(draft, ContainerImage, containers=[row]), MYSQL_RESOURCES)
    template = ClaimTemplateRow.new(["container-7hq2mz"], MYSQL_RESOURCES, name="data").form_values()
    template["capacity"] = "10"
    template["mounts"][0].update(mode="rw", mount_path="/var/lib/mysql")
    draft = post(draft, Volumes, current(draft, Volumes, volume_templates=[template]), MYSQL_RESOURCES)
    return post(draft, AdvancedSettings, current(draft, AdvancedSettings), MYSQL_RESOURCES)


# ---------------------------------------------------------------------------------------------------
# Golden manifests (kubesphere.md §2.1-2.2, without the original's artefacts)


@pytest.mark.parametrize(("build", "file"), [(nginx_demo, "stateless.yaml"), (mysql, "stateful.yaml")])
def test_golden_manifests(build: Any, file: str) -> None:
    draft = build()
    objs = draft.objects(namespace=NS, creator=CREATOR)
    expected = golden(file)
    assert objs == expected
    assert dump_yaml(objs) == dump_yaml(expected)  # same key order too: what is shown is stable
    assert validate_all(draft, MYSQL_RESOURCES) == {}


@pytest.mark.parametrize(("flavor", "file"), [("stateless", "stateless.yaml"), ("stateful", "stateful.yaml")])
def test_golden_manifests_read_back_into_the_form(flavor: str, file: str) -> None:
    draft = Draft.from_objects(golden(file), flavor)  # type: ignore[arg-type]
    assert draft.objects(namespace=NS, creator=CREATOR) == golden(file)
    built = nginx_demo() if flavor == "stateless" else mysql()
    for step in STEPS:
        assert step.read(draft) == step.read(built), step.step


def test_manifests_have_none_of_the_originals_artefacts() -> None:
    for draft in (nginx_demo(), mysql()):
        text = dump_yaml(draft.objects(namespace=NS, creator=CREATOR))
        for artefact in (
            "servicePort",
            "totalReplicas",
            "imagePullSecrets",
            "initContainers",
            "serviceAccount",
            "null",
            "type: worker",
        ):
            assert artefact not in text, artefact


# ---------------------------------------------------------------------------------------------------
# Step 1: Basic Information


def test_basic_info_applies_names_labels_and_annotations() -> None:
    draft = post(
        Draft.new("stateful"),
        BasicInfo,
        {"name": "db", "alias": "数据库", "version": "v2", "description": "main"},
    )
    w, s = draft.workload, draft.service
    assert w["metadata"]["name"] == "db-v2" and s["metadata"]["name"] == "db"
    labels = {"app": "db", "version": "v2"}
    assert (
        w["metadata"]["labels"]
        == labels
        == w["spec"]["selector"]["matchLabels"]
        == w["spec"]["template"]["metadata"]["labels"]
    )
    assert s["metadata"]["labels"] == labels and s["spec"]["selector"] == {"app": "db"}
    assert w["spec"]["serviceName"] == "db"
    assert s["metadata"]["annotations"] == {
        "kubesphere.io/serviceType": "statefulservice",
        "kubesphere.io/alias-name": "数据库",
        "kubesphere.io/description": "main",
    }


def test_basic_info_defaults_and_empty_annotations() -> None:
    assert BasicInfo.read(Draft.new("stateless")) == BasicInfo(
        name="", alias="", version="v1", description=""
    )
    draft = post(
        Draft.new("stateless"),
        BasicInfo,
        {"name": "web", "alias": "Web", "version": "v1", "description": "x"},
    )
    draft = post(draft, BasicInfo, {"name": "web", "alias": "", "version": "v1", "description": ""})
    assert draft.service["metadata"]["annotations"] == {"kubesphere.io/serviceType": "statelessservice"}


def test_renaming_moves_the_workload_and_every_label() -> None:
    draft = with_containers()
    draft = post(draft, BasicInfo, {"name": "shop", "version": "v3"})
    assert draft.workload["metadata"]["name"] == "shop-v3"
    assert draft.service["spec"]["selector"] == {"app": "shop"}
    assert draft.workload["spec"]["template"]["metadata"]["labels"] == {"app": "shop", "version": "v3"}
    assert draft.problems() == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"name": ""}, {"name": "Please set a name."}),
        (
            {"name": "Nginx"},
            {"name": SERVICE_NAME_RULE},
        ),
        (
            {"name": "1web"},
            {"name": SERVICE_NAME_RULE},
        ),
        (
            {"name": "web", "alias": "-x"},
            {"alias": ALIAS_RULE},
        ),
        ({"name": "web", "version": ""}, {"version": "Please set a version."}),
        (
            {"name": "web", "version": "V1"},
            {"version": VERSION_RULE},
        ),
        (
            {"name": "web", "version": "v" * 17},
            {"version": VERSION_RULE},
        ),
        (
            {"name": "web", "description": "x" * 257},
            {"description": DESCRIPTION_RULE},
        ),
    ],
)
def test_basic_info_rules(data: dict[str, Any], expected: dict[str, str]) -> None:
    assert errors(Draft.new("stateless"), BasicInfo, data) == expected


def test_basic_info_accepts_the_longest_names() -> None:
    assert errors(Draft.new("stateless"), BasicInfo, {"name": "a" * 60, "version": "v1"}) == {}
    assert (
        errors(Draft.new("stateless"), BasicInfo, {"name": "web", "alias": "中文-Name1", "version": "a" * 16})
        == {}
    )


def test_workload_name_length_limits() -> None:
    deployment = errors(Draft.new("stateless"), BasicInfo, {"name": "a" * 60, "version": "v12"})
    assert set(deployment) == {"version"} and "at most 63" in deployment["version"]
    # A StatefulSet's pods carry controller-revision-hash: <name>-<hash>, so its name stops at 52.
    assert errors(Draft.new("stateful"), BasicInfo, {"name": "a" * 49, "version": "v1"}) == {}
    stateful = errors(Draft.new("stateful"), BasicInfo, {"name": "a" * 50, "version": "v1"})
    assert set(stateful) == {"version"} and "at most 52" in stateful["version"]
    assert set(errors(Draft.new("stateful"), BasicInfo, {"name": "a" * 60, "version": "v1"})) == {"name"}


async def test_name_availability_uses_the_injected_lookup() -> None:
    existing = {("Service", "taken"), ("Deployment", "web-v1")}
    asked: list[tuple[str, str]] = []

    async def exists(kind: str, name: str) -> bool:
        asked.append((kind, name))
        return (kind, name) in existing

    assert await check_name_available("taken", "v1", "stateless", exists=exists) == {
        "name": "The name already exists. Please enter another name."
    }
    assert await check_name_available("web", "v1", "stateless", exists=exists) == {
        "version": "The workload web-v1 already exists. Please enter another version code."
    }
    assert await check_name_available("web", "v1", "stateful", exists=exists) == {}
    assert ("StatefulSet", "web-v1") in asked
    asked.clear()
    assert await check_name_available("Bad!", "v1", "stateless", exists=exists) == {"name": SERVICE_NAME_RULE}
    assert asked == []  # no lookup for a name that cannot exist


# ---------------------------------------------------------------------------------------------------
# Step 2: Container Image


def test_container_image_builds_containers_and_service_ports() -> None:
    draft = with_containers(
        "stateless",
        container(
            "web",
            ports=[http_port(), http_port("grpc-1", 9000, None, "GRPC")],
            command="nginx, -g, 'daemon off;'",
            args='"a, b"',
            env=[
                {"name": "MODE", "value": "prod"},
                {"type": "configmap", "name": "CFG", "resource": "cfg", "key": "k"},
            ],
            liveness={"type": "http", "path": "/healthz", "port": "80"},
            readiness={"type": "tcp", "port": "http-0"},
            startup={"type": "exec", "command": "cat, /tmp/ready"},
        ),
        container("sidecar", "envoy:1", ports=[http_port("udp-2", 53, 53, "UDP")]),
        container("setup", "busybox", type="init", ports=[http_port("tcp-3", 7000, None, "TCP")]),
    )
    pod = draft.workload["spec"]["template"]["spec"]
    web = pod["containers"][0]
    assert [c["name"] for c in pod["containers"]] == ["web", "sidecar"]
    assert [c["name"] for c in pod["initContainers"]] == ["setup"]
    assert web["command"] == ["nginx", "-g", "daemon off;"] and web["args"] == ["a, b"]
    assert web["ports"] == [
        {"name": "http-0", "protocol": "TCP", "containerPort": 80},
        {"name": "grpc-1", "protocol": "TCP", "containerPort": 9000},
    ]
    assert web["env"] == [
        {"name": "MODE", "value": "prod"},
        {"name": "CFG", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}},
    ]
    assert web["livenessProbe"] == {
        "httpGet": {"path": "/healthz", "port": 80, "scheme": "HTTP"},
        "initialDelaySeconds": 0,
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert web["readinessProbe"]["tcpSocket"] == {"port": "http-0"}
    assert web["startupProbe"]["exec"] == {"command": ["cat", "/tmp/ready"]}
    assert "type" not in web and "servicePort" not in str(pod)
    # Service ports: every worker port with a service port (optional per container); init never.
    assert draft.service["spec"]["ports"] == [
        {"name": "http-0", "protocol": "TCP", "port": 80, "targetPort": 80},
        {"name": "udp-2", "protocol": "UDP", "port": 53, "targetPort": 53},
    ]


def test_a_second_container_needs_no_service_port() -> None:  # kubesphere/kubesphere#3089
    assert (
        errors(
            named(),
            ContainerImage,
            {
                "containers": [
                    container("web", ports=[http_port()]),
                    container("sidecar", ports=[http_port("http-1", 15000, None)]),
                ]
            },
        )
        == {}
    )


def test_stateless_needs_one_service_port_stateful_does_not() -> None:
    data = {"containers": [container("web", ports=[http_port(service_port=None)])]}
    assert errors(named("stateless"), ContainerImage, data) == {"containers.0.ports": NEEDS_SERVICE_PORT}
    assert errors(named("stateful"), ContainerImage, data) == {}
    draft = post(named("stateful"), ContainerImage, data)
    assert "ports" not in draft.service["spec"] and draft.service["spec"]["clusterIP"] == "None"


@pytest.mark.parametrize(
    ("containers", "expected"),
    [
        ([], {"containers": "Please add at least one worker container."}),
        ([container("init", type="init")], {"containers": "Please add at least one worker container."}),
        ([container(image="", ports=[http_port()])], {"containers.0.image": "Please set an image."}),
        ([container(image="nginx latest", ports=[http_port()])], {"containers.0.image": "Invalid image."}),
        ([container(name="", ports=[http_port()])], {"containers.0.name": "Please set a name."}),
        (
            [container(name="Web", ports=[http_port()])],
            {"containers.0.name": NAME_RULE},
        ),
        (
            [container(ports=[http_port()]), container(ports=[http_port("http-1", 81, None)])],
            {"containers.1.name": "The name already exists. Please enter another name."},
        ),
        (
            [container(ports=[http_port("Http-0")])],
            {"containers.0.ports.0.name": PORT_NAME_RULE},
        ),
        (
            [container(ports=[http_port("http-0123456789ab")])],
            {"containers.0.ports.0.name": PORT_NAME_RULE},
        ),
        (
            [container(ports=[http_port(), http_port(container_port=81, service_port=81)])],
            {"containers.0.ports.1.name": "The port name already exists. Please enter another name."},
        ),
        (
            [
                container(ports=[http_port()]),
                container("b", ports=[http_port(container_port=81, service_port=None)]),
            ],
            {"containers.1.ports.0.name": "The port name already exists. Please enter another name."},
        ),
        (
            [container(ports=[http_port("web")])],
            {
                "containers.0.ports.0.name": (
                    "A HTTP port needs a name that starts with http-, for example http-0."
                )
            },
        ),
        (
            [container(ports=[http_port("http-0", protocol="TCP")])],
            {
                "containers.0.ports.0.name": (
                    "The name http-0 marks the port as HTTP: choose HTTP or rename the port."
                )
            },
        ),
        (
            [container(ports=[http_port(container_port=None)])],
            {"containers.0.ports.0.container_port": "Please enter a port number."},
        ),
        (
            [container(ports=[http_port(container_port=70000)])],
            {"containers.0.ports.0.container_port": "Invalid port."},
        ),
        (
            [container(ports=[http_port(service_port=0)])],
            {"containers.0.ports.0.service_port": "Invalid port."},
        ),
        (
            [container(ports=[http_port(), http_port("http-1", 81, 80)])],
            {"containers.0.ports.1.service_port": "Another port already uses this service port."},
        ),
        (
            [
                container(ports=[http_port()]),
                container("setup", type="init", ports=[http_port("http-1", 81, 81)]),
            ],
            {"containers.1.ports.0.service_port": "Init containers cannot have a service port."},
        ),
        (
            [
                container(
                    ports=[
                        http_port(),
                        {"protocol": "HTTP", "name": "", "container_port": "", "service_port": ""},
                    ]
                )
            ],
            {},
        ),
        (
            [container(ports=[http_port()], cpu_request="abc")],
            {"containers.0.cpu_request": CPU_RULE},
        ),
        (
            [container(ports=[http_port()], cpu_request="0.1234")],
            {"containers.0.cpu_request": CPU_RULE},
        ),
        (
            [container(ports=[http_port()], memory_limit="lots")],
            {"containers.0.memory_limit": MEMORY_RULE},
        ),
        (
            [container(ports=[http_port()], cpu_request="1", cpu_limit="500m")],
            {"containers.0.cpu_request": "Resource requests cannot be greater than resource limits."},
        ),
        (
            [container(ports=[http_port()], memory_request="1Gi", memory_limit="512")],
            {"containers.0.memory_request": "Resource requests cannot be greater than resource limits."},
        ),
        (
            [container(ports=[http_port()], command='sh, "-c')],
            {"containers.0.command": UNCLOSED_QUOTE},
        ),
        (
            [container(ports=[http_port()], env=[{"name": "", "value": "x"}])],
            {"containers.0.env.0.name": "Please set a key for the environment variable."},
        ),
        (
            [container(ports=[http_port()], env=[{"name": "1X", "value": "x"}])],
            {"containers.0.env.0.name": ENV_NAME_RULE},
        ),
        (
            [container(ports=[http_port()], env=[{"name": "A"}, {"name": "A"}])],
            {"containers.0.env.1.name": "The key already exists. Please enter another key."},
        ),
        (
            [container(ports=[http_port()], env=[{"type": "configmap", "name": "A", "key": "k"}])],
            {"containers.0.env.0.resource": "Please select a configmap."},
        ),
        (
            [container(ports=[http_port()], env=[{"type": "secret", "name": "A", "resource": "s"}])],
            {"containers.0.env.0.key": "Please select a key."},
        ),
        (
            [container(ports=[http_port()], env=[{"type": "other", "name": "A"}])],
            {"containers.0.env.0.type": "Please choose where the value of this variable comes from."},
        ),
        (
            [container(ports=[http_port()], liveness={"type": "http", "success_threshold": 2})],
            {"containers.0.liveness.success_threshold": SUCCESS_THRESHOLD_RULE},
        ),
        (
            [
                container(
                    ports=[http_port()],
                    readiness={"type": "http", "success_threshold": 2, "timeout_seconds": 0},
                )
            ],
            {"containers.0.readiness.timeout_seconds": "The minimum value is 1."},
        ),
        (
            [container(ports=[http_port()], startup={"type": "tcp", "initial_delay_seconds": -1})],
            {"containers.0.startup.initial_delay_seconds": "The minimum value is 0."},
        ),
        (
            [container(ports=[http_port()], liveness={"type": "http", "path": ""})],
            {"containers.0.liveness.path": "Please set a path for the HTTP check."},
        ),
        (
            [container(ports=[http_port()], liveness={"type": "tcp", "port": "70000"})],
            {"containers.0.liveness.port": "Invalid port."},
        ),
        (
            [container(ports=[http_port()], liveness={"type": "tcp", "port": "a--b"})],
            {"containers.0.liveness.port": "Invalid port."},
        ),
        (
            [container(ports=[http_port()], liveness={"type": "exec", "command": " , "})],
            {"containers.0.liveness.command": "Please enter at least one command."},
        ),
        (
            [
                container(ports=[http_port()]),
                container("setup", type="init", liveness={"type": "exec", "command": "true"}),
            ],
            {"containers.1.liveness.type": "Init containers cannot have probes."},
        ),
    ],
)
def test_container_rules(containers: list[dict[str, Any]], expected: dict[str, str]) -> None:
    assert errors(named(), ContainerImage, {"containers": containers}) == expected


def test_env_references_are_checked_against_the_project_when_known() -> None:
    resources = VolumesContext(configmaps={"cfg": ["a"]}, secrets=None)
    data = {
        "containers": [
            container(
                ports=[http_port()],
                env=[
                    {"type": "configmap", "name": "A", "resource": "nope", "key": "a"},
                    {"type": "configmap", "name": "B", "resource": "cfg", "key": "b"},
                    {"type": "secret", "name": "C", "resource": "unknown-but-unlisted", "key": "x"},
                ],
            )
        ]
    }
    assert errors(named(), ContainerImage, data, resources) == {
        "containers.0.env.0.resource": "nope does not exist in this project.",
        "containers.0.env.1.key": "cfg has no key b.",
    }


@pytest.mark.parametrize(
    ("flavor", "data", "expected"),
    [
        ("stateless", {"replicas": 0}, {"replicas": "Please enter a positive integer."}),
        ("stateless", {"replicas": "two"}, {"replicas": "Please enter an integer."}),
        (
            "stateless",
            {"max_unavailable": "abc"},
            {"max_unavailable": "Please enter an integer or percentage."},
        ),
        (
            "stateless",
            {"max_surge": ""},
            {"max_surge": MAX_SURGE_EMPTY},
        ),
        (
            "stateless",
            {"max_unavailable": "0", "max_surge": "0%"},
            {"max_unavailable": "Maximum unavailable pods and maximum extra pods cannot both be 0."},
        ),
        (
            "stateless",
            {"max_unavailable": "150%"},
            {"max_unavailable": "The percentage cannot be greater than 100%."},
        ),
        ("stateless", {"strategy": "OnDelete"}, {"strategy": "Please select a valid option."}),
        ("stateless", {"strategy": "Sometimes"}, {"strategy": "Please select a valid option."}),
        ("stateful", {"strategy": "Recreate"}, {"strategy": "Please select a valid option."}),
        ("stateful", {"partition": -1}, {"partition": "The minimum value is 0."}),
        ("stateful", {"partition": ""}, {"partition": "Please set a ordinal for dividing pod replicas."}),
        ("stateless", {"strategy": "Recreate", "max_unavailable": "garbage"}, {}),
    ],
)
def test_update_strategy_rules(flavor: str, data: dict[str, Any], expected: dict[str, str]) -> None:
    draft = with_containers(flavor)
    assert errors(draft, ContainerImage, current(draft, ContainerImage, **data)) == expected


def test_update_strategy_manifests() -> None:
    draft = with_containers()
    draft = post(draft, ContainerImage, current(draft, ContainerImage, max_unavailable="01", max_surge="30%"))
    assert draft.workload["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "30%"},
    }
    draft = post(draft, ContainerImage, current(draft, ContainerImage, strategy="Recreate"))
    assert draft.workload["spec"]["strategy"] == {"type": "Recreate"}
    stateful = with_containers("stateful")
    stateful = post(stateful, ContainerImage, current(stateful, ContainerImage, partition=2))
    assert stateful.workload["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"partition": 2},
    }
    stateful = post(stateful, ContainerImage, current(stateful, ContainerImage, strategy="OnDelete"))
    assert stateful.workload["spec"]["updateStrategy"] == {"type": "OnDelete"}


def test_memory_without_a_unit_is_mebibytes_and_blank_resources_vanish() -> None:
    draft = with_containers(
        "stateless", container(ports=[http_port()], memory_request="64", cpu_limit="0.25")
    )
    assert draft.workload["spec"]["template"]["spec"]["containers"][0]["resources"] == {
        "requests": {"memory": "64Mi"},
        "limits": {"cpu": "0.25"},
    }
    draft = post(
        draft, ContainerImage, current(draft, ContainerImage, containers=[container(ports=[http_port()])])
    )
    assert "resources" not in draft.workload["spec"]["template"]["spec"]["containers"][0]


def test_blank_rows_are_dropped_and_an_empty_pull_policy_is_left_to_kubernetes() -> None:
    draft = with_containers(
        "stateless",
        container(
            ports=[http_port(), {"name": "", "container_port": "", "service_port": ""}],
            env=[{"name": "", "value": ""}, {"name": "KEEP", "value": ""}],
            image_pull_policy="",
        ),
    )
    c = draft.workload["spec"]["template"]["spec"]["containers"][0]
    assert len(c["ports"]) == 1 and c["env"] == [{"name": "KEEP"}] and "imagePullPolicy" not in c


def test_host_timezone_mount_and_volume_come_and_go_together() -> None:  # kubesphere/kubesphere#4350
    draft = with_containers(
        "stateless",
        container(ports=[http_port()], sync_host_timezone=True),
        container("b", sync_host_timezone=True),
    )
    pod = draft.workload["spec"]["template"]["spec"]
    assert pod["volumes"] == [{"name": "host-time", "hostPath": {"path": "/etc/localtime", "type": ""}}]
    rows = current(draft, ContainerImage)["containers"]
    rows[0]["sync_host_timezone"] = False
    draft = post(draft, ContainerImage, current(draft, ContainerImage, containers=rows))
    pod = draft.workload["spec"]["template"]["spec"]
    assert "volumeMounts" not in pod["containers"][0] and len(pod["volumes"]) == 1
    rows[1]["sync_host_timezone"] = False
    draft = post(draft, ContainerImage, current(draft, ContainerImage, containers=rows))
    pod = draft.workload["spec"]["template"]["spec"]
    assert "volumes" not in pod and all("volumeMounts" not in c for c in pod["containers"])
    assert (
        Volumes.read(
            with_containers("stateless", container(ports=[http_port()], sync_host_timezone=True))
        ).volumes
        == []
    )


def test_service_ports_follow_container_ports_and_keep_what_advanced_set() -> None:
    draft = with_containers()
    draft = post(
        draft,
        AdvancedSettings,
        current(
            draft,
            AdvancedSettings,
            access="NodePort",
            node_ports=[{"name": "http-0", "port": 80, "node_port": 30080}],
        ),
    )
    draft.service["spec"]["ports"].append(
        {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": 9090}
    )
    draft = post(
        draft,
        ContainerImage,
        current(draft, ContainerImage, containers=[container(ports=[http_port(service_port=8080)])]),
    )
    assert draft.service["spec"]["ports"] == [
        {"name": "http-0", "protocol": "TCP", "port": 8080, "targetPort": 80, "nodePort": 30080},
        {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": 9090},  # written by hand: kept
    ]
    draft = post(
        draft,
        ContainerImage,
        current(draft, ContainerImage, containers=[container(ports=[http_port("http-web", 80, 80)])]),
    )
    assert [p["name"] for p in draft.service["spec"]["ports"]] == [
        "http-web",
        "metrics",
    ]  # renamed, not doubled
    rows = [
        container(ports=[http_port("http-web", 80, 80)]),
        container("b", ports=[http_port("http-1", 81, 81)]),
    ]
    draft = post(draft, ContainerImage, current(draft, ContainerImage, containers=rows))
    rows[1]["type"] = "init"
    rows[1]["ports"][0]["service_port"] = None
    draft = post(draft, ContainerImage, current(draft, ContainerImage, containers=rows))
    assert [p["name"] for p in draft.service["spec"]["ports"]] == [
        "http-web",
        "metrics",
    ]  # init: no service port


def test_container_fields_the_form_does_not_show_survive_renames_and_moves() -> None:
    draft = with_containers("stateless", container("web", ports=[http_port()]), container("helper"))
    pod = draft.workload["spec"]["template"]["spec"]
    pod["containers"][0]["securityContext"] = {"runAsUser": 1000}
    pod["containers"][1]["lifecycle"] = {"preStop": {"exec": {"command": ["sleep", "5"]}}}
    pod["containers"][0]["ports"][0]["hostPort"] = 8080
    rows = current(draft, ContainerImage)["containers"]
    rows[0]["name"] = "frontend"  # renamed in place
    rows[1]["type"] = "init"  # moved to the init containers
    draft = post(draft, ContainerImage, current(draft, ContainerImage, containers=rows))
    pod = draft.workload["spec"]["template"]["spec"]
    assert pod["containers"][0]["name"] == "frontend" and pod["containers"][0]["securityContext"] == {
        "runAsUser": 1000
    }
    assert pod["containers"][0]["ports"][0]["hostPort"] == 8080
    assert pod["initContainers"][0]["lifecycle"] == {"preStop": {"exec": {"command": ["sleep", "5"]}}}


def test_sources_the_form_does_not_edit_are_kept() -> None:
    draft = with_containers()
    c = draft.workload["spec"]["template"]["spec"]["containers"][0]
    c["env"] = [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]
    c["livenessProbe"] = {"grpc": {"port": 9000}, "periodSeconds": 5}
    values = ContainerImage.read(draft)
    assert values.containers[0].env[0].type == "other" and values.containers[0].liveness.type == "other"
    result = validate_data(ContainerImage, values.form_values(), context=StepContext(draft))
    assert result.errors == {}
    after = ContainerImage.apply(draft, result.model)  # type: ignore[arg-type]
    c2 = after.workload["spec"]["template"]["spec"]["containers"][0]
    assert c2["env"] == c["env"]
    assert c2["livenessProbe"]["grpc"] == {"port": 9000} and c2["livenessProbe"]["periodSeconds"] == 5


# ---------------------------------------------------------------------------------------------------
# Step 3: Volumes


def _volume(type_: str, name: str, mounts: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {"type": type_, "name": name, "mounts": mounts, **fields}


def _mount(
    mode: str = "rw", path: str = "/data", container_name: str = "web", **fields: Any
) -> dict[str, Any]:
    return {"container": container_name, "mode": mode, "mount_path": path, **fields}


def test_volumes_build_sources_and_mounts() -> None:
    draft = with_containers("stateless", container(ports=[http_port()]), container("b"))
    data = {
        "volumes": [
            _volume(
                "pvc",
                "claim",
                [_mount("rw", "/data"), _mount("none", container_name="b")],
                claim_name="data-pvc",
            ),
            _volume("emptydir", "tmp", [_mount("rw", "/tmp/x", sub_path="a"), _mount("ro", "/cache", "b")]),
            _volume("hostpath", "logs", [_mount("ro", "/var/log/host")], host_path="/var/log"),
            _volume(
                "configmap",
                "conf",
                [_mount("ro", "/etc/conf")],
                resource="cfg",
                items=[{"key": "a", "path": "a.conf"}],
            ),
            _volume("secret", "certs", [_mount("ro", "/certs", "b")], resource="tls"),
        ]
    }
    draft = post(draft, Volumes, data)
    pod = draft.workload["spec"]["template"]["spec"]
    assert pod["volumes"] == [
        {"name": "claim", "persistentVolumeClaim": {"claimName": "data-pvc"}},
        {"name": "tmp", "emptyDir": {}},
        {"name": "logs", "hostPath": {"path": "/var/log"}},
        {"name": "conf", "configMap": {"name": "cfg", "items": [{"key": "a", "path": "a.conf"}]}},
        {"name": "certs", "secret": {"secretName": "tls"}},
    ]
    assert pod["containers"][0]["volumeMounts"] == [
        {"name": "claim", "mountPath": "/data", "readOnly": False},
        {"name": "tmp", "mountPath": "/tmp/x", "readOnly": False, "subPath": "a"},
        {"name": "logs", "mountPath": "/var/log/host", "readOnly": True},
        {"name": "conf", "mountPath": "/etc/conf", "readOnly": True},
    ]
    assert [m["name"] for m in pod["containers"][1]["volumeMounts"]] == ["tmp", "certs"]
    assert Volumes.read(draft).form_values()["volumes"][0]["mounts"][1] == {
        "container": "b",
        "mode": "none",
        "mount_path": "",
        "sub_path": "",
    }


@pytest.mark.parametrize(
    ("volumes", "expected"),
    [
        (
            [_volume("emptydir", "tmp", [_mount("none")])],
            {"volumes.0.mounts": "Please mount the volume to at least one container."},
        ),
        ([_volume("emptydir", "", [_mount()])], {"volumes.0.name": "Please set a name for the volume."}),
        (
            [_volume("emptydir", "Tmp", [_mount()])],
            {"volumes.0.name": NAME_RULE},
        ),
        (
            [_volume("emptydir", "host-time", [_mount()])],
            {"volumes.0.name": "The name host-time is reserved for the host timezone volume."},
        ),
        (
            [_volume("emptydir", "a", [_mount()]), _volume("emptydir", "a", [_mount(path="/b")])],
            {"volumes.1.name": "The volume name already exists."},
        ),
        (
            [_volume("pvc", "a", [_mount()])],
            {"volumes.0.claim_name": "Please select a persistent volume claim."},
        ),
        (
            [_volume("hostpath", "a", [_mount()])],
            {"volumes.0.host_path": "Please set a host path for the volume."},
        ),
        (
            [_volume("hostpath", "a", [_mount()], host_path="var/log")],
            {"volumes.0.host_path": "The host path must be an absolute path, starting with /."},
        ),
        ([_volume("configmap", "a", [_mount("ro")])], {"volumes.0.resource": "Please select a configmap."}),
        ([_volume("secret", "a", [_mount("ro")])], {"volumes.0.resource": "Please select a secret."}),
        (
            [_volume("configmap", "a", [_mount("rw")], resource="c")],
            {"volumes.0.mounts.0.mode": "A configmap or secret can only be mounted read-only."},
        ),
        (
            [_volume("configmap", "a", [_mount("ro")], resource="c", items=[{"key": "k", "path": "/abs"}])],
            {"volumes.0.items.0.path": "Please use a relative path."},
        ),
        (
            [_volume("configmap", "a", [_mount("ro")], resource="c", items=[{"key": "k", "path": "../up"}])],
            {"volumes.0.items.0.path": "Unsupported relative path format."},
        ),
        (
            [_volume("configmap", "a", [_mount("ro")], resource="c", items=[{"key": "k", "path": "a//b"}])],
            {"volumes.0.items.0.path": "Unsupported relative path format."},
        ),
        (
            [
                _volume(
                    "configmap",
                    "a",
                    [_mount("ro")],
                    resource="c",
                    items=[{"key": "k", "path": "p"}, {"key": "l", "path": "p"}],
                )
            ],
            {"volumes.0.items.1.path": "The mount path is duplicated."},
        ),
        (
            [_volume("configmap", "a", [_mount("ro")], resource="c", items=[{"key": "", "path": "p"}])],
            {"volumes.0.items.0.key": "Please select a key."},
        ),
        (
            [_volume("emptydir", "a", [_mount(path="")])],
            {"volumes.0.mounts.0.mount_path": "Please enter a mount path."},
        ),
        (
            [_volume("emptydir", "a", [_mount(path="data")])],
            {"volumes.0.mounts.0.mount_path": "The mount path must be an absolute path, starting with /."},
        ),
        (
            [_volume("emptydir", "a", [_mount()]), _volume("emptydir", "b", [_mount(path="/data/")])],
            {"volumes.1.mounts.0.mount_path": MOUNT_PATH_IN_USE},
        ),
        (
            [_volume("emptydir", "a", [_mount(path="/etc/localtime")])],
            {"volumes.0.mounts.0.mount_path": MOUNT_PATH_IN_USE},
        ),
        (
            [_volume("emptydir", "a", [_mount(sub_path="../x")])],
            {"volumes.0.mounts.0.sub_path": "The subpath must be a relative path without .. in it."},
        ),
        (
            [_volume("emptydir", "a", [_mount(container_name="ghost")])],
            {
                "volumes.0.mounts.0.container": "There is no container ghost.",
                "volumes.0.mounts": "Please mount the volume to at least one container.",
            },
        ),
        ([_volume("other", "a", [_mount()])], {"volumes.0.type": "Please choose a volume type."}),
        ([_volume("nfs", "a", [_mount()])], {"volumes.0.type": "Please select a valid option."}),
    ],
)
def test_volume_rules(volumes: list[dict[str, Any]], expected: dict[str, str]) -> None:
    draft = with_containers("stateless", container(ports=[http_port()], sync_host_timezone=True))
    assert errors(draft, Volumes, {"volumes": volumes}) == expected


def test_volume_references_are_checked_against_the_project_when_known() -> None:
    draft = with_containers()
    resources = VolumesContext(configmaps={"cfg": ["a"]}, pvcs=["data"])
    volumes = [
        _volume("pvc", "p", [_mount()], claim_name="other"),
        _volume("configmap", "c", [_mount("ro", "/c")], resource="cfg", items=[{"key": "b", "path": "b"}]),
        _volume("secret", "s", [_mount("ro", "/s")], resource="anything"),  # secrets unknown: not checked
    ]
    assert errors(draft, Volumes, {"volumes": volumes}, resources) == {
        "volumes.0.claim_name": "other does not exist in this project.",
        "volumes.1.items.0.key": "cfg has no key b.",
    }


def test_claim_templates_rules() -> None:
    stateless = with_containers()
    template = ClaimTemplateRow.new(["web"], name="data").form_values() | {"storage_class": "local"}
    assert errors(stateless, Volumes, {"volume_templates": [template]}) == {
        "volume_templates": (
            "Volume claim templates belong to stateful services; a Deployment's pods share their volumes."
        )
    }
    draft = with_containers("stateful")
    resources = VolumesContext(storage_classes=["local"], default_storage_class="local")
    bad = [
        template | {"name": ""},
        template | {"name": "data", "storage_class": ""},
        template | {"name": "tmp", "storage_class": "gold", "access_modes": [], "capacity": "0"},
    ]
    volumes = [_volume("emptydir", "data", [_mount()])]
    assert errors(draft, Volumes, {"volumes": volumes, "volume_templates": bad}, resources) == {
        "volume_templates.0.name": "Please enter the prefix of persistent volume claim names.",
        "volume_templates.1.name": "The prefix already exists. Please enter another prefix.",
        "volume_templates.2.storage_class": "The storage class gold does not exist.",
        "volume_templates.2.access_modes": "Please select an access mode.",
        "volume_templates.2.capacity": "The volume capacity must be greater than 0.",
    }
    assert ClaimTemplateRow.new(["web"], resources).storage_class == "local"
    # Empty is the cluster's default class: refused only when the cluster is known to have none.
    empty = [template | {"name": "logs", "storage_class": ""}]
    assert errors(draft, Volumes, {"volumes": volumes, "volume_templates": empty}, resources) == {}
    assert errors(draft, Volumes, {"volumes": volumes, "volume_templates": empty},
                  VolumesContext(storage_classes=["local"])) == {
        "volume_templates.0.storage_class": "This cluster has no default storage class. Please select one."}
    assert errors(draft, Volumes, {"volumes": volumes, "volume_templates": empty}, VolumesContext()) == {}


def test_claim_template_manifest_and_multiple_access_modes() -> None:
    draft = with_containers("stateful")
    template = ClaimTemplateRow.new(["web"], name="data").form_values() | {
        "storage_class": "fast",
        "access_modes": ["ReadWriteOnce", "ReadOnlyMany"],
        "capacity": "500Mi",
    }
    template["mounts"][0].update(mode="ro", mount_path="/data")
    draft = post(draft, Volumes, {"volume_templates": [template]})
    assert draft.workload["spec"]["volumeClaimTemplates"] == [
        {
            "metadata": {"name": "data"},
            "spec": {
                "storageClassName": "fast",
                "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
                "resources": {"requests": {"storage": "500Mi"}},
            },
        }
    ]
    assert draft.workload["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] == [
        {"name": "data", "mountPath": "/data", "readOnly": True}
    ]
    # The cluster's default class: the claim names none (storageClassName "" would mean "no class").
    draft = post(draft, Volumes, {"volume_templates": [template | {"storage_class": ""}]})
    assert "storageClassName" not in draft.workload["spec"]["volumeClaimTemplates"][0]["spec"]


def test_mounting_a_pvc_without_max_unavailable_sets_it_to_one() -> None:
    draft = with_containers()
    del draft.workload["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"]  # as after an Edit Mode change
    draft = post(draft, Volumes, {"volumes": [_volume("pvc", "p", [_mount()], claim_name="data")]})
    assert draft.workload["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": 1}


def test_volumes_the_form_does_not_edit_and_extra_mounts_are_kept() -> None:
    draft = with_containers()
    pod = draft.workload["spec"]["template"]["spec"]
    pod["volumes"] = [
        {"name": "shared", "nfs": {"server": "nfs.local", "path": "/exports"}},
        {"name": "conf", "configMap": {"name": "cfg", "defaultMode": 420}},
    ]
    pod["containers"][0]["volumeMounts"] = [
        {"name": "shared", "mountPath": "/shared", "mountPropagation": "HostToContainer"},
        {"name": "conf", "mountPath": "/etc/a.conf", "subPath": "a.conf"},
        {"name": "conf", "mountPath": "/etc/b.conf", "subPath": "b.conf"},
    ]
    values = Volumes.read(draft)
    assert [v.type for v in values.volumes] == ["other", "configmap"]
    assert [m.mount_path for m in values.volumes[1].mounts] == ["/etc/a.conf", "/etc/b.conf"]
    result = validate_data(Volumes, values.form_values(), context=StepContext(draft))
    assert result.errors == {}
    after = Volumes.apply(draft, result.model)  # type: ignore[arg-type]
    assert after.workload["spec"]["template"]["spec"]["volumes"] == pod["volumes"]
    mounts = after.workload["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert mounts[0] == {
        "name": "shared",
        "mountPath": "/shared",
        "mountPropagation": "HostToContainer",
        "readOnly": False,
    }
    assert [(m["mountPath"], m["subPath"], m["readOnly"]) for m in mounts[1:]] == [
        ("/etc/a.conf", "a.conf", True),
        ("/etc/b.conf", "b.conf", True),
    ]


def test_renaming_a_volume_moves_its_mounts() -> None:
    draft = with_containers()
    draft = post(draft, Volumes, {"volumes": [_volume("emptydir", "cache", [_mount(path="/cache")])]})
    draft.workload["spec"]["template"]["spec"]["volumes"][0]["emptyDir"]["medium"] = "Memory"
    values = current(draft, Volumes)
    values["volumes"][0]["name"] = "scratch"
    draft = post(draft, Volumes, values)
    pod = draft.workload["spec"]["template"]["spec"]
    assert pod["volumes"] == [{"name": "scratch", "emptyDir": {"medium": "Memory"}}]
    assert pod["containers"][0]["volumeMounts"] == [
        {"name": "scratch", "mountPath": "/cache", "readOnly": False}
    ]


def test_new_volume_row_lists_every_container() -> None:
    row = VolumeRow.new("emptydir", ["web", "setup"])
    assert row.name.startswith("volume-") and len(row.name) == len("volume-") + 6
    assert [(m.container, m.mode) for m in row.mounts] == [("web", "none"), ("setup", "none")]


# ---------------------------------------------------------------------------------------------------
# Step 4: Advanced Settings


def test_advanced_settings_manifests() -> None:
    draft = with_containers()
    values = current(
        draft,
        AdvancedSettings,
        access="LoadBalancer",
        service_annotations=[
            {"key": "lb.kubesphere.io/v1alpha1", "value": "openelb"},
            {"key": "example.com/owner", "value": "ops"},
        ],
        sticky_session=True,
        sticky_timeout=600,
        node_selector=[{"key": "disktype", "value": "ssd"}],
        labels=[
            {"key": "app", "value": "web"},
            {"key": "version", "value": "v1"},
            {"key": "tier", "value": "front"},
        ],
        annotations=[{"key": "example.com/team", "value": "blue"}],
    )
    draft = post(draft, AdvancedSettings, values)
    w, s = draft.workload, draft.service
    labels = {"app": "web", "version": "v1", "tier": "front"}
    assert (
        w["metadata"]["labels"]
        == labels
        == w["spec"]["selector"]["matchLabels"]
        == w["spec"]["template"]["metadata"]["labels"]
    )
    assert s["metadata"]["labels"] == labels and s["spec"]["selector"] == {"app": "web", "tier": "front"}
    assert w["spec"]["template"]["spec"]["nodeSelector"] == {"disktype": "ssd"}
    assert w["metadata"]["annotations"] == {"example.com/team": "blue"}
    assert s["spec"]["type"] == "LoadBalancer"
    assert s["spec"]["sessionAffinity"] == "ClientIP" and s["spec"]["sessionAffinityConfig"] == {
        "clientIP": {"timeoutSeconds": 600}
    }
    assert s["metadata"]["annotations"]["lb.kubesphere.io/v1alpha1"] == "openelb"
    # Switching away from the load balancer drops the provider's keys and keeps the others.
    draft = post(
        draft,
        AdvancedSettings,
        current(draft, AdvancedSettings, access="none", sticky_session=False, node_selector=[]),
    )
    s = draft.service
    assert (
        "type" not in s["spec"]
        and "sessionAffinityConfig" not in s["spec"]
        and s["spec"]["sessionAffinity"] == "None"
    )
    assert s["metadata"]["annotations"] == {
        "kubesphere.io/serviceType": "statelessservice",
        "example.com/owner": "ops",
    }
    assert "nodeSelector" not in draft.workload["spec"]["template"]["spec"]


def test_advanced_settings_traffic_fields_reach_the_service_and_leave_with_their_access_mode() -> None:
    """Issue 16: today's Service fields. Defaults are not written (the manifest stays the original's);
    the node and load balancer fields go when the Service no longer has node ports or a load balancer."""
    draft = with_containers()
    plain = post(draft, AdvancedSettings, current(draft, AdvancedSettings))
    assert not {"internalTrafficPolicy", "externalTrafficPolicy", "ipFamilyPolicy", "ipFamilies",
                "trafficDistribution", "publishNotReadyAddresses", "loadBalancerClass"} & set(plain.service["spec"])
    chosen = {"internal_traffic_policy": "Local", "traffic_distribution": "PreferSameNode",
              "ip_family_policy": "PreferDualStack", "ip_families": "IPv4,IPv6", "publish_not_ready_addresses": True,
              "external_traffic_policy": "Local", "load_balancer_class": "example.com/internal"}
    draft = post(draft, AdvancedSettings, current(draft, AdvancedSettings, access="LoadBalancer", **chosen))
    spec = draft.service["spec"]
    assert (spec["internalTrafficPolicy"], spec["trafficDistribution"], spec["ipFamilyPolicy"], spec["ipFamilies"],
            spec["publishNotReadyAddresses"], spec["externalTrafficPolicy"], spec["loadBalancerClass"]) == (
        "Local", "PreferSameNode", "PreferDualStack", ["IPv4", "IPv6"], True, "Local", "example.com/internal")
    assert AdvancedSettings.read(draft).load_balancer_class == "example.com/internal"
    draft = post(draft, AdvancedSettings, current(draft, AdvancedSettings, access="NodePort"))
    assert "loadBalancerClass" not in draft.service["spec"] and draft.service["spec"]["externalTrafficPolicy"] == "Local"
    draft = post(draft, AdvancedSettings, current(draft, AdvancedSettings, access="none"))
    assert "externalTrafficPolicy" not in draft.service["spec"]
    assert draft.service["spec"]["internalTrafficPolicy"] == "Local"
    wrong = errors(draft, AdvancedSettings, current(draft, AdvancedSettings, access="LoadBalancer",
                                                    internal_traffic_policy="Nearby", load_balancer_class="nlb"))
    assert wrong == {"internal_traffic_policy": "Please select a valid option.",
                     "load_balancer_class": wrong["load_balancer_class"]}
    assert "domain-prefixed" in wrong["load_balancer_class"]


def test_node_ports_are_optional_and_dropped_without_external_access() -> None:  # kubesphere/kubesphere#5605
    draft = with_containers("stateless", container(ports=[http_port(), http_port("http-1", 81, 81)]))
    node_ports = [
        {"name": "http-0", "port": 80, "node_port": 30080},
        {"name": "http-1", "port": 81, "node_port": ""},
    ]
    draft = post(
        draft, AdvancedSettings, current(draft, AdvancedSettings, access="NodePort", node_ports=node_ports)
    )
    assert [p.get("nodePort") for p in draft.service["spec"]["ports"]] == [30080, None]
    assert AdvancedSettings.read(draft).node_ports[0].node_port == 30080
    draft = post(draft, AdvancedSettings, current(draft, AdvancedSettings, access="none"))
    assert (
        all("nodePort" not in p for p in draft.service["spec"]["ports"])
        and "type" not in draft.service["spec"]
    )


LABEL_RULE = (
    "The key and value of a label can contain only letters, numbers, hyphens (-), underscores (_), and dots "
    "(.), and must start and end with a letter or number. The maximum length of each key and each value is "
    "63 characters (if the key contains a domain name, the maximum length is 253 characters)."
)


HEADLESS = (
    "A headless Service has no cluster IP, so it cannot be exposed through a node port or a load balancer. "
    "Create this service without external access, then create a second Service over the same pods with "
    "Specify Workload and expose that one."
)


def test_a_headless_service_cannot_be_exposed() -> None:  # kubesphere/kubesphere#1733
    stateful = with_containers("stateful")
    assert errors(stateful, AdvancedSettings, current(stateful, AdvancedSettings, access="NodePort")) == {
        "access": HEADLESS
    }
    assert errors(stateful, AdvancedSettings, current(stateful, AdvancedSettings, access="LoadBalancer")) == {
        "access": HEADLESS
    }
    assert stateful.service["spec"]["clusterIP"] == "None"  # kubesphere/console#1254: stateful means headless
    stateless = with_containers()
    stateless.service["spec"]["clusterIP"] = "None"  # made headless in Edit Mode
    assert errors(stateless, AdvancedSettings, current(stateless, AdvancedSettings, access="NodePort")) == {
        "access": HEADLESS
    }


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"access": "NodePort", "node_ports": [{"name": "http-0", "node_port": 29999}]},
            {"node_ports.0.node_port": "The node port must be between 30000 and 32767."},
        ),
        (
            {"access": "NodePort", "node_ports": [{"name": "http-0", "node_port": "x"}]},
            {"node_ports.0.node_port": "Please enter an integer."},
        ),
        ({"access": "Ingress"}, {"access": "Please select a valid option."}),
        (
            {"sticky_session": True, "sticky_timeout": 0},
            {"sticky_timeout": "The value range is 1 to 86400 and the default value is 10800."},
        ),
        (
            {"sticky_session": True, "sticky_timeout": 86401},
            {"sticky_timeout": "The value range is 1 to 86400 and the default value is 10800."},
        ),
        ({"sticky_session": True, "sticky_timeout": ""}, {"sticky_timeout": "This parameter is required."}),
        ({"sticky_session": False, "sticky_timeout": 0}, {}),
        ({"node_selector": [{"key": "", "value": "ssd"}]}, {"node_selector.0.key": "Please set a key."}),
        ({"node_selector": [{"key": "disk type", "value": "ssd"}]}, {"node_selector.0.key": LABEL_RULE}),
        ({"node_selector": [{"key": "disk", "value": "s s d"}]}, {"node_selector.0.value": LABEL_RULE}),
        (
            {"labels": [{"key": "version", "value": "v1"}]},
            {"labels": "The label app=web is required: the wizard selects the pods by it."},
        ),
        (
            {"labels": [{"key": "app", "value": "other"}, {"key": "version", "value": "v1"}]},
            {"labels": "The label app=web is required: the wizard selects the pods by it."},
        ),
        (
            {"labels": [{"key": "app", "value": "web"}]},
            {"labels": "The label version=v1 is required: the wizard selects the pods by it."},
        ),
        (
            {
                "labels": [
                    {"key": "app", "value": "web"},
                    {"key": "version", "value": "v1"},
                    {"key": "app", "value": "web"},
                ]
            },
            {"labels.2.key": "The key already exists. Please enter another key."},
        ),
        (
            {"annotations": [{"key": "kubesphere.io/creator", "value": "me"}]},
            {"annotations.0.key": "Annotations starting with kubesphere.io/ are managed by the console."},
        ),
        (
            {"annotations": [{"key": "bad key", "value": "x"}]},
            {"annotations.0.key": ANNOTATION_KEY_RULE},
        ),
        (
            {"service_annotations": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]},
            {"service_annotations.1.key": "The key already exists. Please enter another key."},
        ),
    ],
)
def test_advanced_settings_rules(changes: dict[str, Any], expected: dict[str, str]) -> None:
    draft = with_containers()
    assert errors(draft, AdvancedSettings, current(draft, AdvancedSettings, **changes)) == expected


def test_console_annotations_are_hidden_but_never_dropped() -> None:
    draft = nginx_demo()
    draft.workload["metadata"]["annotations"] = {"kubesphere.io/relatedHPA": "hpa", "example.com/x": "1"}
    values = AdvancedSettings.read(draft)
    assert [r.key for r in values.annotations] == ["example.com/x"]
    assert [r.key for r in values.service_annotations] == []
    draft = post(draft, AdvancedSettings, current(draft, AdvancedSettings, annotations=[]))
    assert draft.workload["metadata"]["annotations"] == {"kubesphere.io/relatedHPA": "hpa"}
    assert draft.service["metadata"]["annotations"]["kubesphere.io/alias-name"] == "Nginx-Demo"


# ---------------------------------------------------------------------------------------------------
# Edit Mode: objects -> YAML -> objects, the token, whole-draft validation


def test_edit_mode_yaml_round_trip_shows_edits_and_keeps_everything() -> None:
    draft = nginx_demo()
    objs = draft.objects(namespace=NS, creator=CREATOR)
    objs[0]["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.27"
    objs[0]["spec"]["template"]["spec"]["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
    objs[0]["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"runAsNonRoot": True}
    objs[1]["metadata"]["annotations"]["example.com/owner"] = "ops"
    objs[0]["metadata"]["labels"]["team"] = "blue"
    text = dump_yaml(objs)
    parsed = parse_manifests(text, namespace=NS)
    assert parsed.ok
    edited = Draft.from_objects([m.obj for m in parsed.objects], "stateless")
    assert ContainerImage.read(edited).containers[0].image == "nginx:1.27"
    assert {r.key: r.value for r in AdvancedSettings.read(edited).labels}["team"] == "blue"
    # Walk every step again with what the form shows: nothing the user wrote is lost.
    again = edited
    for step in STEPS:
        again = post(again, step, step.read(again).form_values())
    assert again.objects(namespace=NS, creator=CREATOR) == edited.objects(namespace=NS, creator=CREATOR)
    assert again.workload["spec"]["template"]["spec"]["tolerations"] == [
        {"key": "dedicated", "operator": "Exists"}
    ]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda objs: objs.pop(), "The YAML must contain one Service."),
        (lambda objs: objs.pop(0), "The YAML must contain one Deployment."),
        (
            lambda objs: objs.append(copy.deepcopy(objs[1])),
            "The YAML contains 2 objects of kind Service; the wizard creates exactly one.",
        ),
        (
            lambda objs: objs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}}),
            "The wizard creates one Deployment and one Service; remove the ConfigMap cfg, or create it "
            "separately.",
        ),
        (
            lambda objs: objs[0]["spec"]["selector"]["matchLabels"].update(app="other"),
            "The Deployment selector {app=other, version=v1} does not match its pod labels {app=nginx-demo, "
            "version=v1}.",
        ),
        (
            lambda objs: objs[1]["spec"].update(selector={"app": "nginx"}),
            "The Service selector {app=nginx} does not select the pods of the Deployment (pod labels "
            "{app=nginx-demo, version=v1}).",
        ),
        (
            lambda objs: objs[1]["spec"].update(selector={}),
            "The Service needs a selector for the pods of the Deployment.",
        ),
        (
            lambda objs: objs[0]["metadata"].update(name="nginx"),
            "The Deployment must be named nginx-demo-v1: the service name and the version, joined by a "
            "hyphen.",
        ),
        (
            lambda objs: objs[0]["spec"]["template"]["spec"].update(containers={"name": "x"}),
            "Deployment spec.template.spec.containers must be a list.",
        ),
        (
            lambda objs: objs[0]["spec"]["template"]["spec"]["containers"][0].update(ports={"containerPort": 80}),
            "Deployment spec.template.spec.containers[0].ports must be a list.",
        ),
        (
            lambda objs: objs[0]["spec"]["template"]["spec"]["containers"][0].update(env=["A=1"]),
            "Deployment spec.template.spec.containers[0].env[0] must be a mapping.",
        ),
        (
            lambda objs: objs[1]["spec"].update(ports=[{"port": 80}, 8080]),
            "Service spec.ports[1] must be a mapping.",
        ),
        (
            lambda objs: objs[1]["metadata"].update(annotations=["a"]),
            "Service metadata.annotations must be a mapping.",
        ),
        (
            lambda objs: objs[1]["spec"].update(type="ExternalName"),
            "The Service type ExternalName is not supported here; use ClusterIP, NodePort or LoadBalancer.",
        ),
    ],
)
def test_edit_mode_refuses_objects_the_form_cannot_hold(mutate: Any, message: str) -> None:
    objs = nginx_demo().objects(namespace=NS, creator=CREATOR)
    mutate(objs)
    with pytest.raises(DraftError) as info:
        Draft.from_objects(objs, "stateless")
    assert message in info.value.messages


def test_edit_mode_stateful_rules() -> None:
    objs = mysql().objects(namespace=NS, creator=CREATOR)
    objs[0]["spec"]["serviceName"] = "db"
    objs[1]["spec"]["clusterIP"] = "10.0.0.5"
    with pytest.raises(DraftError) as info:
        Draft.from_objects(objs, "stateful")
    assert info.value.messages == [
        "The StatefulSet's spec.serviceName must be the Service name mysql.",
        "A stateful service uses a headless Service: keep spec.clusterIP: None.",
    ]
    with pytest.raises(DraftError) as info:
        Draft.from_objects(mysql().objects(namespace=NS, creator=CREATOR), "stateless")
    assert "The YAML must contain one Deployment." in info.value.messages


def test_token_round_trip_and_refusals() -> None:
    draft = mysql()
    token = draft.to_token()
    assert re.fullmatch(r"z\.[A-Za-z0-9_-]+", token)  # nothing to escape in HTML or in a form body
    assert len(token) < 0.6 * len(json.dumps(plain_token(token)))
    assert Draft.from_token(token) == draft
    assert Draft.from_token(json.dumps(plain_token(token))) == draft  # plain JSON text is read too
    token = json.dumps(plain_token(token))
    with pytest.raises(DraftError):
        Draft.from_token("{not json")
    with pytest.raises(DraftError):
        Draft.from_token(json.dumps({"v": 1, "flavor": "daemon", "workload": {}, "service": {}}))
    with pytest.raises(DraftError) as info:
        Draft.from_token(
            json.dumps(
                {"v": 1, "flavor": "stateless", "workload": {}, "service": {}} | {"x": "y" * MAX_TOKEN_BYTES}
            )
        )
    assert info.value.messages == ["The form is too large."]
    deep = json.loads(token)
    deep["workload"]["x"] = json.loads("[" * 100 + "]" * 100)
    with pytest.raises(DraftError):
        Draft.from_token(json.dumps(deep))
    with pytest.raises(DraftError):
        Draft.from_token("[" * 100_000 + "]" * 100_000)
    tampered = json.loads(token)
    tampered["service"]["spec"]["selector"] = {"app": "someone-else"}
    with pytest.raises(DraftError):
        Draft.from_token(json.dumps(tampered))


def plain_token(token: str) -> dict[str, Any]:
    """What a compressed draft token holds."""
    body = token.removeprefix("z.")
    return json.loads(zlib.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))


def compressed(data: bytes) -> str:
    return "z." + base64.urlsafe_b64encode(zlib.compress(data)).rstrip(b"=").decode()


def test_compressed_tokens_that_are_damaged_or_unpack_too_large_are_refused() -> None:
    good = mysql().to_token()
    for bad in (good[:-5], good[:2] + "!" + good[3:], "z.", "z.AAAA", good + "x"):
        with pytest.raises(DraftError) as info:
            Draft.from_token(bad)
        assert info.value.messages == ["The form state is damaged; reload the page and start again."]
    bomb = compressed(b" " * (MAX_TOKEN_BYTES + 10))  # small packed, too large unpacked
    assert len(bomb) < 2000
    with pytest.raises(DraftError) as info:
        Draft.from_token(bomb)
    assert info.value.messages == ["The form is too large."]
    with pytest.raises(DraftError):
        Draft.from_token(compressed(b"[" * 5000 + b"]" * 5000))  # too deep, however it arrives


def test_validate_all_reports_every_step_with_its_fields() -> None:
    draft = Draft.new("stateless")
    found = validate_all(draft)
    assert found == {"name": "Please set a name.", "containers": "Please add at least one worker container."}
    assert {step_of(k) for k in found} == {"basic", "image"}
    assert step_of("containers.0.ports.1.container_port") == "image"
    assert step_of("volume_templates.0.name") == "volumes" and step_of("node_ports.0.node_port") == "advanced"
    assert step_of(DRAFT_ERROR_KEY) is None
    edited = nginx_demo()
    edited.workload["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx latest"
    edited.workload["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "eighty"
    assert validate_all(edited) == {
        "containers.0.ports.0.container_port": "Please enter an integer.",
    }
    edited.workload["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = 80
    assert validate_all(edited) == {"containers.0.image": "Invalid image."}
    # A step the caller has just checked is left out; the others, and the objects' consistency, are not.
    assert validate_all(edited, validated={"image"}) == {}
    assert validate_all(draft, validated={"image"}) == {"name": "Please set a name."}
    edited.service["spec"]["selector"] = {"app": "someone-else"}
    assert DRAFT_ERROR_KEY in validate_all(edited, validated=[s.step for s in STEPS])


# ---------------------------------------------------------------------------------------------------
# Server error causes back to the form


def test_field_for_cause() -> None:
    draft = nginx_demo()
    draft = post(
        draft,
        Volumes,
        {
            "volumes": [
                _volume("emptydir", "cache", [_mount(path="/cache", container_name="container-k3x9qa")])
            ]
        },
    )
    rows = current(draft, ContainerImage)["containers"] + [container("setup", "busybox", type="init")]
    draft = post(draft, ContainerImage, current(draft, ContainerImage, containers=rows))
    kind = "Deployment"
    assert field_for_cause(draft, kind, "spec.template.spec.containers[0].image") == (
        "image",
        "containers.0.image",
    )
    assert field_for_cause(draft, kind, "spec.template.spec.initContainers[0].image") == (
        "image",
        "containers.1.image",
    )
    assert field_for_cause(draft, kind, "spec.template.spec.containers[0].ports[0].containerPort") == (
        "image",
        "containers.0.ports.0.container_port",
    )
    assert field_for_cause(draft, kind, "spec.template.spec.containers[0].resources.limits.memory") == (
        "image",
        "containers.0.memory_limit",
    )
    assert field_for_cause(draft, kind, "spec.template.spec.containers[0].livenessProbe.httpGet.port") == (
        "image",
        "containers.0.liveness.port",
    )
    assert field_for_cause(draft, kind, "spec.template.spec.containers[0].volumeMounts[0].mountPath") == (
        "volumes",
        "volumes.0.mounts.0.mount_path",
    )
    assert field_for_cause(draft, kind, "spec.template.spec.containers[0].volumeMounts[1].mountPath") == (
        "image",
        "containers.0.sync_host_timezone",
    )
    assert field_for_cause(draft, kind, "spec.template.spec.volumes[0].name") == ("volumes", "volumes.0.name")
    assert field_for_cause(draft, kind, "spec.strategy.rollingUpdate.maxSurge") == ("image", "max_surge")
    assert field_for_cause(draft, kind, "metadata.name") == ("basic", "name")
    assert field_for_cause(draft, kind, "spec.template.metadata.labels") == ("advanced", "labels")
    assert field_for_cause(draft, kind, "spec.template.spec.tolerations[0].key") is None
    assert field_for_cause(draft, "Service", "spec.ports[0].nodePort") == (
        "advanced",
        "node_ports.0.node_port",
    )
    assert field_for_cause(draft, "Service", "spec.ports[0].port") == (
        "image",
        "containers.0.ports.0.service_port",
    )
    assert field_for_cause(draft, "Service", "metadata.annotations[kubesphere.io/alias-name]") == (
        "basic",
        "alias",
    )
    assert field_for_cause(draft, "Service", "spec.sessionAffinityConfig.clientIP.timeoutSeconds") == (
        "advanced",
        "sticky_timeout",
    )
    assert field_for_cause(draft, "Service", "spec.type") == ("advanced", "access")
    assert field_for_cause(draft, "ConfigMap", "data") is None
    stateful = mysql()
    assert field_for_cause(
        stateful, "StatefulSet", "spec.volumeClaimTemplates[0].spec.resources.requests[storage]"
    ) == ("volumes", "volume_templates.0.capacity")
    assert field_for_cause(
        stateful, "StatefulSet", "spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef.key"
    ) == ("image", "containers.0.env.0.key")


# ---------------------------------------------------------------------------------------------------
# Properties: for generated values, read(apply(draft, values)) == values for every step; the form
# posts what the model holds; fields the form does not show survive every step and Edit Mode.

LABEL_VALUE = st.from_regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,8}[A-Za-z0-9])?", fullmatch=True)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@st.composite
def basic_values(draw: Any) -> dict[str, Any]:
    return {
        "name": draw(st.from_regex(r"[a-z]([-a-z0-9]{0,18}[a-z0-9])?", fullmatch=True)),
        "alias": draw(
            st.one_of(
                st.just(""),
                st.from_regex(r"[A-Za-z0-9中文]([-A-Za-z0-9中文]{0,8}[A-Za-z0-9中文])?", fullmatch=True),
            )
        ),
        "version": draw(st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True)),
        "description": draw(st.text(max_size=40)),
    }


@st.composite
def probe_values(draw: Any, which: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(["none", "http", "tcp", "exec"]))
    if kind == "none":
        return {"type": "none"}
    probe: dict[str, Any] = {
        "type": kind,
        "initial_delay_seconds": draw(st.integers(0, 300)),
        "timeout_seconds": draw(st.integers(1, 30)),
        "period_seconds": draw(st.integers(1, 60)),
        "success_threshold": 1 if which != "readiness" else draw(st.integers(1, 5)),
        "failure_threshold": draw(st.integers(1, 10)),
    }
    port = draw(st.one_of(st.integers(1, 65535).map(str), st.from_regex(r"[a-z]{1,8}", fullmatch=True)))
    if kind == "http":
        probe |= {
            "scheme": draw(st.sampled_from(["HTTP", "HTTPS"])),
            "path": draw(st.from_regex(r"/[a-z0-9/]{0,8}", fullmatch=True)),
            "port": port,
        }
    elif kind == "tcp":
        probe["port"] = port
    else:
        probe["command"] = join_list(draw(st.lists(TEXT.filter(bool), min_size=1, max_size=3)))
    return probe


RESOURCE_PAIRS = [("", ""), ("0.1", "0.5"), ("250m", "1"), ("", "2"), ("1.5", ""), ("0.125", "0.125")]
MEMORY_PAIRS = [("", ""), ("128Mi", "512Mi"), ("", "1Gi"), ("1000k", "1M"), ("64Mi", "")]


@st.composite
def image_values(draw: Any, flavor: str) -> dict[str, Any]:
    workers, inits = draw(st.integers(1, 2)), draw(st.integers(0, 1))
    counter = iter(range(1000))
    containers = []
    for i in range(workers + inits):
        kind = "worker" if i < workers else "init"
        ports = []
        for j in range(draw(st.integers(1 if i == 0 else 0, 2))):
            protocol = draw(st.sampled_from(PROTOCOLS))
            n = next(counter)
            exposed = kind == "worker" and ((i == 0 and j == 0) or draw(st.booleans()))
            ports.append(
                {
                    "protocol": protocol,
                    "name": f"{protocol.lower()}-{n}",
                    "container_port": draw(st.integers(1, 65535)),
                    "service_port": 1000 + n if exposed else None,
                }
            )
        env_names = draw(
            st.lists(st.from_regex(r"[A-Z_][A-Z0-9_]{0,5}", fullmatch=True), max_size=3, unique=True)
        )
        env = []
        for name in env_names:
            kind_env = draw(st.sampled_from(["value", "configmap", "secret"]))
            if kind_env == "value":
                env.append({"type": "value", "name": name, "value": draw(TEXT)})
            else:
                env.append(
                    {
                        "type": kind_env,
                        "name": name,
                        "resource": draw(st.from_regex(r"[a-z]{1,6}", fullmatch=True)),
                        "key": draw(st.from_regex(r"[a-z]{1,6}", fullmatch=True)),
                    }
                )
        cpu = draw(st.sampled_from(RESOURCE_PAIRS))
        memory = draw(st.sampled_from(MEMORY_PAIRS))
        containers.append(
            {
                "type": kind,
                "name": f"c{i}-{draw(st.from_regex(r'[a-z0-9]{1,6}', fullmatch=True))}",
                "image": draw(st.from_regex(r"[a-z0-9][a-z0-9./:-]{0,15}", fullmatch=True)),
                "image_pull_policy": draw(st.sampled_from(["IfNotPresent", "Always", "Never", ""])),
                "cpu_request": cpu[0],
                "cpu_limit": cpu[1],
                "memory_request": memory[0],
                "memory_limit": memory[1],
                "ports": ports,
                "command": join_list(draw(st.lists(TEXT, max_size=3))),
                "args": join_list(draw(st.lists(TEXT, max_size=3))),
                "env": env,
                "liveness": draw(probe_values("liveness")) if kind == "worker" else {"type": "none"},
                "readiness": draw(probe_values("readiness")) if kind == "worker" else {"type": "none"},
                "startup": draw(probe_values("startup")) if kind == "worker" else {"type": "none"},
                "sync_host_timezone": draw(st.booleans()),
            }
        )
    values: dict[str, Any] = {"replicas": draw(st.integers(1, 10)), "containers": containers}
    if flavor == "stateless":
        values["strategy"] = draw(st.sampled_from(["RollingUpdate", "Recreate"]))
        if values["strategy"] == "RollingUpdate":
            values["max_unavailable"], values["max_surge"] = draw(
                st.sampled_from([("25%", "25%"), ("1", "0"), ("0", "50%"), ("100%", "3")])
            )
    else:
        values["strategy"] = draw(st.sampled_from(["RollingUpdate", "OnDelete"]))
        if values["strategy"] == "RollingUpdate":
            values["partition"] = draw(st.integers(0, 5))
    return values


@st.composite
def mount_rows(draw: Any, containers: list[str], path: str, modes: list[str]) -> list[dict[str, Any]]:
    rows = []
    for name in containers:
        mode = draw(st.sampled_from(modes))
        row = {"container": name, "mode": mode, "mount_path": "", "sub_path": ""}
        if mode != "none":
            row |= {"mount_path": path, "sub_path": draw(st.sampled_from(["", "sub", "a/b"]))}
        rows.append(row)
    return rows


@st.composite
def volumes_values(draw: Any, draft: Draft) -> dict[str, Any]:
    containers = [c.name for c in ContainerImage.read(draft).containers]
    volumes = []
    for i in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["pvc", "emptydir", "hostpath", "configmap", "secret"]))
        name = f"vol-{i}"
        modes = ["ro", "none"] if kind in ("configmap", "secret") else ["rw", "ro", "none"]
        mounts = draw(mount_rows(containers, f"/mnt/{name}", modes))
        if kind == "emptydir" and all(m["mode"] == "none" for m in mounts):
            mounts[0] |= {"mode": "rw", "mount_path": f"/mnt/{name}"}
        volume: dict[str, Any] = {"type": kind, "name": name, "mounts": mounts}
        if kind == "pvc":
            volume["claim_name"] = f"claim-{i}"
        elif kind == "hostpath":
            volume["host_path"] = draw(st.from_regex(r"/[a-z]{1,8}", fullmatch=True))
        elif kind in ("configmap", "secret"):
            volume["resource"] = f"res-{i}"
            volume["items"] = [
                {"key": f"k{j}", "path": f"dir/file{j}"} for j in range(draw(st.integers(0, 2)))
            ]
        volumes.append(volume)
    templates = []
    if draft.flavor == "stateful":
        for i in range(draw(st.integers(0, 2))):
            name = f"tpl-{i}"
            templates.append(
                {
                    "name": name,
                    "storage_class": draw(st.sampled_from(["local", "fast"])),
                    "access_modes": draw(
                        st.lists(st.sampled_from(ACCESS_MODES), min_size=1, max_size=3, unique=True)
                    ),
                    "capacity": draw(st.sampled_from(["10Gi", "1Gi", "500Mi"])),
                    "mounts": draw(mount_rows(containers, f"/data/{name}", ["rw", "ro", "none"])),
                }
            )
    return {"volumes": volumes, "volume_templates": templates}


@st.composite
def advanced_values(draw: Any, draft: Draft) -> dict[str, Any]:
    basic = BasicInfo.read(draft)
    access = (
        "none" if draft.flavor == "stateful" else draw(st.sampled_from(["none", "NodePort", "LoadBalancer"]))
    )
    node_ports = []
    for i, port in enumerate(draft.service["spec"].get("ports", [])):
        node_port = 30000 + i if access != "none" and draw(st.booleans()) else None
        node_ports.append({"name": port["name"], "port": port["port"], "node_port": node_port})
    service_annotations = [
        {"key": f"example.com/s{i}", "value": draw(TEXT)} for i in range(draw(st.integers(0, 2)))
    ]
    if access == "LoadBalancer" and draw(st.booleans()):
        service_annotations.append({"key": "lb.kubesphere.io/v1alpha1", "value": "openelb"})
    sticky = draw(st.booleans())
    extra_labels = draw(
        st.lists(st.sampled_from(["tier", "example.com/team", "track"]), unique=True, max_size=2)
    )
    labels = [{"key": "app", "value": basic.name}, {"key": "version", "value": basic.version}]
    labels += [{"key": key, "value": draw(LABEL_VALUE)} for key in extra_labels]
    selector_keys = draw(
        st.lists(st.sampled_from(["disktype", "zone", "kubernetes.io/hostname"]), unique=True, max_size=2)
    )
    headless = draft.flavor == "stateful"
    traffic = {
        "ip_family_policy": draw(st.sampled_from(IP_FAMILY_POLICIES)),
        "ip_families": draw(st.sampled_from(("", *IP_FAMILIES))),
        "publish_not_ready_addresses": draw(st.booleans()),
    }
    if not headless:
        traffic["internal_traffic_policy"] = draw(st.sampled_from(INTERNAL_TRAFFIC_POLICIES))
        traffic["traffic_distribution"] = draw(st.sampled_from(("", *TRAFFIC_DISTRIBUTIONS)))
    if access in ("NodePort", "LoadBalancer"):
        traffic["external_traffic_policy"] = draw(st.sampled_from(EXTERNAL_TRAFFIC_POLICIES))
    if access == "LoadBalancer":
        traffic["load_balancer_class"] = draw(st.sampled_from(("", "example.com/lb", "service.k8s.aws/nlb")))
    return {
        **traffic,
        "access": access,
        "node_ports": node_ports,
        "service_annotations": service_annotations,
        "sticky_session": sticky,
        "sticky_timeout": draw(st.integers(1, 86400)) if sticky else 10800,
        "node_selector": [{"key": key, "value": draw(LABEL_VALUE)} for key in selector_keys],
        "labels": draw(st.permutations(labels)),
        "annotations": [
            {"key": f"example.org/a{i}", "value": draw(TEXT)} for i in range(draw(st.integers(0, 2)))
        ],
    }


def validated(step: type[WizardStep], draft: Draft, data: dict[str, Any]) -> WizardStep:
    result = validate_data(step, data, context=StepContext(draft))
    assert result.errors == {}, (step.step, result.errors)
    assert result.model is not None
    posted = parse_form(flatten(result.model), step, context=StepContext(draft))
    assert posted.model == result.model, step.step  # the form posts exactly what the model holds
    return result.model


@st.composite
def walked(draw: Any) -> tuple[Draft, dict[str, WizardStep]]:
    """A draft walked through all four steps with generated values, checking read(apply(v)) == v."""
    flavor = draw(st.sampled_from(["stateless", "stateful"]))
    draft = Draft.new(flavor)
    values: dict[str, WizardStep] = {}
    for step, strategy in (
        (BasicInfo, lambda d: basic_values()),
        (ContainerImage, lambda d: image_values(d.flavor)),
        (Volumes, volumes_values),
        (AdvancedSettings, advanced_values),
    ):
        model = validated(step, draft, draw(strategy(draft)))
        draft = step.apply(draft, model)
        assert step.read(draft) == model, step.step
        values[step.step] = model
    return draft, values


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(walked())
def test_every_step_reads_back_what_it_applied(case: tuple[Draft, dict[str, WizardStep]]) -> None:
    draft, values = case
    for step in STEPS:  # later steps did not disturb earlier ones
        assert step.read(draft) == values[step.step], step.step
    assert draft.problems() == []
    assert validate_all(draft) == {}
    assert Draft.from_token(draft.to_token()) == draft


def inject_extras(draft: Draft) -> Draft:
    """Fields no step shows, at every level the steps write to."""
    d = draft.copy()
    w, s = d.workload, d.service
    w["metadata"].setdefault("annotations", {})["kubesphere.io/relatedHPA"] = "hpa"
    w["spec"]["revisionHistoryLimit"] = 3
    w["spec"]["minReadySeconds"] = 5
    template = w["spec"]["template"]
    template["metadata"]["labels"]["extra-pod-label"] = "yes"
    template["metadata"].setdefault("annotations", {})["example.com/pod"] = "z"
    pod = template["spec"]
    pod["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
    pod["securityContext"] = {"runAsNonRoot": True}
    pod["imagePullSecrets"] = [{"name": "regcred"}]
    for key in ("containers", "initContainers"):
        for c in pod.get(key, []):
            c["securityContext"] = {"readOnlyRootFilesystem": True}
            c["workingDir"] = "/srv"
            c["envFrom"] = [{"configMapRef": {"name": "shared"}}]
            c["lifecycle"] = {"preStop": {"exec": {"command": ["sleep", "1"]}}}
            c.setdefault("resources", {}).setdefault("limits", {})["ephemeral-storage"] = "1Gi"
            for port in c.get("ports", []):
                port["hostIP"] = "127.0.0.1"
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                if "httpGet" in c.get(probe, {}):
                    c[probe]["httpGet"]["httpHeaders"] = [{"name": "X-Probe", "value": "1"}]
                if probe in c:
                    c[probe]["terminationGracePeriodSeconds"] = 7
            for mount in c.get("volumeMounts", []):
                if mount["name"] != "host-time":
                    mount["mountPropagation"] = "None"
    for volume in pod.get("volumes", []):
        if "emptyDir" in volume:
            volume["emptyDir"]["medium"] = "Memory"
        for source in ("configMap", "secret"):
            if source in volume:
                volume[source]["defaultMode"] = 0o440
        if "persistentVolumeClaim" in volume:
            volume["persistentVolumeClaim"]["readOnly"] = False
        if "hostPath" in volume and volume["name"] != "host-time":
            volume["hostPath"]["type"] = "DirectoryOrCreate"
    for claim in w["spec"].get("volumeClaimTemplates", []):
        claim["spec"]["volumeMode"] = "Filesystem"
        claim["metadata"]["labels"] = {"backup": "daily"}
    s["metadata"]["annotations"]["kubesphere.io/extra"] = "kept"
    s["spec"]["selector"]["extra-pod-label"] = "yes"
    s["spec"]["ipFamilyPolicy"] = "SingleStack"
    if d.flavor == "stateful":
        s["spec"]["publishNotReadyAddresses"] = True
    for port in s["spec"].get("ports", []):
        port["appProtocol"] = "kubernetes.io/h2c"
    assert d.problems() == []
    return d


OBJECT_EXTRAS = [
    ("workload", ("metadata", "annotations", "kubesphere.io/relatedHPA")),
    ("workload", ("spec", "revisionHistoryLimit")),
    ("workload", ("spec", "template", "metadata", "annotations", "example.com/pod")),
    ("workload", ("spec", "template", "spec", "tolerations")),
    ("workload", ("spec", "template", "spec", "securityContext")),
    ("workload", ("spec", "template", "spec", "imagePullSecrets")),
    ("service", ("metadata", "annotations", "kubesphere.io/extra")),
    ("service", ("spec", "ipFamilyPolicy")),
]


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(walked(), st.data())
def test_fields_the_form_does_not_show_survive_every_step(
    case: tuple[Draft, dict[str, WizardStep]], data: Any
) -> None:
    draft, _values = case
    extra = inject_extras(draft)
    for step in STEPS:
        # What the form shows, posted back unchanged, changes nothing at all.
        shown = validated(step, extra, step.read(extra).form_values())
        assert step.apply(extra, shown) == extra, step.step
    # Edit Mode: objects -> YAML -> objects gives the same draft.
    objs = extra.objects(namespace=NS, creator=CREATOR)
    parsed = parse_manifests(dump_yaml(objs), namespace=NS)
    assert parsed.ok, parsed.problems
    again = Draft.from_objects([m.obj for m in parsed.objects], extra.flavor)
    assert again.objects(namespace=NS, creator=CREATOR) == objs
    # New values for a step keep every object-level field the form does not show.
    for step, strategy in (
        (BasicInfo, basic_values()),
        (ContainerImage, image_values(extra.flavor)),
        (AdvancedSettings, advanced_values(extra)),
    ):
        changed = step.apply(extra, validated(step, extra, data.draw(strategy)))
        for which, path in OBJECT_EXTRAS:
            obj: Any = getattr(changed, which)
            for key in path:
                obj = obj[key]
            assert obj is not None, (step.step, path)
        assert changed.workload["spec"]["template"]["metadata"]["labels"]["extra-pod-label"] == "yes"
        assert changed.problems() == [], step.step
