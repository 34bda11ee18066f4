"""Storage: where an allocation's inputs come from and its outputs go, and the volumes that
hold them on the machine.

Public names are re-exported here; the modules behind them are private.
"""

from nunet.storage.inline import InlineProvider
from nunet.storage.locations import Location, parse_location
from nunet.storage.provider import (
    AccessDenied,
    BadLocation,
    Checksum,
    ChecksumMismatch,
    NotFound,
    ObjectInfo,
    Progress,
    ProgressCallback,
    StorageError,
    StorageProvider,
    TooLarge,
    TransferInterrupted,
    Transferred,
)
from nunet.storage.streaming import AtomicFile
from nunet.storage.url import UrlProvider

__all__ = [
    "AccessDenied",
    "AtomicFile",
    "BadLocation",
    "Checksum",
    "ChecksumMismatch",
    "InlineProvider",
    "Location",
    "NotFound",
    "ObjectInfo",
    "Progress",
    "ProgressCallback",
    "StorageError",
    "StorageProvider",
    "TooLarge",
    "TransferInterrupted",
    "Transferred",
    "UrlProvider",
    "parse_location",
]
