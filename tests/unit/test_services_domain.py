"""The Services domain without a cluster: classification, search/sort/pages, pod status and usage,
events filtering, the edit builders (selector, ports, external access), the three-way merge of Edit
YAML, related resources for delete, and a fixed number of API calls whatever the number of rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.domain import manifests
from app.domain import services as s
from app.domain.errors import Invalid
from app.domain.k8s import quantities as q
from app.domain.k8s.service_traffic import TrafficFields
from app.kube.errors import KubeError
from app.kube.store import Page, Store, is_about, page_of, template_labels


def svc(name: str = "web", *, created: str = "2024-01-01T00:00:00Z", spec: dict | None = None,
        labels: dict | None = None, annotations: dict | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "demo", "uid": f"uid-{name}", "resourceVersion": "10",
                     "creationTimestamp": created, "labels": labels or {}, "annotations": annotations or {}},
        "spec": spec if spec is not None else {"type": "ClusterIP", "clusterIP": "10.96.0.10", "selector": {"app": name},
                                               "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}]},
    }


# -- what a Service is ---------------------------------------------------------------------------------

def test_kind_comes_from_the_annotation_and_access_from_the_object() -> None:
    stateless = svc(annotations={s.SERVICE_TYPE: "statelessservice"})
    assert (s.service_kind(stateless), s.access_type(stateless)) == (s.STATELESS, s.VIRTUAL_IP)
    stateful = svc(annotations={s.SERVICE_TYPE: "statefulservice"},
                   spec={"clusterIP": "None", "selector": {"app": "db"}, "ports": []})
    assert (s.service_kind(stateful), s.access_type(stateful)) == (s.STATEFUL, s.HEADLESS)
    external = svc(annotations={s.SERVICE_TYPE: "externalservice"}, spec={"type": "ExternalName", "externalName": "a.example.com"})
    assert (s.service_kind(external), s.access_type(external)) == (s.EXTERNAL, s.EXTERNAL_NAME)


def test_hand_made_headless_service_is_headless_and_custom() -> None:
    """kubesphere#5094: a Service written by hand with clusterIP None must not show as Virtual IP."""
    for spec in ({"clusterIP": "None", "selector": {"app": "x"}}, {"clusterIP": "None"},
                 {"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"]}):
        view = s.ServiceView.of(svc(spec=spec, annotations={s.SERVICE_TYPE: "statelessservice"} if "type" in spec else {}))
        assert view.access == s.HEADLESS and view.access_label == "Headless"
        assert not view.can_edit_external_access
    assert s.ServiceView.of(svc(spec={"clusterIP": "None"})).kind_label == "Custom Service"


def test_external_access_column() -> None:
    node = s.ServiceView.of(svc(spec={"type": "NodePort", "clusterIP": "10.96.0.2", "ports": [
        {"port": 80, "protocol": "TCP", "nodePort": 30080}, {"port": 53, "protocol": "UDP", "nodePort": 30053}]}))
    assert node.external.mode == "NodePort" and node.external.values == ["30080/TCP", "30053/UDP"]
    lb = svc(spec={"type": "LoadBalancer", "clusterIP": "10.96.0.3", "ports": [{"port": 80, "nodePort": 31000}]})
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.7"}, {"hostname": "lb.example.com"}]}}
    view = s.ServiceView.of(lb)
    assert view.external.mode == "LoadBalancer" and view.external.values == ["192.0.2.7", "lb.example.com"]
    assert s.ServiceView.of(svc()).external.mode == ""
    assert s.ServiceView.of(svc(labels={"app.kubernetes.io/name": "shop", "app": "web"})).app == "shop"


# -- list ----------------------------------------------------------------------------------------------

def test_search_by_name_alias_and_app_and_sort() -> None:
    items = [svc("alpha", created="2024-01-03T00:00:00Z", labels={"app": "shop"}),
             svc("beta", created="2024-01-01T00:00:00Z", labels={"app": "blog"}, annotations={s.ALIAS: "Shop-Frontend"}),
             svc("gamma", created="2024-01-02T00:00:00Z", labels={"app.kubernetes.io/name": "shop-api"})]
    names = lambda q: [x["metadata"]["name"] for x in s.search_services(items, q)]  # noqa: E731
    assert names(s.ListQuery()) == ["alpha", "gamma", "beta"]  # newest first
    assert names(s.ListQuery(sort="name", ascending=True)) == ["alpha", "beta", "gamma"]
    assert names(s.ListQuery(sort="name", ascending=False)) == ["gamma", "beta", "alpha"]
    assert names(s.ListQuery(name="shop")) == ["beta"]  # the alias
    assert names(s.ListQuery(name="AL")) == ["alpha"]
    assert names(s.ListQuery(app="shop")) == ["alpha", "gamma"]
    assert names(s.ListQuery(app="nothing")) == []


def test_list_query_is_read_leniently_and_links_keep_it() -> None:
    q = s.ListQuery.parse({"page": "x", "limit": "100000", "sort": "evil", "name": " web "})
    assert (q.page, q.limit, q.sort, q.name, q.ascending) == (1, 100, "createTime", "web", False)
    assert s.ListQuery.parse({"sort": "name"}).ascending is True
    q = s.ListQuery(name="web", app="shop")
    assert q.params(page=2) == "?name=web&app=shop&page=2"
    assert s.ListQuery().sort_params("name") == "?sort=name"
    assert s.ListQuery(sort="name", ascending=True).sort_params("name") == "?sort=name&order=desc"


class CountingKube:
    """A gateway stand-in that answers lists from memory and counts the calls."""

    def __init__(self, objects: dict[str, list[dict]]) -> None:
        self.objects = objects
        self.calls: list[tuple[str, str]] = []

    async def list(self, kind: str, namespace: str, **kw: Any) -> dict:
        self.calls.append(("list", kind))
        items = self.objects.get(kind, [])
        if kw.get("label_selector"):
            wanted = dict(p.split("=") for p in kw["label_selector"].split(","))
            items = [i for i in items if s.matches(wanted, i["metadata"].get("labels") or {})]
        if kw.get("template_selector"):
            wanted = dict(p.split("=") for p in kw["template_selector"].split(","))
            items = [i for i in items if s.matches(wanted, template_labels(i))]
        return {"metadata": {"resourceVersion": "99"}, "items": items}

    async def page(self, kind: str, namespace: str, **kw: Any) -> Page:
        self.calls.append(("list", kind))
        return page_of(self.objects.get(kind, []), order=kw["order"], descending=kw["descending"],
                       page=kw["page"], limit=kw["limit"], match=kw["match"], resource_version="99")

    async def items(self, kind: str, namespace: str, **kw: Any) -> list[dict]:
        return (await self.list(kind, namespace, **kw))["items"]

    async def events_about(self, namespace: str, *, actor: Any, objects: frozenset, prefixes: list) -> list[dict]:
        self.calls.append(("list", "Event"))
        return [e for e in self.objects.get("Event", []) if is_about(e, objects, prefixes)]

    async def raw_get(self, path: str, **kw: Any) -> dict:
        raise KubeError(404, "NotFound", f"{path}: not served")  # discovery: no Gateway API here

    async def get(self, kind: str, namespace: str, name: str, **kw: Any) -> dict:
        self.calls.append(("get", kind))
        for obj in self.objects.get(kind, []):
            if obj["metadata"]["name"] == name:
                return obj
        raise KubeError(404, "NotFound", f"{kind} {name} not found")


async def test_a_thousand_services_make_one_call_and_one_page_of_rows() -> None:
    kube = CountingKube({"Service": [svc(f"svc-{i:04d}", created=f"2024-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z")
                                     for i in range(1000)]})
    page = await s.list_services(kube, "demo", actor=None, query=s.ListQuery())  # type: ignore[arg-type]
    assert kube.calls == [("list", "Service")]
    assert len(page.rows) == 20 and page.total == 1000 and page.pages == 50
    last = await s.list_services(kube, "demo", actor=None, query=s.ListQuery(page=99))  # type: ignore[arg-type]
    assert last.page == 50 and len(last.rows) == 20


def pod(name: str, labels: dict, *, phase: str = "Running", ready: bool = True, restarts: int = 0,
        waiting: str | None = None) -> dict:
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {"startedAt": "2024-01-01T00:00:00Z"}}
    return {"metadata": {"name": name, "labels": labels, "creationTimestamp": "2024-01-01T00:00:00Z",
                         "ownerReferences": [{"kind": "ReplicaSet", "name": "web-v1-abc", "controller": True}]},
            "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "nginx:1.25",
                                                           "ports": [{"containerPort": 80}]}]},
            "status": {"phase": phase, "hostIP": "127.0.0.1", "podIP": "10.244.0.5", "podIPs": [{"ip": "10.244.0.5"}],
                       "containerStatuses": [{"name": "c", "ready": ready, "restartCount": restarts, "state": state}]}}


async def test_detail_makes_the_same_calls_whatever_the_number_of_pods() -> None:
    def world(n: int) -> CountingKube:
        return CountingKube({
            "Service": [svc()], "Endpoints": [{"metadata": {"name": "web"}, "subsets": []}],
            "Pod": [pod(f"web-{i}", {"app": "web"}) for i in range(n)],
            "Deployment": [{"metadata": {"name": "web-v1", "labels": {"app": "web", "version": "v1"}},
                            "spec": {"replicas": n, "template": {"metadata": {"labels": {"app": "web", "version": "v1"}}}},
                            "status": {"readyReplicas": n}}],
            # metrics.k8s.io gives a PodMetrics the labels of its pod (and filters by them)
            "PodMetrics": [{"metadata": {"name": f"web-{i}", "labels": {"app": "web"}},
                            "containers": [{"name": "c", "usage": {"cpu": "5m", "memory": "10Mi"}}]} for i in range(n)],
            "Event": [],
        })
    counts = []
    for n in (1, 30):
        kube = world(n)
        detail = await s.service_detail(kube, "demo", "web", actor=None, status=True, events=True)  # type: ignore[arg-type]
        assert len(detail.pods) == n and detail.pods[0].cpu == "5m" and detail.pods[0].memory == "10.0 Mi"
        counts.append(sorted(kube.calls))
    assert counts[0] == counts[1]
    # service, endpoints, pods, metrics, events, 3 workload kinds, and (these pods are not ready) one read
    # of their events for the failing probes: nothing per row
    assert len(counts[0]) == 9


async def test_metrics_failure_shows_a_dash() -> None:
    kube = CountingKube({"Service": [svc()], "Pod": [pod("web-1", {"app": "web"})]})

    async def refuse(*a: Any, **kw: Any) -> list:
        raise KubeError(503, "ServiceUnavailable", "the server is currently unable to handle the request")
    original = kube.items

    async def items(kind: str, namespace: str, **kw: Any) -> list:
        return await (refuse() if kind == "PodMetrics" else original(kind, namespace, **kw))
    kube.items = items  # type: ignore[method-assign]
    detail = await s.service_detail(kube, "demo", "web", actor=None)  # type: ignore[arg-type]
    assert not detail.metrics_available and detail.pods[0].cpu == "-" and detail.pods[0].memory == "-"


# -- pods, usage, events -------------------------------------------------------------------------------

def test_pod_status_like_kubectl() -> None:
    assert s.pod_status(pod("a", {})) == ("Running", "ok")
    assert s.pod_status(pod("a", {}, ready=False)) == ("Running", "warn")
    assert s.pod_status(pod("a", {}, waiting="CrashLoopBackOff")) == ("CrashLoopBackOff", "err")
    assert s.pod_status(pod("a", {}, phase="Pending", waiting="ContainerCreating")) == ("ContainerCreating", "warn")
    terminating = pod("a", {})
    terminating["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    assert s.pod_status(terminating)[0] == "Terminating"
    view = s.pod_view(pod("a", {}, restarts=3))
    assert (view.node, view.node_ip, view.pod_ip, view.restarts, view.ready, view.owner) == (
        "node-1", "127.0.0.1", "10.244.0.5", 3, "1/1", "ReplicaSet/web-v1-abc")
    assert view.containers[0].ports == ["80/TCP"] and view.containers[0].state == "Running"


@pytest.mark.parametrize("text,value", [("250m", Decimal("0.25")), ("1", Decimal(1)), ("123456789n", Decimal("0.123456789")),
                                        ("128Mi", Decimal(128 * 2**20)), ("1k", Decimal(1000)), ("1e3", Decimal(1000)),
                                        ("", None), ("bogus", None)])
def test_quantities(text: str, value: Decimal | None) -> None:
    assert q.parse_quantity(text) == value


def test_usage_formats() -> None:
    assert q.format_cpu(Decimal("0.0123")) == "12m"
    assert q.format_cpu(Decimal("1.5")) == "1.5 cores"
    assert q.format_memory(Decimal(3 * 2**30)) == "3.00 Gi"
    assert q.format_cpu(None) == q.format_memory(None) == "-"


async def test_events_of_the_service_its_workloads_and_pods_newest_first() -> None:
    def ev(kind: str, name: str, at: str, reason: str = "X") -> dict:
        return {"involvedObject": {"kind": kind, "name": name}, "reason": reason, "lastTimestamp": at, "count": 2}
    workloads = [s.WorkloadView("Deployment", "web-v1", 1, 1, "", [])]
    events = [ev("Service", "web", "2024-01-01T00:00:01Z"), ev("Deployment", "web-v1", "2024-01-01T00:00:03Z"),
              ev("ReplicaSet", "web-v1-5d9c", "2024-01-01T00:00:02Z"), ev("Pod", "web-v1-5d9c-old", "2024-01-01T00:00:05Z"),
              ev("Pod", "other-1", "2024-01-01T00:00:09Z"), ev("Service", "other", "2024-01-01T00:00:09Z")]
    store = Store("Event", "demo")
    store.fill({**e, "metadata": {"name": f"e{i}", "resourceVersion": str(i + 1)}} for i, e in enumerate(events))

    class Gateway:  # answers as the console's gateway does from the cache: by the index
        async def events_about(self, namespace: str, *, actor: object, objects: frozenset, prefixes: list) -> list:
            return store.about(objects, prefixes)

    found = await s.events_about(Gateway(), "demo", actor=None, service="web",  # type: ignore[arg-type]
                                 workloads=workloads, pods=["web-v1-5d9c-x1"])
    assert [(e.object_kind, e.object_name) for e in found] == [
        ("Pod", "web-v1-5d9c-old"), ("Deployment", "web-v1"), ("ReplicaSet", "web-v1-5d9c"), ("Service", "web")]


# -- Edit Service ----------------------------------------------------------------------------------------

def settings(**kw: Any) -> s.ServiceSettingsForm:
    base = {"access": s.VIRTUAL_IP, "selector": [s.KeyValueRow("app", "web")],
                "ports": [s.PortRow("http", "HTTP", "8080", "80")], "external_name": "", "resource_version": "10"}
    return s.ServiceSettingsForm(**{**base, **kw})


def test_edit_service_replaces_selector_and_ports_and_keeps_node_ports() -> None:
    current = svc(spec={"type": "NodePort", "clusterIP": "10.96.0.9", "sessionAffinity": "ClientIP",
                        "selector": {"app": "web"},
                        "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080, "nodePort": 30080}]})
    out = s.apply_service_settings(current, settings(selector=[s.KeyValueRow("app", "web"), s.KeyValueRow("tier", "front")],
                                                     ports=[s.PortRow("http", "HTTP", "9090", "80"), s.PortRow("metrics", "TCP", "9100", "9100")]))
    assert out["spec"]["selector"] == {"app": "web", "tier": "front"}
    assert out["spec"]["ports"] == [
        {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 9090, "nodePort": 30080},
        {"name": "metrics", "protocol": "TCP", "port": 9100, "targetPort": 9100}]
    assert out["spec"]["sessionAffinity"] == "ClientIP" and out["spec"]["clusterIP"] == "10.96.0.9"
    assert current["spec"]["ports"][0]["targetPort"] == 8080  # the input is not modified


def test_edit_service_validation_puts_each_problem_on_its_row() -> None:
    with pytest.raises(Invalid) as e:
        s.apply_service_settings(svc(), settings(
            selector=[s.KeyValueRow("bad key!", "x"), s.KeyValueRow("app", "a"), s.KeyValueRow("app", "b")],
            ports=[s.PortRow("", "TCP", "", "99999"), s.PortRow("HTTP", "XTP", "--", "80"), s.PortRow("web", "TCP", "80", "80")]))
    errors = e.value.errors
    assert set(errors) >= {"selector[0]", "selector[2]", "spec.ports[0].port", "spec.ports[0].name", "spec.ports[1].name",
                           "spec.ports[1].protocol", "spec.ports[1].targetPort"}
    with pytest.raises(Invalid) as e:
        s.apply_service_settings(svc(), settings(selector=[], ports=[]))
    assert set(e.value.errors) == {"spec.selector", "spec.ports"}


def test_edit_service_external_name_address() -> None:
    current = svc(spec={"type": "ExternalName", "externalName": "old.example.com"})
    out = s.apply_service_settings(current, settings(access=s.EXTERNAL_NAME, external_name="new.example.com."))
    assert out["spec"] == {"type": "ExternalName", "externalName": "new.example.com"}
    with pytest.raises(Invalid) as e:
        s.apply_service_settings(current, settings(access=s.EXTERNAL_NAME, external_name="Not A Host"))
    assert "spec.externalName" in e.value.errors


def test_settings_form_reads_rows_and_skips_empty_ones() -> None:
    form = s.ServiceSettingsForm.from_form({
        "selector_key": ["app", ""], "selector_value": ["web", ""], "port_name": ["http", ""],
        "port_protocol": ["TCP", "TCP"], "port_target": ["8080", ""], "port_port": ["80", ""], "resource_version": ["7"],
    }, access=s.VIRTUAL_IP)
    assert form.selector == [s.KeyValueRow("app", "web")] and form.ports == [s.PortRow("http", "TCP", "8080", "80")]
    assert form.resource_version == "7"


def test_edit_service_offers_the_wizards_protocols_and_keeps_sctp() -> None:
    current = svc(spec={"selector": {"app": "web"}, "ports": [
        {"name": "http-web", "protocol": "TCP", "port": 80, "targetPort": 8080},
        {"name": "dns", "protocol": "UDP", "port": 53, "targetPort": 53},
        {"name": "diameter", "protocol": "SCTP", "port": 3868, "targetPort": 3868},
        {"name": "db", "protocol": "TCP", "port": 5432, "targetPort": 5432}]})
    form = s.ServiceSettingsForm.of(current)
    assert [r.protocol for r in form.ports] == ["HTTP", "UDP", "SCTP", "TCP"]  # told by the name's prefix
    assert s.port_protocol_choices("HTTP") == manifests.PROTOCOLS and "SCTP" not in manifests.PROTOCOLS
    assert s.port_protocol_choices("SCTP") == (*manifests.PROTOCOLS, "SCTP")
    assert s.apply_service_settings(current, form)["spec"]["ports"] == current["spec"]["ports"]  # nothing changes
    form.ports[0].protocol, form.ports[3].protocol = "GRPC", "UDP"
    out = s.apply_service_settings(current, form)["spec"]["ports"]
    # a new protocol renames the port's prefix (as the wizards do); Kubernetes gets UDP only for UDP
    assert [(p["name"], p["protocol"]) for p in out] == [("grpc-web", "TCP"), ("dns", "UDP"), ("diameter", "SCTP"),
                                                         ("db", "UDP")]
    form.ports[0].protocol = "QUIC"
    with pytest.raises(Invalid) as e:
        s.apply_service_settings(current, form)
    assert e.value.errors == {"spec.ports[0].protocol": "Please select a protocol."}


# -- Edit External Access -------------------------------------------------------------------------------

def access_form(mode: str, node_ports: list[str] | None = None, annotations: list | None = None) -> s.ExternalAccessForm:
    return s.ExternalAccessForm(mode=mode, node_ports=node_ports, annotations=annotations, resource_version="10")


def test_none_removes_node_ports_and_node_only_fields() -> None:
    current = svc(spec={"type": "NodePort", "clusterIP": "10.96.0.9", "externalTrafficPolicy": "Local",
                        "sessionAffinity": "ClientIP", "selector": {"app": "web"},
                        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30080}]})
    out = s.apply_external_access(current, access_form("None", ["30080"]))
    assert out["spec"] == {"type": "ClusterIP", "clusterIP": "10.96.0.9", "sessionAffinity": "ClientIP",
                           "selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}


def test_node_port_optional_and_in_range() -> None:
    current = svc(spec={"type": "ClusterIP", "clusterIP": "10.96.0.9", "selector": {"app": "web"},
                        "ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}]})
    out = s.apply_external_access(current, access_form("NodePort", ["30111", ""]))
    assert out["spec"]["type"] == "NodePort"
    assert out["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "nodePort": 30111}, {"port": 443, "protocol": "TCP"}]
    with pytest.raises(Invalid) as e:
        s.apply_external_access(current, access_form("NodePort", ["80", "30111x"]))
    assert set(e.value.errors) == {"spec.ports[0].nodePort", "spec.ports[1].nodePort"}
    with pytest.raises(Invalid):
        s.apply_external_access(current, access_form("NodePort", ["30111", "30111"]))


def test_load_balancer_annotations_keep_the_console_s_own() -> None:
    current = svc(annotations={s.ALIAS: "Web", "old.example.com/x": "1"})
    out = s.apply_external_access(current, access_form("LoadBalancer", None, [s.KeyValueRow("lb.kubesphere.io/v1alpha1", "openelb")]))
    assert out["spec"]["type"] == "LoadBalancer"
    assert out["metadata"]["annotations"] == {s.ALIAS: "Web", "lb.kubesphere.io/v1alpha1": "openelb"}
    untouched = s.apply_external_access(current, access_form("LoadBalancer", None, None))
    assert untouched["metadata"]["annotations"] == current["metadata"]["annotations"]
    with pytest.raises(Invalid):
        s.apply_external_access(current, access_form("LoadBalancer", None, [s.KeyValueRow("kubesphere.io/creator", "x")]))


def test_external_access_is_for_virtual_ip_only() -> None:
    with pytest.raises(Invalid):
        s.apply_external_access(svc(spec={"clusterIP": "None"}), access_form("NodePort"))


# -- Edit YAML -------------------------------------------------------------------------------------------

def test_editable_yaml_leaves_out_what_the_server_owns() -> None:
    obj = svc()
    obj["metadata"].update(managedFields=[{"manager": "x"}], selfLink="/x")
    obj["status"] = {"loadBalancer": {}}
    text = s.editable_yaml(obj)
    for word in ("status", "managedFields", "resourceVersion", "uid", "selfLink", "creationTimestamp"):
        assert word not in text
    assert "clusterIP: 10.96.0.10" in text


def test_three_way_merge_applies_my_edit_to_the_latest() -> None:
    base = {"metadata": {"labels": {"a": "1"}}, "spec": {"ports": [1], "x": 1}}
    mine = {"metadata": {"labels": {"a": "1", "mine": "yes"}}, "spec": {"ports": [1], "x": 2}}
    latest = {"metadata": {"labels": {"a": "1", "theirs": "yes"}}, "spec": {"ports": [1, 2], "x": 1}}
    merged, conflicts = s.three_way_merge(base, mine, latest)
    assert merged == {"metadata": {"labels": {"a": "1", "theirs": "yes", "mine": "yes"}}, "spec": {"ports": [1, 2], "x": 2}}
    assert conflicts == []
    merged, conflicts = s.three_way_merge(base, mine, {**latest, "spec": {"ports": [1], "x": 3}})
    assert merged["spec"]["x"] == 2 and conflicts == ["spec.x"]
    # a key I removed goes, a key they removed stays removed
    merged, _c = s.three_way_merge({"a": 1, "b": 2}, {"b": 2}, {"a": 1})
    assert merged == {}


def test_parse_service_yaml_refuses_renames_and_other_kinds() -> None:
    text = s.editable_yaml(svc())
    assert s.parse_service_yaml(text, namespace="demo", name="web")["metadata"]["name"] == "web"
    with pytest.raises(Invalid, match="name cannot be changed"):
        s.parse_service_yaml(text.replace("name: web", "name: other"), namespace="demo", name="web")
    with pytest.raises(Invalid) as e:
        s.parse_service_yaml("kind: Service\napiVersion: v1\nmetadata:\n  name: web\n  namespace: elsewhere\n",
                             namespace="demo", name="web")
    assert "elsewhere" in e.value.errors["yaml"]
    with pytest.raises(Invalid) as e:
        s.parse_service_yaml("apiVersion: v1\nkind: Service\nmetadata: {name: web\n", namespace="demo", name="web")
    assert "line" in e.value.errors["yaml"]


# -- Delete ----------------------------------------------------------------------------------------------

async def test_related_resources_match_the_selector_and_the_workload_created_with_it() -> None:
    def obj(name: str, labels: dict, uid: str, **extra: Any) -> dict:
        return {"metadata": {"name": name, "labels": labels, "uid": uid, **extra.pop("meta", {})}, **extra}

    def workload(name: str, labels: dict, uid: str) -> dict:
        return obj(name, labels, uid, spec={"template": {"metadata": {"labels": labels}}})

    owned = {"ownerReferences": [{"kind": "ReplicaSet", "name": "web-v1-abc", "controller": True}]}
    service = svc(spec={"selector": {"app": "web"}, "clusterIP": "10.96.0.1"})
    kube = CountingKube({
        "Deployment": [workload("web-v1", {"app": "web", "version": "v1"}, "d1"), workload("api", {"app": "api"}, "d2"),
                       workload("web-v2", {"app": "web", "version": "v2", "track": "x"}, "d3")],
        "StatefulSet": [workload("web-db", {"role": "db"}, "s1")], "DaemonSet": [],
        "Pod": [obj("web-v1-abc-1", {"app": "web"}, "p1", meta=owned), obj("api-1", {"app": "api"}, "p2"),
                obj("debug", {"app": "web"}, "p3")],
        "PersistentVolumeClaim": [obj("data-web-0", {"app": "web"}, "c1")],
        "Service": [service, obj("web-canary", {}, "s2", spec={"selector": {"version": "v2"}}),
                    obj("all-web", {}, "s3", spec={"selector": {"app": "web", "version": "v1"}})],
    })
    related = await s.related_resources(kube, "demo", service, actor=None)  # type: ignore[arg-type]
    # A controller's pods are not offered (it would make them again); a pod nobody owns is.
    assert [(r.kind, r.name, r.created_with, r.shared_with) for r in related] == [
        ("Deployment", "web-v1", True, ("all-web",)), ("Deployment", "web-v2", True, ("web-canary",)),
        ("Pod", "debug", False, ()), ("PersistentVolumeClaim", "data-web-0", False, ())]
    # after the selector was edited away, the workload created with the Service is still offered
    moved = svc(spec={"selector": {"tier": "none"}, "clusterIP": "10.96.0.1"})
    assert [r.name for r in await s.related_resources(kube, "demo", moved, actor=None)] == ["web-v1", "web-v2"]  # type: ignore[arg-type]


def test_checked_boxes_are_read_strictly() -> None:
    assert s.parse_related(["Deployment/web-v1/0a1b-2c", "Pod/web-1/ff"]) == [
        s.Related("Deployment", "web-v1", "0a1b-2c"), s.Related("Pod", "web-1", "ff")]
    for bad in (["Namespace/demo/aa"], ["Deployment/../aa"], ["Deployment/web"], ["Secret/x/aa"], ["Pod/UPPER/aa"]):
        with pytest.raises(Invalid):
            s.parse_related(bad)


def test_endpoints_come_from_every_slice_with_their_conditions() -> None:
    """EndpointSlices (discovery.k8s.io/v1): several per Service; ready unless conditions.ready is false;
    terminating ones apart; an address moving between two slices counts once."""
    slices = [
        {"ports": [{"name": "http", "port": 8080}], "endpoints": [
            {"addresses": ["10.0.0.1"], "conditions": {"ready": True}},
            {"addresses": ["10.0.0.2"]},  # no conditions: ready
            {"addresses": ["10.0.0.3"], "conditions": {"ready": False}},
            {"addresses": ["10.0.0.4"], "conditions": {"ready": False, "serving": True, "terminating": True}},
        ]},
        {"ports": [{"name": "http", "port": 8080}], "endpoints": [
            {"addresses": ["10.0.0.2"], "conditions": {"ready": True}},  # the same endpoint, moving
            {"addresses": ["10.0.0.5"], "conditions": {"ready": True}},
        ]},
        {"ports": None, "endpoints": None},  # a slice with nothing yet
    ]
    summary = s.endpoint_summary(slices)
    assert summary.ready == ["10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.5:8080"]
    assert (summary.not_ready, summary.terminating) == (1, 1)
    assert s.endpoint_summary(None) == s.EndpointsSummary([], 0, 0)


def test_todays_traffic_fields_are_offered_only_where_the_schema_has_them() -> None:
    today = frozenset({"internalTrafficPolicy", "trafficDistribution", "publishNotReadyAddresses", "ipFamilyPolicy",
                       "ipFamilies", "externalTrafficPolicy", "loadBalancerClass", "ports", "selector"})
    older = frozenset({"internalTrafficPolicy", "publishNotReadyAddresses", "externalTrafficPolicy", "ports",
                       "selector"})  # e.g. 1.30
    plain = svc(spec={"selector": {"app": "web"}})
    assert s.offered_traffic_fields(plain, today) == {
        "internalTrafficPolicy", "trafficDistribution", "publishNotReadyAddresses", "ipFamilyPolicy", "ipFamilies"}
    assert s.offered_traffic_fields(plain, older) == {"internalTrafficPolicy", "publishNotReadyAddresses"}
    assert s.offered_traffic_fields(svc(spec={"type": "NodePort"}), today) >= {"externalTrafficPolicy"}
    assert "loadBalancerClass" not in s.offered_traffic_fields(svc(spec={"type": "NodePort"}), today)
    assert "loadBalancerClass" in s.offered_traffic_fields(svc(spec={"type": "LoadBalancer"}), today)
    assert s.offered_traffic_fields(svc(spec={"clusterIP": "None"}), today) == {
        "publishNotReadyAddresses", "ipFamilyPolicy", "ipFamilies"}
    assert s.offered_traffic_fields(svc(spec={"type": "ExternalName", "externalName": "a.example.com"}), today) == set()
    assert s.offered_traffic_fields(plain, frozenset()) == set()
    current = svc(spec={"selector": {"app": "web"}, "trafficDistribution": "PreferClose",
                        "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 80}]})
    form = s.ServiceSettingsForm.of(current, offered=s.offered_traffic_fields(current, today))
    assert form.traffic.traffic_distribution == "PreferClose"
    spec = s.apply_service_settings(current, form)["spec"]
    assert spec["trafficDistribution"] == "PreferClose" and "internalTrafficPolicy" not in spec  # unchanged: kept
    form.traffic = TrafficFields(internal_traffic_policy="Local", traffic_distribution="PreferSameZone",
                                 publish_not_ready_addresses=True, ip_family_policy="SingleStack", ip_families="IPv4")
    spec = s.apply_service_settings(current, form)["spec"]
    assert (spec["internalTrafficPolicy"], spec["trafficDistribution"], spec["publishNotReadyAddresses"],
            spec["ipFamilies"]) == ("Local", "PreferSameZone", True, ["IPv4"])
    assert "ipFamilyPolicy" not in spec  # the API server's default, left for it to set as it does on create
    form.traffic.traffic_distribution = ""
    assert "trafficDistribution" not in s.apply_service_settings(current, form)["spec"]
    form.traffic.traffic_distribution = "PreferSomewhere"
    with pytest.raises(Invalid) as e:
        s.apply_service_settings(current, form)
    assert e.value.errors == {"spec.trafficDistribution": "Please select a valid option."}
    # on an older cluster the field is not offered: a posted value is ignored, the object's kept
    old_form = s.ServiceSettingsForm.of(current, offered=s.offered_traffic_fields(current, older))
    old_form.traffic.traffic_distribution = "PreferSameNode"
    assert s.apply_service_settings(current, old_form)["spec"]["trafficDistribution"] == "PreferClose"


def test_edit_service_sets_the_load_balancer_fields_and_the_sticky_session_from_the_posted_form() -> None:
    today = frozenset({"externalTrafficPolicy", "loadBalancerClass", "internalTrafficPolicy"})
    current = svc(spec={"type": "LoadBalancer", "selector": {"app": "web"}, "sessionAffinity": "None",
                        "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 80, "nodePort": 30080}]})
    offered = s.offered_traffic_fields(current, today)
    posted = {"selector_key": ["app"], "selector_value": ["web"], "port_name": ["http"], "port_protocol": ["HTTP"],
              "port_target": ["80"], "port_port": ["80"], "resource_version": ["1"],
              "external_traffic_policy": ["Local"], "load_balancer_class": ["example.com/internal-lb"],
              "sticky_session_shown": ["1"], "sticky_session": ["1"], "sticky_timeout": ["600"]}
    form = s.ServiceSettingsForm.from_form(posted, access=s.VIRTUAL_IP, offered=offered)
    spec = s.apply_service_settings(current, form)["spec"]
    assert (spec["externalTrafficPolicy"], spec["loadBalancerClass"]) == ("Local", "example.com/internal-lb")
    assert spec["sessionAffinity"] == "ClientIP" and spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 600}}
    assert "internalTrafficPolicy" not in spec  # not posted: as it was
    bad = s.ServiceSettingsForm.from_form({**posted, "load_balancer_class": ["no slash"], "sticky_timeout": ["0"],
                                          "external_traffic_policy": ["Nowhere"]}, access=s.VIRTUAL_IP, offered=offered)
    with pytest.raises(Invalid) as e:
        s.apply_service_settings(current, bad)
    assert set(e.value.errors) == {"spec.loadBalancerClass", "spec.externalTrafficPolicy", "sticky_timeout"}
    off = s.ServiceSettingsForm.from_form({**posted, "sticky_session": []}, access=s.VIRTUAL_IP, offered=offered)
    spec = s.apply_service_settings(current, off)["spec"]
    assert spec["sessionAffinity"] == "None" and "sessionAffinityConfig" not in spec
