"""The wizard's form controls as Python functions (templates/wizard/_macros.html exports them under the
macros' names). A wizard step renders 50 to 100 of them; as Jinja macros they were most of a step's
time. Each returns Markup and escapes everything it is given, exactly as the macros did.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Undefined
from markupsafe import Markup

from app.i18n import _

TRUE_VALUES = (True, "on", "true", "1")
SR_ONLY = ' class="sr-only"'
REQUIRED = ' <span aria-hidden="true">*</span>'


def _esc(value: Any) -> str:
    """HTML-escaped text, with markupsafe's entities, as a plain str: a control escapes five to ten values,
    and `escape` would make a Markup object of each. Markup (and anything with `__html__`) is kept as is."""
    if type(value) is not str:  # noqa: E721 - exactly str: subclasses such as Markup take the slow path
        if hasattr(value, "__html__"):
            return str(value.__html__())
        value = str(value)
    return (value.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
            .replace("'", "&#39;").replace('"', "&#34;"))


def field_id(name: Any) -> str:
    """The id of a form control: "f-" + its dotted name with dots as hyphens."""
    return "f-" + str(name).replace(".", "-")


def _text(value: Any) -> str:
    return "" if value is None or isinstance(value, Undefined) else str(value)


def _tail(fid: str, err: Any, help: Any) -> str:
    out = ""
    if err:
        out += f'\n  <div class="error" id="{fid}-error" role="alert">{_esc(err)}</div>'
    if help and str(help) != str(err):  # a rule's problem is its help text: said once
        out += f'\n  <div class="help">{_esc(help)}</div>'
    return out


def _invalid(fid: str, err: Any) -> str:
    return f' aria-invalid="true" aria-describedby="{fid}-error"' if err else ""


def text_input(name: Any, label: Any, value: Any, errors: Any, help: Any = "", required: bool = False,
               placeholder: Any = "", maxlength: Any = None, cls: Any = "", numeric: bool = False,
               list: Any = None, sr: bool = False, autofocus: bool = False) -> Markup:  # noqa: A002
    """A labelled text input; `numeric` only sets inputmode (what was typed is kept, the server judges it).
    `autofocus`: htmx focuses it when the input arrives in swapped content (a row just added)."""
    fid = _esc(field_id(name))
    err = errors.get(name) if errors else None
    attrs = ' inputmode="numeric"' if numeric else ""
    if placeholder:
        attrs += f' placeholder="{_esc(placeholder)}"'
    if maxlength:
        attrs += f' maxlength="{_esc(maxlength)}"'
    if list:
        attrs += f' list="{_esc(list)}"'
    if autofocus:
        attrs += " autofocus"
    return Markup(
        f'<div class="field {_esc(_text(cls))}" id="{fid}-field">\n'
        f'  <label for="{fid}"{SR_ONLY if sr else ""}>{_esc(label)}{REQUIRED if required else ""}</label>\n'
        f'  <input id="{fid}" type="text" name="{_esc(name)}" value="{_esc(_text(value))}"{attrs}'
        f'{_invalid(fid, err)}>{_tail(fid, err, help)}\n</div>'
    )


def select(name: Any, label: Any, options: Any, value: Any, errors: Any, help: Any = "", cls: Any = "",
           sr: bool = False, extra: Any = "") -> Markup:
    """A select; a current value that is not among the options (from Edit Mode) is offered too, so it is
    never lost silently: validation says what is wrong with it."""
    fid = _esc(field_id(name))
    err = errors.get(name) if errors else None
    current = _text(value)
    found = False
    opts = []
    for v, label_ in options:
        chosen = _text(v) == current
        found = found or chosen
        opts.append(f'<option value="{_esc(_text(v))}"{" selected" if chosen else ""}>{_esc(label_)}</option>')
    if not found and value is not None and not isinstance(value, Undefined):
        opts.append(f'<option value="{_esc(current)}" selected>{_esc(current)}</option>')
    klass = f' class="{_esc(extra)}"' if extra else ""
    return Markup(
        f'<div class="field {_esc(_text(cls))}" id="{fid}-field">\n'
        f'  <label for="{fid}"{SR_ONLY if sr else ""}>{_esc(label)}</label>\n'
        f'  <select id="{fid}" name="{_esc(name)}"{klass}'
        f'{_invalid(fid, err)}>\n    {"".join(opts)}\n  </select>{_tail(fid, err, help)}\n</div>'
    )


def _why_not(fid: str, reason: Any) -> tuple[str, str]:
    """The attributes and the note of a control that is shown but cannot be used, and why."""
    if not reason:
        return "", ""
    return (f' disabled aria-describedby="{fid}-why"',
            f'<span class="help disabled-why" id="{fid}-why">{_esc(reason)}</span>')


def checkbox(name: Any, label: Any, value: Any, errors: Any, help: Any = "", disabled_reason: Any = "") -> Markup:
    """`disabled_reason`: shown beside a box that cannot be ticked. A ticked box stays usable (it would
    not be posted if disabled, and the value would be lost silently): its error says what to do."""
    fid = _esc(field_id(name))
    err = errors.get(name) if errors else None
    checked = " checked" if value in TRUE_VALUES else ""
    off, why = _why_not(fid, "" if checked else disabled_reason)
    return Markup(
        f'<div class="field" id="{fid}-field">\n'
        f'  <label class="switch"><input type="checkbox" id="{fid}" name="{_esc(name)}" value="on"{checked}'
        f'{_invalid(fid, err)}{off}> {_esc(label)}</label>{why}{_tail(fid, err, help)}\n</div>'
    )


def act(value: Any, label: Any, cls: Any = "", id: Any = None, title: Any = "",  # noqa: A002
        disabled_reason: Any = "") -> Markup:
    """A submit button of the wizard form: the server acts on its value. With `disabled_reason` it is
    shown disabled, the reason beside it (what the project does not allow, not hidden)."""
    attrs = f' class="{_esc(cls)}"' if cls else ""
    if id:
        attrs += f' id="{_esc(id)}"'
    if title:
        attrs += f' title="{_esc(title)}" aria-label="{_esc(title)}"'
    off, why = _why_not(_esc(id or field_id(value)), disabled_reason)
    return Markup(f'<button type="submit" name="action" value="{_esc(_text(value))}"{attrs}{off}>'
                  f'{_esc(label)}</button>{why}')


def message(name: Any, errors: Any) -> Markup:
    """The error message of one field, if it has one."""
    err = errors.get(name) if errors else None
    if not err:
        return Markup("")
    return Markup(f'<div class="error" id="{_esc(field_id(name))}-error" role="alert">{_esc(err)}</div>')


def _item(row: Any, key: str) -> Any:
    if isinstance(row, dict):
        return row.get(key)
    return getattr(row, key, None)


def pairs(list: Any, rows: Any, errors: Any, key_label: Any, value_label: Any, add_label: Any,  # noqa: A002
          datalist: Any = None) -> Markup:
    """Key/value rows (labels, annotations, node selector) posted as `<list>.<i>.key|value`."""
    name = str(list)
    parts = [f'<div class="pairs" id="{_esc(field_id(name))}-field">', f"  {message(name, errors)}"]
    delete = _("Delete")
    for i, row in enumerate(rows or ()):
        q = f"{name}.{i}"
        parts += [
            '  <div class="row tight pair">',
            "    " + text_input(q + ".key", key_label, _item(row, "key"), errors, sr=True, placeholder=key_label,
                                list=datalist),
            "    " + text_input(q + ".value", value_label, _item(row, "value"), errors, sr=True,
                                placeholder=value_label),
            "    " + act(f"remove-row:{name}:{i}", "×", "icon", title=delete),
            "  </div>",
        ]
    parts += ["  " + act("add-row:" + name, add_label, "small-btn", id="add-" + name.replace("_", "-")), "</div>"]
    return Markup("\n".join(parts))


CONTROLS = {"field_id": field_id, "wizard_input": text_input, "wizard_select": select,
            "wizard_checkbox": checkbox, "wizard_act": act, "wizard_message": message, "wizard_pairs": pairs}
