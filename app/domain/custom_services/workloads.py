"""Specify Workloads' picker and its live hint: the workloads a selector matches."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from app.domain.custom_services.steps import PICKER_KINDS, KeyValueRow
from app.domain.forms import Errors
from app.domain.k8s.names import is_dns1123_subdomain
from app.domain.manifests import (
    as_dict,
    dig,
)
from app.domain.service_rules import (
    check_pairs,
    row_dict,
)
from app.i18n import _, ngettext
from app.kube.client import Actor, KubeGateway
from app.kube.errors import KubeError

# ---------------------------------------------------------------------------------------------------
# Workloads: the picker and the selector hint


@dataclass(frozen=True)
class WorkloadPort:
    """A port a workload's containers declare: what picking the workload fills the port rows with."""

    name: str
    protocol: str  # Kubernetes': TCP or UDP
    container_port: int


@dataclass(frozen=True)
class WorkloadInfo:
    kind: str
    name: str
    pod_labels: dict[str, str]
    replicas: int | None = None
    ready: int | None = None
    ports: tuple[WorkloadPort, ...] = ()


@dataclass(frozen=True)
class PodCount:
    """The pods a selector picks now: what will receive the Service's traffic (ready ones do)."""

    total: int
    ready: int


def workload_info(kind: str, obj: Mapping[str, Any]) -> WorkloadInfo:
    """What the picker shows of a Deployment, StatefulSet or DaemonSet (as listed by the API server)."""
    labels = as_dict(dig(obj, "spec", "template", "metadata", "labels"))
    status = as_dict(obj.get("status"))
    if kind == "DaemonSet":
        replicas, ready = status.get("desiredNumberScheduled"), status.get("numberReady")
    else:
        replicas, ready = dig(obj, "spec", "replicas"), status.get("readyReplicas", 0)
    ports: list[WorkloadPort] = []
    for container in dig(obj, "spec", "template", "spec", "containers", default=[]) or []:
        for port in as_dict(container).get("ports") or []:
            port = as_dict(port)
            number, protocol = port.get("containerPort"), port.get("protocol") or "TCP"
            if isinstance(number, int) and not isinstance(number, bool) and protocol in ("TCP", "UDP"):
                ports.append(WorkloadPort(str(port.get("name") or ""), protocol, number))
    return WorkloadInfo(
        kind=kind,
        name=str(dig(obj, "metadata", "name", default="")),
        pod_labels={str(k): str(v) for k, v in labels.items()},
        replicas=replicas if isinstance(replicas, int) else None,
        ready=ready if isinstance(ready, int) else None,
        ports=tuple(ports),
    )


def pod_count(pods: Sequence[Mapping[str, Any]]) -> PodCount:
    """How many of these pods there are, and how many are Ready (receive traffic)."""
    ready = sum(1 for p in pods if any(
        as_dict(c).get("type") == "Ready" and as_dict(c).get("status") == "True"
        for c in dig(p, "status", "conditions", default=[]) or []))
    return PodCount(len(pods), ready)


async def project_workloads(kube: KubeGateway, namespace: str, *, actor: Actor) -> tuple[list[WorkloadInfo] | None, str]:
    """The project's Deployments, StatefulSets and DaemonSets as the user (None and why, if refused)."""
    try:
        lists = await asyncio.gather(*(kube.items(kind, namespace, actor=actor) for kind in PICKER_KINDS))
    except KubeError as e:
        return None, e.message
    out = [workload_info(kind, obj) for kind, items in zip(PICKER_KINDS, lists, strict=True) for obj in items]
    return sorted(out, key=lambda w: (PICKER_KINDS.index(w.kind), w.name)), ""


async def live_selector_hint(kube: KubeGateway, namespace: str, *, actor: Actor, rows: Any,
                             workloads: Sequence[WorkloadInfo] | None = None) -> SelectorHint:
    """The hint for the posted selector rows: the pods it picks now (ready/total) and their workloads.
    Both lists come from the watch cache (pods by their label index), as the user; `workloads` when the
    caller has already listed them."""
    selector = _selector_of(rows)
    if isinstance(selector, SelectorHint):
        return selector
    if not selector:
        return selector_hint(rows, [])

    async def pods() -> PodCount | None:
        try:
            return pod_count(await kube.items("Pod", namespace, actor=actor, label_selector=selector_text(selector)))
        except KubeError:
            return None

    if workloads is None:
        (workloads, _error), count = await asyncio.gather(project_workloads(kube, namespace, actor=actor), pods())
    else:
        count = await pods()
    return selector_hint(rows, workloads, pods=count)


def valid_workload_ref(kind: str, name: str) -> bool:
    """Whether a picked (kind, name) is one the picker could have offered (checked before any request)."""
    return kind in PICKER_KINDS and is_dns1123_subdomain(name)


def selector_matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Whether pods with `labels` are selected by a Service's (equality) selector; an empty one selects none."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def selector_text(selector: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in selector.items())


@dataclass(frozen=True)
class SelectorHint:
    """The live hint under the selector rows. `level` is info (matches), warn (none) or muted (unset)."""

    message: str
    level: Literal["info", "warn", "muted"]
    matches: tuple[WorkloadInfo, ...] = ()


def _selector_of(rows: Any) -> dict[str, str] | SelectorHint:
    """The selector the posted rows make, or the hint saying why there is none."""
    parsed: list[KeyValueRow] = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict):
            continue
        try:
            parsed.append(KeyValueRow.model_validate({k: v for k, v in row.items() if k in ("key", "value")}))
        except ValueError:
            return SelectorHint(_("Fix the selector to see which workloads it matches."), "muted")
    e = Errors()
    check_pairs(e, "selector", parsed, labels=True)
    if e:
        return SelectorHint(_("Fix the selector to see which workloads it matches."), "muted")
    return row_dict(parsed)


def selector_hint(rows: Any, workloads: Sequence[WorkloadInfo] | None, *,
                  pods: PodCount | None = None) -> SelectorHint:
    """The hint for the selector rows as posted (raw nested values) against the project's workloads
    (None when they could not be listed) and, when known, the pods it picks now."""
    selector = _selector_of(rows)
    if isinstance(selector, SelectorHint):
        return selector
    if not selector:
        return SelectorHint(_("Please set a workload selector."), "muted")
    if workloads is None:
        return SelectorHint(_("The workloads of this project could not be listed."), "muted")
    found = tuple(w for w in workloads if selector_matches(selector, w.pod_labels))
    names_text = ", ".join(f"{w.name} ({w.kind})" for w in found)
    text = selector_text(selector)
    if pods is not None and pods.total:
        message = ngettext(
            "The current selector ({selector}) sends traffic to {count} pod ({ready} ready) of {names}.",
            "The current selector ({selector}) sends traffic to {count} pods ({ready} ready) of {names}.",
            pods.total,
        ).format(selector=text, count=pods.total, ready=pods.ready,
                 names=names_text or _("no workload of this project"))
        return SelectorHint(message, "info" if pods.ready else "warn", found)
    if not found:
        return SelectorHint(_("The current selector matches no workload."), "warn")
    if pods is not None:  # workloads, but none of their pods exists now
        return SelectorHint(_("The current selector ({selector}) matches {names}, which has no pods now.").format(
            selector=text, names=names_text), "warn", found)
    message = ngettext(
        "The current selector ({selector}) matches {count} workload: {names}.",
        "The current selector ({selector}) matches {count} workloads: {names}.",
        len(found),
    ).format(selector=text, count=len(found), names=names_text)
    return SelectorHint(message, "info", found)
