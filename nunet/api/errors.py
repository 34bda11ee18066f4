"""How domain errors map onto HTTP answers: one JSON shape, `{"error": {"code", "message"}}`."""

from __future__ import annotations

from nunet.actor import ActorError, RemoteError

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


def describe(exc: ActorError) -> tuple[str, str]:
    if isinstance(exc, RemoteError):
        return exc.code, exc.remote_message
    return exc.code, str(exc)
