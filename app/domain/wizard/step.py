"""What every step shares: its base model, the context its rules get, small readers of manifests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationInfo

from app.domain.manifests import (
    Flavor,
)
from app.domain.pod_security import Level, allows_host_path
from app.domain.wizard.draft import Draft
from app.i18n import LazyString, _


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


def context_of(info: ValidationInfo) -> StepContext | None:
    return info.context if isinstance(info.context, StepContext) else None


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
