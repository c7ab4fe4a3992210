"""Writes to a Service that never overwrite silently, and Edit Information."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from app.domain.errors import Conflict, Invalid, NotFound
from app.domain.k8s.names import info_problems
from app.domain.services.detail import get_service
from app.domain.services.view import ALIAS, DESCRIPTION
from app.i18n import _
from app.kube.client import Actor, KubeGateway
from app.kube.errors import KubeError

Obj = dict[str, Any]


# -- errors of writes ----------------------------------------------------------------------------------

class EditConflict(Conflict):
    """The object changed since the user loaded it; `latest` is what the server has now."""

    def __init__(self, latest: Obj) -> None:
        super().__init__(_("Someone changed this Service after you opened it. Nothing was saved."))
        self.latest = latest


def invalid_from(e: KubeError) -> Invalid:
    """The API server's 422, with each cause on the field it names (`spec.ports[0].nodePort`)."""
    errors: dict[str, str] = {}
    for cause in e.causes:
        if cause.field:
            errors.setdefault(cause.field, cause.message or e.message)
    errors["_"] = e.message
    return Invalid(e.message, errors=errors)


async def write_checked(kube: KubeGateway, namespace: str, name: str, call: Awaitable[Obj], *, actor: Actor) -> Obj:
    """Send a write; turn the server's refusals into domain errors the pages show."""
    try:
        return await call
    except KubeError as e:
        if e.not_found:
            raise NotFound(_("The Service {name} does not exist any more.").format(name=name)) from None
        if e.conflict:
            raise EditConflict(await get_service(kube, namespace, name, actor=actor, fresh=True)) from None
        if e.invalid or e.status == 400:
            raise invalid_from(e) from None
        raise


# -- Edit Information ----------------------------------------------------------------------------------

async def edit_information(kube: KubeGateway, namespace: str, name: str, *, actor: Actor, alias: str,
                           description: str) -> Obj:
    """Alias and description as a merge patch of two annotations; an empty value removes one."""
    alias = alias.strip()
    errors: dict[str, str] = {}
    errors.update(info_problems(alias, description))
    if errors:
        raise Invalid(next(iter(errors.values())), errors=errors)
    patch = {"metadata": {"annotations": {ALIAS: alias or None, DESCRIPTION: description or None}}}
    return await write_checked(kube, namespace, name, kube.merge_patch("Service", namespace, name, patch, actor=actor),
                        actor=actor)
