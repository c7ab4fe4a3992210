"""The steps together: which step a field or URL belongs to, submitting a step, validating them all."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, NamedTuple

from app.domain.forms import (
    FormInput,
    form_items,
    unflatten,
    validate_data,
)
from app.domain.wizard.advanced import AdvancedSettings
from app.domain.wizard.basic import BasicInfo
from app.domain.wizard.containers import ContainerImage
from app.domain.wizard.draft import DRAFT_ERROR_KEY, Draft
from app.domain.wizard.step import StepContext, VolumesContext, WizardStep
from app.domain.wizard.volumes import Volumes

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


def validate_all(draft: Draft, resources: VolumesContext | None = None, *,
             validated: Collection[str] = ()) -> dict[str, str]:
    """Every step's rules on the current draft (run before Create): {field name: message}. Use
    `step_of(field)` to find the step of a field. Object-level problems come under DRAFT_ERROR_KEY.
    `validated`: steps whose posted values were just validated and applied to this draft (their rules
    would only say the same again)."""
    errors: dict[str, str] = {}
    context = StepContext(draft, resources)
    for step in STEPS:
        if step.step in validated:
            continue
        result = validate_data(step, step.read(draft).form_values(), context=context)
        for key, message in result.errors.items():
            errors.setdefault(key, message)
    problems = draft.problems()
    if problems:
        errors[DRAFT_ERROR_KEY] = " ".join(problems)
    return errors
