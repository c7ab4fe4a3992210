"""Why no traffic? A chain of checks on a Service, each with its verdict, the evidence and the fix: the
selector's pods, their readiness, the EndpointSlices' ready endpoints per port, the target ports on the
containers, the external address, traffic policies, session affinity, an ExternalName's DNS name. Pure,
but for the ExternalName lookup (`resolve`)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.domain.services.view import EXTERNAL_NAME, access_type
from app.i18n import _
from app.kube.store import template_labels

Obj = Mapping[str, Any]
PASS, WARN, FAIL, INFO = "pass", "warn", "fail", "info"
RESOLVE_SECONDS = 2.0


@dataclass(frozen=True)
class Check:
    key: str
    verdict: str  # pass | warn | fail | info
    title: str
    evidence: str
    fix: str = ""


def is_ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def probe_failures(events: Sequence[Obj]) -> dict[str, str]:
    """Pod name -> the newest failing probe's message (the kubelet's Unhealthy Events)."""
    newest: dict[str, tuple[str, str]] = {}
    for e in events:
        involved = e.get("involvedObject") or e.get("regarding") or {}
        if e.get("reason") != "Unhealthy" or involved.get("kind") != "Pod":
            continue
        when = str(e.get("lastTimestamp") or e.get("eventTime") or e.get("firstTimestamp") or "")
        name = str(involved.get("name") or "")
        if name not in newest or when >= newest[name][0]:
            newest[name] = (when, str(e.get("message") or e.get("note") or ""))
    return {name: message for name, (_when, message) in newest.items()}


def _why_not_ready(pod: Obj, probe: str = "") -> str:
    status = pod.get("status") or {}
    for c in status.get("containerStatuses") or []:
        state = c.get("state") or {}
        waiting = state.get("waiting") or {}
        if waiting.get("reason"):
            return f"{c.get('name')}: {waiting['reason']}"
        if not c.get("ready"):
            if probe:
                return f"{c.get('name')}: {probe}"
            return _("{container}: not ready (its readiness probe fails or it has not started)").format(
                container=c.get("name"))
    for c in status.get("conditions") or []:
        if c.get("status") != "True" and (c.get("reason") or c.get("message")):
            return f"{c.get('type')}: {c.get('reason') or ''} {c.get('message') or ''}".strip()
    return str(status.get("phase") or _("not ready"))


def _labels_text(labels: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "-"


def _nearest(selector: Mapping[str, str], workloads: Sequence[tuple[str, Obj]]) -> tuple[str, Obj, dict[str, str]] | None:
    """The workload whose pod labels differ least from the selector, and the selector entries it misses."""
    best: tuple[int, str, Obj, dict[str, str]] | None = None
    for kind, obj in workloads:
        labels = template_labels(dict(obj))
        missing = {k: v for k, v in selector.items() if labels.get(k) != v}
        if best is None or len(missing) < best[0]:
            best = (len(missing), kind, obj, missing)
    return (best[1], best[2], best[3]) if best else None


def _container_ports(pods: Sequence[Obj]) -> tuple[set[tuple[int, str]], set[tuple[str, str]]]:
    numbers: set[tuple[int, str]] = set()
    names: set[tuple[str, str]] = set()
    for pod in pods[:20]:  # the pods of one template declare the same ports
        for c in (pod.get("spec") or {}).get("containers") or []:
            for p in c.get("ports") or []:
                protocol = p.get("protocol") or "TCP"
                if p.get("containerPort"):
                    numbers.add((int(p["containerPort"]), protocol))
                if p.get("name"):
                    names.add((str(p["name"]), protocol))
    return numbers, names


def traffic_checks(svc: Obj, pods: Sequence[Obj], slices: Sequence[Obj], workloads: Sequence[tuple[str, Obj]],
                   *, resolved: str | None = None, probes: Mapping[str, str] | None = None) -> list[Check]:
    """The checks for a Service, in the order traffic meets them. `pods`: those its selector picks;
    `slices`: its EndpointSlices; `workloads`: every workload of the project, as (kind, object), for the
    nearest match when nothing is picked; `resolved`: an ExternalName's lookup (see `resolve`); `probes`:
    the failing probes of pods that are not ready (`probe_failures` of their Events)."""
    probes = probes or {}
    spec = svc.get("spec") or {}
    checks: list[Check] = []
    if access_type(svc) == EXTERNAL_NAME:
        name = str(spec.get("externalName") or "")
        if resolved:
            checks.append(Check("external-name", PASS, _("The external name resolves"), f"{name} → {resolved}"))
        else:
            checks.append(Check("external-name", FAIL, _("The external name resolves"),
                                _("{name} does not resolve from the console.").format(name=name),
                                _("Check the name, or the DNS it needs (the cluster may resolve what the console "
                                  "cannot).")))
        return checks
    selector = spec.get("selector") or {}
    if not selector:
        checks.append(Check("selector", INFO, _("The selector picks pods"),
                            _("This Service has no selector: its endpoints are managed outside the console."),
                            _("Look at who writes its EndpointSlices.")))
    elif not pods:
        near = _nearest(selector, workloads)
        evidence = _("The selector {selector} matches no pod.").format(selector=_labels_text(selector))
        fix = _("Change the selector (Edit Service) or the workload's pod labels so that they match.")
        if near:
            kind, obj, missing = near
            labels = template_labels(dict(obj))
            evidence += " " + _("The nearest workload, {kind} {name}, has {have} where the selector wants {want}."
                                 ).format(kind=kind, name=(obj.get("metadata") or {}).get("name"),
                                          have=_labels_text({k: labels.get(k, "-") for k in missing}),
                                          want=_labels_text(missing))
        checks.append(Check("selector", FAIL, _("The selector picks pods"), evidence, fix))
        return checks
    else:
        checks.append(Check("selector", PASS, _("The selector picks pods"),
                            _("{n} pods match {selector}.").format(n=len(pods), selector=_labels_text(selector))))
    if pods:
        not_ready = [p for p in pods if not is_ready(p)]
        if not_ready:
            detail = "; ".join(f"{name} ({_why_not_ready(p, probes.get(name, ''))})"
                               for p in not_ready[:5] for name in [str((p.get("metadata") or {}).get("name"))])
            checks.append(Check("ready", FAIL if len(not_ready) == len(pods) else WARN,
                                _("The pods are ready"),
                                _("{n} of {total} pods are not ready: {detail}").format(
                                    n=len(not_ready), total=len(pods), detail=detail),
                                _("Look at the pod's events and logs: a failing readiness probe or a container that "
                                  "does not start keeps it out of the endpoints.")))
        else:
            checks.append(Check("ready", PASS, _("The pods are ready"), _("All {n} are ready.").format(n=len(pods))))
    ready_by_port: dict[str, int] = {}
    for s in slices:
        ready = sum(1 for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready") is not False)
        for p in s.get("ports") or [{"name": ""}]:
            ready_by_port[str(p.get("name") or "")] = ready_by_port.get(str(p.get("name") or ""), 0) + ready
    ports = spec.get("ports") or []
    empty = [str(p.get("name") or p.get("port")) for p in ports if not ready_by_port.get(str(p.get("name") or ""))]
    if ports and empty:
        checks.append(Check("endpoints", FAIL, _("Every port has ready endpoints"),
                            _("No ready endpoint for: {ports}.").format(ports=", ".join(empty)),
                            _("Traffic to these ports goes nowhere until a ready pod serves them.")))
    elif ports:
        checks.append(Check("endpoints", PASS, _("Every port has ready endpoints"),
                            ", ".join(f"{p.get('name') or p.get('port')}: {ready_by_port.get(str(p.get('name') or ''), 0)}"
                                      for p in ports)))
    if pods and ports:
        numbers, names = _container_ports(pods)
        problems, notes = [], []
        for p in ports:
            target, protocol = p.get("targetPort", p.get("port")), p.get("protocol") or "TCP"
            if isinstance(target, str) and not target.isdigit():
                if (target, protocol) not in names:
                    problems.append(_("the named port {name}/{protocol} is on no container").format(
                        name=target, protocol=protocol))
            elif numbers and (int(target), protocol) not in numbers:
                notes.append(_("{port}/{protocol} is not declared by the containers").format(port=target,
                                                                                           protocol=protocol))
        declared = ", ".join(sorted(f"{n}/{pr}" for n, pr in numbers) + sorted(f"{n}/{pr}" for n, pr in names)) or "-"
        if problems:
            checks.append(Check("target-ports", FAIL, _("The target ports are on the containers"),
                                "; ".join(problems) + ". " + _("The containers declare: {ports}.").format(ports=declared),
                                _("Use a port name or number the containers declare (Edit Service).")))
        elif notes:
            checks.append(Check("target-ports", WARN, _("The target ports are on the containers"),
                                "; ".join(notes) + ". " + _("The containers declare: {ports}.").format(ports=declared),
                                _("Traffic still goes there if the process listens on it; check the number.")))
        else:
            checks.append(Check("target-ports", PASS, _("The target ports are on the containers"), declared))
    if spec.get("type") == "LoadBalancer" and not ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress"):
        checks.append(Check("external", WARN, _("The external address is assigned"),
                            _("The load balancer has no address yet."),
                            _("A load balancer controller must answer (the cloud's, or OpenELB, MetalLB...).")))
    total_ready = max(ready_by_port.values(), default=0)
    if spec.get("internalTrafficPolicy") == "Local" or spec.get("trafficDistribution"):
        nodes = {str(e.get("nodeName")) for s in slices for e in s.get("endpoints") or []
                 if (e.get("conditions") or {}).get("ready") is not False and e.get("nodeName")}
        checks.append(Check("policy", WARN if spec.get("internalTrafficPolicy") == "Local" else INFO,
                            _("Traffic policy"),
                            _("Traffic from a node goes only to endpoints on that node; ready endpoints are on: "
                              "{nodes}.").format(nodes=", ".join(sorted(nodes)) or "-")
                            if spec.get("internalTrafficPolicy") == "Local" else
                            _("Traffic distribution {value}: endpoints close to the caller first.").format(
                                value=spec.get("trafficDistribution")),
                            _("Callers on other nodes get no answer; use Cluster unless that is the aim.")
                            if spec.get("internalTrafficPolicy") == "Local" else ""))
    if spec.get("sessionAffinity") == "ClientIP" and ports and not total_ready:
        checks.append(Check("affinity", WARN, _("Session affinity"),
                            _("Sticky sessions are on, and there is no ready endpoint to stick to.")))
    return checks


async def resolve(name: str, timeout: float = RESOLVE_SECONDS) -> str | None:
    """The first address `name` resolves to from the console, or None (not found, or no answer in time)."""
    loop = asyncio.get_running_loop()
    try:
        found = await asyncio.wait_for(loop.getaddrinfo(name, None, type=socket.SOCK_STREAM), timeout)
    except (OSError, TimeoutError, UnicodeError):
        return None
    return str(found[0][4][0]) if found else None
