"""How `nunet://bucket/key` maps onto JetStream's object store: subjects, digests, times.

Pure: no I/O. The layout and the digest format are the NATS object store's (ADR-20), so what
this provider writes is read by any NATS client (`nats object get`, nats-py) and back.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime

from nunet.storage.provider import Checksum

_DIGEST_PREFIX = "SHA-256="
_FRACTION = re.compile(r"(\.\d{6})\d+")  # Go writes nanoseconds; Python parses microseconds


def stream_name(bucket: str) -> str:
    return f"OBJ_{bucket}"


def chunk_subject(bucket: str, nuid: str) -> str:
    return f"$O.{bucket}.C.{nuid}"


def meta_subject(bucket: str, key: str) -> str:
    encoded = base64.urlsafe_b64encode(key.encode()).decode()
    return f"$O.{bucket}.M.{encoded}"


def digest_text(sha256: bytes) -> str:
    """The object store's digest field for a SHA-256 digest."""
    return _DIGEST_PREFIX + base64.urlsafe_b64encode(sha256).decode()


def digest_checksum(text: str | None) -> Checksum | None:
    """`SHA-256=<base64url>` as a `sha256:<hex>` checksum; None when absent or unreadable."""
    if not text or not text.upper().startswith(_DIGEST_PREFIX):
        return None
    try:
        raw = base64.urlsafe_b64decode(text[len(_DIGEST_PREFIX) :])
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 32:
        return None
    return Checksum("sha256", raw.hex())


def parse_mtime(text: str | None) -> float:
    """An object's RFC 3339 modification time as epoch seconds; 0.0 when absent or unreadable."""
    if not text:
        return 0.0
    try:
        return datetime.fromisoformat(_FRACTION.sub(r"\1", text)).timestamp()
    except ValueError:
        return 0.0
