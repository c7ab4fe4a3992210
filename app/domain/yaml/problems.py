"""The YAML gate's limits and what it answers: a `Problem` on a line, a checked `Manifest`, a `GateResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from app.i18n import _

# ---------------------------------------------------------------------------------------------------
# Limits and kinds

MAX_BYTES = 256 * 1024  # per text, and for all files of one upload together
MAX_DOCUMENTS = 50  # per text, and for all files of one upload together
MAX_DEPTH = 64  # nested mappings/sequences; real manifests stay under 20
MAX_NODES = 100_000  # scalars + collections per text; 256 KiB of real manifests is ~40 000
MAX_KEY_CHARS = 1024  # label keys are at most 317 characters, ConfigMap keys 253
MAX_PROBLEMS = 50  # stop reading after this many; the user fixes these first


# ---------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason the input was refused.

    `document` is 1-based within `source` (every `---` counts, empty documents included); 0 means the
    input as a whole (size, encoding, nothing found). `line`/`column` are 1-based, None when the
    problem has no single place. `path` names the field, e.g. "spec.ports[0].port".
    """

    source: str
    document: int
    line: int | None
    column: int | None
    message: str
    path: str | None = None

    def where(self) -> str:
        parts: list[str] = []
        if self.source:
            parts.append(self.source)
        if self.document:
            parts.append(_("document {n}").format(n=self.document))
        if self.line is not None:
            parts.append(_("line {line}").format(line=self.line))
            if self.column is not None:
                parts.append(_("column {column}").format(column=self.column))
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message


@dataclass(slots=True)
class Manifest:
    """One object the gate accepted: a fresh plain dict, plus where it came from (1-based)."""

    obj: dict[str, Any]
    document: int
    line: int
    source: str = ""

    @property
    def kind(self) -> str:
        return cast(str, self.obj["kind"])  # the gate accepted only text

    @property
    def name(self) -> str:
        return cast(str, self.obj["metadata"]["name"])


@dataclass(slots=True)
class GateResult:
    """All or nothing: `objects` is empty whenever `problems` is not."""

    objects: list[Manifest] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems
