"""What a nats-py failure means for a storage operation, as a `StorageError` naming the location."""

from __future__ import annotations

import asyncio

import nats.errors
import nats.js.errors as js_errors

from nunet.storage.provider import (
    AccessDenied,
    ChecksumMismatch,
    NotFound,
    StorageError,
    TransferInterrupted,
)

# The connection went away or the server stopped answering: trying again may succeed.
_CUT = (
    asyncio.TimeoutError,
    nats.errors.ConnectionClosedError,
    nats.errors.NoServersError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.ConnectionDrainingError,
    js_errors.NoStreamResponseError,
    js_errors.ServiceUnavailableError,
    ConnectionError,
)


def storage_error(exc: BaseException, location: str, doing: str) -> StorageError:
    """`exc`, raised while `doing` (e.g. "downloading") `location`, as the error to raise."""
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, js_errors.BucketNotFoundError):
        return NotFound(f"{location}: the bucket does not exist in the swarm store")
    if isinstance(exc, js_errors.NotFoundError):  # object not found, deleted, or no stream
        return NotFound(f"{location}: no such object in the swarm store")
    if isinstance(exc, js_errors.DigestMismatchError):
        return ChecksumMismatch(f"{location}: the data does not match the store's SHA-256 digest")
    if isinstance(exc, nats.errors.AuthorizationError) or _is_permission(exc):
        return AccessDenied(
            f"{location}: the NATS server refused the credentials while {doing}; "
            "check the token (the node's mesh.json) or the account's permissions"
        )
    if isinstance(exc, _CUT):
        what = type(exc).__name__
        return TransferInterrupted(
            f"{location}: the connection to the swarm store was cut while {doing} ({what}); "
            "nothing partial was kept, try again"
        )
    detail = str(exc) or type(exc).__name__
    return StorageError(f"{location}: the swarm store failed while {doing}: {detail}")


def _is_permission(exc: BaseException) -> bool:
    if isinstance(exc, js_errors.APIError):
        return exc.code == 403
    return "permissions violation" in str(exc).lower()
