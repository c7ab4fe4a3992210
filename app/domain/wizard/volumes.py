"""Step 3, Volumes: pod volumes, their mounts, and a StatefulSet's volume claim templates."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BeforeValidator, model_validator

from app.domain.forms import (
    Errors,
    Row,
    Text,
    as_list,
)
from app.domain.k8s.names import DNS1123_LABEL
from app.domain.k8s.quantities import (
    STORAGE_PATTERN,
    memory_text,
    parse_quantity,
)
from app.domain.manifests import (
    ACCESS_MODES,
    DEFAULT_CAPACITY,
    HOST_TIME_VOLUME,
    default_volume_name,
    dig,
    ensure_dict,
    ordered,
    plain_copy,
    set_or_pop,
)
from app.domain.wizard.draft import NAME_RULE, Draft, MountMode
from app.domain.wizard.read import as_str, containers_of, dicts, match_rows
from app.domain.wizard.step import StepContext, VolumesContext, WizardStep
from app.i18n import LazyString, _, lazy_

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
        containers = [c for _kind, c in containers_of(draft.workload)]
        rows: list[VolumeRow] = []
        for v in dicts(dig(draft.workload, "spec", "template", "spec", "volumes")):
            name = as_str(v.get("name"))
            if name == HOST_TIME_VOLUME:
                continue
            kind = _volume_type(v)
            values: dict[str, Any] = {"type": kind, "name": name}
            if kind == "pvc":
                values["claim_name"] = as_str(v["persistentVolumeClaim"].get("claimName"))
            elif kind == "hostpath":
                values["host_path"] = as_str(v["hostPath"].get("path"))
            elif kind in ("configmap", "secret"):
                source = v[_SOURCES[kind]]
                values["resource"] = as_str(source.get("name" if kind == "configmap" else "secretName"))
                values["items"] = [
                    KeyPathRow.model_construct(key=as_str(i.get("key")), path=as_str(i.get("path")))
                    for i in dicts(source.get("items"))
                ]
            values["mounts"] = _read_mounts(name, containers, read_only=kind in ("configmap", "secret"))
            rows.append(VolumeRow.model_construct(**values))
        templates: list[ClaimTemplateRow] = []
        for t in dicts(dig(draft.workload, "spec", "volumeClaimTemplates")):
            name = as_str(dig(t, "metadata", "name"))
            modes = dig(t, "spec", "accessModes")
            templates.append(
                ClaimTemplateRow.model_construct(
                    name=name,
                    storage_class=as_str(dig(t, "spec", "storageClassName")),
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
        old_volumes = [v for v in dicts(pod.get("volumes")) if v.get("name") != HOST_TIME_VOLUME]
        host_time = [v for v in dicts(pod.get("volumes")) if v.get("name") == HOST_TIME_VOLUME]
        old_templates = dicts(dig(w, "spec", "volumeClaimTemplates"))
        owned = {as_str(v.get("name")) for v in old_volumes} | {
            as_str(dig(t, "metadata", "name")) for t in old_templates
        }
        owned |= {v.name for v in values.volumes} | {t.name for t in values.volume_templates}

        matches = match_rows([v.name for v in values.volumes], [v.get("name") for v in old_volumes])
        volumes = [
            _build_volume(row, old_volumes[i] if i is not None else None)
            for row, i in zip(values.volumes, matches, strict=True)
        ]
        set_or_pop(pod, "volumes", volumes + host_time)

        matches = match_rows(
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
            for c in dicts(pod.get(key)):
                name = c.get("name")
                old_mounts = dicts(c.get("volumeMounts"))
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
        pod_containers = [c for _kind, c in containers_of(draft.workload)]
        container_names = {as_str(c.get("name")) for c in pod_containers}
        old_volumes = [
            v
            for v in dicts(dig(draft.workload, "spec", "template", "spec", "volumes"))
            if v.get("name") != HOST_TIME_VOLUME
        ]
        old_templates = dicts(dig(draft.workload, "spec", "volumeClaimTemplates"))
        owned = {as_str(v.get("name")) for v in old_volumes} | {
            as_str(dig(t, "metadata", "name")) for t in old_templates
        }
        owned |= {v.name for v in self.volumes} | {t.name for t in self.volume_templates}
        paths: dict[str, set[str]] = {
            as_str(c.get("name")): {
                as_str(m.get("mountPath")).rstrip("/")
                for m in dicts(c.get("volumeMounts"))
                if m.get("name") not in owned
            }
            for c in pod_containers
        }
        names_seen: set[str] = {HOST_TIME_VOLUME}
        matches = match_rows([v.name for v in self.volumes], [v.get("name") for v in old_volumes])
        for i, (v, index) in enumerate(zip(self.volumes, matches, strict=True)):
            p = f"volumes.{i}"
            if not v.name:
                e.add(f"{p}.name", _("Please set a name for the volume."))
            elif v.name == HOST_TIME_VOLUME:
                e.add(f"{p}.name", _("The name host-time is reserved for the host timezone volume."))
            elif len(v.name) > 63 or not DNS1123_LABEL.fullmatch(v.name):
                e.add(f"{p}.name", NAME_RULE)
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
                # Empty: the claim names no class and the cluster's default is used, if it has one.
                if resources and resources.storage_classes is not None and not resources.default_storage_class:
                    e.add(f"{p}.storage_class", _("This cluster has no default storage class. Please select one."))
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
        cname = as_str(c.get("name"))
        mounts = [m for m in dicts(c.get("volumeMounts")) if m.get("name") == volume]
        if not mounts:
            rows.append(MountRow.model_construct(container=cname))
        for m in mounts:
            rows.append(
                MountRow.model_construct(
                    container=cname,
                    mode="ro" if read_only or m.get("readOnly") is True else "rw",
                    mount_path=as_str(m.get("mountPath")),
                    sub_path=as_str(m.get("subPath")),
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
        old_items = {as_str(i.get("key")): i for i in dicts(source.get("items"))}
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
    if row.storage_class:
        spec["storageClassName"] = row.storage_class
    elif spec.get("storageClassName") != "":  # "" is "no class" in Kubernetes: kept as it was written
        spec.pop("storageClassName", None)
    spec["accessModes"] = list(row.access_modes)
    ensure_dict(spec, "resources", "requests")["storage"] = row.capacity
    t["spec"] = ordered(spec, ("storageClassName", "accessModes", "resources"))
    return ordered(t, ("metadata", "spec"))
