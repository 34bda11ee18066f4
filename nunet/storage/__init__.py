"""Storage: where an allocation's inputs come from and its outputs go, and the volumes that
hold them on the machine.

Public names are re-exported here; the modules behind them are private.
"""

from nunet.storage.inline import InlineProvider
from nunet.storage.jetstream import JetStreamProvider
from nunet.storage.jetstream_config import JetStreamStoreConfig
from nunet.storage.locations import Location, parse_location
from nunet.storage.paths import UploadItem, check_upload_size, files_to_upload, safe_join
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
from nunet.storage.s3 import S3Provider
from nunet.storage.s3_config import S3Config
from nunet.storage.storage import Storage
from nunet.storage.streaming import (
    WINDOW_BYTES,
    AtomicFile,
    Claim,
    Digests,
    ProgressMeter,
    file_checksum,
    read_chunks,
)
from nunet.storage.url import UrlProvider
from nunet.storage.volumes import Volume, VolumeController, VolumeError

__all__ = [
    "WINDOW_BYTES",
    "AccessDenied",
    "AtomicFile",
    "BadLocation",
    "Checksum",
    "ChecksumMismatch",
    "Claim",
    "Digests",
    "InlineProvider",
    "JetStreamProvider",
    "JetStreamStoreConfig",
    "Location",
    "NotFound",
    "ObjectInfo",
    "Progress",
    "ProgressCallback",
    "ProgressMeter",
    "S3Config",
    "S3Provider",
    "Storage",
    "StorageError",
    "StorageProvider",
    "TooLarge",
    "TransferInterrupted",
    "Transferred",
    "UploadItem",
    "UrlProvider",
    "Volume",
    "VolumeController",
    "VolumeError",
    "check_upload_size",
    "file_checksum",
    "files_to_upload",
    "parse_location",
    "read_chunks",
    "safe_join",
]
