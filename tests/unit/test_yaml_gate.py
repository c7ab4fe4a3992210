"""The YAML gate: what a user may paste or upload, and what comes out of it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.yaml import (
    CREATABLE_KINDS,
    KIND_API_VERSIONS,
    MAX_BYTES,
    GateResult,
    Manifest,
    Problem,
    dump_yaml,
    parse_manifests,
    parse_many,
    strip_server_fields,
)
from app.domain.yaml import dump as yaml_dump

NS = "demo"

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  labels:
    app: web
spec:
  selector:
    app: web
  ports:
    - name: http
      protocol: TCP
      port: 80
      targetPort: 8080
"""

SERVICE_OBJ = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": NS, "labels": {"app": "web"}},
    "spec": {
        "selector": {"app": "web"},
        "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}],
    },
}

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: nginx
          image: nginx:1.25
          ports:
            - containerPort: 8080
"""


def obj_yaml(kind: str, api_version: str, name: str = "x", body: str = "") -> str:
    return f"apiVersion: {api_version}\nkind: {kind}\nmetadata:\n  name: {name}\n{body}"


def billion_laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def nested_block(depth: int) -> str:
    return "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "v\n"


# (input, a fragment of the message, (line, column) of that problem or None)
Case = tuple[str | bytes | Callable[[], str | bytes], str, tuple[int, int] | None]

HOSTILE: dict[str, Case] = {
    # anchors, aliases, merge keys: refused where they stand, never expanded
    "billion laughs": (billion_laughs, "Anchors (&a)", (1, 4)),
    "billion laughs aliases": (billion_laughs, "Aliases (*a)", (2, 8)),
    "alias bomb in flow style": (
        lambda: "{a: &a [x,x,x,x,x,x,x,x], b: &b [*a,*a,*a,*a,*a,*a,*a,*a], c: [*b,*b,*b,*b,*b,*b,*b]}",
        "Aliases",
        (1, 34),
    ),
    "anchor on metadata": (SERVICE.replace("metadata:", "metadata: &m"), "Anchors (&m)", (3, 11)),
    "alias of a scalar": (SERVICE + "extra:\n  a: &n web\n  b: *n\n", "Aliases (*n)", (17, 6)),
    "merge key": (SERVICE.replace("  name: web\n", "  <<: {name: web}\n"), "Merge keys", (4, 3)),
    "merge key with alias": (
        "base: &b {name: web}\nmetadata:\n  <<: *b\n",
        "Anchors",
        (1, 7),
    ),
    # tags
    "python object tag": (
        '!!python/object/apply:os.system ["echo pwned"]\n',
        "tag !!python/object/apply:os.system",
        (1, 1),
    ),
    "python tag on a value": (SERVICE + "x: !!python/name:os.system\n", "!!python/name:os.system", (15, 4)),
    "custom tag": (SERVICE + "x: !foo bar\n", "tag !foo", (15, 4)),
    "binary tag": (SERVICE + "x: !!binary aGVsbG8=\n", "!!binary", (15, 4)),
    "set tag on a mapping": (SERVICE + "x: !!set {a, b}\n", "!!set", (15, 4)),
    "TAG directive": (
        "%TAG !e! tag:example.com,2000:\n---\n" + SERVICE + "x: !e!thing 1\n",
        "tag:example.com,2000:thing",
        (17, 4),
    ),
    "non-specific tag": (SERVICE + "x: ! 1\n", "tag !", (15, 4)),
    "core tag with a wrong value": (SERVICE + "x: !!int abc\n", "not a valid !!int", (15, 4)),
    # duplicate keys: the namespace-smuggling vector
    "duplicate kind": (SERVICE + "kind: Deployment\n", "key kind appears twice", (15, 1)),
    "duplicate namespace": (
        SERVICE.replace("  name: web\n", f"  name: web\n  namespace: {NS}\n  namespace: kube-system\n"),
        "key namespace appears twice",
        (6, 3),
    ),
    "duplicate key in JSON": (
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "name": "b"}}',
        "key name appears twice",
        (1, 69),
    ),
    # namespaces
    "foreign namespace": (
        SERVICE.replace("  name: web\n", "  name: web\n  namespace: kube-system\n"),
        "kube-system is not this project's namespace demo",
        (5, 14),
    ),
    "namespace not text": (
        SERVICE.replace("  name: web\n", "  name: web\n  namespace: [demo]\n"),
        "metadata.namespace must be text",
        (5, 14),
    ),
    # kinds
    "Namespace": (obj_yaml("Namespace", "v1"), "cluster-wide", (2, 7)),
    "Node": (obj_yaml("Node", "v1"), "cluster-wide", (2, 7)),
    "PersistentVolume": (
        obj_yaml("PersistentVolume", "v1", body="spec:\n  hostPath: {path: /}\n"),
        "cluster-wide",
        (2, 7),
    ),
    "StorageClass": (obj_yaml("StorageClass", "storage.k8s.io/v1"), "cluster-wide", (2, 7)),
    "CustomResourceDefinition": (
        obj_yaml("CustomResourceDefinition", "apiextensions.k8s.io/v1"),
        "cluster-wide",
        (2, 7),
    ),
    "MutatingWebhookConfiguration": (
        obj_yaml("MutatingWebhookConfiguration", "admissionregistration.k8s.io/v1"),
        "cluster-wide",
        (2, 7),
    ),
    "ClusterRole": (obj_yaml("ClusterRole", "rbac.authorization.k8s.io/v1"), "access-control", (2, 7)),
    "ClusterRoleBinding": (
        obj_yaml("ClusterRoleBinding", "rbac.authorization.k8s.io/v1"),
        "access-control",
        (2, 7),
    ),
    "Role": (obj_yaml("Role", "rbac.authorization.k8s.io/v1"), "access-control", (2, 7)),
    "RoleBinding": (
        obj_yaml(
            "RoleBinding",
            "rbac.authorization.k8s.io/v1",
            body="roleRef: {kind: ClusterRole, name: cluster-admin, apiGroup: rbac.authorization.k8s.io}\n",
        ),
        "access-control",
        (2, 7),
    ),
    "ServiceAccount": (obj_yaml("ServiceAccount", "v1"), "ServiceAccount cannot be created here", (2, 7)),
    "Pod": (obj_yaml("Pod", "v1"), "Pod cannot be created here", (2, 7)),
    "DaemonSet (not creatable)": (obj_yaml("DaemonSet", "apps/v1"), "DaemonSet cannot be created", (2, 7)),
    "custom resource": (obj_yaml("Widget", "example.com/v1"), "Widget cannot be created", (2, 7)),
    "List wrapper": (
        "apiVersion: v1\nkind: List\nitems:\n  - " + SERVICE.replace("\n", "\n    ").rstrip() + "\n",
        "List wraps several objects",
        (2, 7),
    ),
    "ServiceList wrapper": (
        "apiVersion: v1\nkind: ServiceList\nmetadata: {name: x}\nitems: []\n",
        "ServiceList wraps several objects",
        (2, 7),
    ),
    "service-account token Secret": (
        obj_yaml("Secret", "v1", body="type: kubernetes.io/service-account-token\n"),
        "service-account-token cannot be created",
        (5, 7),
    ),
    "wrong apiVersion for Deployment": (
        DEPLOYMENT.replace("apps/v1", "extensions/v1beta1"),
        "Deployment must use apiVersion apps/v1, not extensions/v1beta1",
        (1, 13),
    ),
    "wrong apiVersion for Service": (
        SERVICE.replace("v1", "apps/v1", 1),
        "Service must use apiVersion v1",
        (1, 13),
    ),
    "missing kind": (SERVICE.replace("kind: Service\n", ""), "kind is missing", (1, 1)),
    "missing apiVersion": (SERVICE.replace("apiVersion: v1\n", ""), "apiVersion is missing", (1, 1)),
    "kind not text": (SERVICE.replace("kind: Service", "kind: [Service]"), "kind must be text", (2, 7)),
    "kind a number": (SERVICE.replace("kind: Service", "kind: 1"), "kind must be text", (2, 7)),
    "apiVersion a number": (
        SERVICE.replace("apiVersion: v1", "apiVersion: 1"),
        "apiVersion must be text",
        (1, 13),
    ),
    "missing metadata": ("apiVersion: v1\nkind: ConfigMap\ndata: {}\n", "metadata is missing", (1, 1)),
    "metadata not a mapping": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: web\n",
        "metadata must be a mapping",
        (3, 11),
    ),
    "missing name": (SERVICE.replace("  name: web\n", ""), "metadata.name is missing", (4, 3)),
    "generateName": (
        SERVICE.replace("  name: web\n", "  generateName: web-\n"),
        "generateName is not supported",
        (4, 17),
    ),
    "upper-case name": (
        SERVICE.replace("name: web\n", "name: Web\n", 1),
        "Web is not a valid Service name",
        (4, 9),
    ),
    "Service name too long": (
        SERVICE.replace("name: web\n", "name: " + "a" * 64 + "\n", 1),
        "not a valid Service name",
        (4, 9),
    ),
    "Service name with a dot": (
        SERVICE.replace("name: web\n", "name: web.v1\n", 1),
        "not a valid Service name",
        (4, 9),
    ),
    "Deployment name too long": (
        DEPLOYMENT.replace("name: web\n", "name: " + "a" * 254 + "\n", 1),
        "not a valid Deployment name",
        (4, 9),
    ),
    "name not text": (
        SERVICE.replace("name: web\n", "name: {a: b}\n", 1),
        "metadata.name must be text",
        (4, 9),
    ),
    "duplicate object": (
        SERVICE + "---\n" + SERVICE,
        "Service web appears twice (first in document 1)",
        (19, 9),
    ),
    # size, encoding, bytes
    "10 MB of text": (lambda: SERVICE + "# " + "x" * 10_000_000 + "\n", "larger than 256 KiB", None),
    "10 MB of bytes": (lambda: b"a: " + b"x" * 10_000_000, "larger than 256 KiB", None),
    "PNG file": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary file", None),
    "gzip file": (b"\x1f\x8b\x08\x00" + bytes(64), "binary file", None),
    "Latin-1 text": (SERVICE.replace("app: web\n", "app: café\n", 1).encode("latin-1"), "not UTF-8", (6, 13)),
    "UTF-16 text": (SERVICE.encode("utf-16"), "UTF-16", None),
    "NUL byte": (SERVICE.replace("web", "w\x00eb", 1), "NUL byte", (4, 10)),
    "NUL byte in bytes": (b"apiVersion: v1\nkind: Service\x00\n", "binary file", None),
    "bell character": (SERVICE.replace("web", "w\x07eb", 1), "control character U+0007", (4, 10)),
    "C1 control character": (
        SERVICE.replace("web", "w\x9beb", 1).encode(),
        "control character U+009B",
        (4, 10),
    ),
    "lone surrogate": ("apiVersion: v1\nkind: \ud800\n", "not valid Unicode", (2, 7)),
    # nothing there
    "empty": ("", "No objects found", None),
    "empty bytes": (b"", "No objects found", None),
    "whitespace only": ("  \n\n   \n", "No objects found", None),
    "comments only": ("# a Service\n# another comment\n", "No objects found", None),
    "separators only": ("---\n---\n# nothing\n---\n", "No objects found", None),
    # not a mapping
    "scalar document": ("hello world\n", "Document 1 is a piece of text", (1, 1)),
    "number document": ("42\n", "Document 1 is a number", (1, 1)),
    "list document": ("- " + SERVICE.replace("\n", "\n  ").rstrip() + "\n", "Document 1 is a list", (1, 1)),
    "JSON array": ('[{"apiVersion": "v1", "kind": "Service"}]', "is a list", (1, 1)),
    "explicit null document": (SERVICE + "---\n~\n", "Document 2 is null", (16, 1)),
    "quoted empty document": ('""\n', "Document 1 is a piece of text", (1, 1)),
    # malformed YAML
    "tab indentation": (
        "apiVersion: v1\nkind: Service\nmetadata:\n\tname: web\n",
        "tab is used for indentation",
        (4, 1),
    ),
    "tab after spaces": (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  \tnamespace: demo\n",
        "tab is used for indentation",
        (5, 3),
    ),
    "unclosed flow sequence": (SERVICE + "x: [1, 2\n", "not well formed", None),
    "bad indentation": ("apiVersion: v1\n  kind: Service\n", "not well formed", (2, 7)),
    "deep nesting (flow)": (
        lambda: "a: " + "[" * 100 + "]" * 100 + "\n",
        "nested more than 64 levels",
        (1, 67),
    ),
    "deep nesting (block)": (lambda: nested_block(80), "nested more than 64 levels", (65, 129)),
    "too many documents": (lambda: "---\n".join([SERVICE] * 51), "more than 50 documents", (750, 1)),
    "too many values": (lambda: "a: [" + "1," * 100_001 + "]\n", "more than 100000 values", None),
    "very long key": (
        lambda: SERVICE + "? " + "k" * 2000 + "\n: v\n",
        "longer than 1024 characters",
        (15, 3),
    ),
    "implicit key over 1024 characters": (
        lambda: SERVICE + "k" * 2000 + ": v\n",
        "2000 characters long",
        (15, 1),
    ),
    # YAML 1.1 surprises: reported, not guessed
    "on as a value": (SERVICE.replace("app: web\n", "app: on\n", 1), "on means true or false", (6, 10)),
    "yes as a value": (SERVICE.replace("app: web\n", "app: yes\n", 1), "yes means true or false", (6, 10)),
    "NO as a value": (SERVICE.replace("app: web\n", "app: NO\n", 1), "NO means true or false", (6, 10)),
    "y as a value": (SERVICE.replace("app: web\n", "app: y\n", 1), "y means true or false", (6, 10)),
    "oFf in any case": (SERVICE.replace("app: web\n", "app: oFf\n", 1), "oFf means true or false", (6, 10)),
    "on as a key": (SERVICE.replace("app: web\n", "on: web\n", 1), "on means true or false", (6, 5)),
    "0755": (SERVICE + "mode: 0755\n", "0755 is an octal number", (15, 7)),
    "sexagesimal 1:30": (SERVICE + "at: 1:30\n", "1:30 is a base-60 number", (15, 5)),
    "date": (SERVICE + "on-date: 2024-01-31\n", "2024-01-31 is a date", (15, 10)),
    "underscored number": (SERVICE + "n: 1_000\n", "1_000 is a number to YAML 1.1", (15, 4)),
    "binary number": (SERVICE + "n: 0b101\n", "0b101 is a number to YAML 1.1", (15, 4)),
    "NaN": (SERVICE + "n: .nan\n", "not a finite number", (15, 4)),
    "infinity": (SERVICE + "n: -.inf\n", "not a finite number", (15, 4)),
    "integer beyond 64 bits": (SERVICE + "n: 99999999999999999999\n", "64-bit integer", (15, 4)),
    # keys must be text
    "number as a key": (SERVICE + "data:\n  80: http\n", "key 80 is not text", (16, 3)),
    "null as a key": (SERVICE + "data:\n  ~: x\n", "key ~ is not text", (16, 3)),
    "complex key": (SERVICE + "data:\n  ? [a, b]\n  : c\n", "Keys must be text", (16, 5)),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_input_is_refused_with_a_message(name: str) -> None:
    data, fragment, position = HOSTILE[name]
    result = parse_manifests(data() if callable(data) else data, namespace=NS)

    assert result.objects == []
    assert not result.ok
    matching = [p for p in result.problems if fragment in p.message]
    assert matching, f"no problem mentions {fragment!r}: {[str(p) for p in result.problems]}"
    if position is not None:
        assert (matching[0].line, matching[0].column) == position, str(matching[0])
    for problem in result.problems:
        assert problem.message and problem.document >= 0


def test_there_are_at_least_fifty_hostile_inputs() -> None:
    assert len(HOSTILE) >= 50


# ---------------------------------------------------------------------------------------------------
# What is accepted


def only(result: GateResult) -> dict[str, Any]:
    assert result.problems == [], [str(p) for p in result.problems]
    assert len(result.objects) == 1
    return result.objects[0].obj


def test_valid_service_is_accepted_with_the_project_namespace() -> None:
    result = parse_manifests(SERVICE, namespace=NS, source="svc.yaml")

    assert result.ok
    [manifest] = result.objects
    assert manifest == Manifest(obj=SERVICE_OBJ, document=1, line=1, source="svc.yaml")
    assert list(manifest.obj["metadata"]) == ["name", "namespace", "labels"]  # namespace after the name
    assert (manifest.kind, manifest.name) == ("Service", "web")


def test_json_is_accepted_like_yaml() -> None:
    as_json = json.dumps(SERVICE_OBJ | {"metadata": {"name": "web", "labels": {"app": "web"}}})
    tab_indented = json.dumps(json.loads(as_json), indent="\t")
    compact = json.dumps(json.loads(as_json), separators=(",", ":"))

    from_yaml = only(parse_manifests(SERVICE, namespace=NS))
    for text in (as_json, tab_indented, compact):
        assert only(parse_manifests(text, namespace=NS)) == from_yaml
    assert json.dumps(from_yaml) == json.dumps(SERVICE_OBJ)  # same types too: 80 is an int


def test_json_escapes_and_numbers_are_read_as_json_reads_them() -> None:
    text = (
        '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},'
        '"data":{"a":"caf\\u00e9 \\"q\\" \\/ \\n"},"x":[1.5,-0,1e3,true,null]}'
    )
    obj = only(parse_manifests(text, namespace=NS))
    assert obj["data"] == {"a": 'café "q" / \n'}
    assert obj["x"] == json.loads(text)["x"]


def test_json_escapes_outside_the_basic_plane_are_read_as_json_reads_them() -> None:
    data = {"smile": "\U0001F600", "backslash": "\\ud83d\\ude00", "mixed": "a\\\U0001F600b"}
    text = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data})
    assert "\\ud83d\\ude00" in text  # JSON wrote surrogate pairs
    assert only(parse_manifests(text, namespace=NS))["data"] == data
    lone = text.replace("\\ude00", "", 1)
    assert "not well formed" in parse_manifests(lone, namespace=NS).problems[0].message


def test_an_allowed_kind_with_another_group_is_told_its_api_version() -> None:
    text = SERVICE.replace("apiVersion: v1", "apiVersion: rbac.authorization.k8s.io/v1")
    [problem] = parse_manifests(text, namespace=NS).problems
    assert problem.message == "Service must use apiVersion v1, not rbac.authorization.k8s.io/v1."
    assert (problem.line, problem.column, problem.path) == (1, 13, "apiVersion")


def test_every_creatable_kind_is_accepted() -> None:
    docs = [obj_yaml(kind, KIND_API_VERSIONS[kind], name="thing") for kind in sorted(CREATABLE_KINDS)]
    result = parse_manifests("---\n".join(docs), namespace=NS)

    assert result.ok, [str(p) for p in result.problems]
    assert sorted(m.kind for m in result.objects) == sorted(CREATABLE_KINDS)


def test_multi_document_yaml_keeps_order_document_numbers_and_lines() -> None:
    text = "# leading comment\n---\n" + DEPLOYMENT + "---\n---\n" + SERVICE
    result = parse_manifests(text, namespace=NS)

    assert result.ok
    assert [(m.kind, m.document, m.line) for m in result.objects] == [
        ("Deployment", 1, 3),
        ("Service", 3, 22),
    ]


def test_several_files_with_several_documents_each() -> None:
    configmap = obj_yaml("ConfigMap", "v1", name="settings", body="data: {LEVEL: debug}\n")
    result = parse_many(
        [("app.yaml", (DEPLOYMENT + "---\n" + SERVICE).encode()), ("config.yml", configmap.encode())],
        namespace=NS,
    )

    assert result.ok
    assert [(m.source, m.document, m.kind) for m in result.objects] == [
        ("app.yaml", 1, "Deployment"),
        ("app.yaml", 2, "Service"),
        ("config.yml", 1, "ConfigMap"),
    ]


def test_several_files_are_all_or_nothing_and_name_the_file() -> None:
    bad = SERVICE.replace("name: web\n", "name: api\n  namespace: other\n", 1)
    result = parse_many([("good.yaml", SERVICE.encode()), ("bad.yaml", bad.encode())], namespace=NS)

    assert result.objects == []
    [problem] = result.problems
    assert (problem.source, problem.document, problem.line, problem.path) == (
        "bad.yaml",
        1,
        5,
        "metadata.namespace",
    )
    assert str(problem).startswith("bad.yaml, document 1, line 5, column 14: ")


def test_the_same_object_in_two_files_is_reported_with_the_first_file() -> None:
    result = parse_many([("a.yaml", SERVICE.encode()), ("b.yaml", SERVICE.encode())], namespace=NS)

    [problem] = result.problems
    assert problem.source == "b.yaml"
    assert "Service web appears twice (first in a.yaml, document 1)" in problem.message


def test_files_together_may_not_exceed_the_size_cap() -> None:
    half = SERVICE + "# " + "x" * (MAX_BYTES // 2) + "\n"
    other = half.replace("name: web", "name: api", 1)
    result = parse_many([("a.yaml", half.encode()), ("b.yaml", other.encode())], namespace=NS)

    assert result.objects == []
    assert [(p.source, "Together, the files are larger" in p.message) for p in result.problems] == [
        ("b.yaml", True)
    ]


def test_files_together_may_not_exceed_the_document_cap() -> None:
    thirty = "---\n".join(SERVICE.replace("name: web", f"name: web{i}", 1) for i in range(30))
    result = parse_many(
        [("a.yaml", thirty.encode()), ("b.yaml", thirty.replace("web", "api").encode())], namespace=NS
    )
    assert result.objects == []
    assert any(p.source == "b.yaml" and "more than 50 documents" in p.message for p in result.problems)


def test_an_empty_file_among_others_is_reported() -> None:
    result = parse_many([("a.yaml", SERVICE.encode()), ("empty.yaml", b"# nothing\n")], namespace=NS)
    assert [(p.source, p.message) for p in result.problems] == [
        ("empty.yaml", "No objects found: the YAML is empty or only comments.")
    ]


@pytest.mark.parametrize("given", ["", "namespace: demo", 'namespace: ""', "namespace: null"])
def test_namespace_missing_empty_or_equal_becomes_the_projects(given: str) -> None:
    text = SERVICE.replace("  name: web\n", f"  name: web\n  {given}\n" if given else "  name: web\n")
    obj = only(parse_manifests(text, namespace=NS))
    assert obj["metadata"]["namespace"] == NS
    assert list(obj["metadata"])[:2] == ["name", "namespace"]


def test_namespace_is_added_even_without_a_name_position_to_follow() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {a: b}\n  name: c\n"
    obj = only(parse_manifests(text, namespace=NS))
    assert obj["metadata"] == {"labels": {"a": "b"}, "name": "c", "namespace": NS}


def test_server_managed_fields_are_stripped() -> None:
    text = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: demo
  uid: 6f1c1f3e-0000-0000-0000-000000000000
  resourceVersion: "12345"
  generation: 3
  creationTimestamp: "2024-01-01T00:00:00Z"
  deletionTimestamp: "2024-01-02T00:00:00Z"
  deletionGracePeriodSeconds: 30
  selfLink: /api/v1/namespaces/demo/services/web
  managedFields:
    - manager: kubectl
      operation: Update
      fieldsV1: {f:spec: {}}
  ownerReferences:
    - {apiVersion: apps/v1, kind: Deployment, name: other, uid: abc}
  annotations:
    keep: me
spec:
  clusterIP: 10.96.0.10
  clusterIPs: [10.96.0.10]
  ports: [{port: 80}]
status:
  loadBalancer: {}
"""
    obj = only(parse_manifests(text, namespace=NS))
    assert obj == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "demo", "annotations": {"keep": "me"}},
        # the addresses stay: Edit YAML needs them; creation paths strip them with for_create=True
        "spec": {"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "ports": [{"port": 80}]},
    }
    created = strip_server_fields(obj, for_create=True)
    assert created["spec"] == {"ports": [{"port": 80}]}
    assert obj["spec"]["clusterIP"] == "10.96.0.10"  # the input is not changed


def test_strip_for_create_keeps_a_headless_service_headless() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "db", "resourceVersion": "1", "uid": "u"},
        "spec": {"clusterIP": "None", "clusterIPs": ["None"], "ports": [{"port": 5432}]},
        "status": {},
    }
    assert strip_server_fields(obj, for_create=True) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "db"},
        "spec": {"clusterIP": "None", "ports": [{"port": 5432}]},
    }


def test_strip_returns_a_deep_copy() -> None:
    obj = {"kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "b"}}, "data": {"k": ["v"]}}
    copy = strip_server_fields(obj, for_create=False)
    copy["metadata"]["labels"]["a"] = "changed"
    copy["data"]["k"].append("w")
    assert obj == {"kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "b"}}, "data": {"k": ["v"]}}


def _plain(value: Any) -> bool:
    if type(value) is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    if type(value) is list:
        return all(_plain(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


def test_objects_are_fresh_plain_python_values() -> None:
    text = DEPLOYMENT + "---\n" + SERVICE + "---\n" + obj_yaml(
        "ConfigMap", "v1", body="data:\n  script: |\n    #!/bin/sh\n    echo hi\n  ratio: '0.5'\n"
    )
    first = parse_manifests(text, namespace=NS)
    second = parse_manifests(text, namespace=NS)

    assert all(_plain(m.obj) for m in first.objects)
    assert first.objects[2].obj["data"] == {"script": "#!/bin/sh\necho hi\n", "ratio": "0.5"}
    first.objects[0].obj["spec"]["replicas"] = 9
    assert second.objects[0].obj["spec"]["replicas"] == 2


def test_quoted_and_core_tagged_values_are_text() -> None:
    body = 'data:\n  a: "on"\n  b: \'0755\'\n  c: !!str 0755\n  d: !!str yes\n  e: "1:30"\n  f: !!int "42"\n'
    obj = only(parse_manifests(obj_yaml("ConfigMap", "v1", body=body), namespace=NS))
    assert obj["data"] == {"a": "on", "b": "0755", "c": "0755", "d": "yes", "e": "1:30", "f": 42}


def test_yaml_12_values_that_kubectl_reads_the_same_are_accepted() -> None:
    body = "x: [true, false, null, ~, 0, -7, 0o17, 0x1F, 1.5, .5, 1e3, -0.0, 1.10, v1, 3a, TRUE]\n"
    obj = only(parse_manifests(obj_yaml("ConfigMap", "v1", body=body), namespace=NS))
    assert obj["x"] == [True, False, None, None, 0, -7, 15, 31, 1.5, 0.5, 1000.0, -0.0, 1.1, "v1", "3a", True]


def test_byte_order_mark_and_crlf_line_ends_are_accepted() -> None:
    data = ("\ufeff" + SERVICE).replace("\n", "\r\n").encode("utf-8")
    assert only(parse_manifests(data, namespace=NS)) == SERVICE_OBJ
    assert only(parse_manifests("\ufeff" + SERVICE, namespace=NS)) == SERVICE_OBJ


def test_allowed_kinds_narrow_the_gate() -> None:
    result = parse_manifests(DEPLOYMENT, namespace=NS, allowed_kinds=frozenset({"Service"}))
    assert "allowed kinds: Service" in result.problems[0].message
    daemonset = obj_yaml("DaemonSet", "apps/v1")
    only(parse_manifests(daemonset, namespace=NS, allowed_kinds=frozenset({"DaemonSet"})))
    with pytest.raises(ValueError):
        parse_manifests(SERVICE, namespace=NS, allowed_kinds=frozenset({"Pod"}))


def test_problems_stop_at_a_cap() -> None:
    body = "data:\n" + "".join(f"  k{i}: on\n" for i in range(120))
    result = parse_manifests(obj_yaml("ConfigMap", "v1", body=body), namespace=NS)
    assert len(result.problems) == 51
    assert "Stopped after 50 problems" in result.problems[-1].message


def test_every_problem_of_a_document_is_reported_at_once() -> None:
    text = SERVICE.replace("app: web\n", "app: on\n", 1) + "mode: 0755\nmetadata2: {a: 1, a: 2}\n"
    result = parse_manifests(text, namespace=NS)
    assert [(p.line, p.path) for p in result.problems] == [
        (6, "metadata.labels.app"),
        (15, "mode"),
        (16, "metadata2.a"),
    ]


def test_problem_paths_name_list_items_and_odd_keys() -> None:
    text = SERVICE + "extra:\n  ports:\n    - {port: on}\n  labels:\n    app.kubernetes.io/name: yes\n"
    paths = [p.path for p in parse_manifests(text, namespace=NS).problems]
    assert paths == ["extra.ports[0].port", "extra.labels[app.kubernetes.io/name]"]


def test_gate_is_fast_enough_for_256_kib() -> None:
    # Not a timing assertion: the whole cap must go through, document count permitting.
    doc = DEPLOYMENT.replace("name: web\n", "name: web-{i}\n", 1)
    docs, size, i = [], 0, 0
    padding = "  annotations:\n    note: " + "x" * 5000 + "\n"
    while True:
        d = doc.replace("{i}", str(i)).replace("spec:\n", padding + "spec:\n", 1)
        if size + len(d) + 4 > MAX_BYTES or i == 50:
            break
        docs.append(d)
        size += len(d) + 4
        i += 1
    result = parse_manifests("---\n".join(docs), namespace=NS)
    assert result.ok and len(result.objects) == len(docs)


# ---------------------------------------------------------------------------------------------------
# dump_yaml


def test_dump_is_block_style_multi_document_in_key_order() -> None:
    deployment = only(parse_manifests(DEPLOYMENT, namespace=NS))
    text = dump_yaml([deployment, SERVICE_OBJ])

    assert text.startswith(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: demo\n"
    )
    assert "\n---\napiVersion: v1\nkind: Service\n" in text
    assert "{" not in text
    assert dump_yaml(SERVICE_OBJ) == dump_yaml([SERVICE_OBJ])


def test_dump_quotes_what_yaml_readers_would_misread() -> None:
    values = ["on", "Yes", "n", "0755", "1:30", "", "0.5", "80", "1e3", "true", "null", "~", "2024-01-01",
              "1_000", "0o17", "0x1F", ".inf", "<<", "- x", "#x", "a: b", " lead", "trail "]
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": NS},
           "data": {v or "empty": v for v in values}}
    text = dump_yaml(obj)

    assert 'on: "on"' not in text  # the key `on` is quoted too
    assert '"on": "on"' in text and '"0755": "0755"' in text and '"80": "80"' in text
    assert only(parse_manifests(text, namespace=NS)) == obj
    assert yaml.safe_load(text) == obj  # a YAML 1.1 reader (as kubectl is) reads the same
    assert dump_yaml(obj) == text  # the dumper remembers what it learnt of short strings: same output again


def test_dump_never_writes_anchors_for_shared_objects() -> None:
    labels = {"app": "web"}
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": NS,
           "labels": labels}, "spec": {"selector": {"matchLabels": labels},
           "template": {"metadata": {"labels": labels}}}}
    text = dump_yaml(obj)
    assert "&" not in text and "*" not in text
    assert only(parse_manifests(text, namespace=NS)) == obj


def test_dump_writes_multi_line_text_as_a_block() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": NS},
           "data": {"nginx.conf": "server {\n  listen 80;\n}\n"}}
    text = dump_yaml(obj)
    assert "nginx.conf: |\n    server {\n      listen 80;\n    }\n" in text
    assert only(parse_manifests(text, namespace=NS)) == obj


# ---------------------------------------------------------------------------------------------------
# Properties

NAME = st.from_regex(r"[a-z]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["on", "off", "yes", "0755", "1:30", "0.5", "80", "", "~", "2024-01-01", "<<", "0o7"])
)
JSONISH = st.recursive(
    SCALAR,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=25,
)


@st.composite
def valid_objects(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(NAME, min_size=1, max_size=4, unique=True))
    objs = []
    for name in names:
        kind = draw(st.sampled_from(sorted(CREATABLE_KINDS)))
        obj: dict[str, Any] = {
            "apiVersion": KIND_API_VERSIONS[kind],
            "kind": kind,
            "metadata": {"name": name, "namespace": NS},
        }
        labels = draw(st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3))
        if labels:
            obj["metadata"]["labels"] = labels
        obj["data"] = draw(JSONISH)
        objs.append(obj)
    return objs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_objects())
def test_dump_then_gate_gives_back_the_same_objects(objs: list[dict[str, Any]]) -> None:
    text = dump_yaml(objs)
    result = parse_manifests(text, namespace=NS)

    assert result.ok, [str(p) for p in result.problems]
    assert json.dumps([m.obj for m in result.objects]) == json.dumps(objs)  # types too: 1 is not 1.0
    assert json.dumps(list(yaml.safe_load_all(text))) == json.dumps(objs)  # and a YAML 1.1 reader agrees


class _ReferenceDumper(yaml.CSafeDumper):
    """PyYAML's own representer and serializer, with the gate's choice of string style: what dump_yaml's
    direct events must write, byte for byte."""


_ReferenceDumper.add_representer(
    str, lambda dumper, data: dumper.represent_scalar("tag:yaml.org,2002:str", data, style=yaml_dump._str_style(data)))
_ReferenceDumper.ignore_aliases = lambda self, data: True  # type: ignore[method-assign]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(JSONISH, min_size=1, max_size=3))
def test_dump_writes_what_pyyaml_would_write(docs: list[Any]) -> None:
    reference = yaml.dump_all(docs, Dumper=_ReferenceDumper, default_flow_style=False, sort_keys=False,
                              allow_unicode=True, width=1 << 30)
    assert dump_yaml(docs) == reference
    assert dump_yaml(docs) == reference  # and again, from what the dumper remembered
    assert dump_yaml([{"x": [float("inf"), float("-inf"), 1e17, 0.5]}]) == yaml.dump_all(
        [{"x": [float("inf"), float("-inf"), 1e17, 0.5]}], Dumper=_ReferenceDumper, default_flow_style=False)


API_VERSIONS = ["v1", "apps/v1", "rbac.authorization.k8s.io/v1", "storage.k8s.io/v1", "extensions/v1beta1", 1]
OTHER_KINDS = ["Namespace", "RoleBinding", "ClusterRole", "List", "ServiceList", "Pod", "PersistentVolume",
               "ServiceAccount", "DaemonSet", "", None, 3]
KINDS = sorted(CREATABLE_KINDS) * 3 + OTHER_KINDS
NAMESPACES = [None] * 4 + [NS] * 4 + ["", "other", "kube-system", "Demo", ["demo"]]
BAD_NAMES = ["Web", "a.b", "", "x" * 70, "-x", 7]


LIKELY = st.sampled_from([True] * 9 + [False])  # shrinks towards True: towards a valid manifest


@st.composite
def random_manifests(draw: st.DrawFn) -> str:
    """Mostly plausible manifests (so that some pass), in YAML or JSON, some with hostile fragments."""
    docs = []
    for _ in range(draw(st.integers(1, 2))):
        obj: dict[str, Any] = {}
        kind = draw(st.sampled_from(KINDS))
        if draw(LIKELY):
            right = kind in KIND_API_VERSIONS and draw(LIKELY)
            obj["apiVersion"] = KIND_API_VERSIONS[kind] if right else draw(st.sampled_from(API_VERSIONS))
        if draw(LIKELY):
            obj["kind"] = kind
        metadata: dict[str, Any] = {}
        if draw(LIKELY):
            metadata["name"] = draw(NAME) if draw(LIKELY) else draw(st.sampled_from(BAD_NAMES))
        namespace = draw(st.sampled_from(NAMESPACES))
        if namespace is not None:
            metadata["namespace"] = namespace
        obj["metadata"] = metadata if draw(LIKELY) else draw(SCALAR)
        if not draw(LIKELY):
            obj["items"] = [{"kind": "Service", "metadata": {"name": "x", "namespace": "kube-system"}}]
        obj["spec"] = draw(JSONISH)
        style = draw(st.sampled_from(["yaml", "json", "flow"]))
        if style == "json":
            docs.append(json.dumps(obj, ensure_ascii=draw(st.booleans())))
        else:
            docs.append(yaml.safe_dump(obj, default_flow_style=(style == "flow"), sort_keys=False))
    text = "---\n".join(docs)
    if not draw(LIKELY):
        for fragment in draw(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=3)):
            at = draw(st.integers(0, len(text)))
            text = text[:at] + fragment + text[at:]
    return text


FRAGMENTS = ["&a ", "*a", "!!python/object:x ", "!x ", "\t", "---\n", "namespace: kube-system\n",
             "metadata:\n  namespace: other\n", "kind: Namespace\n", "<<: ", "{", "]", "on", "0755", "\x00",
             "kind: List\n", "  ", "\n", "- ", ": ", "'", '"', "#", "%TAG ! tag:x,2000:\n", "? "]


def _accepted_invariants(result: GateResult, allowed: frozenset[str]) -> None:
    if result.problems:
        assert result.objects == []
        assert all(isinstance(p, Problem) and p.message for p in result.problems)
        return
    for manifest in result.objects:
        obj = manifest.obj
        assert obj["kind"] in allowed
        assert obj["apiVersion"] == KIND_API_VERSIONS[obj["kind"]]
        assert obj["metadata"]["namespace"] == NS
        assert isinstance(obj["metadata"]["name"], str) and obj["metadata"]["name"]
        assert "status" not in obj and "uid" not in obj["metadata"]
        assert _plain(obj)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_manifests())
def test_whatever_the_gate_accepts_is_an_allowed_kind_in_the_project(text: str) -> None:
    _accepted_invariants(parse_manifests(text, namespace=NS), CREATABLE_KINDS)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS + ["apiVersion: v1\n", "kind: Service\n", "kind: Deployment\n",
                                             "apiVersion: apps/v1\n", "metadata:\n", "  name: web\n",
                                             "  namespace: demo\n", "name: x\n", "}", "[", "x", "1"]),
                max_size=30).map("".join))
def test_random_yamlish_text_never_breaks_the_gate(text: str) -> None:
    _accepted_invariants(parse_manifests(text, namespace=NS), CREATABLE_KINDS)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_arbitrary_bytes_and_text_never_break_the_gate(data: bytes | str) -> None:
    _accepted_invariants(parse_manifests(data, namespace=NS), CREATABLE_KINDS)


@pytest.mark.parametrize("field,value", [("port", 2**63 - 1), ("targetPort", 70000), ("nodePort", -1)])
def test_an_impossible_port_is_answered_by_the_gate_at_its_line(field: str, value: int) -> None:
    text = (f"apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n"
            f"  - name: http\n    {field}: {value}\n")
    result = parse_manifests(text, namespace=NS)
    assert not result.ok
    problem = result.problems[0]
    assert (problem.line, problem.path) == (8, f"spec.ports[0].{field}")
    assert "a port number is between 1 and 65535" in problem.message and str(value) in problem.message


def test_a_container_port_deep_in_a_workload_is_located_too() -> None:
    text = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: w\nspec:\n  template:\n    spec:\n"
            "      containers:\n      - name: a\n        image: nginx\n        ports:\n"
            "        - containerPort: 99999\n")
    problem = parse_manifests(text, namespace=NS).problems[0]
    assert (problem.line, problem.column) == (12, 26)


def test_an_over_long_key_gets_the_gates_own_message_at_its_line() -> None:
    text = f"apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  labels:\n    {'k' * 1100}: v\n"
    problem = parse_manifests(text, namespace=NS).problems[0]
    assert problem.line == 6 and problem.column == 5
    assert "1100 characters long" in problem.message and "not well formed" not in problem.message


def test_a_configmaps_data_is_not_read_as_ports() -> None:
    """Found by the dump/gate property: a ConfigMap key named nodePort is the user's text, not a port."""
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  nodePort: -1\n"
    assert parse_manifests(text, namespace="demo").ok
