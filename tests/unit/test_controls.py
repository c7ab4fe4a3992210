"""The wizard's controls (app/controls.py) as the step templates use them."""

from __future__ import annotations

from jinja2 import Undefined

from app.controls import act, checkbox, select, text_input
from app.templating import new_environment

HOSTILE = '"><script>alert(1)</script>'


def test_input_escapes_everything_and_shows_its_error() -> None:
    html = text_input("containers.0.image", HOSTILE, HOSTILE, {"containers.0.image": HOSTILE},
                      help=HOSTILE + " (help)", placeholder=HOSTILE, required=True, numeric=True, maxlength=63)
    assert "<script>" not in html and html.count("&lt;script&gt;") == 5
    # a problem that is the help text itself (a rule's wording) is said once
    once = text_input("alias", "Alias", "a b", {"alias": "The rule."}, help="The rule.")
    assert once.count("The rule.") == 1 and 'class="help"' not in once
    assert 'id="f-containers-0-image"' in html and 'name="containers.0.image"' in html
    assert 'aria-invalid="true" aria-describedby="f-containers-0-image-error"' in html
    assert '<div class="error" id="f-containers-0-image-error" role="alert">' in html
    assert 'inputmode="numeric"' in html and 'maxlength="63"' in html and '<span aria-hidden="true">*</span>' in html
    plain = text_input("name", "Name", None, {})
    assert 'value=""' in plain and "aria-invalid" not in plain and "error" not in plain and "help" not in plain
    assert 'value=""' in text_input("name", "Name", Undefined(), {})


def test_select_keeps_a_value_it_does_not_offer() -> None:
    options = [("RollingUpdate", "Rolling"), ("Recreate", "Recreate")]
    assert '<option value="Recreate" selected>' in select("strategy", "Strategy", options, "Recreate", {})
    odd = select("strategy", "Strategy", options, "Sideways", {})
    assert odd.count(" selected") == 1 and '<option value="Sideways" selected>Sideways</option>' in odd
    assert " selected" not in select("strategy", "Strategy", options, None, {})
    assert '<option value="1" selected>' in select("n", "N", [(1, "one"), (2, "two")], "1", {})


def test_checkbox_and_button() -> None:
    for on in (True, "on", "true", "1"):
        assert " checked" in checkbox("sticky", "Sticky", on, {})
    for off in (False, None, "", "off"):
        assert " checked" not in checkbox("sticky", "Sticky", off, {})
    button = act("remove-row:labels:0", "×", "icon", title=HOSTILE)
    assert button.startswith('<button type="submit" name="action" value="remove-row:labels:0" class="icon"')
    assert "<script>" not in button


def test_the_templates_get_the_controls_under_the_macros_names() -> None:
    env = new_environment()
    page = env.from_string(
        '{% from "wizard/_macros.html" import input, select, checkbox, act, pairs with context %}'
        '{{ input("a.b", "A", "<v>", {}) }}{{ pairs("labels", [{"key": "k", "value": "v"}], {}, "Key", "Value", "Add") }}'
    ).render()
    assert 'id="f-a-b"' in page and "&lt;v&gt;" in page
    assert 'name="labels.0.key"' in page and 'value="remove-row:labels:0"' in page and 'id="add-labels"' in page


def test_pairs_rows_keep_what_was_typed_and_say_what_is_wrong() -> None:
    from app.controls import message, pairs

    html = pairs("labels", [{"key": "app", "value": HOSTILE}, {"key": "", "value": "x"}],
                 {"labels.1.key": "A key is required.", "labels": "Two rows have the same key."},
                 "Key", "Value", "Add Label", datalist="lb-keys")
    assert "<script>" not in html and 'value="app"' in html and 'name="labels.1.value"' in html
    assert 'id="f-labels-1-key-error"' in html and "Two rows have the same key." in html
    assert html.count('list="lb-keys"') == 2 and 'value="remove-row:labels:1"' in html
    assert message("x", {}) == "" and 'id="f-a-b-error"' in message("a.b", {"a.b": "bad"})
