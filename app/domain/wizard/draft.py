"""The wizard's state: the two manifests as a `Draft`, its token, and the checks that make a draft usable."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from app.domain.manifests import (
    LABEL_VERSION,
    WORKLOAD_KINDS,
    Flavor,
    dig,
    new_service,
    new_workload,
    plain_copy,
    stamp,
    workload_name,
)
from app.domain.wizard.read import as_str, containers_of
from app.domain.yaml import format_path
from app.i18n import _, lazy_

MAX_TOKEN_BYTES = 256 * 1024  # the draft travels in a hidden field; the YAML gate takes 256 KiB too
MAX_TOKEN_DEPTH = 64  # as the YAML gate
TOKEN_VERSION = 1
TOKEN_PREFIX = "z."  # a compressed token (`Draft.to_token`); plain JSON text is read too
DRAFT_ERROR_KEY = "draft"  # validate_all: problems of the objects as a whole, not of one field

# container and volume names (DNS labels)
NAME_RULE = lazy_(
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
        return [name for _kind, c in containers_of(self.workload) if (name := as_str(c.get("name")))]

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
        """The draft for objects parsed from Edit Mode YAML (e.g. `app.domain.yaml.parse_manifests(...)`
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
        elif typ is dict and inside:  # value is a dict, a list below: isinstance(value, typ) held
            wrong = _shape_problems(cast(dict[str, Any], value), inside, here, what, out) or wrong
        elif typ is list and inside:
            item_type, item_shape = inside
            for i, item in enumerate(cast(list[Any], value)):
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
