"""The two flows, External Service and Specify Workloads: their steps in order, and each step's place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from app.domain.custom_services.build import external_service, workloads_service
from app.domain.custom_services.steps import (
    AdvancedSettings,
    BasicInfo,
    ExternalAddress,
    ServiceSettings,
    Step,
    StepContext,
)
from app.domain.k8s import service_traffic
from app.domain.manifests import (
    ANNOTATION_ALIAS,
    ANNOTATION_DESCRIPTION,
)
from app.domain.service_rules import (
    parse_cause,
)
from app.i18n import LazyString, lazy_

# ---------------------------------------------------------------------------------------------------
# Flows


@dataclass(frozen=True)
class Flow:
    """One creation path: its URL slug, title, description and steps in order."""

    slug: str
    title: LazyString
    description: LazyString
    steps: tuple[type[Step], ...]

    def step(self, slug: str) -> type[Step] | None:
        return next((s for s in self.steps if s.slug == slug), None)

    def index(self, slug: str) -> int:
        return next((i for i, s in enumerate(self.steps) if s.slug == slug), 0)

    def owner(self, field_name: str) -> str | None:
        """The step slug that owns a (dotted) form field."""
        top = field_name.split(".", 1)[0]
        return next((s.slug for s in self.steps if top in s.model_fields), None)

    def fields(self, slug: str) -> frozenset[str]:
        step = self.step(slug)
        return frozenset(step.model_fields) if step else frozenset()

    def context(self, models: Mapping[str, Step]) -> StepContext:
        basic = models.get("basic")
        settings = models.get("settings")
        return StepContext(
            name=basic.name if isinstance(basic, BasicInfo) else "",
            headless=settings.headless if isinstance(settings, ServiceSettings) else False,
            ports=tuple(settings.filled_ports()) if isinstance(settings, ServiceSettings) else (),
        )

    def validate_upto(
        self, values: Mapping[str, Any], last: int
    ) -> tuple[dict[str, Step], str | None, dict[str, str]]:
        """Validate steps 0..last in order. Returns (the valid steps' models by slug, the first failing
        step or None, its errors)."""
        models: dict[str, Step] = {}
        for step in self.steps[: last + 1]:
            result = step.validate_values(values, self.context(models))
            if result.model is None:
                return models, step.slug, result.errors
            models[step.slug] = result.model
        return models, None, {}

    def build(self, models: Mapping[str, Step], *, namespace: str, creator: str) -> dict[str, Any]:
        basic = models["basic"]
        assert isinstance(basic, BasicInfo)
        if self is EXTERNAL:
            address = models["address"]
            assert isinstance(address, ExternalAddress)
            return external_service(basic, address, namespace=namespace, creator=creator)
        settings, advanced = models["settings"], models["advanced"]
        assert isinstance(settings, ServiceSettings) and isinstance(advanced, AdvancedSettings)
        return workloads_service(basic, settings, advanced, namespace=namespace, creator=creator)


EXTERNAL = Flow(
    "external",
    lazy_("Create External Service"),
    lazy_("Create a service and map it to an external service."),
    (BasicInfo, ExternalAddress),
)
WORKLOADS = Flow(
    "workloads",
    lazy_("Specify Workload to Create Service"),
    lazy_("Create a service by using one or more existing workloads."),
    (BasicInfo, ServiceSettings, AdvancedSettings),
)
FLOWS: dict[str, Flow] = {f.slug: f for f in (EXTERNAL, WORKLOADS)}


# ---------------------------------------------------------------------------------------------------
# Server causes back to form fields


def field_for_cause(flow: Flow, cause: str) -> tuple[str, str] | None:
    """The (step, form field) an API server cause (`spec.ports[0].port`) is about, or None."""
    path = parse_cause(cause)
    external = flow is EXTERNAL
    match path:
        case ["metadata", "name", *_]:
            return ("basic", "name")
        case ["metadata", "annotations", key, *_] if key == ANNOTATION_ALIAS:
            return ("basic", "alias")
        case ["metadata", "annotations", key, *_] if key == ANNOTATION_DESCRIPTION:
            return ("basic", "description")
        case ["spec", "externalName", *_] if external:
            return ("address", "external_name")
        case _ if external:
            return None
        case ["metadata", "annotations", *_]:
            return ("advanced", "service_annotations")
        case ["metadata", "labels", *_]:
            return ("advanced", "labels")
        case ["spec", "selector", *_]:
            return ("settings", "selector")
        case ["spec", "ports", int(i), "nodePort", *_]:
            return ("advanced", f"node_ports.{i}.node_port")
        case ["spec", "ports", int(i), key, *_]:
            attr = {"name": "name", "protocol": "protocol", "targetPort": "container_port"}.get(str(key), "service_port")
            return ("settings", f"ports.{i}.{attr}")
        case ["spec", "ports", *_]:
            return ("settings", "ports")
        case ["spec", "clusterIP" | "clusterIPs", *_]:
            return ("settings", "access_mode")
        case ["spec", str(), *_] if (field := service_traffic.field_of_cause(path)):
            return ("advanced", field)
        case ["spec", "sessionAffinity" | "sessionAffinityConfig", *_]:
            return ("advanced", "sticky_timeout")
        case ["spec", key, *_] if key == "type" or str(key).startswith(("loadBalancer", "externalTraffic")):
            return ("advanced", "access")
    return None


@dataclass
class StepView:
    """One entry of the step indicator."""

    slug: str
    title: str
    state: Literal["done", "current", "todo"]
    index: int = 0


def step_views(flow: Flow, current: str) -> list[StepView]:
    here = flow.index(current)
    return [
        StepView(s.slug, str(s.title), "done" if i < here else "current" if i == here else "todo", i + 1)
        for i, s in enumerate(flow.steps)
    ]
