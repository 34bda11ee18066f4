"""The local API: REST over loopback TCP and a Unix socket, answering only this machine.

Names load on first use, so that a CLI command that only talks to a node (the client, httpx)
does not pay for importing the server side (FastAPI, uvicorn): about half a second per command.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nunet.api.access import LocalAccess, is_local_client
    from nunet.api.app import create_app
    from nunet.api.client import ApiClient, ApiError, find_api
    from nunet.api.prefix import API_PREFIX
    from nunet.api.server import ApiServer

_WHERE = {
    "API_PREFIX": "nunet.api.prefix",
    "ApiClient": "nunet.api.client",
    "ApiError": "nunet.api.client",
    "find_api": "nunet.api.client",
    "ApiServer": "nunet.api.server",
    "LocalAccess": "nunet.api.access",
    "is_local_client": "nunet.api.access",
    "create_app": "nunet.api.app",
}

__all__ = [
    "API_PREFIX",
    "ApiClient",
    "ApiError",
    "ApiServer",
    "LocalAccess",
    "create_app",
    "find_api",
    "is_local_client",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'nunet.api' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
