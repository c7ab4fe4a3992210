"""Kubernetes quantities (k8s.io/apimachinery/pkg/api/resource): `250m`, `1.5`, `128974848`, `129e6`,
`123Mi`, read as a number of base units (cores, bytes); KubeSphere's stricter patterns for what its forms
accept; and how the console shows usage."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from app.i18n import _

_QUANTITY = re.compile(
    r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][-+]?[0-9]+)?"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}

# What KubeSphere's forms accept (src/utils/constants.js), used with fullmatch.
CPU_PATTERN = re.compile(r"[0-9]+(\.[0-9]{1,3})?|[0-9]+m")
MEMORY_PATTERN = re.compile(r"[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|e[0-9]+)?")
STORAGE_PATTERN = re.compile(r"[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?")


def parse_quantity(value: str | int | float | None) -> Decimal | None:
    """A quantity as a number of base units, or None if it is not one (or is missing)."""
    if value is None or isinstance(value, bool):
        return None
    match = _QUANTITY.fullmatch(str(value).strip())
    if not match:
        return None
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:
        return None
    suffix = match.group(2) or ""
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number.scaleb(_DECIMAL[suffix])
    return number.scaleb(int(suffix[1:]))


def format_cpu(cores: Decimal | None) -> str:
    if cores is None:
        return "-"
    milli = cores * 1000
    if milli >= 1000:
        return f"{(milli / 1000):.2f}".rstrip("0").rstrip(".") + " " + _("cores")
    return f"{milli:.0f}m" if milli >= 1 or milli == 0 else f"{milli:.2f}m"


def format_memory(size: Decimal | None) -> str:
    if size is None:
        return "-"
    mib = size / (2**20)
    if mib >= 1024:
        return f"{(mib / 1024):.2f} Gi"
    return f"{mib:.1f} Mi"


def cpu_text(value: Any) -> str:
    """A manifest CPU quantity as the form shows it (cores as a plain number, or millicores)."""
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, (int, float)):
        return format(Decimal(str(value)).normalize(), "f")
    return str(value)


def memory_text(value: Any) -> str:
    """A manifest memory (or storage) quantity as the form shows it, always with a unit: the form
    reads a bare number as Mi, while Kubernetes reads it as bytes, so bytes are written exactly with
    the largest unit that divides them (`536870912` -> `512Mi`), else as `<n>e0`."""
    if isinstance(value, bool) or value is None:
        return ""
    text = (
        str(value).strip() if not isinstance(value, float) else format(Decimal(str(value)).normalize(), "f")
    )
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
        return text
    if "." not in text:
        number = int(text)
        if number:
            for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
                if number % _BINARY[suffix] == 0:
                    return f"{number // _BINARY[suffix]}{suffix}"
            for suffix in ("E", "P", "T", "G", "M", "k"):
                if number % 10 ** _DECIMAL[suffix] == 0:
                    return f"{number // 10 ** _DECIMAL[suffix]}{suffix}"
    return f"{text}e0"
