"""How a large upload is cut into S3 parts, and a part's bytes read straight from the file.

S3 takes at most 10,000 parts per object, each at least 5 MiB except the last and at most
5 GiB, and objects up to 5 TiB. `plan_parts` keeps to those rules with the preferred part size
where it can and larger whole-MiB parts where the object needs them. `PartReader` lets botocore
stream a part from the file (hash it, then send it) without the part ever being held in memory.
"""

from __future__ import annotations

import dataclasses
import io
import os
from typing import TYPE_CHECKING

from nunet.storage.provider import StorageError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MIB = 1 << 20
MIN_PART_BYTES = 5 * MIB
PART_BYTES = 8 * MIB
MAX_PARTS = 10_000
MAX_PART_BYTES = 5 << 30
MAX_OBJECT_BYTES = 5 << 40


@dataclasses.dataclass(frozen=True)
class Part:
    """Part `number` (from 1) is `length` bytes of the file from `offset`."""

    number: int
    offset: int
    length: int


def part_size_for(size: int, preferred: int = PART_BYTES) -> int:
    """The part size for an object of `size` bytes: `preferred`, or the smallest whole number
    of MiB that fits the object in MAX_PARTS parts."""
    if not MIN_PART_BYTES <= preferred <= MAX_PART_BYTES:
        raise ValueError(f"a part is {MIN_PART_BYTES} to {MAX_PART_BYTES} bytes, not {preferred}")
    if size > MAX_OBJECT_BYTES:
        raise ValueError(f"an S3 object holds at most {MAX_OBJECT_BYTES} bytes, not {size}")
    needed = -(-size // MAX_PARTS)
    return preferred if needed <= preferred else -(-needed // MIB) * MIB


def plan_parts(size: int, preferred: int = PART_BYTES) -> list[Part]:
    """The parts of an object of `size` (> 0) bytes, in order, covering every byte once."""
    if size <= 0:
        raise ValueError(f"only a non-empty object has parts, not one of {size} bytes")
    step = part_size_for(size, preferred)
    return [
        Part(number, offset, min(step, size - offset))
        for number, offset in enumerate(range(0, size, step), start=1)
    ]


class SourceChanged(StorageError):
    """The file being uploaded changed (grew shorter, was rewritten) during the upload."""

    code = "source-changed"


class PartReader(io.RawIOBase):
    """A read-only, seekable view of `part` in the open file `fd` (not closed here). Reads go
    through `pread`, so several parts of one file can be read at once."""

    def __init__(self, fd: int, part: Part, label: str) -> None:
        super().__init__()
        self._fd = fd
        self._part = part
        self._label = label
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def __len__(self) -> int:
        return self._part.length - self._position

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._part.length}
        if whence not in base:
            raise ValueError(f"whence {whence} is not SEEK_SET, SEEK_CUR or SEEK_END")
        self._position = max(0, min(self._part.length, base[whence] + offset))
        return self._position

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self._part.length - self._position)
        if wanted <= 0:
            return 0
        got = os.preadv(self._fd, [view[:wanted]], self._part.offset + self._position)
        if got == 0:
            raise SourceChanged(
                f"{self._label}: the file ended {self._part.offset + self._position} bytes in, "
                "before its size when the upload began; it changed while being uploaded"
            )
        self._position += got
        return got
