"""Errors the domain raises and the routes turn into pages, status codes and field messages."""

from __future__ import annotations


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
    """Bad input; `field` names the form field the message belongs on."""

    status = 422

    def __init__(self, message: str, *, field: str | None = None, errors: dict[str, str] | None = None) -> None:
        super().__init__(message, field=field)
        self.errors = errors or ({field: message} if field else {})


class Conflict(DomainError):
    status = 409


class Unavailable(DomainError):
    """A dependency (the cluster) did not answer."""

    status = 503
