"""Name rules shared by every form."""

from __future__ import annotations

import re

from app.i18n import _

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# The original allows no spaces, yet its own docs name things "Nginx Demo": an alias is a display name.
ALIAS = re.compile(r"^(?![- ])[a-zA-Z0-9\u4e00-\u9fa5 -]+(?<![- ])$")
USERNAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def dns1123_label_problem(value: str, *, max_length: int = 63) -> str | None:
    if not value:
        return _("Please set a name.")
    if len(value) > max_length:
        return _("The name can be at most {n} characters long.").format(n=max_length)
    if not DNS1123_LABEL.match(value):
        return _(
            "The name can contain only lowercase letters, numbers, and hyphens (-), and must start and "
            "end with a lowercase letter or number."
        )
    return None


def dns1035_label_problem(value: str, *, max_length: int = 63) -> str | None:
    if not value:
        return _("Please set a name.")
    if len(value) > max_length:
        return _("The name can be at most {n} characters long.").format(n=max_length)
    if not DNS1035_LABEL.match(value):
        return _(
            "The name can contain only lowercase letters, numbers, and hyphens (-), must start with a "
            "lowercase letter, and must end with a lowercase letter or number. The maximum length is 63 "
            "characters."
        )
    return None


def alias_problem(value: str) -> str | None:
    if not value:
        return None
    if len(value) > 63 or not ALIAS.match(value):
        return _(
            "The alias name can contain only letters, numbers, spaces and hyphens (-), and cannot start or "
            "end with a space or a hyphen. The maximum length is 63 characters."
        )
    return None


def description_problem(value: str) -> str | None:
    if len(value) > 256:
        return _("The description can contain any characters and the maximum length is 256 characters.")
    return None


def info_problems(alias: str, description: str) -> dict[str, str]:
    """The alias and description rules every object's basic information shares, keyed by field."""
    errors: dict[str, str] = {}
    if problem := alias_problem(alias):
        errors["alias"] = problem
    if problem := description_problem(description):
        errors["description"] = problem
    return errors
