"""The project's objects the wizard offers in its pickers: ConfigMaps and Secrets (names and keys),
PersistentVolumeClaims and the cluster's StorageClasses.

Read on every step that shows them, never kept across steps: ConfigMaps, claims and StorageClasses come
from the console's watch cache (one read, no API round trip, and an object made anywhere is there
within a watch event), as the user except StorageClasses, which the console reads itself (they hold
nothing secret, and a project operator may not list them, yet has to pick one). Secrets are never held
by the console: they are listed live as the user, and the answer is kept `SECRET_SECONDS` for that user
and project only, so that the steps in between do not each ask again (Refresh asks at once).

What the user may not list, or what fails, stays unknown (None): the wizard then offers free text and
does not check references to it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from app.domain.manifests import dig
from app.domain.pod_security import Level
from app.domain.recent import Recent
from app.domain.services.capabilities import service_spec_fields
from app.domain.wizard.step import VolumesContext
from app.kube.client import CONSOLE, Actor, KubeGateway
from app.kube.errors import KubeError

SECRET_SECONDS = 5.0
SA_TOKEN = "kubernetes.io/service-account-token"
DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                             "storageclass.beta.kubernetes.io/is-default-class")


@dataclass(frozen=True)
class ProjectChoices:
    """`resources` for the steps' checks; `offered_secrets` are the Secrets the pickers list
    (service-account tokens stay valid references but are not offered)."""

    resources: VolumesContext
    offered_secrets: tuple[str, ...] = ()
    service_fields: frozenset[str] = frozenset()  # of the cluster's Service spec, for Advanced Settings


@dataclass(frozen=True)
class _SecretChoices:
    keys: dict[str, list[str]] | None
    offered: tuple[str, ...]


# (user uid, namespace) -> the Secrets that user listed there a moment ago. Per process and short on
# purpose: it only spares the wizard's next steps a call, the cluster decides every fresh list.
_SECRETS: Recent[tuple[str, str], _SecretChoices] = Recent(seconds=SECRET_SECONDS)


async def load_choices(kube: KubeGateway, namespace: str, actor: Actor, *, user: str,
                       pod_security: Level | None = None, refresh: bool = False) -> ProjectChoices:
    """The pickers' choices for `user` (a stable id: the user's uid) in `namespace`. `refresh`: list
    the Secrets again even if this user listed them a moment ago (the pickers' Refresh)."""

    async def listing(kind: str, ns: str | None, as_: Actor) -> list[dict[str, Any]] | None:
        try:
            return await kube.items(kind, ns, actor=as_)
        except KubeError:
            return None

    key = (user, namespace)
    kept = None if refresh else _SECRETS.get(key)
    cms, pvcs, classes, secrets, service_fields = await asyncio.gather(
        listing("ConfigMap", namespace, actor),
        listing("PersistentVolumeClaim", namespace, actor),
        listing("StorageClass", None, CONSOLE),
        _no_secrets() if kept is not None else listing("Secret", namespace, actor),
        service_spec_fields(kube),
    )
    if kept is None:
        kept = _SecretChoices(
            keys=None if secrets is None else {dig(o, "metadata", "name"): _keys(o) for o in secrets},
            offered=tuple(sorted(dig(o, "metadata", "name") for o in secrets or [] if o.get("type") != SA_TOKEN)),
        )
        _SECRETS.put(key, kept)
    return ProjectChoices(
        resources=VolumesContext(
            configmaps=None if cms is None else {dig(o, "metadata", "name"): _keys(o) for o in cms},
            secrets=kept.keys,
            pvcs=None if pvcs is None else sorted(dig(o, "metadata", "name") for o in pvcs),
            storage_classes=None if classes is None else sorted(dig(o, "metadata", "name") for o in classes),
            default_storage_class=default_storage_class(classes or []),
            pod_security=pod_security,
        ),
        offered_secrets=kept.offered,
        service_fields=service_fields,
    )


def default_storage_class(classes: list[dict[str, Any]]) -> str | None:
    """The class marked as the cluster's default (what a claim without a class gets), if one is."""
    for sc in classes:
        annotations = dig(sc, "metadata", "annotations") or {}
        if any(annotations.get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS):
            name: str | None = dig(sc, "metadata", "name")
            return name
    return None


def _keys(obj: dict[str, Any]) -> list[str]:
    return sorted({*(obj.get("data") or {}), *(obj.get("binaryData") or {})})


async def _no_secrets() -> None:
    return None
