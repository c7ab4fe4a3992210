"""Pure manifest builders of the Create Service wizard: names, labels, host time, ports, lists, quantities."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import manifests as m
from app.domain.k8s import names as n
from app.domain.k8s import quantities as q


def test_workload_name_joins_name_and_version() -> None:
    assert m.workload_name("nginx-demo", "v1") == "nginx-demo-v1"


def test_service_selector_drops_version_only() -> None:
    labels = {"app": "nginx", "version": "v2", "tier": "web"}
    assert m.service_selector(labels) == {"app": "nginx", "tier": "web"}
    assert labels["version"] == "v2"  # the input is not touched


def test_new_templates_have_no_empty_artefacts() -> None:
    deployment = m.new_workload("stateless")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["kind"] == "Deployment"
    assert "serviceAccount" not in pod and "initContainers" not in pod and "imagePullSecrets" not in pod
    assert pod["terminationGracePeriodSeconds"] == 30
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    statefulset = m.new_workload("stateful")
    assert statefulset["spec"]["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"partition": 0},
    }
    assert m.new_service("stateful")["spec"]["clusterIP"] == "None"
    assert "clusterIP" not in m.new_service("stateless")["spec"]
    assert m.new_service("stateless")["metadata"]["annotations"] == {
        "kubesphere.io/serviceType": "statelessservice"
    }


def test_stamp_sets_namespace_and_creator_on_object_and_pod_template() -> None:
    workload = m.new_workload("stateless")
    out = m.stamp(workload, namespace="demo-project", creator="project-regular")
    assert out["metadata"]["namespace"] == "demo-project"
    assert out["metadata"]["annotations"]["kubesphere.io/creator"] == "project-regular"
    assert out["spec"]["template"]["metadata"]["annotations"]["kubesphere.io/creator"] == "project-regular"
    assert list(out) == ["apiVersion", "kind", "metadata", "spec"]
    assert "namespace" not in workload["metadata"]  # a copy
    service = m.stamp(m.new_service("stateless"), namespace="ns", creator="me")
    assert "template" not in service["spec"]  # kubesphere/console#2614: no stray spec.template on a Service


def test_stamp_overrides_a_forged_creator_and_namespace() -> None:
    service = m.new_service("stateless")
    service["metadata"]["namespace"] = "kube-system"
    service["metadata"]["annotations"]["kubesphere.io/creator"] = "admin"
    out = m.stamp(service, namespace="demo-project", creator="project-regular")
    assert out["metadata"]["namespace"] == "demo-project"
    assert out["metadata"]["annotations"]["kubesphere.io/creator"] == "project-regular"


# -- host time (kubesphere/kubesphere#4350: mounts and volume come and go together)


def test_host_time_mount_and_volume_are_added_together() -> None:
    container = m.with_host_time_mount({"name": "c"}, True)
    assert container["volumeMounts"] == [
        {"name": "host-time", "mountPath": "/etc/localtime", "readOnly": True}
    ]
    pod = m.with_host_time_volume({"containers": [container]})
    assert pod["volumes"] == [{"name": "host-time", "hostPath": {"path": "/etc/localtime", "type": ""}}]


def test_host_time_volume_stays_while_any_container_mounts_it() -> None:
    a = m.with_host_time_mount({"name": "a"}, True)
    b = m.with_host_time_mount({"name": "b"}, True)
    pod = m.with_host_time_volume({"containers": [a], "initContainers": [b]})
    pod["containers"] = [m.with_host_time_mount(a, False)]
    pod = m.with_host_time_volume(pod)
    assert [v["name"] for v in pod["volumes"]] == ["host-time"]  # the init container still mounts it
    pod["initContainers"] = [m.with_host_time_mount(b, False)]
    pod = m.with_host_time_volume(pod)
    assert "volumes" not in pod
    assert "volumeMounts" not in pod["containers"][0] and "volumeMounts" not in pod["initContainers"][0]


def test_host_time_removal_keeps_other_mounts_and_volumes() -> None:
    container = {"name": "c", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}
    container = m.with_host_time_mount(container, True)
    assert [x["name"] for x in container["volumeMounts"]] == ["data", "host-time"]
    pod = m.with_host_time_volume({"containers": [container], "volumes": [{"name": "data", "emptyDir": {}}]})
    container = m.with_host_time_mount(container, False)
    pod = m.with_host_time_volume({**pod, "containers": [container]})
    assert container["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
    assert pod["volumes"] == [{"name": "data", "emptyDir": {}}]


def test_host_time_keeps_an_existing_mount_as_written() -> None:
    mount = {"name": "host-time", "mountPath": "/etc/localtime", "readOnly": True, "mountPropagation": "None"}
    assert m.with_host_time_mount({"name": "c", "volumeMounts": [mount]}, True)["volumeMounts"] == [mount]


# -- ports


def test_port_names_and_protocols() -> None:
    assert m.default_port_name("HTTP", 0) == "http-0"
    assert m.default_port_name("GRPC", 3) == "grpc-3"
    assert m.k8s_protocol("UDP") == "UDP"
    assert all(m.k8s_protocol(p) == "TCP" for p in m.PROTOCOLS if p != "UDP")
    assert m.protocol_of_port("http2-web", "TCP") == "HTTP2"
    assert m.protocol_of_port("https", "TCP") == "HTTPS"
    assert m.protocol_of_port("web", "TCP") == "TCP"
    assert m.protocol_of_port("http-0", "UDP") == "UDP"


def _spec(name: str, port: int, target: int, protocol: str = "TCP") -> m.ServicePortSpec:
    return m.ServicePortSpec(name, protocol, port, target)


def test_derived_service_ports_keep_fields_set_elsewhere() -> None:
    existing = [
        {
            "name": "http-0",
            "protocol": "TCP",
            "port": 80,
            "targetPort": 80,
            "nodePort": 30080,
            "appProtocol": "http",
        }
    ]
    out = m.derive_service_ports([_spec("http-0", 8080, 80)], existing, lambda p: True)
    assert out == [
        {
            "name": "http-0",
            "protocol": "TCP",
            "port": 8080,
            "targetPort": 80,
            "nodePort": 30080,
            "appProtocol": "http",
        }
    ]


def test_derived_service_ports_drop_owned_and_keep_hand_written_ports() -> None:
    existing = [
        {"name": "old", "protocol": "TCP", "port": 1, "targetPort": 1},
        {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": 9090},
    ]
    out = m.derive_service_ports([_spec("web", 80, 8080)], existing, lambda p: p["name"] == "old")
    assert [p["name"] for p in out] == ["web", "metrics"]


def test_derived_service_port_adopts_an_unnamed_port_with_the_same_target() -> None:
    existing = [{"port": 80, "targetPort": 8080, "nodePort": 31000}]
    out = m.derive_service_ports([_spec("http-0", 80, 8080)], existing, lambda p: True)
    assert out == [{"name": "http-0", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 31000}]


def test_derived_service_port_keeps_a_named_target_port_that_means_the_same_port() -> None:
    existing = [{"name": "http-0", "port": 80, "targetPort": "http-0"}]
    out = m.derive_service_ports([_spec("http-0", 80, 8080)], existing, lambda p: True)
    assert out[0]["targetPort"] == "http-0"


# -- labels


def test_relabel_follows_the_labels_and_keeps_the_targets_own_keys() -> None:
    old = {"app": "web", "version": "v1", "tier": "front"}
    new = {"app": "web", "version": "v1", "team": "blue"}
    target = {"app": "web", "version": "v1", "tier": "front", "extra": "x"}
    assert m.relabel(target, old, new) == {"app": "web", "version": "v1", "extra": "x", "team": "blue"}


def test_label_rules() -> None:
    assert n.is_label_key("app")
    assert n.is_label_key("example.com/tier")
    assert n.is_label_key("a" * 63)
    assert not n.is_label_key("a" * 64)
    assert not n.is_label_key("Example.com/x")  # the prefix is a lower-case DNS subdomain
    assert not n.is_label_key("/x") and not n.is_label_key("x/") and not n.is_label_key("-x")
    assert n.is_label_value("") and n.is_label_value("v1.2_a-b")
    assert not n.is_label_value("a b") and not n.is_label_value("x" * 64)


def test_preserved_annotations() -> None:
    assert m.is_preserved_annotation("kubesphere.io/creator")
    assert m.is_preserved_annotation("openpitrix_runtime")
    assert not m.is_preserved_annotation("lb.kubesphere.io/v1alpha1")  # OpenELB's keys stay editable
    assert not m.is_preserved_annotation("example.com/kubesphere.io/x")


# -- comma-separated lists (command, args, exec probes)


def test_split_list_like_the_original() -> None:
    assert m.split_list("nginx, -g, 'daemon off;'") == ["nginx", "-g", "daemon off;"]
    assert m.split_list(' "a" ,, b ,') == ["a", "b"]
    assert m.split_list("") == []


def test_split_list_keeps_commas_and_empty_items_in_quotes() -> None:
    assert m.split_list('sh, -c, "echo a, b", ""') == ["sh", "-c", "echo a, b", ""]
    assert m.split_list('"say ""hi"""') == ['say "hi"']


def test_split_list_refuses_an_unclosed_quote() -> None:
    for text in ('"abc', "a, 'b", '"a" b'):
        try:
            m.split_list(text)
        except ValueError:
            continue
        raise AssertionError(text)


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(st.text(max_size=12)))
def test_join_list_round_trips_through_split_list(items: list[str]) -> None:
    assert m.split_list(m.join_list(items)) == items


# -- quantities


def test_parse_quantity() -> None:
    assert q.parse_quantity("512Mi") == 512 * 2**20
    assert q.parse_quantity("0.5") == Decimal("0.5")
    assert q.parse_quantity("250m") == Decimal("0.25")
    assert q.parse_quantity("1k") == 1000
    assert q.parse_quantity("1e3") == 1000
    assert q.parse_quantity("lots") is None


def test_memory_from_a_manifest_always_carries_a_unit() -> None:
    assert q.memory_text("536870912") == "512Mi"
    assert q.memory_text(1073741824) == "1Gi"
    assert q.memory_text("1000") == "1k"
    assert q.memory_text("123") == "123e0"
    assert q.memory_text("128Mi") == "128Mi"
    assert q.parse_quantity(q.memory_text("123")) == 123


def test_cpu_from_a_manifest() -> None:
    assert q.cpu_text(0.5) == "0.5"
    assert q.cpu_text(2) == "2"
    assert q.cpu_text("250m") == "250m"
    assert q.cpu_text(None) == ""


# -- load balancer providers


def test_lb_provider_keys_have_no_stray_whitespace() -> None:
    for provider in m.LB_PROVIDERS:
        assert provider.keys, provider.id
        for key in provider.keys:
            assert key == key.strip() and "\t" not in key, key
    assert "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-spec" in m.lb_provider("alibaba").keys
    assert (
        m.lb_provider(m.DEFAULT_LB_PROVIDER).defaults[
            "service.beta.kubernetes.io/qingcloud-load-balancer-type"
        ]
        == "0"
    )


def test_detect_provider_from_annotations() -> None:
    openelb = {
        "lb.kubesphere.io/v1alpha1": "openelb",
        "protocol.openelb.kubesphere.io/v1alpha1": "layer2",
        "kubesphere.io/creator": "admin",
    }
    assert m.detect_provider(openelb) == "openelb"  # kubesphere/kubesphere#6105
    assert m.detect_provider({"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}) == "aws"
    assert m.detect_provider({"service.beta.kubernetes.io/aws-load-balancer-something-new": "x"}) == "aws"
    assert (
        m.detect_provider({"service.beta.kubernetes.io/alibaba-cloud-loadbalancer-spec\t": "x"}) == "alibaba"
    )
    assert m.detect_provider({"example.com/x": "y"}) is None
    assert m.detect_provider({}) is None


def test_name_rules_refuse_a_trailing_newline() -> None:
    """`$` would let "web\\n" through; the rules are full matches."""
    assert n.is_dns1123_label("web") and not n.is_dns1123_label("web\n")
    assert n.is_object_name("Service", "web") and not n.is_object_name("Service", "web\n")
    assert not n.is_object_name("Service", "1web") and n.is_object_name("Deployment", "1web.v2")
    assert n.dns1123_label_problem("web\n") is not None and n.alias_problem("Nginx-Demo\n") is not None


def test_the_alias_rule_is_the_originals_as_its_message_states_it() -> None:
    """Letters, numbers, hyphens and CJK characters; no hyphen at either end; no spaces (issue 21)."""
    for good in ("Nginx-Demo", "MySQL", "订单服务", "v2", "a" * 63, ""):
        assert n.alias_problem(good) is None, good
    for bad in ("Nginx Demo", " web", "-web", "web-", "web_1", "web.1", "a" * 64):
        assert n.alias_problem(bad) == (
            "The alias name can contain only letters, numbers, and hyphens (-), and cannot start or end with a "
            "hyphen. The maximum length is 63 characters."), bad
