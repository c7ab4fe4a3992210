"""A browser's view of an HTML form: the fields it would submit, its encoding, and a body encoded as the
browser (htmx) sends it: multipart like FormData's for an enctype=multipart/form-data form, else URL-encoded."""

from __future__ import annotations

import secrets
from html.parser import HTMLParser
from urllib.parse import urlencode


class _FormParser(HTMLParser):
    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.depth = 0
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._select_value: str | None = None
        self._select_first: str | None = None
        self._option_value: str | None = None
        self._option_text = ""
        self._textarea: str | None = None
        self._textarea_text = ""
        self.found = False
        self.enctype = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form" and a.get("id") == self.form_id:
            self.inside, self.found = True, True
            self.enctype = a.get("enctype", "").lower()
            return
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name and "disabled" not in a:
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((name, a.get("value", "on" if kind in ("checkbox", "radio") else "")))
        elif tag == "select" and name and "disabled" not in a:
            self._select, self._select_value, self._select_first = name, None, None
        elif tag == "option" and self._select is not None:
            self._option_value = a.get("value")
            self._option_text = ""
            if "selected" in a:
                self._select_value = a.get("value", "")
            self._pending_selected = "selected" in a
        elif tag == "textarea" and name and "disabled" not in a:
            self._textarea, self._textarea_text = name, ""

    def handle_endtag(self, tag: str) -> None:
        if not self.inside:
            return
        if tag == "form":
            self.inside = False
        elif tag == "option" and self._select is not None:
            value = self._option_value if self._option_value is not None else self._option_text.strip()
            if self._select_first is None:
                self._select_first = value
            if getattr(self, "_pending_selected", False):
                self._select_value = value
        elif tag == "select" and self._select is not None:
            value = self._select_value if self._select_value is not None else self._select_first
            if value is not None:
                self.fields.append((self._select, value))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            text = self._textarea_text
            self.fields.append((self._textarea, text[1:] if text.startswith("\n") else text))
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea_text += data
        elif self._select is not None and self._option_value is None:
            self._option_text += data


def form_fields(html: str, form_id: str) -> list[tuple[str, str]]:
    """The (name, value) pairs the form `form_id` would submit (without its submit buttons)."""
    return parse_form(html, form_id)[0]


def fragment_fields(html: str) -> list[tuple[str, str]]:
    """The fields in an HTML fragment that htmx adds to the form (e.g. a row appended to a list)."""
    parser = _FormParser("")
    parser.inside = True
    parser.feed(html)
    return parser.fields


def after_response(fields: list[tuple[str, str]], multipart_form: bool, html: str, reswap: str | None,
                   form_id: str) -> tuple[list[tuple[str, str]], bool]:
    """The form as the browser has it after htmx swapped a response in: a fragment appended to the form
    (`HX-Reswap: beforeend`, e.g. Add Container's new card) adds its fields; anything else is the new form."""
    if reswap == "beforeend":
        return fields + fragment_fields(html), multipart_form
    return parse_form(html, form_id)


def parse_form(html: str, form_id: str) -> tuple[list[tuple[str, str]], bool]:
    """The form's fields, and whether it posts multipart/form-data (else URL-encoded)."""
    parser = _FormParser(form_id)
    parser.feed(html)
    if not parser.found:
        raise ValueError(f"no form #{form_id} in the page")
    return parser.fields, parser.enctype == "multipart/form-data"


def encode(fields: list[tuple[str, str]], multipart_form: bool) -> tuple[bytes, str]:
    """The body and content type a browser sends for these fields."""
    if multipart_form:
        return multipart(fields)
    return urlencode(fields).encode(), "application/x-www-form-urlencoded"


def with_values(fields: list[tuple[str, str]], changes: dict[str, str]) -> list[tuple[str, str]]:
    """The fields with some values replaced (or added when the form has no such field)."""
    out, seen = [], set()
    for name, value in fields:
        if name in changes:
            if name in seen:
                continue
            seen.add(name)
            out.append((name, changes[name]))
        else:
            out.append((name, value))
    out += [(k, v) for k, v in changes.items() if k not in seen]
    return out


def multipart(fields: list[tuple[str, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body (what FormData sends for an enctype=multipart form) and its content type."""
    boundary = "----benchform" + secrets.token_hex(8)
    parts = []
    for name, value in fields:
        safe = name.replace('"', "%22")
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{safe}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"
