"""The local API: REST over loopback TCP and a Unix socket, answering only this machine."""

from nunet.api.access import LocalAccess, is_local_client
from nunet.api.app import API_PREFIX, create_app
from nunet.api.client import ApiClient, ApiError, find_api
from nunet.api.server import ApiServer

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
