"""One JSON error shape for the whole API: ``{"error": {"status": 404, "code": "...", "message": "..."}}``."""

from __future__ import annotations

from fastapi import HTTPException


class ApiError(HTTPException):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status_code=status, detail=message)
        self.code = code


def error_body(status: int, code: str, message: str, **extra: object) -> dict[str, object]:
    return {"error": {"status": status, "code": code, "message": message, **extra}}
