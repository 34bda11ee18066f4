"""The storage provider interface: where an allocation's inputs come from and its outputs go.

A provider moves whole objects between a store and a local path (a file, or a directory, which
is transferred as its files under a prefix). It streams (never holds a whole object in memory),
verifies integrity (a checksum it computes while streaming, compared with the expected one and
with the store's own), resumes or splits large transfers where the store allows it (multipart
uploads, ranged downloads) and reports progress.

A download writes to a temporary file beside the target and renames it into place only once
it is complete and verified: a cut transfer or a checksum mismatch never leaves a partial file
that looks complete.

Locations are URIs: `s3://bucket/key`, `nunet://bucket/key` (the swarm's JetStream object
store), `https://host/path` (download only), `inline:<base64>` or `inline:text,<text>`
(download only: a small literal input).
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from nunet.errors import NunetError

ProgressCallback = Callable[["Progress"], None]


class StorageError(NunetError):
    """A storage operation failed; the message names the location and what went wrong."""

    code = "storage-error"
    retryable = False  # whether trying again may succeed (a transfer cut mid-way: yes)


class NotFound(StorageError):
    """The bucket or the object does not exist."""

    code = "not-found"


class AccessDenied(StorageError):
    """The store refused the credentials."""

    code = "access-denied"


class ChecksumMismatch(StorageError):
    """What arrived is not what was expected; nothing was written in place."""

    code = "checksum-mismatch"


class TransferInterrupted(StorageError):
    """The connection was cut mid-transfer; nothing partial was presented as complete."""

    code = "transfer-interrupted"
    retryable = True


class TooLarge(StorageError):
    """An object or an output over its size limit."""

    code = "too-large"


class BadLocation(StorageError):
    """A location that is malformed, of an unknown scheme, or escapes its volume (`../`)."""

    code = "bad-location"


@dataclasses.dataclass(frozen=True)
class Checksum:
    """`sha256:<hex>` (the default everywhere) or `md5:<hex>`."""

    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> Checksum:
        algorithm, sep, digest = text.partition(":")
        if not sep or algorithm not in ("sha256", "md5") or not digest:
            raise BadLocation(f"{text!r} is not a checksum; write sha256:<hex> or md5:<hex>")
        try:
            bytes.fromhex(digest)
        except ValueError:
            raise BadLocation(f"{text!r}: {digest!r} is not hexadecimal") from None
        return cls(algorithm, digest.lower())

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


@dataclasses.dataclass(frozen=True)
class ObjectInfo:
    """One object in a store."""

    location: str  # its full URI
    size: int  # bytes
    checksum: Checksum | None = None  # sha256 when the store keeps one
    modified: float = 0.0  # wall-clock seconds; 0: unknown


@dataclasses.dataclass(frozen=True)
class Progress:
    """How far a transfer is: `done` of `total` bytes (`total` 0 when not known yet)."""

    location: str
    done: int
    total: int


@dataclasses.dataclass(frozen=True)
class Transferred:
    """What a finished transfer moved: the objects and their sizes and checksums."""

    objects: tuple[ObjectInfo, ...]

    @property
    def size(self) -> int:
        return sum(o.size for o in self.objects)


class StorageProvider(abc.ABC):
    """One kind of store. `schemes` are the URI schemes it serves; `writable` whether it takes
    uploads. Every method raises a `StorageError` subclass naming the location."""

    schemes: tuple[str, ...] = ()
    writable: bool = True

    @abc.abstractmethod
    async def download(
        self,
        location: str,
        target: Path,
        *,
        checksum: Checksum | None = None,
        max_bytes: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transferred:
        """The object at `location` to the file `target` (a location ending in `/`: every
        object under that prefix to files under the directory `target`)."""

    @abc.abstractmethod
    async def upload(
        self,
        source: Path,
        location: str,
        *,
        max_bytes: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transferred:
        """The file `source` to `location` (a directory: each file under it to
        `location/<relative path>`)."""

    @abc.abstractmethod
    async def size(self, location: str) -> int:
        """The object's size in bytes (a prefix ending in `/`: of everything under it)."""

    @abc.abstractmethod
    def list(self, location: str) -> AsyncIterator[ObjectInfo]:
        """The objects under a prefix, in key order."""

    @abc.abstractmethod
    async def delete(self, location: str) -> None:
        """Remove the object (a prefix ending in `/`: everything under it). Deleting what is
        not there is not an error."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections and clients (idempotent)."""
