"""External Service and Specify Workloads: the steps of the two forms, their rules, and the Service each
builds. Pure: no I/O. What needs the cluster (is the name taken, which workloads does the project have)
is passed in by the caller.

The two paths (kubesphere.md §1.6-1.7, §2.3-2.4):

* External Service: Basic Information -> External Service Address. A Service `type: ExternalName`
  with `kubesphere.io/serviceType: externalservice` and the label `app: <name>`.
* Specify Workloads: Basic Information -> Service Settings -> Advanced Settings. A Service over pods
  that already run: Virtual IP, or Internal Domain Name (headless, `clusterIP: None`); selector rows;
  ports; Internet Access, Sticky Session and labels. No serviceType annotation: it lists as a Custom
  Service (or as Headless, which the list derives from `clusterIP: None`).

Form state travels in the form itself: every step's fields are posted on every request (the other
steps' as hidden inputs), so the routes hold no server-side state. Form field names (rows count from 0):

* basic: `name`, `alias`, `description`
* address: `external_name`
* settings: `access_mode` (virtual_ip | headless), `selector.{i}.{key,value}`,
  `ports.{i}.{protocol,name,container_port,service_port}`
* advanced: `access` (none | NodePort | LoadBalancer), `node_ports.{i}.{name,node_port}`, `lb_provider`,
  `service_annotations.{i}.{key,value}`, `sticky_session`, `sticky_timeout`, `labels.{i}.{key,value}`

Decisions that differ from the original console, on purpose:

* The external address must be a DNS name: IP addresses, schemes, ports and paths are refused with a
  message (Kubernetes would accept an IP written as a name and then resolve nothing).
* Alias and description annotations are written only when set (no `kubesphere.io/alias-name: ''`).
* A port's name must carry its protocol's prefix (`http-web` for HTTP): the prefix is the only place
  the protocol is recorded (Istio's convention), so a mismatch would be lost on the next read.
* A headless Service may have no ports (Kubernetes allows it, e.g. for DNS-only discovery); a Virtual
  IP Service needs at least one.
* The selector hint matches the selector against each workload's *pod template* labels (what a Service
  selects), not the workload's own labels as the original did.
* Sticky Session's duration is 1 to 86400 seconds (the API server refuses 0).
* There is no "Duplicate labels" check against other Services (kubesphere/console#3727).
"""

from __future__ import annotations

from app.domain.custom_services.build import check_name_available, external_service, workloads_service
from app.domain.custom_services.flows import (
    EXTERNAL,
    FLOWS,
    WORKLOADS,
    Flow,
    StepView,
    field_for_cause,
    step_views,
)
from app.domain.custom_services.ops import (
    ROW_LISTS,
    advanced_defaults,
    align_node_ports,
    apply_op,
    follow_name,
    guess_provider,
    new_row,
    provider_keys,
    settings_defaults,
)
from app.domain.custom_services.steps import (
    ANNOTATION_VALUE_MAX,
    EXTERNAL_SERVICE_TYPE,
    MAX_ROWS,
    PICKER_KIND_LABELS,
    PICKER_KINDS,
    PORT_NAME_MAX,
    Access,
    AdvancedSettings,
    BasicInfo,
    ExternalAddress,
    KeyValueRow,
    ServiceSettings,
    Step,
    StepContext,
    external_name_problem,
)
from app.domain.custom_services.workloads import (
    PodCount,
    SelectorHint,
    WorkloadInfo,
    WorkloadPort,
    live_selector_hint,
    pod_count,
    project_workloads,
    selector_hint,
    selector_matches,
    selector_text,
    valid_workload_ref,
    workload_info,
)
from app.domain.service_rules import NodePortRow, PortRow

__all__ = [
    "PodCount",
    "WorkloadPort",
    "live_selector_hint",
    "pod_count",
    "project_workloads",
    "NodePortRow",
    "PortRow",
    "ANNOTATION_VALUE_MAX",
    "Access",
    "AdvancedSettings",
    "BasicInfo",
    "EXTERNAL",
    "EXTERNAL_SERVICE_TYPE",
    "ExternalAddress",
    "FLOWS",
    "Flow",
    "KeyValueRow",
    "MAX_ROWS",
    "PICKER_KINDS",
    "PICKER_KIND_LABELS",
    "PORT_NAME_MAX",
    "ROW_LISTS",
    "SelectorHint",
    "ServiceSettings",
    "Step",
    "StepContext",
    "StepView",
    "WORKLOADS",
    "WorkloadInfo",
    "advanced_defaults",
    "align_node_ports",
    "apply_op",
    "check_name_available",
    "external_name_problem",
    "external_service",
    "field_for_cause",
    "follow_name",
    "guess_provider",
    "new_row",
    "provider_keys",
    "selector_hint",
    "selector_matches",
    "selector_text",
    "settings_defaults",
    "step_views",
    "valid_workload_ref",
    "workload_info",
    "workloads_service",
]
