"""Step 4, Advanced Settings: access, node ports, traffic, sticky session, node selector, labels and
annotations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Self

from pydantic import model_validator

from app.domain import service_rules
from app.domain.forms import (
    Errors,
    OptInt,
)
from app.domain.k8s.service_traffic import TrafficFields
from app.domain.manifests import (
    LABEL_APP,
    LABEL_VERSION,
    LB_ANNOTATION_KEYS,
    STICKY_TIMEOUT_DEFAULT,
    as_dict,
    dig,
    ensure_dict,
    is_preserved_annotation,
    relabel,
    set_or_pop,
)
from app.domain.service_rules import (
    KeyValueRow,
    check_exposure,
    check_pairs,
    check_sticky_session,
    row_dict,
)
from app.domain.wizard.basic import BasicInfo
from app.domain.wizard.draft import Access, Draft
from app.domain.wizard.read import as_str, dicts
from app.domain.wizard.step import StepContext, WizardStep
from app.i18n import LazyString, _, lazy_

# ---------------------------------------------------------------------------------------------------
# Step 4: Advanced Settings


class NodePortRow(service_rules.NodePortRow):
    """The node port of one Service port (by name); `port` is the service port, shown for reference."""

    port: OptInt = None


class AdvancedSettings(WizardStep, TrafficFields):
    step: ClassVar[str] = "advanced"
    title: ClassVar[LazyString] = lazy_("Advanced Settings")

    access: Access = "none"
    node_ports: list[NodePortRow] = []
    service_annotations: list[KeyValueRow] = []
    sticky_session: bool = False
    sticky_timeout: OptInt = STICKY_TIMEOUT_DEFAULT
    node_selector: list[KeyValueRow] = []
    labels: list[KeyValueRow] = []
    annotations: list[KeyValueRow] = []

    @model_validator(mode="after")
    def _canonical(self) -> Self:
        if self.access == "none":
            for row in self.node_ports:
                row.node_port = None
        if not self.sticky_session:
            self.sticky_timeout = STICKY_TIMEOUT_DEFAULT
        return self

    @classmethod
    def read(cls, draft: Draft) -> Self:
        w, s = draft.workload, draft.service
        service_type = dig(s, "spec", "type")
        access = service_type if service_type in ("NodePort", "LoadBalancer") else "none"
        node_ports = [
            NodePortRow.model_construct(
                name=as_str(p.get("name")),
                port=p.get("port"),
                node_port=p.get("nodePort") if access != "none" else None,
            )
            for p in dicts(dig(s, "spec", "ports"))
        ]
        sticky = dig(s, "spec", "sessionAffinity") == "ClientIP"
        timeout = dig(
            s, "spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds", default=STICKY_TIMEOUT_DEFAULT
        )
        return cls.model_construct(
            **TrafficFields.values_of(as_dict(dig(s, "spec"))),
            access=access,
            node_ports=node_ports,
            service_annotations=_pairs(dig(s, "metadata", "annotations"), hide_preserved=True),
            sticky_session=sticky,
            sticky_timeout=timeout if sticky else STICKY_TIMEOUT_DEFAULT,
            node_selector=_pairs(dig(w, "spec", "template", "spec", "nodeSelector")),
            labels=_pairs(dig(w, "metadata", "labels")),
            annotations=_pairs(dig(w, "metadata", "annotations"), hide_preserved=True),
        )

    @classmethod
    def apply(cls, draft: Draft, values: Self) -> Draft:
        d = draft.copy()
        w, s = d.workload, d.service
        wmeta = ensure_dict(w, "metadata")
        old_labels = dict(wmeta.get("labels") or {})
        new_labels = row_dict(values.labels)
        wmeta["labels"] = new_labels
        selector = ensure_dict(w, "spec", "selector")
        selector["matchLabels"] = relabel(selector.get("matchLabels") or {}, old_labels, new_labels)
        template_meta = ensure_dict(w, "spec", "template", "metadata")
        template_meta["labels"] = relabel(template_meta.get("labels") or {}, old_labels, new_labels)
        smeta = ensure_dict(s, "metadata")
        smeta["labels"] = relabel(smeta.get("labels") or {}, old_labels, new_labels)
        sspec = ensure_dict(s, "spec")
        old_selector = {k: v for k, v in old_labels.items() if k != LABEL_VERSION}
        new_selector = {k: v for k, v in new_labels.items() if k != LABEL_VERSION}
        sspec["selector"] = relabel(sspec.get("selector") or {}, old_selector, new_selector)

        set_or_pop(
            ensure_dict(w, "spec", "template", "spec"), "nodeSelector", row_dict(values.node_selector)
        )
        _replace_annotations(wmeta, values.annotations, drop=frozenset())
        _replace_annotations(
            smeta,
            values.service_annotations,
            drop=LB_ANNOTATION_KEYS if values.access != "LoadBalancer" else frozenset(),
        )

        if values.access == "none":
            if sspec.get("type") in ("NodePort", "LoadBalancer"):
                del sspec["type"]
        else:
            sspec["type"] = values.access
        rows = {r.name: r for r in values.node_ports}
        for port in dicts(sspec.get("ports")):
            row = rows.get(as_str(port.get("name")))
            if values.access == "none":
                port.pop("nodePort", None)
            elif row is not None:
                set_or_pop(port, "nodePort", row.node_port)

        values.apply_traffic(sspec, service_type=str(sspec.get("type") or "ClusterIP"),
                             headless=sspec.get("clusterIP") == "None")
        if values.sticky_session:
            sspec["sessionAffinity"] = "ClientIP"
            ensure_dict(sspec, "sessionAffinityConfig", "clientIP")["timeoutSeconds"] = values.sticky_timeout
        else:
            sspec["sessionAffinity"] = "None"
            sspec.pop("sessionAffinityConfig", None)
        return d

    def check(self, context: StepContext) -> dict[str, str]:
        e = Errors()
        draft = context.draft
        headless = context.flavor == "stateful" or dig(draft.service, "spec", "clusterIP") == "None"
        check_exposure(
            e,
            self.access,
            self.node_ports,
            headless=headless,
            # the wizard keeps its Service headless: the way out is a second Service
            headless_message=_(
                "A headless Service has no cluster IP, so it cannot be exposed through a node port or a "
                "load balancer. Create this service without external access, then create a second "
                "Service over the same pods with Specify Workload and expose that one."
            ),
        )
        self.check_traffic(e, as_dict(dig(draft.service, "spec")))
        check_sticky_session(e, self.sticky_session, self.sticky_timeout)
        check_pairs(e, "node_selector", self.node_selector, labels=True)
        check_pairs(e, "labels", self.labels, labels=True)
        check_pairs(e, "annotations", self.annotations, labels=False)
        check_pairs(e, "service_annotations", self.service_annotations, labels=False)
        basic = BasicInfo.read(draft)
        labels = row_dict(self.labels)
        for key, expected in ((LABEL_APP, basic.name), (LABEL_VERSION, basic.version)):
            if draft.name and labels.get(key) != expected:
                e.add(
                    "labels",
                    _("The label {key}={value} is required: the wizard selects the pods by it.").format(
                        key=key, value=expected
                    ),
                )
        return dict(e)


def _pairs(mapping: Any, *, hide_preserved: bool = False) -> list[KeyValueRow]:
    if not isinstance(mapping, dict):
        return []
    return [
        KeyValueRow.model_construct(key=str(k), value=v if isinstance(v, str) else str(v))
        for k, v in mapping.items()
        if not (hide_preserved and is_preserved_annotation(str(k)))
    ]


def _replace_annotations(meta: dict[str, Any], rows: Sequence[KeyValueRow], *, drop: frozenset[str]) -> None:
    old = as_dict(meta.get("annotations"))
    kept = {k: v for k, v in old.items() if is_preserved_annotation(k)}
    kept.update((k, v) for k, v in row_dict(rows).items() if k not in drop)
    set_or_pop(meta, "annotations", kept)
