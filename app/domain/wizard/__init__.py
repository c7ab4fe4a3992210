"""The Stateless/Stateful Create Service wizard: its state (`Draft`), its steps, and their rules.

Lossless by construction: the wizard's state *is* the two manifests, `Draft(flavor, workload,
service)`. Each step is a pydantic model with

* `Step.read(draft)`: the step's form values as found in the manifests (never fails; the values may
  be invalid when they came from Edit Mode, and validation then says why), and
* `Step.apply(draft, values)`: a new draft where only the paths the step owns were written. Every
  other field of the objects (a securityContext, tolerations, extra annotations or labels, fields of a
  container, port, probe, volume or mount the form does not show) is kept.

So Edit Mode is draft -> `objects()` -> YAML -> user edits -> parse -> `Draft.from_objects()` -> the
steps read the edited values. Nothing is ever dropped.

Validation is two-stage (see `app.domain.forms`): pydantic checks types and choices, then the step's
`check(context)` applies the original console's rules with its messages, keyed by the dotted form
field names (`containers.0.ports.1.container_port`). The context carries the current draft (flavor,
containers, ports) and the project's ConfigMaps/Secrets/PVCs/StorageClasses (`VolumesContext`),
which the caller passes in: this module never fetches anything.

Steps and who owns what:

* BasicInfo (`basic`): Service name, alias and description annotations, the workload name
  `<name>-<version>`, the `app`/`version` labels everywhere, StatefulSet `serviceName`.
* ContainerImage (`image`): replicas, update strategy, containers and init containers (the fields the
  form shows), the host-time mount and volume, the Service's ports derived from container ports, and
  `clusterIP: None` for a stateful (headless) Service.
* Volumes (`volumes`): pod volumes except host-time, every other volume mount, StatefulSet
  volume claim templates.
* AdvancedSettings (`advanced`): Service type and node ports, Service annotations (load balancer),
  sticky session, node selector, labels (workload, selector, pods, Service, Service selector) and
  workload annotations. Annotations under `kubesphere.io/` are the console's: hidden, never dropped.

Form values that do not matter for the chosen option (a probe's path when it runs a command, the
sticky-session timeout when it is off, ...) are reset to their defaults by validation, so validated
values are canonical: `read(apply(draft, values)) == values`. Every step form must post all of its
fields (hide what does not apply, do not disable it): a missing list means "no rows".

Form field names (a row index `{i}` counts from 0; see `app.domain.forms` for the encoding):

* basic: `name`, `alias`, `version`, `description`
* image: `replicas`, `strategy`, `max_unavailable`, `max_surge`, `partition`,
  `containers.{i}.{type,name,image,image_pull_policy,cpu_request,cpu_limit,memory_request,
  memory_limit,command,args,sync_host_timezone}`,
  `containers.{i}.ports.{j}.{protocol,name,container_port,service_port}`,
  `containers.{i}.env.{k}.{type,name,value,resource,key}`,
  `containers.{i}.{liveness,readiness,startup}.{type,scheme,path,port,command,initial_delay_seconds,
  timeout_seconds,period_seconds,success_threshold,failure_threshold}`
* volumes: `volumes.{i}.{type,name,claim_name,host_path,resource}`, `volumes.{i}.items.{k}.{key,path}`,
  `volumes.{i}.mounts.{m}.{container,mode,mount_path,sub_path}`,
  `volume_templates.{t}.{name,storage_class,access_modes (repeated),capacity}`,
  `volume_templates.{t}.mounts.{m}.{container,mode,mount_path,sub_path}`
* advanced: `access`, `node_ports.{i}.{name,port,node_port}`, `service_annotations.{i}.{key,value}`,
  `sticky_session`, `sticky_timeout`, `node_selector.{i}.{key,value}`, `labels.{i}.{key,value}`,
  `annotations.{i}.{key,value}`

Containers are listed worker containers first, then init containers. `type: other` (env rows,
probes, volumes) marks a source the form cannot edit (fieldRef, grpc, nfs, ...): it is shown
read-only and kept as it is. `image_pull_policy: ""` means "not set" (Kubernetes' default).

The draft token (`Draft.to_token()`) is compact JSON, `{"v": 1, "flavor": ..., "workload": {...},
"service": {...}}`, compressed (zlib, base64url) for the form, at most MAX_TOKEN_BYTES unpacked;
`Draft.from_token` checks it like Edit Mode objects.
"""

from __future__ import annotations

from app.domain.service_rules import KeyValueRow, PortRow
from app.domain.wizard.advanced import AdvancedSettings, NodePortRow
from app.domain.wizard.basic import BasicInfo, check_name_available
from app.domain.wizard.causes import field_for_cause
from app.domain.wizard.container_rows import ContainerRow, EnvRow
from app.domain.wizard.containers import ContainerImage
from app.domain.wizard.draft import DRAFT_ERROR_KEY, MAX_TOKEN_BYTES, Draft, DraftError
from app.domain.wizard.flow import (
    STEPS,
    StepSubmission,
    step_class,
    step_of,
    submit_step,
    submit_values,
    validate_all,
)
from app.domain.wizard.probes import ProbeForm
from app.domain.wizard.step import StepContext, VolumesContext, WizardStep
from app.domain.wizard.volumes import ClaimTemplateRow, KeyPathRow, MountRow, VolumeRow, Volumes

__all__ = [
    "DRAFT_ERROR_KEY",
    "MAX_TOKEN_BYTES",
    "STEPS",
    "AdvancedSettings",
    "BasicInfo",
    "ClaimTemplateRow",
    "ContainerImage",
    "ContainerRow",
    "Draft",
    "DraftError",
    "EnvRow",
    "KeyPathRow",
    "KeyValueRow",
    "MountRow",
    "NodePortRow",
    "PortRow",
    "ProbeForm",
    "StepContext",
    "StepSubmission",
    "VolumeRow",
    "Volumes",
    "VolumesContext",
    "WizardStep",
    "check_name_available",
    "field_for_cause",
    "step_class",
    "step_of",
    "submit_step",
    "submit_values",
    "validate_all",
]
