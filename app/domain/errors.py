"""Errors the domain raises and the routes turn into pages, status codes and field messages."""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Invalid(DomainError):
    """Bad input; `field` names the form field the message belongs on; `problems`, where they are in a
    text the user wrote (YAML gate problems, with line and column), for the editor to mark."""

    status = 422

    def __init__(self, message: str, *, field: str | None = None, errors: dict[str, str] | None = None,
                 problems: Sequence[object] = ()) -> None:
        super().__init__(message, field=field)
        self.errors = errors or ({field: message} if field else {})
        self.problems = list(problems)


class Conflict(DomainError):
    status = 409


class Unavailable(DomainError):
    """A dependency (the cluster) did not answer."""

    status = 503
