"""Scalars: the YAML 1.2 core schema, and refusals where YAML 1.1 readers (kubectl) would disagree."""

from __future__ import annotations

import re
from typing import Any

from app.i18n import _

# ---------------------------------------------------------------------------------------------------
# Scalars: YAML 1.2 core schema, and where YAML 1.1 readers (kubectl) disagree

_INT_DEC = re.compile(r"[-+]?[0-9]+")
_INT_OCT = re.compile(r"0o[0-7]+")
_INT_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_NONFINITE = re.compile(r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
# YAML 1.1 booleans (any case: no reader should be trusted with `oN` either).
_BOOL_11 = re.compile(r"(?:y|yes|n|no|on|off)", re.IGNORECASE)
# Numbers YAML 1.1 / Go's ParseInt would read and the 1.2 core schema reads as text: underscores,
# binary, upper-case prefixes.
_NUMBER_11 = re.compile(
    r"[-+]?(?:0[bB][01_]+|0[xX][0-9a-fA-F_]+|0[oO][0-7_]+"
    r"|[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?)"
)
_SEXAGESIMAL = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?"
)
# First characters of every plain scalar that is not simply text (fast path for the rest).
_SPECIAL_FIRST = frozenset("0123456789+-.~nNtTfFyYoO")
_INT64 = 1 << 63


class _Surprise(Exception):
    """A plain scalar the gate will not interpret."""

    def __init__(self, message: str) -> None:
        self.message = message


def _resolve_plain(s: str) -> Any:
    """The YAML 1.2 core value of a plain scalar; `_Surprise` where readers disagree or JSON can't."""
    if not s:
        return None
    if s[0] not in _SPECIAL_FIRST:
        return s
    if s in _NULLS:
        return None
    if s in _BOOLS:
        return _BOOLS[s]
    if _INT_DEC.fullmatch(s):
        digits = s.lstrip("+-")
        if len(digits) > 1 and digits[0] == "0":
            raise _Surprise(
                _(
                    "{value} is an octal number to YAML 1.1 readers such as kubectl and a decimal one "
                    "to YAML 1.2: write 0o{digits} for octal, the decimal number, or \"{value}\" for text."
                ).format(value=s, digits=digits.lstrip("0") or "0")
            )
        return _checked_int(s, int(s))
    if _INT_OCT.fullmatch(s):
        return _checked_int(s, int(s[2:], 8))
    if _INT_HEX.fullmatch(s):
        return _checked_int(s, int(s[2:], 16))
    if _FLOAT.fullmatch(s):
        return float(s)
    if _NONFINITE.fullmatch(s):
        raise _Surprise(_("{value} is not a finite number and cannot be sent as JSON.").format(value=s))
    if _BOOL_11.fullmatch(s):
        raise _Surprise(
            _(
                "{value} means true or false to YAML 1.1 readers such as kubectl, but text to YAML 1.2: "
                "write \"{value}\" for text, or true or false."
            ).format(value=s)
        )
    if _SEXAGESIMAL.fullmatch(s):
        raise _Surprise(
            _(
                "{value} is a base-60 number (like a time) to YAML 1.1 readers: write \"{value}\" for "
                "text, or the number you mean."
            ).format(value=s)
        )
    if _TIMESTAMP.fullmatch(s):
        raise _Surprise(
            _(
                "{value} is a date to YAML 1.1 readers such as kubectl, which rewrite it: "
                "write \"{value}\" for text."
            ).format(value=s)
        )
    if _NUMBER_11.fullmatch(s):
        raise _Surprise(
            _(
                "{value} is a number to YAML 1.1 readers such as kubectl but text to YAML 1.2: write "
                "\"{value}\" for text, or the number without underscores and with a lower-case 0x/0o "
                "prefix."
            ).format(value=s)
        )
    return s


def _checked_int(text: str, value: int) -> int:
    if -_INT64 <= value < _INT64:
        return value
    raise _Surprise(_("{value} does not fit in a 64-bit integer.").format(value=text))


def needs_quotes(s: str) -> bool:
    """Whether a string written plain would be read back as something else (by us or by kubectl)."""
    if s == "<<" or s == "=":
        return True
    try:
        return not isinstance(_resolve_plain(s), str)
    except _Surprise:
        return True


CORE_TAG = "tag:yaml.org,2002:"


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(CORE_TAG) :] if tag.startswith(CORE_TAG) else tag


def _resolve_tagged(tag: str, value: str) -> Any:
    """Scalars with one of the core tags (`!!str 0755`); other tags were refused already."""
    kind = tag[len(CORE_TAG) :]
    if kind == "str":
        return value
    resolved = _resolve_plain(value)
    if kind == "null" and resolved is None:
        return None
    if kind == "bool" and isinstance(resolved, bool):
        return resolved
    if kind == "int" and isinstance(resolved, int) and not isinstance(resolved, bool):
        return resolved
    if kind == "float" and isinstance(resolved, (int, float)) and not isinstance(resolved, bool):
        return float(resolved)
    raise _Surprise(_("{value} is not a valid {tag}.").format(value=value, tag=_tag_name(tag)))


_SCALAR_TAGS = frozenset(CORE_TAG + k for k in ("str", "int", "float", "bool", "null"))
MAP_TAG = CORE_TAG + "map"
SEQ_TAG = CORE_TAG + "seq"
