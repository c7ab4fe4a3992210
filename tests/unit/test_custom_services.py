"""Specify Workloads' form operations and its live hint, as pure functions (no cluster)."""

from __future__ import annotations

from app.domain import custom_services as cs


def _deployment(ports: list[dict[str, object]]) -> dict[str, object]:
    return {"metadata": {"name": "web-v1"}, "spec": {"replicas": 2, "template": {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx", "ports": ports}]}}}}


def test_picking_a_workload_fills_blank_port_rows_from_its_containers() -> None:
    picked = cs.workload_info("Deployment", _deployment([
        {"containerPort": 8080}, {"name": "grpc-api", "containerPort": 9090},
        {"name": "dns", "containerPort": 53, "protocol": "UDP"}, {"containerPort": 3868, "protocol": "SCTP"},
        {"name": "Not_A_Name", "containerPort": 81}]))
    blank = {"selector": [], "ports": [{"protocol": "HTTP", "name": "http-0", "container_port": "", "service_port": ""}]}
    out = cs.apply_op(blank, "pick:Deployment:web-v1", picked=picked)
    assert out["selector"] == [{"key": "app", "value": "web"}]
    assert out["ports"] == [
        {"protocol": "TCP", "name": "tcp-0", "container_port": "8080", "service_port": "8080"},
        {"protocol": "GRPC", "name": "grpc-api", "container_port": "9090", "service_port": "9090"},
        {"protocol": "UDP", "name": "dns", "container_port": "53", "service_port": "53"},
        {"protocol": "TCP", "name": "tcp-3", "container_port": "81", "service_port": "81"},  # SCTP skipped
    ]


def test_picking_a_workload_keeps_ports_the_user_already_wrote() -> None:
    picked = cs.workload_info("Deployment", _deployment([{"containerPort": 8080}]))
    mine = {"selector": [], "ports": [{"protocol": "HTTP", "name": "http-0", "container_port": "80", "service_port": ""}]}
    assert cs.apply_op(mine, "pick:Deployment:web-v1", picked=picked)["ports"] == mine["ports"]


def test_the_hint_counts_the_pods_that_will_receive_traffic() -> None:
    web = cs.workload_info("Deployment", _deployment([]))
    rows = [{"key": "app", "value": "web"}]
    hint = cs.selector_hint(rows, [web], pods=cs.PodCount(total=3, ready=2))
    assert (hint.level, hint.message) == (
        "info", "The current selector (app=web) sends traffic to 3 pods (2 ready) of web-v1 (Deployment).")
    none_ready = cs.selector_hint(rows, [web], pods=cs.PodCount(total=1, ready=0))
    assert none_ready.level == "warn" and "1 pod (0 ready)" in none_ready.message
    idle = cs.selector_hint(rows, [web], pods=cs.PodCount(total=0, ready=0))
    assert idle.message == "The current selector (app=web) matches web-v1 (Deployment), which has no pods now."
    bare = cs.selector_hint(rows, [], pods=cs.PodCount(total=2, ready=2))
    assert bare.message.endswith("2 pods (2 ready) of no workload of this project.")
    assert cs.selector_hint(rows, [], pods=cs.PodCount(0, 0)).message == "The current selector matches no workload."
    assert cs.pod_count([{"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
                         {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}, {}]) == cs.PodCount(3, 1)
