"""ASGI middleware: who may use the local API.

Only this machine: a client must come over the node's Unix socket (guarded by the socket file's
mode, 0600) or from a loopback address. A loopback TCP client must also present the API token
the node wrote to `<home>/api.json` (mode 0600), because loopback is shared by every user of the
machine while the socket is not.
"""

from __future__ import annotations

import hmac
import ipaddress
import json

from starlette.types import ASGIApp, Receive, Scope, Send


def is_local_client(client: tuple[str, int] | list[object] | None) -> bool:
    """True for loopback TCP peers and for Unix-socket peers (which have no address)."""
    if not client or not client[0]:
        return True
    try:
        return ipaddress.ip_address(str(client[0])).is_loopback
    except ValueError:
        return False


def is_socket_client(client: tuple[str, int] | list[object] | None) -> bool:
    return not client or not client[0]


class LocalAccess:
    """Refuses, before any route runs, every request that is not from this machine's owner."""

    def __init__(self, app: ASGIApp, *, token: str | None) -> None:
        self._app = app
        self._token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is None:
            await self._app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            status, code, message = refusal
            body = json.dumps({"error": {"code": code, "message": message}}).encode()
            headers = [(b"content-type", b"application/json")]
            if status == 401:
                headers.append((b"www-authenticate", b'Bearer realm="nunet"'))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

    def _refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        client = scope.get("client")
        if not is_local_client(client):
            return (
                403,
                "forbidden",
                f"the local API answers only this machine, not {client[0] if client else '?'}",
            )
        if self._token is None or is_socket_client(client):
            return None
        presented = b""
        for name, value in scope.get("headers", ()):
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                presented = value[7:].strip()
        if not hmac.compare_digest(presented, self._token):
            return (
                401,
                "unauthenticated",
                "over TCP the local API needs its token (Authorization: Bearer ...), which the "
                "node writes to <home>/api.json; the nunet CLI reads it for you",
            )
        return None
