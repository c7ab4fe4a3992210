"""The wizard's form controls as Python functions (templates/wizard/_macros.html exports them under the
macros' names). A wizard step renders 50 to 100 of them; as Jinja macros they were most of a step's
time. Each returns Markup and escapes everything it is given, exactly as the macros did.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Undefined
from markupsafe import Markup, escape

TRUE_VALUES = (True, "on", "true", "1")
SR_ONLY = ' class="sr-only"'
REQUIRED = ' <span aria-hidden="true">*</span>'


def field_id(name: Any) -> str:
    """The id of a form control: "f-" + its dotted name with dots as hyphens."""
    return "f-" + str(name).replace(".", "-")


def _text(value: Any) -> str:
    return "" if value is None or isinstance(value, Undefined) else str(value)


def _tail(fid: str, err: Any, help: Any) -> str:
    out = ""
    if err:
        out += f'\n  <div class="error" id="{fid}-error" role="alert">{escape(err)}</div>'
    if help:
        out += f'\n  <div class="help">{escape(help)}</div>'
    return out


def _invalid(fid: str, err: Any) -> str:
    return f' aria-invalid="true" aria-describedby="{fid}-error"' if err else ""


def text_input(name: Any, label: Any, value: Any, errors: Any, help: Any = "", required: bool = False,
               placeholder: Any = "", maxlength: Any = None, cls: Any = "", numeric: bool = False,
               list: Any = None, sr: bool = False) -> Markup:  # noqa: A002 (the macro's parameter name)
    """A labelled text input; `numeric` only sets inputmode (what was typed is kept, the server judges it)."""
    fid = escape(field_id(name))
    err = errors.get(name) if errors else None
    attrs = ' inputmode="numeric"' if numeric else ""
    if placeholder:
        attrs += f' placeholder="{escape(placeholder)}"'
    if maxlength:
        attrs += f' maxlength="{escape(maxlength)}"'
    if list:
        attrs += f' list="{escape(list)}"'
    return Markup(
        f'<div class="field {escape(_text(cls))}" id="{fid}-field">\n'
        f'  <label for="{fid}"{SR_ONLY if sr else ""}>{escape(label)}{REQUIRED if required else ""}</label>\n'
        f'  <input id="{fid}" type="text" name="{escape(name)}" value="{escape(_text(value))}"{attrs}'
        f'{_invalid(fid, err)}>{_tail(fid, err, help)}\n</div>'
    )


def select(name: Any, label: Any, options: Any, value: Any, errors: Any, help: Any = "", cls: Any = "",
           sr: bool = False, extra: Any = "") -> Markup:
    """A select; a current value that is not among the options (from Edit Mode) is offered too, so it is
    never lost silently: validation says what is wrong with it."""
    fid = escape(field_id(name))
    err = errors.get(name) if errors else None
    current = _text(value)
    found = False
    opts = []
    for v, label_ in options:
        chosen = _text(v) == current
        found = found or chosen
        opts.append(f'<option value="{escape(_text(v))}"{" selected" if chosen else ""}>{escape(label_)}</option>')
    if not found and value is not None and not isinstance(value, Undefined):
        opts.append(f'<option value="{escape(current)}" selected>{escape(current)}</option>')
    klass = f' class="{escape(extra)}"' if extra else ""
    return Markup(
        f'<div class="field {escape(_text(cls))}" id="{fid}-field">\n'
        f'  <label for="{fid}"{SR_ONLY if sr else ""}>{escape(label)}</label>\n'
        f'  <select id="{fid}" name="{escape(name)}"{klass}'
        f'{_invalid(fid, err)}>\n    {"".join(opts)}\n  </select>{_tail(fid, err, help)}\n</div>'
    )


def checkbox(name: Any, label: Any, value: Any, errors: Any, help: Any = "") -> Markup:
    fid = escape(field_id(name))
    err = errors.get(name) if errors else None
    checked = " checked" if value in TRUE_VALUES else ""
    return Markup(
        f'<div class="field" id="{fid}-field">\n'
        f'  <label class="switch"><input type="checkbox" id="{fid}" name="{escape(name)}" value="on"{checked}'
        f'{_invalid(fid, err)}> {escape(label)}</label>{_tail(fid, err, help)}\n</div>'
    )


def act(value: Any, label: Any, cls: Any = "", id: Any = None, title: Any = "") -> Markup:  # noqa: A002
    """A submit button of the wizard form: the server acts on its value."""
    attrs = f' class="{escape(cls)}"' if cls else ""
    if id:
        attrs += f' id="{escape(id)}"'
    if title:
        attrs += f' title="{escape(title)}" aria-label="{escape(title)}"'
    return Markup(f'<button type="submit" name="action" value="{escape(_text(value))}"{attrs}>{escape(label)}</button>')


CONTROLS = {"field_id": field_id, "wizard_input": text_input, "wizard_select": select,
            "wizard_checkbox": checkbox, "wizard_act": act}
