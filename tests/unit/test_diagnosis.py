"""Why no traffic? (issue 20): each check fails on a Service broken in its way, and a healthy one passes
every check (the real control plane: tests/web/test_services_pages.py)."""

from __future__ import annotations

from typing import Any

from app.domain.services.diagnosis import probe_failures, traffic_checks
from devcluster.nodesim import probe_events

SELECTOR = {"app": "web"}


def svc(**spec: Any) -> dict[str, Any]:
    base = {"selector": SELECTOR, "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}
    return {"metadata": {"name": "web"}, "spec": {**base, **spec}}


def pod(name: str, ready: bool = True, ports: list[dict] | None = None, waiting: str = "") -> dict[str, Any]:
    status: dict[str, Any] = {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                              "containerStatuses": [{"name": "main", "ready": ready,
                                                     "state": {"waiting": {"reason": waiting}} if waiting else {}}]}
    return {"metadata": {"name": name, "labels": SELECTOR}, "status": status,
            "spec": {"containers": [{"name": "main", "ports": ports if ports is not None else [
                {"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]}}


def slices(ready: int, not_ready: int = 0, node: str = "node-1") -> list[dict[str, Any]]:
    endpoints = [{"addresses": [f"10.0.0.{i}"], "conditions": {"ready": True}, "nodeName": node} for i in range(ready)]
    endpoints += [{"addresses": [f"10.0.1.{i}"], "conditions": {"ready": False}} for i in range(not_ready)]
    return [{"ports": [{"name": "http", "port": 8080}], "endpoints": endpoints}]


def verdicts(checks: list) -> dict[str, str]:
    return {c.key: c.verdict for c in checks}


def test_a_healthy_service_passes_every_check() -> None:
    checks = traffic_checks(svc(), [pod("a"), pod("b")], slices(2), [])
    assert verdicts(checks) == {"selector": "pass", "ready": "pass", "endpoints": "pass", "target-ports": "pass"}


def test_a_selector_that_picks_nothing_names_the_nearest_workloads_labels() -> None:
    workload = ("Deployment", {"metadata": {"name": "web-v1"},
                               "spec": {"template": {"metadata": {"labels": {"app": "wbe", "version": "v1"}}}}})
    [check] = traffic_checks(svc(), [], [], [workload])
    assert check.key == "selector" and check.verdict == "fail"
    assert "Deployment web-v1" in check.evidence and "app=wbe" in check.evidence and "app=web" in check.evidence


def test_pods_that_are_not_ready_say_why() -> None:
    checks = traffic_checks(svc(), [pod("a", ready=False, waiting="CrashLoopBackOff")], slices(0, 1), [])
    by_key = {c.key: c for c in checks}
    assert by_key["ready"].verdict == "fail" and "a (main: CrashLoopBackOff)" in by_key["ready"].evidence
    assert by_key["endpoints"].verdict == "fail" and "http" in by_key["endpoints"].evidence
    half = traffic_checks(svc(), [pod("a"), pod("b", ready=False)], slices(1, 1), [])
    assert verdicts(half)["ready"] == "warn"


def test_a_failing_probe_from_the_kubelets_events_is_the_reason_given() -> None:
    events = [
        {"reason": "Unhealthy", "involvedObject": {"kind": "Pod", "name": "a"}, "lastTimestamp": "2026-12-06T10:00:00Z",
         "message": "Readiness probe failed: old"},
        {"reason": "Unhealthy", "involvedObject": {"kind": "Pod", "name": "a"}, "lastTimestamp": "2026-12-06T10:05:00Z",
         "message": "Readiness probe failed: HTTP probe failed with statuscode: 503"},
        {"reason": "BackOff", "involvedObject": {"kind": "Pod", "name": "b"}, "message": "Back-off"},
    ]
    probes = probe_failures(events)
    assert probes == {"a": "Readiness probe failed: HTTP probe failed with statuscode: 503"}
    checks = {c.key: c for c in traffic_checks(svc(), [pod("a", ready=False)], slices(0, 1), [], probes=probes)}
    assert "a (main: Readiness probe failed: HTTP probe failed with statuscode: 503)" in checks["ready"].evidence


def test_the_simulated_kubelet_words_a_failing_probe_as_a_kubelet_does() -> None:
    running = {"name": "main", "ready": False, "state": {"running": {}}}
    http = {"readinessProbe": {"httpGet": {"path": "/", "port": 80}}}
    assert probe_events(None, running, http, "10.1.0.5") == [
        ("Warning", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503")]
    tcp = {"readinessProbe": {"tcpSocket": {"port": 5432}}}
    assert "dial tcp 10.1.0.5:5432: connect: connection refused" in probe_events(None, running, tcp, "10.1.0.5")[0][2]
    assert probe_events(running, running, http, "10.1.0.5") == []  # once, when it starts failing
    assert probe_events(None, {**running, "ready": True}, http, "10.1.0.5") == []
    assert probe_events(None, running, {}, "10.1.0.5") == []  # no probe: nothing to report


def test_target_ports_missing_from_the_containers() -> None:
    named = traffic_checks(svc(ports=[{"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"}]),
                           [pod("a")], slices(1), [])
    check = next(c for c in named if c.key == "target-ports")
    assert check.verdict == "fail" and "web/TCP" in check.evidence and "8080/TCP" in check.evidence
    udp = traffic_checks(svc(ports=[{"name": "http", "port": 80, "targetPort": 8080, "protocol": "UDP"}]),
                         [pod("a")], slices(1), [])
    assert verdicts(udp)["target-ports"] == "warn"  # declared as TCP only: it may still listen


def test_external_address_policies_and_affinity() -> None:
    pending = traffic_checks(svc(type="LoadBalancer"), [pod("a")], slices(1), [])
    assert verdicts(pending)["external"] == "warn"
    local = traffic_checks(svc(internalTrafficPolicy="Local"), [pod("a")], slices(1, node="node-2"), [])
    policy = next(c for c in local if c.key == "policy")
    assert policy.verdict == "warn" and "node-2" in policy.evidence
    sticky = traffic_checks(svc(sessionAffinity="ClientIP"), [pod("a", ready=False)], slices(0, 1), [])
    assert verdicts(sticky)["affinity"] == "warn"


def test_an_external_name_that_does_not_resolve() -> None:
    external = {"metadata": {"name": "x"}, "spec": {"type": "ExternalName", "externalName": "nowhere.invalid"}}
    assert verdicts(traffic_checks(external, [], [], [], resolved=None)) == {"external-name": "fail"}
    assert verdicts(traffic_checks(external, [], [], [], resolved="10.1.2.3")) == {"external-name": "pass"}
