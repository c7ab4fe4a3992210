"""gettext for every user-facing string: English first, Chinese next.

The request's locale lives in a context variable set by middleware; `_()` translates at call time and
`lazy_()` defers translation to when the string is rendered (for module-level constants).
"""

from __future__ import annotations

import gettext as _gettext
from contextvars import ContextVar
from functools import cache
from pathlib import Path

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"
SUPPORTED = ("en", "zh")
DEFAULT = "en"

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT)


@cache
def translations(locale: str) -> _gettext.NullTranslations:
    return _gettext.translation(DOMAIN, localedir=LOCALES_DIR, languages=[locale], fallback=True)


def _(message: str) -> str:
    return translations(current_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_locale.get()).ngettext(singular, plural, n)


class LazyString(str):
    """A str that is translated each time it is formatted or rendered."""

    def __new__(cls, message: str) -> LazyString:
        obj = super().__new__(cls, message)
        obj._message = message  # type: ignore[attr-defined]
        return obj

    def __str__(self) -> str:
        return _(self._message)  # type: ignore[attr-defined]

    def __html__(self) -> str:
        from markupsafe import escape

        return str(escape(str(self)))

    def format(self, *args: object, **kwargs: object) -> str:
        return str(self).format(*args, **kwargs)


def lazy_(message: str) -> LazyString:
    return LazyString(message)


def pick_locale(accept_language: str | None, cookie: str | None) -> str:
    """The cookie wins; else the first supported language of Accept-Language; else English."""
    if cookie in SUPPORTED:
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        base = tag.split("-")[0]
        if base in SUPPORTED:
            return base
    return DEFAULT
