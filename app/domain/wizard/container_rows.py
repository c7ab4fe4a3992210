"""A container as the Container Image step shows it (`ContainerRow`, its `EnvRow`s) and the reading and
writing of one container of the pod."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from app.domain.forms import (
    Row,
    Text,
)
from app.domain.k8s.quantities import (
    cpu_text,
    memory_text,
)
from app.domain.manifests import (
    as_dict,
    default_container_name,
    join_list,
    k8s_protocol,
    mounts_host_time,
    ordered,
    plain_copy,
    protocol_of_port,
    set_or_pop,
    split_list,
    with_host_time_mount,
)
from app.domain.service_rules import (
    PortRow,
)
from app.domain.wizard.probes import ProbeForm, build_probe, read_probe
from app.domain.wizard.read import as_str, dicts

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


def read_container(kind: str, c: Mapping[str, Any], service_ports: list[dict[str, Any]]) -> ContainerRow:
    ports: list[PortRow] = []
    for p in dicts(c.get("ports")):
        name = as_str(p.get("name"))
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
    for item in dicts(c.get("env")):
        name = as_str(item.get("name"))
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
                    type="configmap", name=name, resource=as_str(ref.get("name")), key=as_str(ref.get("key"))
                )
            )
        elif isinstance(source, dict) and isinstance(source.get("secretKeyRef"), dict) and len(source) == 1:
            ref = source["secretKeyRef"]
            env.append(
                EnvRow.model_construct(
                    type="secret", name=name, resource=as_str(ref.get("name")), key=as_str(ref.get("key"))
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
        name=as_str(c.get("name")),
        image=as_str(c.get("image")),
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
        liveness=read_probe(c.get("livenessProbe")),
        readiness=read_probe(c.get("readinessProbe")),
        startup=read_probe(c.get("startupProbe")),
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


def build_container(row: ContainerRow, old: Mapping[str, Any] | None) -> dict[str, Any]:
    c: dict[str, Any] = plain_copy(dict(old)) if old else {}
    c["name"] = row.name
    c["image"] = row.image
    set_or_pop(c, "imagePullPolicy", row.image_pull_policy)
    set_or_pop(c, "command", split_list(row.command))
    set_or_pop(c, "args", split_list(row.args))

    old_ports = dicts(c.get("ports"))
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

    old_env = {as_str(x.get("name")): x for x in reversed(dicts(c.get("env")))}
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
        set_or_pop(c, key, build_probe(getattr(row, attr), c.get(key)))
    return with_host_time_mount(c, row.sync_host_timezone)
