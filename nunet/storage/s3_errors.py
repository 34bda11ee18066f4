"""What an S3 failure means to the user: botocore's and aiohttp's exceptions as `StorageError`s
that name the location, the bucket or key at fault, and what to do about it."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from botocore import exceptions as boto  # type: ignore[import-untyped]

from nunet.storage.provider import (
    AccessDenied,
    ChecksumMismatch,
    NotFound,
    StorageError,
    TooLarge,
    TransferInterrupted,
)

MISSING_BUCKET = frozenset({"NoSuchBucket"})
MISSING_KEY = frozenset({"NoSuchKey", "NotFound", "404"})
REFUSED = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "AllAccessDisabled",
        "AccountProblem",
        "InvalidToken",
        "ExpiredToken",
        "InvalidClientTokenId",
        "403",
    }
)
CORRUPTED = frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "InvalidPart"})
CHANGED = frozenset({"PreconditionFailed", "412"})
TRANSIENT = frozenset(
    {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "503", "500"}
)


@functools.cache
def _cut_types() -> tuple[type[BaseException], ...]:
    """The exceptions of a connection that failed or was cut: trying again may well succeed.
    (aiohttp is imported here, when a provider is at work, not by every `nunet` command.)"""
    import aiohttp

    return (
        boto.HTTPClientError,  # ConnectionClosedError, ReadTimeoutError, ResponseStreamingError
        boto.EndpointConnectionError,
        boto.ConnectTimeoutError,
        boto.IncompleteReadError,
        aiohttp.ClientError,  # ClientPayloadError: a body cut short, which botocore lets through
        asyncio.TimeoutError,
        ConnectionError,
    )


def error_code(error: BaseException) -> str:
    """The S3 error code of a ClientError ("" for anything else)."""
    if isinstance(error, boto.ClientError):
        response: dict[str, Any] = error.response
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def is_cut(error: BaseException) -> bool:
    """Whether `error` is a connection that failed or was cut (worth resuming)."""
    return isinstance(error, _cut_types()) and not isinstance(error, boto.SSLError)


def storage_error(error: BaseException, label: str, bucket: str, key: str = "") -> StorageError:
    """`error`, raised while working on `label` (`s3://bucket/key`), as a StorageError."""
    if isinstance(error, StorageError):
        return error
    if isinstance(error, boto.ClientError):
        return _client_error(error, label, bucket, key)
    if isinstance(error, boto.NoCredentialsError | boto.PartialCredentialsError):
        return AccessDenied(
            f"{label}: no S3 credentials ({error}); set storage.s3.access_key and secret_key in "
            "the node config, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(error, boto.SSLError):
        return StorageError(f"{label}: TLS with the S3 endpoint failed: {error}")
    if is_cut(error):
        return TransferInterrupted(
            f"{label}: the connection to the S3 endpoint failed or was cut "
            f"({type(error).__name__}: {error}); nothing partial was kept, try again"
        )
    if isinstance(error, boto.ParamValidationError):
        return StorageError(f"{label}: the request was refused before sending: {error}")
    return StorageError(f"{label}: {type(error).__name__}: {error}")


def _client_error(error: Any, label: str, bucket: str, key: str) -> StorageError:
    code = error_code(error)
    message = str(error.response.get("Error", {}).get("Message", "")) or code
    if code in MISSING_BUCKET:
        return NotFound(f"{label}: bucket {bucket!r} does not exist")
    if code in MISSING_KEY:
        what = f"no object {key!r}" if key else "nothing"
        return NotFound(f"{label}: {what} in bucket {bucket!r}")
    if code in REFUSED:
        return AccessDenied(
            f"{label}: the S3 store refused the request ({code}: {message}); check "
            "storage.s3.access_key and secret_key (or the AWS environment) and that the key "
            f"may use bucket {bucket!r}"
        )
    if code in CORRUPTED:
        return ChecksumMismatch(f"{label}: the S3 store found the data corrupted ({code})")
    if code in CHANGED:
        return TransferInterrupted(
            f"{label}: the object changed while it was being transferred; try again"
        )
    if code == "EntityTooLarge":
        return TooLarge(f"{label}: the S3 store refused the object as too large ({message})")
    failure = StorageError(f"{label}: the S3 store answered {code}: {message}")
    if code in TRANSIENT:
        failure.retryable = True
    return failure
