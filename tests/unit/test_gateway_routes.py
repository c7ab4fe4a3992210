"""Expose through a Gateway, without a cluster: the HTTPRoute the form builds (checked against the pinned
Gateway API CRD's own schema), hostname and path rules, listener admission (allowedRoutes), hostname
intersection, the form's field errors, and the page's view of a route's status."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from app.domain.errors import Invalid
from app.domain.services import ExternalAccessForm, apply_external_access
from app.domain.services import gateway as g
from devcluster import gatewayctl, localcluster

NS = "p-1"
LABELS = {"kubesphere.io/workspace": "ws-a", "kubernetes.io/metadata.name": NS}


def listener(**extra: Any) -> dict[str, Any]:
    return {"name": "http", "protocol": "HTTP", "port": 80, **extra}


def gateway_obj(*listeners: dict[str, Any], workspaces: str = "ws-a") -> dict[str, Any]:
    return {"metadata": {"name": "public", "namespace": "infra", "annotations": {g.WORKSPACES_ANNOTATION: workspaces}},
            "spec": {"gatewayClassName": "c", "listeners": list(listeners)}}


SELECT_WS = {"namespaces": {"from": "Selector", "selector": {"matchExpressions": [
    {"key": "kubesphere.io/workspace", "operator": "In", "values": ["ws-a"]}]}}}


def offer(*listeners: dict[str, Any]) -> g.GatewayOffer:
    from app.domain.services.gateway.spec import gateway_offer
    return gateway_offer(gateway_obj(*listeners), namespace=NS, namespace_labels=LABELS)


# -- the manifest ---------------------------------------------------------------------------------------

def test_route_manifest_is_named_after_the_service_labelled_and_owned_by_nothing() -> None:
    checked = g.CheckedRoute(gateway_namespace="infra", gateway_name="public", hostnames=["shop.example.com"],
                             path_type="PathPrefix", path="/shop", port=8080)
    assert g.route_manifest("web", checked) == {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "web", "labels": {"app.kubernetes.io/managed-by": "dockyard", "dockyard.dev/service": "web"}},
        "spec": {
            "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "infra", "name": "public"}],
            "hostnames": ["shop.example.com"],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/shop"}}],
                       "backendRefs": [{"group": "", "kind": "Service", "name": "web", "port": 8080}]}],
        },
    }
    no_hosts = g.route_manifest("web", g.CheckedRoute("infra", "public", [], "Exact", "/", 80))
    assert "hostnames" not in no_hosts["spec"]  # every hostname the listener serves


def test_the_form_reads_back_the_route_it_wrote() -> None:
    checked = g.CheckedRoute("infra", "public", ["a.example.com", "*.b.example.com"], "Exact", "/x", 8080)
    form = g.RouteForm.of({**g.route_manifest("web", checked), "metadata": {"name": "web", "namespace": NS}}, [80, 8080])
    assert (form.gateway, form.hostname_list, form.path_type, form.path, form.port) == (
        "infra/public", ["a.example.com", "*.b.example.com"], "Exact", "/x", "8080")
    assert g.RouteForm.of(None, [9090]).port == "9090" and g.RouteForm.of(None).path == "/"


def _crd_schema(kind: str) -> dict[str, Any]:
    for obj in localcluster.gateway_api_objects(lambda _m: None):  # fetched once (scripts/fetch-gateway-api.sh)
        if obj["kind"] == "CustomResourceDefinition" and obj["spec"]["names"]["kind"] == kind:
            version = next(v for v in obj["spec"]["versions"] if v["name"] == "v1")
            return version["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]
    raise AssertionError(f"no CRD for {kind}")


def schema_problems(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """The structural schema's rules (type, properties with unknown fields refused, required, enum,
    pattern, lengths, items, bounds); CEL rules are the API server's, tested against the cluster."""
    out: list[str] = []
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "integer": int, "boolean": bool}
    if kind in types and not isinstance(value, types[kind]):
        return [f"{path}: not {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{path}: {value!r} not in {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{path}: {value!r} does not match {schema['pattern']}")
        if len(value) > schema.get("maxLength", 10**9) or len(value) < schema.get("minLength", 0):
            out.append(f"{path}: length")
    if isinstance(value, int) and not schema.get("minimum", -10**18) <= value <= schema.get("maximum", 10**18):
        out.append(f"{path}: out of bounds")
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", 10**9):
            out.append(f"{path}: too many items")
        for i, item in enumerate(value):
            out += schema_problems(item, schema.get("items") or {}, f"{path}[{i}]")
    if isinstance(value, dict) and "properties" in schema:
        for key in schema.get("required") or []:
            if key not in value:
                out.append(f"{path}.{key}: required")
        for key, item in value.items():
            if key not in schema["properties"]:
                if not schema.get("x-kubernetes-preserve-unknown-fields"):
                    out.append(f"{path}.{key}: unknown field")
                continue
            out += schema_problems(item, schema["properties"][key], f"{path}.{key}")
    return out


def test_the_route_the_console_writes_is_valid_against_the_pinned_crd() -> None:
    schema = _crd_schema("HTTPRoute")
    for checked in (g.CheckedRoute("infra", "public", ["shop.example.com", "*.example.org"], "PathPrefix", "/shop", 80),
                    g.CheckedRoute("infra", "public", [], "Exact", "/a/b_c~d", 65535)):
        manifest = g.route_manifest("web", checked)
        manifest["metadata"]["namespace"] = NS
        spec_schema = schema["properties"]["spec"]
        assert schema_problems(manifest["spec"], spec_schema, "spec") == []
    # the check itself refuses what the CRD refuses
    bad = g.route_manifest("web", g.CheckedRoute("infra", "public", ["Bad_Host"], "Regex", "/", 80))
    problems = schema_problems(bad["spec"], schema["properties"]["spec"], "spec")
    assert any("hostnames[0]" in p for p in problems) and any(".type" in p for p in problems)
    assert schema_problems({**bad["spec"], "typo": 1}, schema["properties"]["spec"], "spec")[-1] == "spec.typo: unknown field"


def test_the_hostname_rule_agrees_with_the_crd_pattern() -> None:
    pattern = _crd_schema("HTTPRoute")["properties"]["spec"]["properties"]["hostnames"]["items"]["pattern"]
    for host in ("shop.example.com", "*.example.com", "a", "x-1.y", "Shop.example.com", "shop..example.com",
                 "*.*.example.com", "foo.*.com", "-a.com", "a-.com", "*", "shop_1.example.com", "shop.example.com."):
        assert (g.hostname_problem(host) is None) == bool(re.fullmatch(pattern, host)), host


# -- validation --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("host", "words"), [
    ("Shop.example.com", "lower-case"), ("shop..example.com", "lower-case"), ("*.*.example.com", "wildcard"),
    ("foo.*.com", "wildcard"), ("10.0.0.1", "IP address"), ("a" * 64 + ".com", "lower-case"),
    ("a." * 127 + "com", "at most 253"),
])
def test_hostname_problems_say_what_is_wrong(host: str, words: str) -> None:
    problem = g.hostname_problem(host)
    assert problem is not None and words in problem and problem.startswith(host[:10])


@pytest.mark.parametrize(("path_type", "value", "ok"), [
    ("PathPrefix", "/", True), ("Exact", "/api/v1", True), ("PathPrefix", "/a%20b", True),
    ("PathPrefix", "api", False), ("PathPrefix", "//a", False), ("Exact", "/a/../b", False), ("Exact", "/a/.", False),
    ("PathPrefix", "/a%2Fb", False), ("PathPrefix", "/a#b", False), ("PathPrefix", "/a b", False),
    ("RegularExpression", "/.*", False), ("PathPrefix", "/" + "a" * 1024, False),
])
def test_path_rules(path_type: str, value: str, ok: bool) -> None:
    assert (g.path_problem(path_type, value) is None) == ok


def test_hostname_intersection_follows_the_httproute_rules() -> None:
    assert g.hostnames_intersect(None, "any.example.com") and g.hostnames_intersect("", "x")
    assert g.hostnames_intersect("*.example.com", "a.b.example.com")
    assert not g.hostnames_intersect("*.example.com", "example.com")
    assert g.hostnames_intersect("test.example.com", "*.example.com")
    assert g.hostnames_intersect("*.example.com", "*.a.example.com") and g.hostnames_intersect("*.a.example.com", "*.example.com")
    assert not g.hostnames_intersect("a.example.com", "b.example.com")
    assert not g.hostnames_intersect("*.example.com", "a.example.net")
    # the development controller's own implementation agrees
    for lst, host in (("*.example.com", "a.b.example.com"), ("*.example.com", "example.com"), ("a.x", "*.x"),
                      ("a.x", "b.x"), (None, "q")):
        assert g.hostnames_intersect(lst, host) == gatewayctl.host_match(lst, host), (lst, host)


def test_listener_admission_same_all_selector_and_kinds() -> None:
    def admits(lst: dict[str, Any], labels: dict[str, str] = LABELS, ns: str = NS) -> bool:
        return g.listener_admits(lst, gateway_namespace="infra", namespace=ns, namespace_labels=labels)

    assert not admits(listener())  # the default: Same namespace only
    assert admits(listener(), ns="infra")
    assert admits(listener(allowedRoutes={"namespaces": {"from": "All"}}))
    assert admits(listener(allowedRoutes=SELECT_WS))
    assert not admits(listener(allowedRoutes=SELECT_WS), labels={"kubesphere.io/workspace": "ws-b"})
    assert not admits(listener(allowedRoutes={"namespaces": {"from": "Selector"}}))  # no selector: nothing
    assert not admits(listener(protocol="TCP", allowedRoutes={"namespaces": {"from": "All"}}))
    assert not admits(listener(allowedRoutes={"namespaces": {"from": "All"}, "kinds": [{"kind": "GRPCRoute"}]}))
    assert g.selector_matches({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}, {})
    assert not g.selector_matches({"matchExpressions": [{"key": "x", "operator": "Exists"}]}, {})


def test_a_gateway_is_offered_only_to_the_workspaces_its_annotation_names() -> None:
    from app.domain.services.gateway.spec import offered_to
    assert offered_to(gateway_obj(workspaces="ws-b, ws-a"), "ws-a")
    assert not offered_to(gateway_obj(workspaces="ws-ab"), "ws-a") and not offered_to(gateway_obj(workspaces=""), "ws-a")
    assert not offered_to({"metadata": {}}, "ws-a")


def form(**kw: str) -> g.RouteForm:
    return g.RouteForm(**{"gateway": "infra/public", "hostnames": "shop.apps.test", "path": "/", "port": "80", **kw})


def test_check_route_form_puts_each_problem_on_its_field() -> None:
    offers = [offer(listener(hostname="*.apps.test", allowedRoutes=SELECT_WS))]
    ok = g.check_route_form(form(hostnames="a.apps.test\n*.b.apps.test, c.apps.test"), offers=offers, ports=[80],
                            workspace="ws-a")
    assert ok.hostnames == ["a.apps.test", "*.b.apps.test", "c.apps.test"] and ok.port == 80
    cases = {
        "gateway": form(gateway="infra/other"), "hostnames": form(hostnames="shop.apps..test"),
        "path": form(path="shop"), "port": form(port="81"),
    }
    for key, bad in cases.items():
        with pytest.raises(Invalid) as e:
            g.check_route_form(bad, offers=offers, ports=[80], workspace="ws-a")
        assert list(e.value.errors) == [key], (key, e.value.errors)
    with pytest.raises(Invalid) as e:
        g.check_route_form(form(gateway="infra/other"), offers=offers, ports=[80], workspace="ws-a")
    assert "not offered to the workspace ws-a" in e.value.errors["gateway"]
    with pytest.raises(Invalid) as e:  # served by none of the listeners
        g.check_route_form(form(hostnames="shop.example.com"), offers=offers, ports=[80], workspace="ws-a")
    assert "*.apps.test" in e.value.errors["hostnames"]
    with pytest.raises(Invalid) as e:  # offered, but its listeners refuse this namespace
        g.check_route_form(form(), offers=[offer(listener())], ports=[80], workspace="ws-a")
    assert "does not admit" in e.value.errors["gateway"]
    with pytest.raises(Invalid) as e:
        g.check_route_form(form(hostnames="a.apps.test a.apps.test"), offers=offers, ports=[80], workspace="ws-a")
    assert "twice" in e.value.errors["hostnames"]


def test_gateway_mode_keeps_the_service_internal() -> None:
    svc = {"metadata": {"name": "web", "resourceVersion": "3"},
           "spec": {"type": "NodePort", "clusterIP": "10.96.0.9", "externalTrafficPolicy": "Local",
                    "ports": [{"port": 80, "nodePort": 30080}]}}
    out = apply_external_access(svc, ExternalAccessForm(mode="Gateway", node_ports=["30080"], annotations=None,
                                                         resource_version="3"))
    assert out["spec"]["type"] == "ClusterIP" and "nodePort" not in out["spec"]["ports"][0]
    assert "externalTrafficPolicy" not in out["spec"]
    route = {**g.route_manifest("web", g.CheckedRoute("infra", "public", [], "PathPrefix", "/", 80)),
             "metadata": {"name": "web", "namespace": NS, "labels": {"app.kubernetes.io/managed-by": "dockyard",
                                                                     "dockyard.dev/service": "web"}}}
    internal = {**svc, "spec": {"type": "ClusterIP", "ports": [{"port": 80}]}}
    assert ExternalAccessForm.of(internal, route).mode == "Gateway"
    assert ExternalAccessForm.of(internal).mode == "None"


# -- the page's view of a route's status ---------------------------------------------------------------

def test_route_view_matches_conditions_to_parents_and_notices_silence() -> None:
    created = "2026-01-01T00:00:00Z"
    route = {
        "metadata": {"name": "web", "namespace": NS, "generation": 2, "creationTimestamp": created,
                     "labels": {"app.kubernetes.io/managed-by": "dockyard", "dockyard.dev/service": "web"}},
        "spec": {"hostnames": ["shop.apps.test"],
                 "parentRefs": [{"namespace": "infra", "name": "public"}, {"namespace": "infra", "name": "quiet"}],
                 "rules": [{"matches": [{"path": {"type": "Exact", "value": "/x"}}]}]},
        "status": {"parents": [{"parentRef": {"namespace": "infra", "name": "public"}, "controllerName": "c.example/x",
                                "conditions": [
                                    {"type": "ResolvedRefs", "status": "False", "reason": "BackendNotFound",
                                     "message": "no web", "observedGeneration": 2},
                                    {"type": "Accepted", "status": "True", "reason": "Accepted", "observedGeneration": 1}]},
                               {"parentRef": {"namespace": "infra", "name": "gone"}, "conditions": [
                                   {"type": "Accepted", "status": "True"}]}]},
    }
    later = dt.datetime(2026, 1, 1, 0, 5, tzinfo=dt.UTC)
    view = g.route_view(route, "web", now=later)
    assert view.mine and view.hostnames == ("shop.apps.test",) and view.paths == ("Exact /x",)
    public, quiet = view.parents
    assert [c.type for c in public.conditions] == ["Accepted", "ResolvedRefs"]  # Accepted first
    assert public.conditions[0].stale and not public.conditions[1].stale
    assert public.conditions[1].health == "err" and public.controller == "c.example/x"
    assert not quiet.answered and view.unanswered and not view.waiting
    assert g.route_view(route, "web", now=dt.datetime(2026, 1, 1, 0, 0, 10, tzinfo=dt.UTC)).waiting
    assert not g.route_view(route, "other").mine
