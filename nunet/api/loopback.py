"""ASGI middleware: the local API answers only this machine (loopback TCP or its Unix socket)."""

from __future__ import annotations

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


class LoopbackOnly:
    """Refuses every request whose peer is not on this machine, before any route runs."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and not is_local_client(scope.get("client")):
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] == "http" and not is_local_client(scope.get("client")):
            body = json.dumps(
                {
                    "error": {
                        "code": "forbidden",
                        "message": f"the local API answers only this machine, not {scope['client'][0]}",
                    }
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self._app(scope, receive, send)
