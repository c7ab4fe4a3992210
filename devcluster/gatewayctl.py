"""A small Gateway API controller for the local control plane: `python -m devcluster.gatewayctl
--kubeconfig K`, started and stopped by `devcluster.localcluster` like the node simulator.

It routes no traffic. It answers as a real implementation's control plane would, through the real API,
for the GatewayClasses whose `controllerName` is `dockyard.dev/gateway-controller`:
- GatewayClass: Accepted=True.
- Gateway: Accepted and Programmed (the message says it is simulated), and per listener its supported
  kinds, attached routes and conditions; only HTTP listeners are supported (others: Accepted=False,
  UnsupportedProtocol).
- HTTPRoute, for each parentRef to one of its Gateways: Accepted=True, or False with
  NoMatchingParent (no listener of that sectionName/port), NotAllowedByListeners (no listener's
  `allowedRoutes` admits the route's namespace or kind: Same, All, or a Selector on the namespace's
  labels) or NoMatchingListenerHostname; and ResolvedRefs=True, or False with InvalidKind (a backend
  not a core Service), RefNotPermitted (a Service in another namespace that no ReferenceGrant there
  allows) or BackendNotFound (no such Service, or no such port on it). Other controllers' entries in
  `status.parents` are left as they are.

Informers (list, then watch; a 410 lists again) keep GatewayClasses, Gateways, HTTPRoutes,
ReferenceGrants, Services (name and ports only) and Namespaces (labels only); any change schedules one
reconcile of everything, which writes only the statuses that differ (merge patch of the status
subresource with the resourceVersion it read, so a concurrent change is never overwritten).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.kube.client import CONSOLE, KubeGateway, Obj
from app.kube.errors import KubeError
from app.kube.resources import ALL_NAMESPACES, resource_for
from devcluster import run_until_signalled

log = logging.getLogger("dockyard.gatewayctl")

CONTROLLER = "dockyard.dev/gateway-controller"
GROUP = "gateway.networking.k8s.io"
KINDS = ("GatewayClass", "Gateway", "HTTPRoute", "ReferenceGrant", "Service", "Namespace")
SIMULATED = "Simulated by the development cluster's gateway controller: configuration only, no traffic is served."
DEBOUNCE_SECONDS = 0.05


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(type_: str, status: bool, reason: str, message: str, generation: int) -> Obj:
    return {"type": type_, "status": "True" if status else "False", "reason": reason, "message": message,
            "observedGeneration": generation}


def with_times(new: list[Obj], old: Iterable[Mapping[str, Any]]) -> list[Obj]:
    """Conditions keep their lastTransitionTime while their status stays the same."""
    before = {c.get("type"): c for c in old}
    out = []
    for c in new:
        prev = before.get(c["type"])
        keep = prev is not None and prev.get("status") == c["status"] and prev.get("lastTransitionTime")
        out.append({**c, "lastTransitionTime": prev["lastTransitionTime"] if keep and prev else now()})
    return out


def _comparable(conditions: Iterable[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((c.get("type"), c.get("status"), c.get("reason"), c.get("message"), c.get("observedGeneration"))
                  for c in conditions)


# -- the rules (the spec's, written independently of the console's own checks) --------------------------

def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e.get("key"), e.get("operator"), e.get("values") or []
        present = key in labels
        ok = {"In": present and labels.get(key) in values, "NotIn": not present or labels.get(key) not in values,
              "Exists": present, "DoesNotExist": not present}.get(op, False)
        if not ok:
            return False
    return True


def host_match(listener: str | None, route: str) -> bool:
    """Whether a route hostname falls under a listener hostname, or the other way round (wildcards
    stand for one or more leading labels)."""
    if not listener or listener == route:
        return True

    def covers(wild: str, host: str) -> bool:
        return wild.startswith("*.") and host.endswith(wild[1:]) and len(host) > len(wild) - 1

    return covers(listener, route) or covers(route, listener)


@dataclass
class Verdict:
    accepted: tuple[bool, str, str]
    resolved: tuple[bool, str, str]
    listeners: list[str] = field(default_factory=list)  # names of the listeners it attached to


class World:
    """What the informers hold, and the verdicts computed from it."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[tuple[str, str], Obj]] = {k: {} for k in KINDS}

    def ours(self) -> set[str]:
        return {n for (_ns, n), gc in self.objects["GatewayClass"].items()
                if (gc.get("spec") or {}).get("controllerName") == CONTROLLER}

    def our_gateways(self) -> dict[tuple[str, str], Obj]:
        classes = self.ours()
        return {k: g for k, g in self.objects["Gateway"].items()
                if (g.get("spec") or {}).get("gatewayClassName") in classes}

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        return dict(((self.objects["Namespace"].get(("", namespace)) or {}).get("metadata") or {}).get("labels") or {})

    def admits(self, listener: Mapping[str, Any], gateway_ns: str, route_ns: str) -> bool:
        allowed = listener.get("allowedRoutes") or {}
        kinds = allowed.get("kinds")
        if kinds and not any(k.get("kind") == "HTTPRoute" and (k.get("group") or GROUP) == GROUP for k in kinds):
            return False
        if listener.get("protocol") != "HTTP":
            return False
        namespaces = allowed.get("namespaces") or {}
        source = namespaces.get("from") or "Same"
        if source == "All":
            return True
        if source == "Selector":
            return selects(namespaces.get("selector"), self.namespace_labels(route_ns))
        return source == "Same" and gateway_ns == route_ns

    def grant_allows(self, route_ns: str, target_ns: str, service: str) -> bool:
        for (ns, _n), grant in self.objects["ReferenceGrant"].items():
            if ns != target_ns:
                continue
            spec = grant.get("spec") or {}
            sources = any(f.get("group") == GROUP and f.get("kind") == "HTTPRoute" and f.get("namespace") == route_ns
                          for f in spec.get("from") or [])
            targets = any((t.get("group") or "") == "" and t.get("kind") == "Service"
                          and (not t.get("name") or t.get("name") == service) for t in spec.get("to") or [])
            if sources and targets:
                return True
        return False

    def resolved(self, route: Obj) -> tuple[bool, str, str]:
        route_ns = route["metadata"]["namespace"]
        for rule in (route.get("spec") or {}).get("rules") or []:
            for ref in rule.get("backendRefs") or []:
                name, ns = ref.get("name", ""), ref.get("namespace") or route_ns
                if (ref.get("group") or "") != "" or (ref.get("kind") or "Service") != "Service":
                    return False, "InvalidKind", f"backendRef {name}: only core Services are supported."
                if ns != route_ns and not self.grant_allows(route_ns, ns, name):
                    return False, "RefNotPermitted", (f"backendRef {ns}/{name}: no ReferenceGrant in namespace {ns} "
                                                      f"allows HTTPRoutes from {route_ns} to refer to it.")
                svc = self.objects["Service"].get((ns, name))
                if svc is None:
                    return False, "BackendNotFound", f"Service {ns}/{name} does not exist."
                ports = {p.get("port") for p in (svc.get("spec") or {}).get("ports") or []}
                if ref.get("port") not in ports:
                    return False, "BackendNotFound", f"Service {ns}/{name} has no port {ref.get('port')}."
        return True, "ResolvedRefs", "All references are resolved."

    def verdict(self, route: Obj, ref: Mapping[str, Any], gateway: Obj) -> Verdict:
        route_ns = route["metadata"]["namespace"]
        gw_ns = gateway["metadata"]["namespace"]
        resolved = self.resolved(route)
        listeners = [lst for lst in (gateway.get("spec") or {}).get("listeners") or []
                     if (not ref.get("sectionName") or lst.get("name") == ref.get("sectionName"))
                     and (not ref.get("port") or lst.get("port") == ref.get("port"))]
        if not listeners:
            return Verdict((False, "NoMatchingParent", "No listener of the Gateway matches the parentRef's "
                                                        "sectionName or port."), resolved)
        admitting = [lst for lst in listeners if self.admits(lst, gw_ns, route_ns)]
        if not admitting:
            return Verdict((False, "NotAllowedByListeners", f"No listener of Gateway {gw_ns}/"
                            f"{gateway['metadata']['name']} allows HTTPRoutes from namespace {route_ns} "
                            "(allowedRoutes)."), resolved)
        hosts = (route.get("spec") or {}).get("hostnames") or []
        matching = [lst for lst in admitting if not hosts or any(host_match(lst.get("hostname"), h) for h in hosts)]
        if not matching:
            return Verdict((False, "NoMatchingListenerHostname", "None of the route's hostnames matches a "
                            "listener's hostname."), resolved)
        return Verdict((True, "Accepted", "Route is accepted."), resolved, [lst.get("name", "") for lst in matching])


def parent_key(ref: Mapping[str, Any], route_ns: str) -> tuple[Any, ...]:
    return ((ref.get("group") or GROUP), (ref.get("kind") or "Gateway"), ref.get("namespace") or route_ns,
            ref.get("name"), ref.get("sectionName") or "", ref.get("port") or 0)


# -- the controller -------------------------------------------------------------------------------

class Controller:
    def __init__(self, gw: KubeGateway) -> None:
        self.gw = gw
        self.world = World()
        self.dirty = asyncio.Event()
        self.synced: set[str] = set()

    async def run(self) -> None:
        tasks = [asyncio.create_task(self._inform(kind), name=f"gatewayctl {kind}") for kind in KINDS]
        tasks.append(asyncio.create_task(self._reconcile_loop(), name="gatewayctl reconcile"))
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()

    @staticmethod
    def _slim(kind: str, obj: Obj) -> Obj:
        meta = obj.get("metadata") or {}
        if kind == "Service":
            return {"metadata": {"name": meta.get("name"), "namespace": meta.get("namespace")},
                    "spec": {"ports": [{"port": p.get("port")} for p in (obj.get("spec") or {}).get("ports") or []]}}
        if kind == "Namespace":
            return {"metadata": {"name": meta.get("name"), "labels": meta.get("labels") or {}}}
        return {**obj, "kind": kind}  # list items come without their kind

    async def _inform(self, kind: str) -> None:
        """List, then watch from the list's version; start again on any failure (the CRDs may not be
        installed yet: try every few seconds)."""
        res = resource_for(kind)
        scope = ALL_NAMESPACES if res.namespaced else None
        store = self.world.objects[kind]
        while True:
            try:
                listed = await self.gw.list(kind, scope, actor=CONSOLE)
                store.clear()
                for obj in listed.get("items") or []:
                    meta = obj.get("metadata") or {}
                    store[(meta.get("namespace", ""), meta.get("name", ""))] = self._slim(kind, obj)
                self.synced.add(kind)
                self.dirty.set()
                rv = (listed.get("metadata") or {}).get("resourceVersion")
                while True:
                    async for event in self.gw.watch(kind, scope, actor=CONSOLE, resource_version=rv,
                                                     timeout_seconds=240):
                        obj = event.get("object") or {}
                        if event.get("type") == "ERROR":
                            raise _Relist()
                        meta = obj.get("metadata") or {}
                        rv = meta.get("resourceVersion") or rv
                        key = (meta.get("namespace", ""), meta.get("name", ""))
                        if event.get("type") in ("ADDED", "MODIFIED"):
                            store[key] = self._slim(kind, obj)
                        elif event.get("type") == "DELETED":
                            store.pop(key, None)
                        else:
                            continue
                        self.dirty.set()
            except asyncio.CancelledError:
                raise
            except _Relist:
                continue
            except KubeError as e:
                if not e.not_found:
                    log.info("watching %s: %s", kind, e)
                await asyncio.sleep(2 if e.not_found else 1)
            except Exception:
                log.exception("watching %s failed; listing again", kind)
                await asyncio.sleep(1)

    async def _reconcile_loop(self) -> None:
        while True:
            await self.dirty.wait()
            await asyncio.sleep(DEBOUNCE_SECONDS)
            self.dirty.clear()
            if not set(KINDS) <= self.synced:
                continue
            try:
                await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reconcile failed; trying again")
                await asyncio.sleep(1)
                self.dirty.set()

    async def reconcile(self) -> None:
        w = self.world
        classes = w.ours()
        for (_ns, name), gc in list(w.objects["GatewayClass"].items()):
            if name in classes:
                gen = int(gc["metadata"].get("generation") or 0)
                want = [condition("Accepted", True, "Accepted", "Handled by the development gateway controller.", gen)]
                old = (gc.get("status") or {}).get("conditions") or []
                await self._write(gc, {"conditions": with_times(want, old)},
                                  lambda s: _comparable(s.get("conditions") or []))
        gateways = w.our_gateways()
        attached: dict[tuple[str, str, str], int] = {}
        for route in list(w.objects["HTTPRoute"].values()):
            await self._route(route, gateways, attached)
        for key, gateway in gateways.items():
            await self._gateway(key, gateway, attached)

    async def _route(self, route: Obj, gateways: Mapping[tuple[str, str], Obj],
                     attached: dict[tuple[str, str, str], int]) -> None:
        meta = route["metadata"]
        ns, gen = meta["namespace"], int(meta.get("generation") or 0)
        old = (route.get("status") or {}).get("parents") or []
        mine: list[Obj] = []
        for ref in (route.get("spec") or {}).get("parentRefs") or []:
            if (ref.get("group") or GROUP) != GROUP or (ref.get("kind") or "Gateway") != "Gateway":
                continue
            gateway = gateways.get((ref.get("namespace") or ns, ref.get("name", "")))
            if gateway is None:
                continue  # not ours (or not there): another controller's to answer, or nobody's
            v = self.world.verdict(route, ref, gateway)
            if v.accepted[0]:
                for listener in v.listeners:
                    key = (gateway["metadata"]["namespace"], gateway["metadata"]["name"], listener)
                    attached[key] = attached.get(key, 0) + 1
            previous = next((p for p in old if p.get("controllerName") == CONTROLLER
                             and parent_key(p.get("parentRef") or {}, ns) == parent_key(ref, ns)), {})
            conditions = [condition("Accepted", *v.accepted, gen), condition("ResolvedRefs", *v.resolved, gen)]
            mine.append({"parentRef": dict(ref), "controllerName": CONTROLLER,
                         "conditions": with_times(conditions, previous.get("conditions") or [])})
        others = [p for p in old if p.get("controllerName") != CONTROLLER]
        if not mine and len(others) == len(old):
            return
        await self._write(route, {"parents": others + mine}, lambda s: sorted(
            (str(parent_key(p.get("parentRef") or {}, ns)), p.get("controllerName"), _comparable(p.get("conditions") or []))
            for p in s.get("parents") or []))

    async def _gateway(self, key: tuple[str, str], gateway: Obj, attached: Mapping[tuple[str, str, str], int]) -> None:
        gen = int(gateway["metadata"].get("generation") or 0)
        old = gateway.get("status") or {}
        old_listeners = {lst.get("name"): lst for lst in old.get("listeners") or []}
        listeners = []
        for lst in (gateway.get("spec") or {}).get("listeners") or []:
            name = lst.get("name", "")
            http = lst.get("protocol") == "HTTP"
            conditions = [
                condition("Accepted", http, "Accepted" if http else "UnsupportedProtocol",
                          "Listener is accepted." if http else "The development controller serves HTTP listeners only.",
                          gen),
                condition("Programmed", http, "Programmed" if http else "Invalid",
                          SIMULATED if http else "Not programmed: unsupported protocol.", gen),
                condition("ResolvedRefs", True, "ResolvedRefs", "No references to resolve.", gen),
                condition("Conflicted", False, "NoConflicts", "No conflicts.", gen),
            ]
            listeners.append({
                "name": name, "attachedRoutes": attached.get((*key, name), 0),
                "supportedKinds": [{"group": GROUP, "kind": "HTTPRoute"}] if http else [],
                "conditions": with_times(conditions, (old_listeners.get(name) or {}).get("conditions") or []),
            })
        conditions = [condition("Accepted", True, "Accepted", "Gateway is accepted.", gen),
                      condition("Programmed", True, "Programmed", SIMULATED, gen)]
        status = {"conditions": with_times(conditions, old.get("conditions") or []), "listeners": listeners}

        def comparable(s: Mapping[str, Any]) -> Any:
            return (_comparable(s.get("conditions") or []),
                    sorted((lst.get("name"), lst.get("attachedRoutes"), _comparable(lst.get("conditions") or []),
                            str(lst.get("supportedKinds"))) for lst in s.get("listeners") or []))

        await self._write(gateway, status, comparable)

    async def _write(self, obj: Obj, status: Obj, comparable: Callable[[Mapping[str, Any]], Any]) -> None:
        """Merge-patch the status subresource if it differs, on condition the object is the version read."""
        if comparable(obj.get("status") or {}) == comparable(status):
            return
        meta = obj["metadata"]
        kind = obj.get("kind") or ""
        patch = {"metadata": {"resourceVersion": meta.get("resourceVersion")}, "status": status}
        try:
            written = await self.gw.merge_patch(kind, meta.get("namespace"), meta["name"], patch, actor=CONSOLE,
                                                subresource="status", field_manager="dockyard-gatewayctl")
        except KubeError as e:
            if e.conflict or e.not_found:
                return  # a newer version is on its way through the watch
            log.warning("status of %s %s/%s: %s", kind, meta.get("namespace", ""), meta["name"], e)
            return
        wmeta = written.get("metadata") or {}
        self.world.objects[kind][(wmeta.get("namespace", ""), wmeta.get("name", ""))] = written
        log.info("status of %s %s/%s written", kind, meta.get("namespace", ""), meta["name"])


class _Relist(Exception):
    pass


async def _main(args: argparse.Namespace) -> None:
    from app.kube.config import new_gateway

    gw = await new_gateway(args.kubeconfig, timeout=30)
    controller = Controller(gw)
    await run_until_signalled(controller.run(), gw, log)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devcluster.gatewayctl", description=__doc__.split("\n")[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(_main(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
