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

import base64
import functools
import json
import re
import zlib
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, NamedTuple, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, model_validator

from app.domain import service_rules
from app.domain.forms import (
    Errors,
    FormInput,
    OptInt,
    Row,
    Text,
    as_list,
    form_items,
    unflatten,
    validate_data,
)
from app.domain.k8s import names
from app.domain.k8s.names import DNS1035_LABEL, DNS1123_LABEL, ENV_NAME, IANA_SVC_NAME, IMAGE, SERVICE_VERSION
from app.domain.k8s.quantities import (
    CPU_PATTERN,
    MEMORY_PATTERN,
    STORAGE_PATTERN,
    cpu_text,
    memory_text,
    parse_quantity,
)
from app.domain.manifests import (
    ACCESS_MODES,
    ANNOTATION_ALIAS,
    ANNOTATION_DESCRIPTION,
    ANNOTATION_SERVICE_TYPE,
    DEFAULT_CAPACITY,
    DESCRIPTION_MAX,
    HOST_TIME_VOLUME,
    LABEL_APP,
    LABEL_VERSION,
    LB_ANNOTATION_KEYS,
    PORT_NAME_MAX,
    SERVICE_NAME_MAX,
    SERVICE_TYPE_VALUES,
    STICKY_TIMEOUT_DEFAULT,
    VERSION_MAX,
    WORKLOAD_KINDS,
    WORKLOAD_NAME_MAX,
    Flavor,
    ServicePortSpec,
    as_dict,
    default_container_name,
    default_port_name,
    default_volume_name,
    derive_service_ports,
    dig,
    ensure_dict,
    is_preserved_annotation,
    join_list,
    k8s_protocol,
    mounts_host_time,
    new_service,
    new_workload,
    ordered,
    plain_copy,
    port_name_prefix,
    protocol_of_name,
    protocol_of_port,
    relabel,
    set_or_pop,
    split_list,
    stamp,
    with_host_time_mount,
    with_host_time_volume,
    workload_name,
)
from app.domain.pod_security import Level, allows_host_path
from app.domain.service_rules import (
    KeyValueRow,
    PortRow,
    check_exposure,
    check_pairs,
    check_sticky_session,
    parse_cause,
    row_dict,
)
from app.domain.yaml_gate import format_path
from app.i18n import LazyString, _, lazy_

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
]

MAX_TOKEN_BYTES = 256 * 1024  # the draft travels in a hidden field; the YAML gate takes 256 KiB too
MAX_TOKEN_DEPTH = 64  # as the YAML gate
TOKEN_VERSION = 1
TOKEN_PREFIX = "z."  # a compressed token (`Draft.to_token`); plain JSON text is read too
DRAFT_ERROR_KEY = "draft"  # validate_all: problems of the objects as a whole, not of one field

# container and volume names (DNS labels)
_NAME_RULE = lazy_(
    "Invalid name. The name can contain only lowercase letters, numbers, and hyphens (-), and must start and "
    "end with a lowercase letter or number. The maximum length is 63 characters."
)

Access = Literal["none", "NodePort", "LoadBalancer"]
MountMode = Literal["rw", "ro", "none"]
ProbeType = Literal["none", "http", "tcp", "exec", "other"]


# ---------------------------------------------------------------------------------------------------
# Errors and context


class DraftError(ValueError):
    """The draft token or the Edit Mode objects cannot become a draft; `messages` says why."""

    def __init__(self, messages: Sequence[str]) -> None:
        super().__init__(" ".join(messages))
        self.messages = list(messages)


@dataclass(frozen=True)
class VolumesContext:
    """The project's objects the wizard offers as choices, passed in by the caller (never fetched here).

    `configmaps`/`secrets` map each name to its keys. A field left None is unknown (e.g. the user may
    not list Secrets): references to it are then not checked against the project.
    """

    configmaps: Mapping[str, Sequence[str]] | None = None
    secrets: Mapping[str, Sequence[str]] | None = None
    pvcs: Sequence[str] | None = None
    storage_classes: Sequence[str] | None = None
    default_storage_class: str | None = None
    pod_security: Level | None = None  # the project's level; None: unknown, left to the creation gate

    @property
    def host_path_refusal(self) -> str | None:
        """Why the project's pods may not mount host paths (None when they may, or the level is unknown)."""
        if self.pod_security is None or allows_host_path(self.pod_security):
            return None
        return _("The {level} Pod Security level of this project does not allow HostPath volumes "
                 "(they give pods access to the node's files).").format(level=self.pod_security.value)


@dataclass(frozen=True)
class StepContext:
    """What a step's rules need besides its own values: the current draft and the project's objects."""

    draft: Draft
    resources: VolumesContext | None = None

    @property
    def flavor(self) -> Flavor:
        return self.draft.flavor


def _context(info: ValidationInfo) -> StepContext | None:
    return info.context if isinstance(info.context, StepContext) else None


# ---------------------------------------------------------------------------------------------------
# The draft


@dataclass(frozen=True)
class Draft:
    """The wizard's whole state: the workload (Deployment or StatefulSet) and the Service, as dicts.

    Treat it as immutable: steps return new drafts. `workload` and `service` never carry anything the
    user did not write or the wizard's steps did not set.
    """

    flavor: Flavor
    workload: dict[str, Any]
    service: dict[str, Any]

    @property
    def kind(self) -> str:
        """`Deployment` or `StatefulSet`."""
        return WORKLOAD_KINDS[self.flavor]

    @property
    def name(self) -> str:
        """The Service name ("" before Basic Information)."""
        value = dig(self.service, "metadata", "name", default="")
        return value if isinstance(value, str) else ""

    @property
    def workload_name(self) -> str:
        value = dig(self.workload, "metadata", "name", default="")
        return value if isinstance(value, str) else ""

    def container_names(self) -> list[str]:
        """The pod's named containers in the form's order (workers, then init containers): what
        `ContainerImage.read(draft).containers` names, without reading the rest of each container."""
        return [name for _kind, c in _pod_containers(self.workload) if (name := _str(c.get("name")))]

    @classmethod
    def new(cls, flavor: Flavor) -> Draft:
        """The empty draft a new wizard starts from."""
        if flavor not in WORKLOAD_KINDS:
            raise ValueError(f"unknown flavor {flavor!r}")
        return cls(flavor, new_workload(flavor), new_service(flavor))

    def copy(self) -> Draft:
        return Draft(self.flavor, plain_copy(self.workload), plain_copy(self.service))

    # -- the hidden form field

    def to_token(self) -> str:
        """The draft for a hidden form field: `z.` + unpadded base64url of its zlib-compressed JSON
        (`Draft.from_token` reads it). Compressed it is a third of the JSON, and it has nothing to escape
        in HTML or in a URL-encoded body, both of which every wizard step pays for."""
        text = json.dumps(
            {"v": TOKEN_VERSION, "flavor": self.flavor, "workload": self.workload, "service": self.service},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return TOKEN_PREFIX + base64.urlsafe_b64encode(zlib.compress(text.encode(), 6)).rstrip(b"=").decode()

    @classmethod
    def from_token(cls, token: str) -> Draft:
        """Read a draft token back (compressed as `to_token` writes it, or plain JSON text). The token
        comes from the browser: it gets the same checks as Edit Mode objects (and every step is validated
        again before anything is created); it may not unpack to more than MAX_TOKEN_BYTES."""
        damaged = DraftError([_("The form state is damaged; reload the page and start again.")])
        if len(token.encode("utf-8", "replace")) > MAX_TOKEN_BYTES:
            raise DraftError([_("The form is too large.")])
        if token.startswith(TOKEN_PREFIX):
            try:
                body = token[len(TOKEN_PREFIX):]
                packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
                unpacker = zlib.decompressobj()
                raw = unpacker.decompress(packed, MAX_TOKEN_BYTES + 1)
            except (ValueError, zlib.error):
                raise damaged from None
            if len(raw) > MAX_TOKEN_BYTES or unpacker.unconsumed_tail:
                raise DraftError([_("The form is too large.")])
            if not unpacker.eof or unpacker.unused_data:  # cut short, or something after the end
                raise damaged
            token = raw.decode("utf-8", "replace")
        try:
            data = json.loads(token)
        except (ValueError, RecursionError):
            raise damaged from None
        if (
            _too_deep(data)
            or not isinstance(data, dict)
            or data.get("v") != TOKEN_VERSION
            or data.get("flavor") not in WORKLOAD_KINDS
            or not isinstance(data.get("workload"), dict)
            or not isinstance(data.get("service"), dict)
        ):
            raise damaged
        draft = cls(data["flavor"], data["workload"], data["service"])
        problems = draft.problems()
        if problems:
            raise DraftError(problems)
        return draft

    # -- Edit Mode

    @classmethod
    def from_objects(cls, objs: Iterable[Mapping[str, Any]], flavor: Flavor) -> Draft:
        """The draft for objects parsed from Edit Mode YAML (e.g. `yaml_gate.parse_manifests(...)`
        objects' `.obj`): exactly one workload of the flavor's kind and one Service, consistent with
        each other. Every field is kept. Raises DraftError with the reasons otherwise."""
        kind = WORKLOAD_KINDS[flavor]
        workloads: list[dict[str, Any]] = []
        services: list[dict[str, Any]] = []
        messages: list[str] = []
        for obj in objs:
            if not isinstance(obj, Mapping):
                messages.append(_("Every document must be a Kubernetes object."))
                continue
            obj_kind = obj.get("kind")
            if obj_kind == kind:
                workloads.append(plain_copy(dict(obj)))
            elif obj_kind == "Service":
                services.append(plain_copy(dict(obj)))
            else:
                messages.append(
                    _(
                        "The wizard creates one {kind} and one Service; remove the {other} {name}, or "
                        "create it separately."
                    ).format(kind=kind, other=obj_kind, name=dig(obj, "metadata", "name", default=""))
                )
        for found, what in ((workloads, kind), (services, "Service")):
            if not found:
                messages.append(_("The YAML must contain one {kind}.").format(kind=what))
            elif len(found) > 1:
                messages.append(
                    _(
                        "The YAML contains {count} objects of kind {kind}; the wizard creates exactly one."
                    ).format(count=len(found), kind=what)
                )
        if messages:
            raise DraftError(messages)
        draft = cls(flavor, workloads[0], services[0])
        problems = draft.problems()
        if problems:
            raise DraftError(problems)
        return draft

    def objects(self, *, namespace: str, creator: str) -> list[dict[str, Any]]:
        """[workload, Service] as shown in Edit Mode, downloaded and created (all the same): the
        project's namespace and `kubesphere.io/creator` stamped on (the creator also on the pod
        template), keys in a readable order. Both arguments come from the request, never the form."""
        return [
            stamp(self.workload, namespace=namespace, creator=creator),
            stamp(self.service, namespace=namespace, creator=creator),
        ]

    # -- checks

    def problems(self) -> list[str]:
        """What makes these objects unusable as the wizard's state (shapes the form reads, names and
        selectors that must agree). Empty for every draft the steps produce."""
        return _consistency_problems(self)

    def validate_all(self, resources: VolumesContext | None = None, *,
                     validated: Collection[str] = ()) -> dict[str, str]:
        """Every step's rules on the current draft (run before Create): {field name: message}. Use
        `step_of(field)` to find the step of a field. Object-level problems come under DRAFT_ERROR_KEY.
        `validated`: steps whose posted values were just validated and applied to this draft (their rules
        would only say the same again)."""
        errors: dict[str, str] = {}
        context = StepContext(self, resources)
        for step in STEPS:
            if step.step in validated:
                continue
            result = validate_data(step, step.read(self).form_values(), context=context)
            for key, message in result.errors.items():
                errors.setdefault(key, message)
        problems = self.problems()
        if problems:
            errors[DRAFT_ERROR_KEY] = " ".join(problems)
        return errors


def _too_deep(value: Any, limit: int = MAX_TOKEN_DEPTH) -> bool:
    """Whether nesting exceeds `limit` (checked without recursion; real manifests stay under 20). Walks
    the containers one level at a time: scalars, most of a manifest, add no depth."""
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level:
        if depth > limit:
            return True
        depth += 1
        deeper = []
        for item in level:
            for child in item.values() if isinstance(item, dict) else item:
                if isinstance(child, (dict, list)):
                    deeper.append(child)
        level = deeper
    return False


def _consistency_problems(draft: Draft) -> list[str]:
    kind = draft.kind
    w, s = draft.workload, draft.service
    out: list[str] = []
    if w.get("kind") != kind or w.get("apiVersion") != "apps/v1":
        out.append(_("The workload must be a {kind} of apiVersion apps/v1.").format(kind=kind))
    if s.get("kind") != "Service" or s.get("apiVersion") != "v1":
        out.append(_("The Service must be a Service of apiVersion v1."))
    wrong = _shape_problems(w, _WORKLOAD_SHAPE, (), kind, out)
    wrong = _shape_problems(s, _SERVICE_SHAPE, (), "Service", out) or wrong
    for what, obj, path in (
        (kind, w, ("metadata", "labels")),
        (kind, w, ("spec", "selector", "matchLabels")),
        (kind, w, ("spec", "template", "metadata", "labels")),
        ("Service", s, ("metadata", "labels")),
        ("Service", s, ("spec", "selector")),
    ):
        value = dig(obj, *path)
        if isinstance(value, dict) and not all(isinstance(v, str) for v in value.values()):
            wrong = True
            out.append(
                _("{kind} {path}: every value must be text.").format(kind=what, path=format_path(path))
            )
    if wrong:
        return out

    name = draft.name
    labels = dig(w, "metadata", "labels", default={}) or {}
    version = labels.get(LABEL_VERSION)
    wname = draft.workload_name
    if name:
        if not isinstance(version, str) or not version:
            out.append(_("The {kind} needs the label version.").format(kind=kind))
        elif wname != workload_name(name, version):
            out.append(
                _(
                    "The {kind} must be named {expected}: the service name and the version, joined by a "
                    "hyphen."
                ).format(kind=kind, expected=workload_name(name, version))
            )
        if draft.flavor == "stateful" and dig(w, "spec", "serviceName") != name:
            out.append(
                _("The StatefulSet's spec.serviceName must be the Service name {name}.").format(name=name)
            )
    elif wname:
        out.append(_("The Service needs a name."))
    pod_labels = dig(w, "spec", "template", "metadata", "labels", default={}) or {}
    selector = dig(w, "spec", "selector", "matchLabels", default={}) or {}
    if any(pod_labels.get(k) != v for k, v in selector.items()):
        out.append(
            _("The {kind} selector {selector} does not match its pod labels {labels}.").format(
                kind=kind, selector=_format_labels(selector), labels=_format_labels(pod_labels)
            )
        )
    service_selector = dig(s, "spec", "selector", default={}) or {}
    if name and not service_selector:
        out.append(_("The Service needs a selector for the pods of the {kind}.").format(kind=kind))
    elif any(pod_labels.get(k) != v for k, v in service_selector.items()):
        out.append(
            _(
                "The Service selector {selector} does not select the pods of the {kind} (pod labels "
                "{labels})."
            ).format(selector=_format_labels(service_selector), kind=kind, labels=_format_labels(pod_labels))
        )
    service_type = dig(s, "spec", "type")
    if service_type not in (None, "ClusterIP", "NodePort", "LoadBalancer"):
        out.append(
            _(
                "The Service type {type} is not supported here; use ClusterIP, NodePort or LoadBalancer."
            ).format(type=service_type)
        )
    if draft.flavor == "stateful" and dig(s, "spec", "clusterIP") != "None":
        out.append(_("A stateful service uses a headless Service: keep spec.clusterIP: None."))
    return out


# What `_consistency_problems` expects where a value is present: key -> (type, what is inside). Inside a
# mapping: its own shape; inside a list: (type of each item, the item's shape). Absent or null is fine.
Shape = dict[str, tuple[type, Any]]
_ITEMS: tuple[type, Any] = (dict, None)
_CONTAINER_SHAPE: Shape = {
    "ports": (list, _ITEMS), "env": (list, _ITEMS), "resources": (dict, None), "volumeMounts": (list, _ITEMS),
    "command": (list, None), "args": (list, None),
    "livenessProbe": (dict, None), "readinessProbe": (dict, None), "startupProbe": (dict, None),
}
_META_SHAPE: Shape = {"labels": (dict, None), "annotations": (dict, None)}
_WORKLOAD_SHAPE: Shape = {
    "metadata": (dict, _META_SHAPE),
    "spec": (dict, {
        "selector": (dict, {"matchLabels": (dict, None)}),
        "template": (dict, {
            "metadata": (dict, {"labels": (dict, None)}),
            "spec": (dict, {
                "containers": (list, (dict, _CONTAINER_SHAPE)),
                "initContainers": (list, (dict, _CONTAINER_SHAPE)),
                "volumes": (list, _ITEMS),
                "nodeSelector": (dict, None),
            }),
        }),
        "strategy": (dict, {"rollingUpdate": (dict, None)}),
        "updateStrategy": (dict, {"rollingUpdate": (dict, None)}),
        "volumeClaimTemplates": (list, _ITEMS),
    }),
}
_SERVICE_SHAPE: Shape = {
    "metadata": (dict, _META_SHAPE),
    "spec": (dict, {"selector": (dict, None), "ports": (list, _ITEMS), "sessionAffinityConfig": (dict, None)}),
}


def _shape_problems(obj: Mapping[str, Any], shape: Shape, path: tuple[str | int, ...], what: str,
                    out: list[str]) -> bool:
    """Add a message for each value of the wrong type in `obj` (one walk over the shape); True if any."""
    wrong = False
    for key, (typ, inside) in shape.items():
        value = obj.get(key)
        if value is None:
            continue
        here = (*path, key)
        if not isinstance(value, typ):
            out.append(_shape_message(what, here, typ))
            wrong = True
        elif typ is dict and inside:
            wrong = _shape_problems(value, inside, here, what, out) or wrong
        elif typ is list and inside:
            item_type, item_shape = inside
            for i, item in enumerate(value):
                if item is None:
                    continue
                if not isinstance(item, item_type):
                    out.append(_shape_message(what, (*here, i), item_type))
                    wrong = True
                elif item_shape:
                    wrong = _shape_problems(item, item_shape, (*here, i), what, out) or wrong
    return wrong


def _shape_message(what: str, path: tuple[str | int, ...], typ: type) -> str:
    return _("{kind} {path} must be {what}.").format(
        kind=what, path=format_path(path), what=_("a mapping") if typ is dict else _("a list"))


def _format_labels(labels: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in labels.items()) + "}"


# ---------------------------------------------------------------------------------------------------
# Small helpers shared by the steps


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _int_or_raw(value: Any, default: Any = None) -> Any:
    """Numbers from a manifest as the form shows them (strings stay strings: validation complains)."""
    if value is None:
        return default
    return value


def _pod_containers(workload: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(type, container) in the order the form lists them: worker containers, then init containers."""
    pod = dig(workload, "spec", "template", "spec", default={})
    return [("worker", c) for c in _dicts(dig(pod, "containers"))] + [
        ("init", c) for c in _dicts(dig(pod, "initContainers"))
    ]


def _match(new_names: Sequence[str], old_names: Sequence[Any]) -> list[int | None]:
    """For each new row, the index of the old object it continues: the one of the same name, else the
    one at the same position (a rename), else None (a new object)."""
    taken: set[int] = set()
    result: list[int | None] = [None] * len(new_names)
    first: dict[Any, int] = {}
    for i, name in enumerate(old_names):
        if isinstance(name, str) and name:
            first.setdefault(name, i)
    for k, name in enumerate(new_names):
        found = first.get(name)
        if found is not None and found not in taken:
            result[k] = found
            taken.add(found)
    for k in range(len(new_names)):
        if result[k] is None and k < len(old_names) and k not in taken and old_names[k] not in new_names:
            result[k] = k
            taken.add(k)
    return result


# ---------------------------------------------------------------------------------------------------
# Step base


class WizardStep(BaseModel):
    """A wizard step's form values. Subclasses set `step` (URL slug) and `title`."""

    model_config = ConfigDict(extra="forbid")

    step: ClassVar[str]
    title: ClassVar[LazyString]

    @classmethod
    def read(cls, draft: Draft) -> Self:
        """The step's values as found in the draft (possibly invalid; validate to find out)."""
        raise NotImplementedError

    @classmethod
    def apply(cls, draft: Draft, values: Self) -> Draft:
        """A new draft with the step's paths written from validated `values`; all else kept."""
        raise NotImplementedError

    def check(self, context: StepContext) -> dict[str, str]:
        """The rules that span fields or need the draft: {field name: message}."""
        return {}

    def form_values(self) -> dict[str, Any]:
        """Nested plain values for the step's template (and for `validate_data`)."""
        return self.model_dump(warnings=False)


# ---------------------------------------------------------------------------------------------------
# Step 1: Basic Information


class BasicInfo(WizardStep):
    step: ClassVar[str] = "basic"
    title: ClassVar[LazyString] = lazy_("Basic Information")

    name: Text = ""
    alias: Text = ""
    version: Text = "v1"
    description: str = ""

    @classmethod
    def read(cls, draft: Draft) -> Self:
        annotations = dig(draft.service, "metadata", "annotations", default={}) or {}
        labels = dig(draft.workload, "metadata", "labels", default={}) or {}
        name = draft.name
        fresh = not name and not draft.workload_name
        return cls.model_construct(
            name=name,
            alias=_str(annotations.get(ANNOTATION_ALIAS)),
            version=_str(labels.get(LABEL_VERSION), "v1" if fresh else ""),
            description=_str(annotations.get(ANNOTATION_DESCRIPTION)),
        )

    @classmethod
    def apply(cls, draft: Draft, values: Self) -> Draft:
        d = draft.copy()
        w, s = d.workload, d.service
        name, version = values.name, values.version
        smeta = ensure_dict(s, "metadata")
        smeta["name"] = name
        annotations = ensure_dict(smeta, "annotations")
        annotations.setdefault(ANNOTATION_SERVICE_TYPE, SERVICE_TYPE_VALUES[d.flavor])
        set_or_pop(annotations, ANNOTATION_ALIAS, values.alias)
        set_or_pop(annotations, ANNOTATION_DESCRIPTION, values.description)
        wmeta = ensure_dict(w, "metadata")
        if "name" not in wmeta:
            w["metadata"] = wmeta = {"name": "", **wmeta}
        wmeta["name"] = workload_name(name, version)
        pairs = {LABEL_APP: name, LABEL_VERSION: version}
        for parent, key in (
            (wmeta, "labels"),
            (ensure_dict(w, "spec", "selector"), "matchLabels"),
            (ensure_dict(w, "spec", "template", "metadata"), "labels"),
            (smeta, "labels"),
        ):
            labels = dict(parent.get(key) or {})
            labels.update(pairs)
            parent[key] = labels
        spec = ensure_dict(s, "spec")
        selector = dict(spec.get("selector") or {})
        selector[LABEL_APP] = name
        if LABEL_VERSION in selector:
            selector[LABEL_VERSION] = version
        spec["selector"] = selector
        if d.flavor == "stateful":
            wspec = ensure_dict(w, "spec")
            wspec["serviceName"] = name
            w["spec"] = ordered(wspec, ("replicas", "serviceName"))
        return d

    def check(self, context: StepContext) -> dict[str, str]:
        e = Errors()
        if not self.name:
            e.add("name", _("Please set a name."))
        elif len(self.name) > SERVICE_NAME_MAX or not DNS1035_LABEL.fullmatch(self.name):
            e.add(
                "name",
                _(
                    "The name can contain only lowercase letters, numbers, and hyphens (-), must start with "
                    "a lowercase letter, and must end with a lowercase letter or number. The maximum length "
                    "is 63 characters."
                ),
            )
        problem = names.alias_problem(self.alias)
        if problem:
            e.add("alias", problem)
        if not self.version:
            e.add("version", _("Please set a version."))
        elif len(self.version) > VERSION_MAX or not SERVICE_VERSION.fullmatch(self.version):
            e.add(
                "version",
                _(
                    "The version can contain only lowercase letters and numbers. The maximum length is 16 "
                    "characters."
                ),
            )
        if len(self.description) > DESCRIPTION_MAX:
            e.add(
                "description",
                _("The description can contain any characters and the maximum length is 256 characters."),
            )
        if "name" not in e and "version" not in e:
            limit = WORKLOAD_NAME_MAX[context.flavor]
            full = workload_name(self.name, self.version)
            if len(full) > limit:
                e.add(
                    "name" if len(self.name) > limit - 2 else "version",
                    _(
                        "The {kind} would be named {workload} ({length} characters), but its name can have "
                        "at most {limit}: shorten the name or the version."
                    ).format(kind=context.draft.kind, workload=full, length=len(full), limit=limit),
                )
        return dict(e)


async def check_name_available(
    name: str,
    version: str,
    flavor: Flavor,
    *,
    exists: Callable[[str, str], Awaitable[bool]],
) -> dict[str, str]:
    """The Basic Information name checks that need the cluster (as the user types): {field: message}.

    `exists(kind, name)` answers whether a `Service` or the workload kind of that name exists in the
    project. Syntax problems of name and version are returned first, without asking.
    """
    draft = Draft.new(flavor)
    values = BasicInfo.model_construct(name=name.strip(), alias="", version=version.strip(), description="")
    errors = {k: v for k, v in values.check(StepContext(draft)).items() if k in ("name", "version")}
    if "name" not in errors and await exists("Service", values.name):
        errors["name"] = _("The name already exists. Please enter another name.")
    if "name" not in errors and "version" not in errors:
        full = workload_name(values.name, values.version)
        if await exists(draft.kind, full):
            errors["version"] = _(
                "The workload {name} already exists. Please enter another version code."
            ).format(name=full)
    return errors


# ---------------------------------------------------------------------------------------------------
# Step 2: Container Image


class EnvRow(Row):
    """An environment variable: a value, a ConfigMap key or a Secret key. `other` is a source the form
    does not edit (fieldRef, resourceFieldRef, ...): it is kept as it is."""

    type: Literal["value", "configmap", "secret", "other"] = "value"
    name: Text = ""
    value: str = ""
    resource: Text = ""
    key: Text = ""

    @model_validator(mode="after")
    def _canonical(self) -> Self:
        if self.type != "value":
            self.value = ""
        if self.type not in ("configmap", "secret"):
            self.resource = self.key = ""
        return self

    def is_blank(self) -> bool:
        return not (self.name or self.value or self.resource or self.key) and self.type in (
            "value",
            "configmap",
            "secret",
        )


_PROBE_TIMING = {
    "initial_delay_seconds": ("initialDelaySeconds", 0, 0),
    "timeout_seconds": ("timeoutSeconds", 1, 1),
    "period_seconds": ("periodSeconds", 10, 1),
    "success_threshold": ("successThreshold", 1, 1),
    "failure_threshold": ("failureThreshold", 3, 1),
}


class ProbeForm(Row):
    """A liveness, readiness or startup probe. `type` none = no probe; `other` = a handler the form does
    not edit (e.g. grpc), kept as it is while the timing fields still apply."""

    type: ProbeType = "none"
    scheme: Literal["HTTP", "HTTPS"] = "HTTP"
    path: Text = "/"
    port: Text = "80"
    command: str = ""
    initial_delay_seconds: OptInt = 0
    timeout_seconds: OptInt = 1
    period_seconds: OptInt = 10
    success_threshold: OptInt = 1
    failure_threshold: OptInt = 3

    @model_validator(mode="after")
    def _canonical(self) -> Self:
        """Fields the probe's type does not use go back to their defaults (all of them for no probe)."""
        defaults = _probe_defaults()
        unused = (
            [name for name in defaults if name != "type"]
            if self.type == "none"
            else [name for name in _PROBE_HANDLER_FIELDS if name not in _PROBE_USES.get(self.type, ())]
        )
        for name in unused:
            if getattr(self, name) != defaults[name]:  # most are posted with their defaults already
                setattr(self, name, defaults[name])
        return self


_PROBE_HANDLER_FIELDS = ("scheme", "path", "port", "command")
_PROBE_USES = {"http": ("scheme", "path", "port"), "tcp": ("port",), "exec": ("command",)}


@functools.cache
def _probe_defaults() -> dict[str, Any]:
    """ProbeForm's field defaults (what an unused field is reset to)."""
    return {name: f.get_default(call_default_factory=True) for name, f in ProbeForm.model_fields.items()}


class ContainerRow(Row):
    """One container of the pod, worker or init. Memory is in Mi when no unit is given."""

    type: Literal["worker", "init"] = "worker"
    name: Text = ""
    image: Text = ""
    image_pull_policy: Literal["IfNotPresent", "Always", "Never", ""] = "IfNotPresent"
    cpu_request: Text = ""
    cpu_limit: Text = ""
    memory_request: Text = ""
    memory_limit: Text = ""
    ports: list[PortRow] = []
    command: str = ""
    args: str = ""
    env: list[EnvRow] = []
    liveness: ProbeForm = Field(default_factory=ProbeForm)
    readiness: ProbeForm = Field(default_factory=ProbeForm)
    startup: ProbeForm = Field(default_factory=ProbeForm)
    sync_host_timezone: bool = False

    @classmethod
    def new(cls, type: Literal["worker", "init"] = "worker", *, name: str | None = None) -> Self:
        """A new container row with the original's defaults (random name `container-xxxxxx`)."""
        return cls(type=type, name=name or default_container_name())

    @model_validator(mode="after")
    def _canonical(self) -> Self:
        for attr in ("memory_request", "memory_limit"):
            value = getattr(self, attr)
            if re.fullmatch(r"[0-9]+(\.[0-9]+)?", value):
                setattr(self, attr, f"{value}Mi")
        return self


class ContainerImage(WizardStep):
    step: ClassVar[str] = "image"
    title: ClassVar[LazyString] = lazy_("Container Image")

    replicas: OptInt = 1
    containers: list[ContainerRow] = []
    strategy: Literal["RollingUpdate", "Recreate", "OnDelete"] = "RollingUpdate"
    max_unavailable: Text = "25%"
    max_surge: Text = "25%"
    partition: OptInt = 0

    @model_validator(mode="after")
    def _canonical(self, info: ValidationInfo) -> Self:
        for attr in ("max_unavailable", "max_surge"):
            value = getattr(self, attr)
            if re.fullmatch(r"[0-9]+", value):
                setattr(self, attr, str(int(value)))
            elif re.fullmatch(r"[0-9]+%", value):
                setattr(self, attr, f"{int(value[:-1])}%")
        context = _context(info)
        if context is None:
            return self
        if context.flavor == "stateless" or self.strategy == "OnDelete":
            self.partition = 0
        if context.flavor == "stateful" or self.strategy == "Recreate":
            self.max_unavailable = self.max_surge = "25%"
        return self

    # -- read

    @classmethod
    def read(cls, draft: Draft) -> Self:
        w = draft.workload
        service_ports = _dicts(dig(draft.service, "spec", "ports"))
        rows = [_read_container(kind, c, service_ports) for kind, c in _pod_containers(w)]
        values: dict[str, Any] = {"replicas": _int_or_raw(dig(w, "spec", "replicas"), 1), "containers": rows}
        if draft.flavor == "stateless":
            strategy = dig(w, "spec", "strategy", default={}) or {}
            values["strategy"] = _str(strategy.get("type"), "RollingUpdate") or "RollingUpdate"
            if values["strategy"] == "RollingUpdate":
                for attr, key in (("max_unavailable", "maxUnavailable"), ("max_surge", "maxSurge")):
                    raw = dig(strategy, "rollingUpdate", key, default="25%")
                    values[attr] = (
                        str(raw) if isinstance(raw, (int, str)) and not isinstance(raw, bool) else ""
                    )
        else:
            strategy = dig(w, "spec", "updateStrategy", default={}) or {}
            values["strategy"] = _str(strategy.get("type"), "RollingUpdate") or "RollingUpdate"
            if values["strategy"] == "RollingUpdate":
                values["partition"] = _int_or_raw(dig(strategy, "rollingUpdate", "partition"), 0)
        return cls.model_construct(**values)

    # -- apply

    @classmethod
    def apply(cls, draft: Draft, values: Self) -> Draft:
        d = draft.copy()
        w, s = d.workload, d.service
        wspec = ensure_dict(w, "spec")
        wspec["replicas"] = values.replicas
        old = [c for _kind, c in _pod_containers(w)]
        matches = _match([row.name for row in values.containers], [c.get("name") for c in old])
        workers: list[dict[str, Any]] = []
        inits: list[dict[str, Any]] = []
        for row, index in zip(values.containers, matches, strict=True):
            built = _build_container(row, old[index] if index is not None else None)
            (workers if row.type == "worker" else inits).append(built)
        pod = ensure_dict(w, "spec", "template", "spec")
        pod["containers"] = workers
        set_or_pop(pod, "initContainers", inits)
        w["spec"]["template"]["spec"] = with_host_time_volume(pod)

        if d.flavor == "stateless":
            strategy = ensure_dict(wspec, "strategy")
            strategy["type"] = values.strategy
            if values.strategy == "RollingUpdate":
                rolling = ensure_dict(strategy, "rollingUpdate")
                rolling["maxUnavailable"] = _int_or_percent(values.max_unavailable)
                rolling["maxSurge"] = _int_or_percent(values.max_surge)
            else:
                strategy.pop("rollingUpdate", None)
        else:
            strategy = ensure_dict(wspec, "updateStrategy")
            strategy["type"] = values.strategy
            if values.strategy == "RollingUpdate":
                ensure_dict(strategy, "rollingUpdate")["partition"] = values.partition
            else:
                strategy.pop("rollingUpdate", None)

        # Service ports: every worker port with a service port; the wizard's old ones go away.
        owned_names = {_str(p.get("name")) for c in old for p in _dicts(c.get("ports"))}
        owned_names |= {p.name for row in values.containers for p in row.ports if p.name}
        owned_names.discard("")
        owned_targets = {p.get("containerPort") for c in old for p in _dicts(c.get("ports"))}
        owned_targets |= {p.container_port for row in values.containers for p in row.ports}
        specs = [
            ServicePortSpec(p.name, k8s_protocol(p.protocol), p.service_port, p.container_port)  # type: ignore[arg-type]
            for row in values.containers
            if row.type == "worker"
            for p in row.ports
            if not p.is_blank() and p.service_port is not None
        ]
        sspec = ensure_dict(s, "spec")
        ports = derive_service_ports(
            specs,
            _dicts(sspec.get("ports")),
            lambda p: (
                p.get("name") in owned_names
                or (not p.get("name") and p.get("targetPort", p.get("port")) in owned_targets)
            ),
        )
        set_or_pop(sspec, "ports", ports)
        if d.flavor == "stateful":
            sspec["clusterIP"] = "None"
        return d

    # -- check

    def check(self, context: StepContext) -> dict[str, str]:
        e = Errors()
        draft = context.draft
        resources = context.resources
        if self.replicas is None:
            e.add("replicas", _("This parameter is required."))
        elif self.replicas < 1:
            e.add("replicas", _("Please enter a positive integer."))
        workers = [i for i, c in enumerate(self.containers) if c.type == "worker"]
        if not workers:
            e.add("containers", _("Please add at least one worker container."))
        old = [c for _kind, c in _pod_containers(draft.workload)]
        matches = _match([row.name for row in self.containers], [c.get("name") for c in old])
        container_names: set[str] = set()
        port_names: set[str] = set()
        service_ports: set[tuple[int, str]] = set()
        has_service_port = False
        for i, (c, index) in enumerate(zip(self.containers, matches, strict=True)):
            p = f"containers.{i}"
            previous = old[index] if index is not None else {}
            if not c.name:
                e.add(f"{p}.name", _("Please set a name."))
            elif len(c.name) > 63 or not DNS1123_LABEL.fullmatch(c.name):
                e.add(f"{p}.name", _NAME_RULE)
            elif c.name in container_names:
                e.add(f"{p}.name", _("The name already exists. Please enter another name."))
            container_names.add(c.name)
            if not c.image:
                e.add(f"{p}.image", _("Please set an image."))
            elif not IMAGE.fullmatch(c.image):
                e.add(f"{p}.image", _("Invalid image."))
            self._check_resources(e, p, c)
            if c.sync_host_timezone and resources and resources.host_path_refusal:
                e.add(f"{p}.sync_host_timezone", resources.host_path_refusal)
            for attr in ("command", "args"):
                try:
                    split_list(getattr(c, attr))
                except ValueError:
                    e.add(
                        f"{p}.{attr}",
                        _("A quote is not closed: end the item with the same quote it starts with."),
                    )
            for j, port in enumerate(c.ports):
                if port.is_blank():
                    continue
                q = f"{p}.ports.{j}"
                if not port.name:
                    e.add(f"{q}.name", _("Please set a name for the port."))
                elif (
                    len(port.name) > PORT_NAME_MAX
                    or not DNS1035_LABEL.fullmatch(port.name)
                    or "--" in port.name
                ):
                    e.add(
                        f"{q}.name",
                        _(
                            "The port name can contain only lowercase letters, numbers and hyphens (-), and "
                            "must start with a lowercase letter and end with a lowercase letter or number. "
                            "The maximum length is 15 characters."
                        ),
                    )
                elif port.name in port_names:
                    e.add(f"{q}.name", _("The port name already exists. Please enter another name."))
                else:
                    announced = protocol_of_name(port.name)
                    if port.protocol not in ("TCP", "UDP") and announced != port.protocol:
                        message = _(
                            "A {protocol} port needs a name that starts with {prefix}-, "
                            "for example {example}."
                        )
                        e.add(
                            f"{q}.name",
                            message.format(
                                protocol=port.protocol,
                                prefix=port_name_prefix(port.protocol),
                                example=default_port_name(port.protocol, j),
                            ),
                        )
                    elif port.protocol == "TCP" and announced not in (None, "TCP"):
                        message = _(
                            "The name {name} marks the port as {protocol}: "
                            "choose {protocol} or rename the port."
                        )
                        e.add(f"{q}.name", message.format(name=port.name, protocol=announced))
                port_names.add(port.name)
                if port.container_port is None:
                    e.add(f"{q}.container_port", _("Please enter a port number."))
                elif not 1 <= port.container_port <= 65535:
                    e.add(f"{q}.container_port", _("Invalid port."))
                if port.service_port is not None:
                    has_service_port = has_service_port or c.type == "worker"
                    if c.type == "init":
                        e.add(f"{q}.service_port", _("Init containers cannot have a service port."))
                    elif not 1 <= port.service_port <= 65535:
                        e.add(f"{q}.service_port", _("Invalid port."))
                    elif (port.service_port, k8s_protocol(port.protocol)) in service_ports:
                        e.add(f"{q}.service_port", _("Another port already uses this service port."))
                    else:
                        service_ports.add((port.service_port, k8s_protocol(port.protocol)))
            self._check_env(e, p, c, previous, resources)
            for probe_name in ("liveness", "readiness", "startup"):
                _check_probe(e, f"{p}.{probe_name}", getattr(c, probe_name), probe_name, c.type, previous)
        allowed = (
            ("RollingUpdate", "Recreate") if context.flavor == "stateless" else ("RollingUpdate", "OnDelete")
        )
        if self.strategy not in allowed:
            e.add("strategy", _("Please select a valid option."))
        elif context.flavor == "stateless" and self.strategy == "RollingUpdate":
            self._check_rolling_update(e)
        elif context.flavor == "stateful" and self.strategy == "RollingUpdate":
            if self.partition is None:
                e.add("partition", _("Please set a ordinal for dividing pod replicas."))
            elif self.partition < 0:
                e.add("partition", _("The minimum value is {min}.").format(min=0))
        if context.flavor == "stateless" and workers and not has_service_port:
            e.add(
                f"containers.{workers[0]}.ports",
                _("Please set at least one service port: the Service needs a port to forward to the pods."),
            )
        return dict(e)

    @staticmethod
    def _check_resources(e: Errors, p: str, c: ContainerRow) -> None:
        for attr in ("cpu_request", "cpu_limit"):
            value = getattr(c, attr)
            if value and not CPU_PATTERN.fullmatch(value):
                e.add(
                    f"{p}.{attr}",
                    _(
                        "Enter a number of cores with up to 3 decimal places, such as 0.5, or millicores, "
                        "such as 500m."
                    ),
                )
        for attr in ("memory_request", "memory_limit"):
            value = getattr(c, attr)
            if value and not MEMORY_PATTERN.fullmatch(value):
                e.add(
                    f"{p}.{attr}", _("Enter a size in Mi, such as 512, or with a unit, such as 512Mi or 1Gi.")
                )
        for request, limit in (("cpu_request", "cpu_limit"), ("memory_request", "memory_limit")):
            if f"{p}.{request}" in e or f"{p}.{limit}" in e:
                continue
            low, high = parse_quantity(getattr(c, request) or "x"), parse_quantity(getattr(c, limit) or "x")
            if low is not None and high is not None and low > high:
                e.add(f"{p}.{request}", _("Resource requests cannot be greater than resource limits."))

    @staticmethod
    def _check_env(
        e: Errors, p: str, c: ContainerRow, previous: Mapping[str, Any], resources: VolumesContext | None
    ) -> None:
        seen: set[str] = set()
        old_env = {_str(x.get("name")): x for x in _dicts(previous.get("env"))}
        for k, row in enumerate(c.env):
            if row.is_blank():
                continue
            q = f"{p}.env.{k}"
            if not row.name:
                e.add(f"{q}.name", _("Please set a key for the environment variable."))
            elif not ENV_NAME.fullmatch(row.name):
                e.add(
                    f"{q}.name",
                    _(
                        "The key of an environment variable can contain only letters, numbers, underscores "
                        "(_), hyphens (-), and periods (.), and must not start with a number."
                    ),
                )
            elif row.name in seen:
                e.add(f"{q}.name", _("The key already exists. Please enter another key."))
            seen.add(row.name)
            if row.type in ("configmap", "secret"):
                known = (
                    (resources.configmaps if row.type == "configmap" else resources.secrets)
                    if resources
                    else None
                )
                if not row.resource:
                    e.add(
                        f"{q}.resource",
                        _("Please select a configmap.")
                        if row.type == "configmap"
                        else _("Please select a secret."),
                    )
                elif known is not None and row.resource not in known:
                    e.add(
                        f"{q}.resource", _("{name} does not exist in this project.").format(name=row.resource)
                    )
                if not row.key:
                    e.add(f"{q}.key", _("Please select a key."))
                elif known is not None and row.resource in known and row.key not in known[row.resource]:
                    e.add(f"{q}.key", _("{name} has no key {key}.").format(name=row.resource, key=row.key))
            elif row.type == "other":
                source = old_env.get(row.name, {}).get("valueFrom")
                if not isinstance(source, dict) or "configMapKeyRef" in source or "secretKeyRef" in source:
                    e.add(f"{q}.type", _("Please choose where the value of this variable comes from."))

    def _check_rolling_update(self, e: Errors) -> None:
        numbers: list[int] = []
        for attr, empty in (
            (
                "max_unavailable",
                _(
                    "Please set the maximum number or percentage of unavailable pod replicas allowed during "
                    "the update process."
                ),
            ),
            (
                "max_surge",
                _(
                    "Please set the maximum number or percentage of extra pod replicas allowed during the "
                    "update process."
                ),
            ),
        ):
            value = getattr(self, attr)
            if not value:
                e.add(attr, empty)
            elif not re.fullmatch(r"[0-9]+%?", value):
                e.add(attr, _("Please enter an integer or percentage."))
            else:
                number = int(value.rstrip("%"))
                if attr == "max_unavailable" and value.endswith("%") and number > 100:
                    e.add(attr, _("The percentage cannot be greater than 100%."))
                numbers.append(number)
        if len(numbers) == 2 and numbers == [0, 0]:
            e.add("max_unavailable", _("Maximum unavailable pods and maximum extra pods cannot both be 0."))


def _int_or_percent(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _read_container(kind: str, c: Mapping[str, Any], service_ports: list[dict[str, Any]]) -> ContainerRow:
    ports: list[PortRow] = []
    for p in _dicts(c.get("ports")):
        name = _str(p.get("name"))
        container_port = p.get("containerPort")
        ports.append(
            PortRow.model_construct(
                protocol=protocol_of_port(name, p.get("protocol")),
                name=name,
                container_port=container_port,
                service_port=_service_port_of(name, container_port, service_ports)
                if kind == "worker"
                else None,
            )
        )
    env: list[EnvRow] = []
    for item in _dicts(c.get("env")):
        name = _str(item.get("name"))
        source = item.get("valueFrom")
        if source is None:
            value = item.get("value", "")
            env.append(
                EnvRow.model_construct(
                    type="value", name=name, value=value if isinstance(value, str) else str(value)
                )
            )
        elif (
            isinstance(source, dict) and isinstance(source.get("configMapKeyRef"), dict) and len(source) == 1
        ):
            ref = source["configMapKeyRef"]
            env.append(
                EnvRow.model_construct(
                    type="configmap", name=name, resource=_str(ref.get("name")), key=_str(ref.get("key"))
                )
            )
        elif isinstance(source, dict) and isinstance(source.get("secretKeyRef"), dict) and len(source) == 1:
            ref = source["secretKeyRef"]
            env.append(
                EnvRow.model_construct(
                    type="secret", name=name, resource=_str(ref.get("name")), key=_str(ref.get("key"))
                )
            )
        else:
            env.append(EnvRow.model_construct(type="other", name=name))
    resources = as_dict(c.get("resources"))
    requests = as_dict(resources.get("requests"))
    limits = as_dict(resources.get("limits"))
    pull = c.get("imagePullPolicy")
    return ContainerRow.model_construct(
        type=kind,
        name=_str(c.get("name")),
        image=_str(c.get("image")),
        image_pull_policy=pull if isinstance(pull, str) else "",
        cpu_request=cpu_text(requests.get("cpu")),
        cpu_limit=cpu_text(limits.get("cpu")),
        memory_request=memory_text(requests.get("memory")),
        memory_limit=memory_text(limits.get("memory")),
        ports=ports,
        command=join_list(str(x) for x in c.get("command") or [])
        if isinstance(c.get("command"), list)
        else "",
        args=join_list(str(x) for x in c.get("args") or []) if isinstance(c.get("args"), list) else "",
        env=env,
        liveness=_read_probe(c.get("livenessProbe")),
        readiness=_read_probe(c.get("readinessProbe")),
        startup=_read_probe(c.get("startupProbe")),
        sync_host_timezone=mounts_host_time(c),
    )


def _service_port_of(name: str, container_port: Any, service_ports: list[dict[str, Any]]) -> Any:
    """The Service port that forwards to this container port: same name, else unnamed and aimed at it."""
    for p in service_ports:
        if name and p.get("name") == name:
            return p.get("port")
    for p in service_ports:
        if not p.get("name") and p.get("targetPort", p.get("port")) in (container_port, name or None):
            return p.get("port")
    return None


def _read_probe(probe: Any) -> ProbeForm:
    if not isinstance(probe, dict):
        return ProbeForm.model_construct()
    timing = {
        attr: _int_or_raw(probe.get(key), default) for attr, (key, default, _min) in _PROBE_TIMING.items()
    }
    http, tcp, command = probe.get("httpGet"), probe.get("tcpSocket"), probe.get("exec")
    if isinstance(http, dict):
        return ProbeForm.model_construct(
            type="http",
            scheme=_str(http.get("scheme"), "HTTP") or "HTTP",
            path=_str(http.get("path"), "/"),
            port=str(http.get("port", "")),
            **timing,
        )
    if isinstance(tcp, dict):
        return ProbeForm.model_construct(type="tcp", port=str(tcp.get("port", "")), **timing)
    if isinstance(command, dict):
        items = command.get("command")
        return ProbeForm.model_construct(
            type="exec", command=join_list(str(x) for x in items) if isinstance(items, list) else "", **timing
        )
    return ProbeForm.model_construct(type="other", **timing)


def _probe_port(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _build_probe(form: ProbeForm, old: Any) -> dict[str, Any] | None:
    if form.type == "none":
        return None
    probe = plain_copy(old) if isinstance(old, dict) else {}
    handlers = ("httpGet", "tcpSocket", "exec", "grpc")
    if form.type != "other":
        target = {"http": "httpGet", "tcp": "tcpSocket", "exec": "exec"}[form.type]
        for key in handlers:
            if key != target:
                probe.pop(key, None)
        handler = as_dict(probe.get(target))
        if form.type == "http":
            handler.update(path=form.path, port=_probe_port(form.port), scheme=form.scheme)
        elif form.type == "tcp":
            handler["port"] = _probe_port(form.port)
        else:
            handler["command"] = split_list(form.command)
        probe[target] = handler
        probe = ordered(probe, handlers)
    for attr, (key, _default, _min) in _PROBE_TIMING.items():
        probe[key] = getattr(form, attr)
    return probe


def _check_probe(
    e: Errors, q: str, form: ProbeForm, which: str, container_type: str, previous: Mapping[str, Any]
) -> None:
    if form.type == "none":
        return
    if container_type == "init" and previous.get("restartPolicy") != "Always":
        e.add(f"{q}.type", _("Init containers cannot have probes."))
        return
    if form.type == "http" and not form.path:
        e.add(f"{q}.path", _("Please set a path for the HTTP check."))
    if form.type in ("http", "tcp"):
        port = form.port
        valid = (port.isdigit() and 1 <= int(port) <= 65535) or (
            len(port) <= 15
            and IANA_SVC_NAME.fullmatch(port) is not None
            and not port.isdigit()
            and "--" not in port
            and re.search("[a-z]", port) is not None
        )
        if not valid:
            e.add(f"{q}.port", _("Invalid port."))
    if form.type == "exec":
        try:
            empty = not split_list(form.command)
        except ValueError:
            e.add(
                f"{q}.command", _("A quote is not closed: end the item with the same quote it starts with.")
            )
        else:
            if empty:
                e.add(f"{q}.command", _("Please enter at least one command."))
    if form.type == "other":
        key = {"liveness": "livenessProbe", "readiness": "readinessProbe", "startup": "startupProbe"}[which]
        old = previous.get(key)
        if not isinstance(old, dict) or any(
            isinstance(old.get(h), dict) for h in ("httpGet", "tcpSocket", "exec")
        ):
            e.add(f"{q}.type", _("Please choose a check type."))
    for attr, (_key, _default, minimum) in _PROBE_TIMING.items():
        value = getattr(form, attr)
        if value is None:
            e.add(f"{q}.{attr}", _("This parameter is required."))
        elif value < minimum:
            e.add(f"{q}.{attr}", _("The minimum value is {min}.").format(min=minimum))
        elif attr == "success_threshold" and which in ("liveness", "startup") and value != 1:
            e.add(f"{q}.{attr}", _("The success threshold must be 1 for liveness and startup checks."))


def _build_container(row: ContainerRow, old: Mapping[str, Any] | None) -> dict[str, Any]:
    c: dict[str, Any] = plain_copy(dict(old)) if old else {}
    c["name"] = row.name
    c["image"] = row.image
    set_or_pop(c, "imagePullPolicy", row.image_pull_policy)
    set_or_pop(c, "command", split_list(row.command))
    set_or_pop(c, "args", split_list(row.args))

    old_ports = _dicts(c.get("ports"))
    ports: list[dict[str, Any]] = []
    used: set[int] = set()
    for p in row.ports:
        if p.is_blank():
            continue
        index = next((i for i, o in enumerate(old_ports) if i not in used and o.get("name") == p.name), None)
        if index is None:
            index = next(
                (
                    i
                    for i, o in enumerate(old_ports)
                    if i not in used and not o.get("name") and o.get("containerPort") == p.container_port
                ),
                None,
            )
        port: dict[str, Any] = {}
        if index is not None:
            used.add(index)
            port = plain_copy(old_ports[index])
        keep_sctp = port.get("protocol") == "SCTP" and p.protocol != "UDP"
        port["name"] = p.name
        port["protocol"] = "SCTP" if keep_sctp else k8s_protocol(p.protocol)
        port["containerPort"] = p.container_port
        ports.append(ordered(port, ("name", "protocol", "containerPort")))
    set_or_pop(c, "ports", ports)

    old_env = {_str(x.get("name")): x for x in reversed(_dicts(c.get("env")))}
    env: list[dict[str, Any]] = []
    for row_env in row.env:
        if row_env.is_blank():
            continue
        previous = old_env.get(row_env.name)
        if row_env.type == "other":
            if previous is not None:
                env.append(plain_copy(previous))
            continue
        item: dict[str, Any] = plain_copy(previous) if previous else {}
        item["name"] = row_env.name
        if row_env.type == "value":
            item.pop("valueFrom", None)
            set_or_pop(item, "value", row_env.value)
        else:
            item.pop("value", None)
            ref_key = "configMapKeyRef" if row_env.type == "configmap" else "secretKeyRef"
            source = as_dict(item.get("valueFrom"))
            ref = as_dict(source.get(ref_key))
            ref.update(name=row_env.resource, key=row_env.key)
            item["valueFrom"] = {ref_key: ref}
        env.append(ordered(item, ("name", "value", "valueFrom")))
    set_or_pop(c, "env", env)

    resources = as_dict(plain_copy(c.get("resources")))
    for section, cpu, memory in (
        ("requests", row.cpu_request, row.memory_request),
        ("limits", row.cpu_limit, row.memory_limit),
    ):
        values = as_dict(resources.get(section))
        set_or_pop(values, "cpu", cpu)
        set_or_pop(values, "memory", memory)
        set_or_pop(resources, section, values)
    set_or_pop(c, "resources", resources)

    for attr, key in (
        ("liveness", "livenessProbe"),
        ("readiness", "readinessProbe"),
        ("startup", "startupProbe"),
    ):
        set_or_pop(c, key, _build_probe(getattr(row, attr), c.get(key)))
    return with_host_time_mount(c, row.sync_host_timezone)


# ---------------------------------------------------------------------------------------------------
# Step 3: Volumes


class MountRow(Row):
    """How one container mounts a volume: `rw`, `ro`, or `none` (not mounted). A volume has one row per
    container (more if a container mounts it at several paths)."""

    container: Text = ""
    mode: MountMode = "none"
    mount_path: Text = ""
    sub_path: Text = ""

    @model_validator(mode="after")
    def _canonical(self) -> Self:
        if self.mode == "none":
            self.mount_path = self.sub_path = ""
        return self


class KeyPathRow(Row):
    """One ConfigMap/Secret key mounted as a file at a relative path."""

    key: Text = ""
    path: Text = ""


class VolumeRow(Row):
    """A pod volume: an existing PVC, a temporary (emptyDir) or hostPath volume, a ConfigMap or Secret
    (optionally chosen keys only), or `other` (a source the form does not edit, kept as it is)."""

    type: Literal["pvc", "emptydir", "hostpath", "configmap", "secret", "other"] = "emptydir"
    name: Text = ""
    claim_name: Text = ""
    host_path: Text = ""
    resource: Text = ""
    items: list[KeyPathRow] = []
    mounts: list[MountRow] = []

    @classmethod
    def new(cls, type: str, containers: Sequence[str], *, name: str | None = None) -> Self:
        """A new volume row (name `volume-xxxxxx`), not mounted in any container yet."""
        return cls(
            type=type,  # type: ignore[arg-type]
            name=name or default_volume_name(),
            mounts=[MountRow(container=c) for c in containers],
        )

    @model_validator(mode="after")
    def _canonical(self) -> Self:
        if self.type != "pvc":
            self.claim_name = ""
        if self.type != "hostpath":
            self.host_path = ""
        if self.type not in ("configmap", "secret"):
            self.resource = ""
            self.items = []
        return self


class ClaimTemplateRow(Row):
    """A StatefulSet volume claim template: each pod gets its own PVC `<name>-<pod name>`. A capacity
    without a unit is in Gi."""

    name: Text = ""
    storage_class: Text = ""
    access_modes: Annotated[
        list[Literal["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]],
        BeforeValidator(as_list),
    ] = []
    capacity: Text = DEFAULT_CAPACITY
    mounts: list[MountRow] = []

    @classmethod
    def new(
        cls, containers: Sequence[str], resources: VolumesContext | None = None, *, name: str = ""
    ) -> Self:
        """A new template with the original's defaults: the default storage class, ReadWriteOnce, 10Gi."""
        return cls(
            name=name,
            storage_class=(resources.default_storage_class if resources else None) or "",
            access_modes=[ACCESS_MODES[0]],  # type: ignore[list-item]
            capacity=DEFAULT_CAPACITY,
            mounts=[MountRow(container=c) for c in containers],
        )

    @model_validator(mode="after")
    def _canonical(self) -> Self:
        if re.fullmatch(r"[0-9]+(\.[0-9]+)?", self.capacity):
            self.capacity = f"{self.capacity}Gi"
        return self


_SOURCES = {
    "pvc": "persistentVolumeClaim",
    "emptydir": "emptyDir",
    "hostpath": "hostPath",
    "configmap": "configMap",
    "secret": "secret",
}
_ALL_SOURCE_KEYS = (
    "persistentVolumeClaim",
    "emptyDir",
    "hostPath",
    "configMap",
    "secret",
    "nfs",
    "csi",
    "projected",
    "downwardAPI",
    "ephemeral",
    "iscsi",
    "rbd",
    "cephfs",
    "glusterfs",
    "fc",
    "azureDisk",
    "azureFile",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "cinder",
    "flexVolume",
    "flocker",
    "gitRepo",
    "image",
    "photonPersistentDisk",
    "portworxVolume",
    "quobyte",
    "scaleIO",
    "storageos",
    "vsphereVolume",
)


def _volume_type(volume: Mapping[str, Any]) -> str:
    for kind, key in _SOURCES.items():
        if isinstance(volume.get(key), dict):
            return kind
    return "other"


class Volumes(WizardStep):
    step: ClassVar[str] = "volumes"
    title: ClassVar[LazyString] = lazy_("Volumes")

    volumes: list[VolumeRow] = []
    volume_templates: list[ClaimTemplateRow] = []

    @classmethod
    def read(cls, draft: Draft) -> Self:
        containers = [c for _kind, c in _pod_containers(draft.workload)]
        rows: list[VolumeRow] = []
        for v in _dicts(dig(draft.workload, "spec", "template", "spec", "volumes")):
            name = _str(v.get("name"))
            if name == HOST_TIME_VOLUME:
                continue
            kind = _volume_type(v)
            values: dict[str, Any] = {"type": kind, "name": name}
            if kind == "pvc":
                values["claim_name"] = _str(v["persistentVolumeClaim"].get("claimName"))
            elif kind == "hostpath":
                values["host_path"] = _str(v["hostPath"].get("path"))
            elif kind in ("configmap", "secret"):
                source = v[_SOURCES[kind]]
                values["resource"] = _str(source.get("name" if kind == "configmap" else "secretName"))
                values["items"] = [
                    KeyPathRow.model_construct(key=_str(i.get("key")), path=_str(i.get("path")))
                    for i in _dicts(source.get("items"))
                ]
            values["mounts"] = _read_mounts(name, containers, read_only=kind in ("configmap", "secret"))
            rows.append(VolumeRow.model_construct(**values))
        templates: list[ClaimTemplateRow] = []
        for t in _dicts(dig(draft.workload, "spec", "volumeClaimTemplates")):
            name = _str(dig(t, "metadata", "name"))
            modes = dig(t, "spec", "accessModes")
            templates.append(
                ClaimTemplateRow.model_construct(
                    name=name,
                    storage_class=_str(dig(t, "spec", "storageClassName")),
                    access_modes=list(modes) if isinstance(modes, list) else [],
                    capacity=memory_text(dig(t, "spec", "resources", "requests", "storage")),
                    mounts=_read_mounts(name, containers, read_only=False),
                )
            )
        return cls.model_construct(volumes=rows, volume_templates=templates)

    @classmethod
    def apply(cls, draft: Draft, values: Self) -> Draft:
        d = draft.copy()
        w = d.workload
        pod = ensure_dict(w, "spec", "template", "spec")
        old_volumes = [v for v in _dicts(pod.get("volumes")) if v.get("name") != HOST_TIME_VOLUME]
        host_time = [v for v in _dicts(pod.get("volumes")) if v.get("name") == HOST_TIME_VOLUME]
        old_templates = _dicts(dig(w, "spec", "volumeClaimTemplates"))
        owned = {_str(v.get("name")) for v in old_volumes} | {
            _str(dig(t, "metadata", "name")) for t in old_templates
        }
        owned |= {v.name for v in values.volumes} | {t.name for t in values.volume_templates}

        matches = _match([v.name for v in values.volumes], [v.get("name") for v in old_volumes])
        volumes = [
            _build_volume(row, old_volumes[i] if i is not None else None)
            for row, i in zip(values.volumes, matches, strict=True)
        ]
        set_or_pop(pod, "volumes", volumes + host_time)

        matches = _match(
            [t.name for t in values.volume_templates], [dig(t, "metadata", "name") for t in old_templates]
        )
        templates = [
            _build_template(row, old_templates[i] if i is not None else None)
            for row, i in zip(values.volume_templates, matches, strict=True)
        ]
        set_or_pop(ensure_dict(w, "spec"), "volumeClaimTemplates", templates)

        rows = [(v.name, v.mounts) for v in values.volumes] + [
            (t.name, t.mounts) for t in values.volume_templates
        ]
        for key in ("containers", "initContainers"):
            for c in _dicts(pod.get(key)):
                name = c.get("name")
                old_mounts = _dicts(c.get("volumeMounts"))
                by_path = {m.get("mountPath"): m for m in old_mounts if m.get("name") in owned}
                kept = [m for m in old_mounts if m.get("name") not in owned]
                mounts: list[dict[str, Any]] = []
                for volume, mount_rows in rows:
                    for m in mount_rows:
                        if m.container != name or m.mode == "none":
                            continue
                        mount = plain_copy(by_path.get(m.mount_path, {}))
                        mount["name"] = volume
                        mount["mountPath"] = m.mount_path
                        mount["readOnly"] = m.mode == "ro"
                        set_or_pop(mount, "subPath", m.sub_path)
                        mounts.append(ordered(mount, ("name", "mountPath", "readOnly", "subPath")))
                set_or_pop(c, "volumeMounts", mounts + kept)

        if d.flavor == "stateless":
            mounted_claims = {
                v.name for v in values.volumes if v.type == "pvc" and any(m.mode != "none" for m in v.mounts)
            }
            strategy = dig(w, "spec", "strategy", default={}) or {}
            if mounted_claims and strategy.get("type", "RollingUpdate") == "RollingUpdate":
                rolling = ensure_dict(ensure_dict(w, "spec", "strategy"), "rollingUpdate")
                rolling.setdefault("maxUnavailable", 1)
        return d

    def check(self, context: StepContext) -> dict[str, str]:
        e = Errors()
        draft, resources = context.draft, context.resources
        pod_containers = [c for _kind, c in _pod_containers(draft.workload)]
        container_names = {_str(c.get("name")) for c in pod_containers}
        old_volumes = [
            v
            for v in _dicts(dig(draft.workload, "spec", "template", "spec", "volumes"))
            if v.get("name") != HOST_TIME_VOLUME
        ]
        old_templates = _dicts(dig(draft.workload, "spec", "volumeClaimTemplates"))
        owned = {_str(v.get("name")) for v in old_volumes} | {
            _str(dig(t, "metadata", "name")) for t in old_templates
        }
        owned |= {v.name for v in self.volumes} | {t.name for t in self.volume_templates}
        paths: dict[str, set[str]] = {
            _str(c.get("name")): {
                _str(m.get("mountPath")).rstrip("/")
                for m in _dicts(c.get("volumeMounts"))
                if m.get("name") not in owned
            }
            for c in pod_containers
        }
        names_seen: set[str] = {HOST_TIME_VOLUME}
        matches = _match([v.name for v in self.volumes], [v.get("name") for v in old_volumes])
        for i, (v, index) in enumerate(zip(self.volumes, matches, strict=True)):
            p = f"volumes.{i}"
            if not v.name:
                e.add(f"{p}.name", _("Please set a name for the volume."))
            elif v.name == HOST_TIME_VOLUME:
                e.add(f"{p}.name", _("The name host-time is reserved for the host timezone volume."))
            elif len(v.name) > 63 or not DNS1123_LABEL.fullmatch(v.name):
                e.add(f"{p}.name", _NAME_RULE)
            elif v.name in names_seen:
                e.add(f"{p}.name", _("The volume name already exists."))
            names_seen.add(v.name)
            if v.type == "pvc":
                if not v.claim_name:
                    e.add(f"{p}.claim_name", _("Please select a persistent volume claim."))
                elif resources and resources.pvcs is not None and v.claim_name not in resources.pvcs:
                    e.add(
                        f"{p}.claim_name",
                        _("{name} does not exist in this project.").format(name=v.claim_name),
                    )
            elif v.type == "hostpath":
                if resources and resources.host_path_refusal:
                    e.add(f"{p}.host_path", resources.host_path_refusal)
                elif not v.host_path:
                    e.add(f"{p}.host_path", _("Please set a host path for the volume."))
                elif not v.host_path.startswith("/"):
                    e.add(f"{p}.host_path", _("The host path must be an absolute path, starting with /."))
            elif v.type in ("configmap", "secret"):
                self._check_source(e, p, v, resources)
            elif v.type == "other":
                previous = old_volumes[index] if index is not None else {}
                if not previous or _volume_type(previous) != "other":
                    e.add(f"{p}.type", _("Please choose a volume type."))
            mounted = _check_mounts(
                e, p, v.mounts, container_names, paths, read_only_only=v.type in ("configmap", "secret")
            )
            if v.type == "emptydir" and not mounted:
                e.add(f"{p}.mounts", _("Please mount the volume to at least one container."))
        if self.volume_templates and context.flavor == "stateless":
            e.add(
                "volume_templates",
                _(
                    "Volume claim templates belong to stateful services; a Deployment's pods share their "
                    "volumes."
                ),
            )
        for t_index, t in enumerate(self.volume_templates):
            p = f"volume_templates.{t_index}"
            if not t.name:
                e.add(f"{p}.name", _("Please enter the prefix of persistent volume claim names."))
            elif len(t.name) > 253 or not DNS1123_LABEL.fullmatch(t.name):
                e.add(
                    f"{p}.name",
                    _(
                        "Invalid prefix. The prefix can contain only lowercase letters, numbers, and "
                        "hyphens (-), and must start and end with a lowercase letter or number. The maximum "
                        "length is 253 characters."
                    ),
                )
            elif t.name in names_seen:
                e.add(f"{p}.name", _("The prefix already exists. Please enter another prefix."))
            names_seen.add(t.name)
            if not t.storage_class:
                e.add(f"{p}.storage_class", _("Please select a storage class."))
            elif (
                resources
                and resources.storage_classes is not None
                and t.storage_class not in resources.storage_classes
            ):
                e.add(
                    f"{p}.storage_class",
                    _("The storage class {name} does not exist.").format(name=t.storage_class),
                )
            if not t.access_modes:
                e.add(f"{p}.access_modes", _("Please select an access mode."))
            size = parse_quantity(t.capacity) if STORAGE_PATTERN.fullmatch(t.capacity) else None
            if size is None or size <= 0:
                e.add(f"{p}.capacity", _("The volume capacity must be greater than 0."))
            _check_mounts(e, p, t.mounts, container_names, paths, read_only_only=False)
        return dict(e)

    @staticmethod
    def _check_source(e: Errors, p: str, v: VolumeRow, resources: VolumesContext | None) -> None:
        known = (resources.configmaps if v.type == "configmap" else resources.secrets) if resources else None
        if not v.resource:
            e.add(
                f"{p}.resource",
                _("Please select a configmap.") if v.type == "configmap" else _("Please select a secret."),
            )
        elif known is not None and v.resource not in known:
            e.add(f"{p}.resource", _("{name} does not exist in this project.").format(name=v.resource))
        seen: set[str] = set()
        for k, item in enumerate(v.items):
            if not item.key and not item.path:
                continue
            q = f"{p}.items.{k}"
            if not item.key:
                e.add(f"{q}.key", _("Please select a key."))
            elif known is not None and v.resource in known and item.key not in known[v.resource]:
                e.add(f"{q}.key", _("{name} has no key {key}.").format(name=v.resource, key=item.key))
            if not item.path:
                e.add(f"{q}.path", _("Please select a key to be mounted and the mount path of the key."))
            elif item.path.startswith("/"):
                e.add(f"{q}.path", _("Please use a relative path."))
            elif ".." in item.path or "//" in item.path:
                e.add(f"{q}.path", _("Unsupported relative path format."))
            elif item.path in seen:
                e.add(f"{q}.path", _("The mount path is duplicated."))
            seen.add(item.path)


def _read_mounts(volume: str, containers: Sequence[Mapping[str, Any]], *, read_only: bool) -> list[MountRow]:
    rows: list[MountRow] = []
    for c in containers:
        cname = _str(c.get("name"))
        mounts = [m for m in _dicts(c.get("volumeMounts")) if m.get("name") == volume]
        if not mounts:
            rows.append(MountRow.model_construct(container=cname))
        for m in mounts:
            rows.append(
                MountRow.model_construct(
                    container=cname,
                    mode="ro" if read_only or m.get("readOnly") is True else "rw",
                    mount_path=_str(m.get("mountPath")),
                    sub_path=_str(m.get("subPath")),
                )
            )
    return rows


def _check_mounts(
    e: Errors,
    p: str,
    rows: Sequence[MountRow],
    container_names: set[str],
    paths: dict[str, set[str]],
    *,
    read_only_only: bool,
) -> bool:
    """Check one volume's mount rows; returns whether some container mounts it."""
    mounted = False
    for r, m in enumerate(rows):
        q = f"{p}.mounts.{r}"
        if m.container not in container_names:
            e.add(f"{q}.container", _("There is no container {name}.").format(name=m.container))
            continue
        if m.mode == "none":
            continue
        mounted = True
        if read_only_only and m.mode == "rw":
            e.add(f"{q}.mode", _("A configmap or secret can only be mounted read-only."))
        if not m.mount_path:
            e.add(f"{q}.mount_path", _("Please enter a mount path."))
        elif not m.mount_path.startswith("/"):
            e.add(f"{q}.mount_path", _("The mount path must be an absolute path, starting with /."))
        else:
            used = paths.setdefault(m.container, set())
            if m.mount_path.rstrip("/") in used:
                e.add(
                    f"{q}.mount_path", _("The mount path is already in use. Please enter another mount path.")
                )
            used.add(m.mount_path.rstrip("/"))
        if m.sub_path and (m.sub_path.startswith("/") or ".." in m.sub_path.split("/")):
            e.add(f"{q}.sub_path", _("The subpath must be a relative path without .. in it."))
    return mounted


def _build_volume(row: VolumeRow, old: Mapping[str, Any] | None) -> dict[str, Any]:
    previous = plain_copy(dict(old)) if old else {}
    if row.type == "other":
        previous["name"] = row.name
        return ordered(previous, ("name",))
    key = _SOURCES[row.type]
    same = previous and _volume_type(previous) == row.type
    source: dict[str, Any] = previous.get(key, {}) if same else {}
    if row.type == "pvc":
        source["claimName"] = row.claim_name
    elif row.type == "hostpath":
        source["path"] = row.host_path
    elif row.type in ("configmap", "secret"):
        source["name" if row.type == "configmap" else "secretName"] = row.resource
        old_items = {_str(i.get("key")): i for i in _dicts(source.get("items"))}
        items = []
        for item in row.items:
            if not item.key and not item.path:
                continue
            built = plain_copy(old_items.get(item.key, {}))
            built.update(key=item.key, path=item.path)
            items.append(ordered(built, ("key", "path")))
        set_or_pop(source, "items", items)
        source = ordered(source, ("name", "secretName", "items"))
    volume = {k: v for k, v in previous.items() if k not in _ALL_SOURCE_KEYS} if same or not previous else {}
    volume["name"] = row.name
    volume[key] = source
    return ordered(volume, ("name",))


def _build_template(row: ClaimTemplateRow, old: Mapping[str, Any] | None) -> dict[str, Any]:
    t = plain_copy(dict(old)) if old else {}
    ensure_dict(t, "metadata")["name"] = row.name
    spec = ensure_dict(t, "spec")
    spec["storageClassName"] = row.storage_class
    spec["accessModes"] = list(row.access_modes)
    ensure_dict(spec, "resources", "requests")["storage"] = row.capacity
    t["spec"] = ordered(spec, ("storageClassName", "accessModes", "resources"))
    return ordered(t, ("metadata", "spec"))


# ---------------------------------------------------------------------------------------------------
# Step 4: Advanced Settings


class NodePortRow(service_rules.NodePortRow):
    """The node port of one Service port (by name); `port` is the service port, shown for reference."""

    port: OptInt = None


class AdvancedSettings(WizardStep):
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
                name=_str(p.get("name")),
                port=p.get("port"),
                node_port=p.get("nodePort") if access != "none" else None,
            )
            for p in _dicts(dig(s, "spec", "ports"))
        ]
        sticky = dig(s, "spec", "sessionAffinity") == "ClientIP"
        timeout = dig(
            s, "spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds", default=STICKY_TIMEOUT_DEFAULT
        )
        return cls.model_construct(
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
        for port in _dicts(sspec.get("ports")):
            row = rows.get(_str(port.get("name")))
            if values.access == "none":
                port.pop("nodePort", None)
            elif row is not None:
                set_or_pop(port, "nodePort", row.node_port)

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


# ---------------------------------------------------------------------------------------------------
# The steps together


STEPS: tuple[type[WizardStep], ...] = (BasicInfo, ContainerImage, Volumes, AdvancedSettings)
_STEP_FIELDS: dict[str, str] = {name: step.step for step in STEPS for name in step.model_fields}


def step_class(step: str) -> type[WizardStep]:
    """The step model for a URL slug: basic, image, volumes or advanced. KeyError otherwise."""
    for cls in STEPS:
        if cls.step == step:
            return cls
    raise KeyError(step)


def step_of(field_name: str) -> str | None:
    """The step slug a form field (dotted name) belongs to, or None (e.g. DRAFT_ERROR_KEY)."""
    return _STEP_FIELDS.get(field_name.split(".", 1)[0])


class StepSubmission(NamedTuple):
    """The outcome of posting a step: the new draft (the old one when there are errors), the validated
    values (None on errors), the errors, and the nested values to re-render the form with."""

    draft: Draft
    values: WizardStep | None
    errors: dict[str, str]
    form_values: dict[str, Any]


def submit_step(
    draft: Draft, step: str, form: FormInput, *, resources: VolumesContext | None = None
) -> StepSubmission:
    """Validate a posted step form and, if it is valid, apply it to the draft."""
    return submit_values(draft, step, unflatten(form_items(form)), resources=resources)


def submit_values(
    draft: Draft, step: str, values: Mapping[str, Any], *, resources: VolumesContext | None = None
) -> StepSubmission:
    """`submit_step` for values already nested as `unflatten` makes them (what a posted form gives)."""
    cls = step_class(step)
    result = validate_data(cls, values, context=StepContext(draft, resources))
    if result.model is None:
        return StepSubmission(draft, None, result.errors, result.values)
    return StepSubmission(cls.apply(draft, result.model), result.model, {}, result.values)


# ---------------------------------------------------------------------------------------------------
# Server causes back to form fields

_PROBE_KEYS = {"livenessProbe": "liveness", "readinessProbe": "readiness", "startupProbe": "startup"}
_PROBE_FIELDS = {
    "path": "path",
    "port": "port",
    "scheme": "scheme",
    "command": "command",
    **{key: attr for attr, (key, _d, _m) in _PROBE_TIMING.items()},
}


def field_for_cause(draft: Draft, kind: str, cause_field: str) -> tuple[str, str] | None:
    """The (step, form field) a server error cause concerns, e.g. (`image`, `containers.0.image`) for
    `spec.template.spec.containers[0].image` of the workload; None when no form field shows it (the
    caller then points at the YAML). `kind` is the kind of the object the cause came from."""
    path = parse_cause(cause_field)
    if kind == "Service":
        return _service_cause(draft, path)
    if kind == draft.kind:
        return _workload_cause(draft, path)
    return None


def _service_cause(draft: Draft, path: list[str | int]) -> tuple[str, str] | None:
    match path:
        case ["metadata", "name", *_]:
            return ("basic", "name")
        case ["metadata", "annotations", key, *_] if key == ANNOTATION_ALIAS:
            return ("basic", "alias")
        case ["metadata", "annotations", key, *_] if key == ANNOTATION_DESCRIPTION:
            return ("basic", "description")
        case ["metadata", "annotations", *_]:
            return ("advanced", "service_annotations")
        case ["metadata", "labels", *_] | ["spec", "selector", *_]:
            return ("advanced", "labels")
        case ["spec", "ports", int(i), "nodePort", *_]:
            return ("advanced", f"node_ports.{i}.node_port")
        case ["spec", "ports", int(i), *rest]:
            name = dig(draft.service, "spec", "ports", i, "name")
            for c_index, row in enumerate(ContainerImage.read(draft).containers):
                for p_index, port in enumerate(row.ports):
                    if name and port.name == name and row.type == "worker":
                        attr = {"targetPort": "container_port", "name": "name", "protocol": "protocol"}.get(
                            str(rest[0]) if rest else "", "service_port"
                        )
                        return ("image", f"containers.{c_index}.ports.{p_index}.{attr}")
            return None
        case ["spec", "ports", *_]:
            return ("image", "containers")
        case ["spec", "sessionAffinity", *_]:
            return ("advanced", "sticky_session")
        case ["spec", "sessionAffinityConfig", *_]:
            return ("advanced", "sticky_timeout")
        case ["spec", key, *_] if key in ("type", "clusterIP", "externalTrafficPolicy") or str(
            key
        ).startswith("loadBalancer"):
            return ("advanced", "access")
    return None


def _workload_cause(draft: Draft, path: list[str | int]) -> tuple[str, str] | None:
    match path:
        case ["metadata", "name", *_] | ["spec", "serviceName", *_]:
            return ("basic", "name")
        case (
            ["metadata", "labels", *_]
            | ["spec", "selector", *_]
            | ["spec", "template", "metadata", "labels", *_]
        ):
            return ("advanced", "labels")
        case ["metadata", "annotations", *_]:
            return ("advanced", "annotations")
        case ["spec", "replicas", *_]:
            return ("image", "replicas")
        case ["spec", "strategy" | "updateStrategy", "rollingUpdate", key, *_] if key in (
            "maxUnavailable",
            "maxSurge",
            "partition",
        ):
            return (
                "image",
                {"maxUnavailable": "max_unavailable", "maxSurge": "max_surge"}.get(str(key), "partition"),
            )
        case ["spec", "strategy" | "updateStrategy", *_]:
            return ("image", "strategy")
        case ["spec", "template", "spec", "containers" | "initContainers" as group, int(i), *rest]:
            return _container_cause(draft, str(group), i, rest)
        case ["spec", "template", "spec", "volumes", int(i), *rest]:
            return _volume_cause(draft, i, rest)
        case ["spec", "template", "spec", "nodeSelector", *_]:
            return ("advanced", "node_selector")
        case ["spec", "volumeClaimTemplates", int(i), *rest]:
            attr = {
                ("metadata", "name"): "name",
                ("spec", "storageClassName"): "storage_class",
                ("spec", "accessModes"): "access_modes",
                ("spec", "resources"): "capacity",
            }.get((str(rest[0]), str(rest[1])) if len(rest) >= 2 else ("", ""))
            return ("volumes", f"volume_templates.{i}.{attr}" if attr else f"volume_templates.{i}")
    return None


def _container_cause(draft: Draft, group: str, i: int, rest: list[str | int]) -> tuple[str, str] | None:
    pod = dig(draft.workload, "spec", "template", "spec", default={})
    workers = len(_dicts(dig(pod, "containers")))
    row = i if group == "containers" else workers + i
    p = f"containers.{row}"
    container = dig(pod, group, i, default={})
    match rest:
        case []:
            return ("image", p)
        case ["name" | "image" | "imagePullPolicy" | "command" | "args" as key, *_]:
            attr = "image_pull_policy" if key == "imagePullPolicy" else str(key)
            return ("image", f"{p}.{attr}")
        case ["ports", int(j), key, *_]:
            port_attr = {"containerPort": "container_port", "name": "name", "protocol": "protocol"}.get(
                str(key)
            )
            return ("image", f"{p}.ports.{j}.{port_attr}" if port_attr else f"{p}.ports.{j}")
        case ["ports", *_]:
            return ("image", f"{p}.ports")
        case ["env", int(k), "name" | "value" as key, *_]:
            return ("image", f"{p}.env.{k}.{key}")
        case ["env", int(k), "valueFrom", *more]:
            return ("image", f"{p}.env.{k}.{'key' if more and more[-1] == 'key' else 'resource'}")
        case ["env", *_]:
            return ("image", f"{p}.env")
        case ["resources", "requests" | "limits" as section, "cpu" | "memory" as resource, *_]:
            return ("image", f"{p}.{resource}_{'request' if section == 'requests' else 'limit'}")
        case ["resources", *_]:
            return ("image", f"{p}.cpu_request")
        case [probe, *more] if probe in _PROBE_KEYS:
            attr = next((_PROBE_FIELDS[str(x)] for x in reversed(more) if str(x) in _PROBE_FIELDS), "type")
            return ("image", f"{p}.{_PROBE_KEYS[str(probe)]}.{attr}")
        case ["volumeMounts", int(m), *more]:
            mount = dig(container, "volumeMounts", m, default={})
            if mount.get("name") == HOST_TIME_VOLUME:
                return ("image", f"{p}.sync_host_timezone")
            volumes = Volumes.read(draft)
            cname = container.get("name")
            rows: list[tuple[str, int, VolumeRow | ClaimTemplateRow]] = [
                *(("volumes", k, v) for k, v in enumerate(volumes.volumes)),
                *(("volume_templates", k, t) for k, t in enumerate(volumes.volume_templates)),
            ]
            for prefix, v_index, v in rows:
                if v.name != mount.get("name"):
                    continue
                for r, mrow in enumerate(v.mounts):
                    if mrow.container == cname and mrow.mount_path == mount.get("mountPath"):
                        mount_attr = "sub_path" if more and more[0] == "subPath" else "mount_path"
                        return ("volumes", f"{prefix}.{v_index}.mounts.{r}.{mount_attr}")
                return ("volumes", f"{prefix}.{v_index}.mounts")
            return None
    return None


def _volume_cause(draft: Draft, i: int, rest: list[str | int]) -> tuple[str, str] | None:
    name = dig(draft.workload, "spec", "template", "spec", "volumes", i, "name")
    if name == HOST_TIME_VOLUME:
        return ("image", "containers")
    for v_index, row in enumerate(Volumes.read(draft).volumes):
        if row.name != name:
            continue
        p = f"volumes.{v_index}"
        match rest:
            case ["name", *_]:
                return ("volumes", f"{p}.name")
            case ["persistentVolumeClaim", *_]:
                return ("volumes", f"{p}.claim_name")
            case ["hostPath", *_]:
                return ("volumes", f"{p}.host_path")
            case ["configMap" | "secret", "items", int(k), key, *_] if key in ("key", "path"):
                return ("volumes", f"{p}.items.{k}.{key}")
            case ["configMap" | "secret", *_]:
                return ("volumes", f"{p}.resource")
        return ("volumes", p)
    return None
