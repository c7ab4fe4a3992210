"""The form macros: valued attributes are rendered as attributes (escaped values), never as text."""

from __future__ import annotations

from app.templating import new_environment


def _render(source: str) -> str:
    env = new_environment()
    return env.from_string('{% from "macros/forms.html" import field with context %}' + source).render()


def test_min_max_and_autocomplete_are_real_attributes() -> None:
    html = _render('{{ field("port", "Port", 31000, {}, type="number", min=30000, max=32767, autocomplete="off") }}')
    assert 'min="30000"' in html and 'max="32767"' in html and 'autocomplete="off"' in html
    assert "&#34;" not in html


def test_only_bare_boolean_attributes_pass_through() -> None:
    html = _render('{{ field("a", "A", "x", {}, attrs="disabled onclick=alert(1)") }}')
    assert " disabled" in html and "onclick" not in html


def test_values_are_escaped() -> None:
    html = _render('{{ field("a", "A", "\\"><script>", {}) }}')
    assert "<script>" not in html and "&#34;&gt;&lt;script&gt;" in html
