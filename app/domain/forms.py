"""Flat HTML forms to nested data to pydantic models, with error messages keyed by form field name.

Field naming: nested fields are joined with dots and list rows are indexed, e.g.
`containers.0.ports.1.container_port`. A name given several times (a multi-select, checkboxes with one
name) becomes a list of its values; given once it is a single string, so declare such fields with
`as_list` (e.g. `StrList`) to accept both. An unchecked checkbox posts nothing and so reads as False; a
blank optional number posts "" and the model turns it into None.

Rows are renumbered in the order of their indices: a form that posts `env.0` and `env.2` (a row was
removed in the browser) yields two rows, 0 and 1. Error keys use the renumbered indices, so re-render
a form from the returned `values`, never from the raw request.

`parse_form(form, Model, context=...)` validates with pydantic (types and choices) and then, if the
model has a `check(context) -> dict[str, str]` method, runs it for the rules that span fields. The
result is `(model | None, errors, values)`; `model` is None whenever `errors` is not empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Generic, NamedTuple, Protocol, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from app.i18n import _

M = TypeVar("M", bound=BaseModel)

MAX_FIELDS = 5000  # a form with more fields than this is not one of ours


class MultiItems(Protocol):
    """What starlette's FormData offers: every (key, value) pair, repeated keys included."""

    def multi_items(self) -> list[tuple[str, Any]]: ...


FormInput = MultiItems | Mapping[str, Any] | Iterable[tuple[str, Any]]


def as_list(value: Any) -> Any:
    """BeforeValidator for multi-value fields: one posted value is a string, several are a list."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else value


StrList = Annotated[list[str], BeforeValidator(as_list)]


def strip(value: Any) -> Any:
    """BeforeValidator: text without surrounding white space."""
    return value.strip() if isinstance(value, str) else value


def blank_to_none(value: Any) -> Any:
    """BeforeValidator for optional numbers: a blank field is None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value.strip() if isinstance(value, str) else value


Text = Annotated[str, BeforeValidator(strip)]
OptInt = Annotated[int | None, BeforeValidator(blank_to_none)]


class Row(BaseModel):
    """One row of a list in a form (a port, a label, ...): no fields but its own."""

    model_config = ConfigDict(extra="forbid")

    def form_values(self) -> dict[str, Any]:
        """Nested plain values, e.g. for rendering a new row in a template."""
        return self.model_dump(warnings=False)


class Errors(dict[str, str]):
    """What a model's `check` collects, {form field: message}: a field keeps its first message."""

    def add(self, key: str, message: str) -> None:
        self.setdefault(key, str(message))


class FormResult(NamedTuple, Generic[M]):
    model: M | None
    errors: dict[str, str]
    values: dict[str, Any]


def form_items(form: FormInput) -> list[tuple[str, str]]:
    """The (key, text) pairs of a form; uploaded files and other non-text values are left out."""
    items: Iterable[tuple[str, Any]]
    if hasattr(form, "multi_items"):
        items = form.multi_items()
    elif isinstance(form, Mapping):
        items = form.items()
    else:
        items = form
    return [(str(k), v) for k, v in items if isinstance(v, str)][:MAX_FIELDS]


def unflatten(items: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nested dicts and lists from dotted, indexed keys. A key that is both a value and a parent
    (`a=1` and `a.b=2`) keeps the parent; keys with empty parts are ignored."""
    root: dict[str, Any] = {}
    for key, value in items:
        parts = key.split(".")
        if any(p == "" for p in parts):
            continue
        node = root
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        last = parts[-1]
        current = node.get(last)
        if isinstance(current, dict):
            continue
        if last in node:
            node[last] = [*current, value] if isinstance(current, list) else [current, value]
        else:
            node[last] = value
    result: dict[str, Any] = _listify(root)
    return result


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def flatten(data: Mapping[str, Any] | BaseModel, prefix: str = "") -> list[tuple[str, str]]:
    """The (key, text) pairs a form posts for `data`, the inverse of `unflatten` for model values:
    True becomes "on", False is left out (an unchecked box), None becomes "", a list of plain values
    repeats its key. Useful for hidden inputs and for tests."""
    if isinstance(data, BaseModel):
        data = data.model_dump(warnings=False)
    out: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        _flatten_value(out, name, value)
    return out


def _flatten_value(out: list[tuple[str, str]], name: str, value: Any) -> None:
    if isinstance(value, BaseModel):
        value = value.model_dump(warnings=False)
    if isinstance(value, Mapping):
        out.extend(flatten(value, f"{name}."))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            if isinstance(item, (Mapping, BaseModel)):
                _flatten_value(out, f"{name}.{index}", item)
            else:
                _flatten_value(out, name, item)
    elif value is True:
        out.append((name, "on"))
    elif value is False:
        return
    elif value is None:
        out.append((name, ""))
    else:
        out.append((name, str(value)))


def error_key(loc: Iterable[str | int]) -> str:
    return ".".join(str(part) for part in loc)


def error_message(error: ErrorDetails) -> str:
    """A translated message for one pydantic error."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "dockyard":
        return str(ctx.get("message", error["msg"]))
    if kind == "missing":
        return _("This parameter is required.")
    if kind in ("int_parsing", "int_type", "int_from_float", "float_parsing", "float_type"):
        return _("Please enter an integer.")
    if kind in ("literal_error", "enum"):
        return _("Please select a valid option.")
    if kind in ("greater_than_equal", "greater_than"):
        return _("The minimum value is {min}.").format(min=ctx.get("ge", ctx.get("gt")))
    if kind in ("less_than_equal", "less_than"):
        return _("The maximum value is {max}.").format(max=ctx.get("le", ctx.get("lt")))
    if kind == "string_too_long":
        return _("The maximum length is {n} characters.").format(n=ctx.get("max_length"))
    if kind == "extra_forbidden":
        return _("This field is not part of the form.")
    return _("Invalid value.")


def errors_from(exc: ValidationError) -> dict[str, str]:
    """Pydantic errors as {dotted field name: message}, the first message per field."""
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        errors.setdefault(error_key(error["loc"]), error_message(error))
    return errors


def validate_data(model: type[M], data: Mapping[str, Any], *, context: Any = None) -> FormResult[M]:
    """Validate nested data (only the model's own top-level fields are read) with pydantic, then the
    model's `check(context)` rules if it has any."""
    values = {k: v for k, v in data.items() if k in model.model_fields}
    try:
        obj = model.model_validate(values, context=context)
    except ValidationError as exc:
        return FormResult(None, errors_from(exc), values)
    check = getattr(obj, "check", None)
    errors = dict(check(context)) if callable(check) else {}
    if errors:
        return FormResult(None, errors, values)
    return FormResult(obj, {}, values)


def parse_form(form: FormInput, model: type[M], *, context: Any = None) -> FormResult[M]:
    """`validate_data` for a posted form (starlette FormData, a mapping or (key, value) pairs).
    Fields that are not the model's (a CSRF token, the wizard draft) are ignored."""
    return validate_data(model, unflatten(form_items(form)), context=context)
