"""Errors of the ILL service layer; the API and the pages turn them into 4xx answers or form messages."""

from __future__ import annotations


class IllError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(IllError):
    status, code = 404, "not_found"


class Forbidden(IllError):
    status, code = 403, "forbidden"


class Conflict(IllError):
    """Someone else changed the request first (optimistic locking), or the state no longer allows it."""

    status, code = 409, "conflict"


class InvalidTransition(IllError):
    status, code = 409, "invalid_transition"


class Invalid(IllError):
    status, code = 422, "invalid_parameter"


class TooLarge(IllError):
    status, code = 413, "too_large"
