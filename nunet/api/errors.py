"""How domain errors map onto HTTP answers: one JSON shape, `{"error": {"code", "message"}}`."""

from __future__ import annotations

import re

from nunet.actor import RemoteError
from nunet.errors import NunetError

_STATUS_BY_CODE = {
    "unauthorized": 403,
    "unknown-actor": 404,
    "unknown-behavior": 404,
    "invalid-payload": 400,
    "invalid-request": 400,
    "timeout": 504,
    "rate-limited": 429,
    "expired": 400,
    "behavior-failed": 422,
}


def status_for(code: str) -> int:
    return _STATUS_BY_CODE.get(code, 502)


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def describe(exc: NunetError) -> tuple[str, str]:
    """(code, message) of a domain error; errors without a code get their class name in kebab case."""
    if isinstance(exc, RemoteError):
        return exc.code, exc.remote_message
    code = getattr(exc, "code", None)
    if not isinstance(code, str):
        code = re.sub(r"(?<!^)(?=[A-Z])", "-", type(exc).__name__).lower()
    return code, str(exc)
