"""The one error type of the Kubernetes gateway, parsed from the API server's Status body."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Cause:
    """One entry of `Status.details.causes`: which field the server rejected, and why."""

    field: str
    reason: str
    message: str


@dataclass
class KubeError(Exception):
    """A Kubernetes API call failed. `status` is the HTTP status (0 for timeouts and network errors)."""

    status: int
    reason: str
    message: str
    causes: list[Cause] = field(default_factory=list)
    kind: str | None = None
    name: str | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.reason}: {self.message}"

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def forbidden(self) -> bool:
        return self.status == 403

    @property
    def invalid(self) -> bool:
        return self.status == 422

    @classmethod
    def from_response(cls, status: int, body: bytes | str | None, http_reason: str = "") -> KubeError:
        """Build from an HTTP status and a body that is usually a `Status` object."""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
        try:
            data: Any = json.loads(text) if text else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict) or data.get("kind") != "Status":
            return cls(status, http_reason or "Error", text.strip()[:500] or http_reason or f"HTTP {status}")
        details = data.get("details") or {}
        causes = [
            Cause(field=c.get("field", ""), reason=c.get("reason", ""), message=c.get("message", ""))
            for c in details.get("causes") or []
        ]
        return cls(
            status=int(data.get("code") or status),
            reason=data.get("reason") or http_reason or "Error",
            message=data.get("message") or text,
            causes=causes,
            kind=details.get("kind"),
            name=details.get("name"),
        )

    @classmethod
    def timeout(cls, what: str, seconds: float) -> KubeError:
        return cls(0, "Timeout", f"The Kubernetes API did not answer {what} within {seconds:g} s.")

    @classmethod
    def unreadable(cls, what: str, detail: str) -> KubeError:
        """A 2xx answer that is not a whole JSON object (a proxy's HTML page, a cut-off body)."""
        return cls(0, "Unreadable", f"The Kubernetes API answered {what} with something that is not a "
                                    f"Kubernetes object ({detail}). A proxy in between may have answered instead.")

    @classmethod
    def unreachable(cls, what: str, detail: str) -> KubeError:
        return cls(0, "Unreachable", f"The Kubernetes API could not be reached for {what}: {detail}")
