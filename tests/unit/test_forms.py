"""Flat HTML forms to nested values to pydantic models, with messages keyed by the form's field names."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from app.domain.forms import StrList, flatten, form_items, parse_form, unflatten, validate_data


class FakeFormData:
    """starlette's FormData shape: `multi_items()` with repeated keys, files among the values."""

    def __init__(self, items: list[tuple[str, Any]]) -> None:
        self._items = items

    def multi_items(self) -> list[tuple[str, Any]]:
        return list(self._items)


class UploadFile:
    filename = "a.yaml"


def _blank_to_none(value: Any) -> Any:
    return None if value == "" else value


class Port(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = ""
    number: Annotated[int | None, BeforeValidator(_blank_to_none)] = None


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = ""
    enabled: bool = False
    ports: list[Port] = []
    modes: StrList = []


class Form(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = ""
    count: int = 1
    rows: list[Row] = []

    def check(self, context: Any) -> dict[str, str]:
        errors = {}
        for i, row in enumerate(self.rows):
            if row.name == "taken":
                errors[f"rows.{i}.name"] = "The name already exists. Please enter another name."
        if context == "strict" and not self.title:
            errors["title"] = "Please set a title."
        return errors


def test_unflatten_nests_dotted_and_indexed_names() -> None:
    values = unflatten(
        [
            ("title", "web"),
            ("rows.0.name", "a"),
            ("rows.0.ports.1.number", "443"),
            ("rows.0.ports.0.number", "80"),
            ("rows.1.name", "b"),
        ]
    )
    assert values == {
        "title": "web",
        "rows": [{"name": "a", "ports": [{"number": "80"}, {"number": "443"}]}, {"name": "b"}],
    }


def test_unflatten_renumbers_rows_by_index_order() -> None:
    values = unflatten(
        [("rows.7.name", "c"), ("rows.0.name", "a"), ("rows.10.name", "d"), ("rows.2.name", "b")]
    )
    assert [r["name"] for r in values["rows"]] == ["a", "b", "c", "d"]


def test_unflatten_collects_repeated_names_into_a_list() -> None:
    values = unflatten([("rows.0.modes", "ReadWriteOnce"), ("rows.0.modes", "ReadOnlyMany")])
    assert values == {"rows": [{"modes": ["ReadWriteOnce", "ReadOnlyMany"]}]}


def test_unflatten_prefers_the_nested_value_and_ignores_malformed_names() -> None:
    assert unflatten([("a", "1"), ("a.b", "2"), ("c..d", "x"), (".e", "y")]) == {"a": {"b": "2"}}
    assert unflatten([("a.b", "2"), ("a", "1")]) == {"a": {"b": "2"}}


def test_form_items_skip_uploaded_files() -> None:
    form = FakeFormData([("title", "x"), ("yaml_file", UploadFile()), ("rows.0.name", "a")])
    assert form_items(form) == [("title", "x"), ("rows.0.name", "a")]
    assert form_items({"title": "x"}) == [("title", "x")]


def test_parse_form_builds_the_model() -> None:
    form = FakeFormData(
        [
            ("title", "web"),
            ("count", "3"),
            ("rows.0.name", "a"),
            ("rows.0.enabled", "on"),
            ("rows.0.ports.0.name", "http"),
            ("rows.0.ports.0.number", ""),
            ("rows.0.modes", "x"),
            ("csrf_token", "ignored"),
            ("draft", "{}"),
        ]
    )
    model, errors, values = parse_form(form, Form)
    assert errors == {}
    assert model == Form(
        title="web", count=3, rows=[Row(name="a", enabled=True, ports=[Port(name="http")], modes=["x"])]
    )
    assert "csrf_token" not in values and "draft" not in values


def test_unchecked_box_reads_false() -> None:
    model, _errors, _values = parse_form([("rows.0.name", "a")], Form)
    assert model is not None and model.rows[0].enabled is False


def test_type_errors_are_keyed_by_form_field_and_translated() -> None:
    form = [("count", "many"), ("rows.0.ports.1.number", "http"), ("rows.0.ports.0.number", "80")]
    model, errors, values = parse_form(form, Form)
    assert model is None
    assert errors == {
        "count": "Please enter an integer.",
        "rows.0.ports.1.number": "Please enter an integer.",
    }
    assert values["rows"][0]["ports"][1]["number"] == "http"  # re-render with what the user typed


def test_unknown_nested_fields_are_reported() -> None:
    _model, errors, _values = parse_form([("rows.0.colour", "red")], Form)
    assert errors == {"rows.0.colour": "This field is not part of the form."}


def test_check_rules_run_after_types_and_get_the_context() -> None:
    model, errors, _values = parse_form([("rows.0.name", "taken")], Form, context="strict")
    assert model is None
    assert errors == {
        "rows.0.name": "The name already exists. Please enter another name.",
        "title": "Please set a title.",
    }
    model, errors, _values = parse_form([("title", "t")], Form, context="strict")
    assert errors == {} and model is not None


def test_validate_data_reads_only_the_models_fields() -> None:
    result = validate_data(Form, {"title": "x", "other": 1})
    assert result.model == Form(title="x") and result.values == {"title": "x"}


def test_flatten_is_what_a_form_posts() -> None:
    model = Form(
        title="web", count=2, rows=[Row(name="a", enabled=True, ports=[Port(name="p")], modes=["x", "y"])]
    )
    items = flatten(model)
    assert items == [
        ("title", "web"),
        ("count", "2"),
        ("rows.0.name", "a"),
        ("rows.0.enabled", "on"),
        ("rows.0.ports.0.name", "p"),
        ("rows.0.ports.0.number", ""),
        ("rows.0.modes", "x"),
        ("rows.0.modes", "y"),
    ]
    assert parse_form(items, Form).model == model
