"""A writer of "newc" cpio archives, the format Linux unpacks as an initramfs.

Pure Python and streaming: entries are written as they come (from an image's exported tar, from
generated files), so no `cpio` binary is needed. Archives concatenate: the kernel unpacks each in
turn over the same root.
"""

from __future__ import annotations

import stat
from typing import IO, BinaryIO

_MAGIC = b"070701"
_TRAILER = "TRAILER!!!"


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)


class CpioWriter:
    """Appends entries to `out`; `close()` writes the trailer. Inode numbers are assigned here."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._next_ino = 1
        self.written = 0

    def _header(
        self,
        name: str,
        *,
        mode: int,
        size: int,
        ino: int,
        nlink: int = 1,
        uid: int = 0,
        gid: int = 0,
        mtime: int = 0,
        rdev: tuple[int, int] = (0, 0),
    ) -> None:
        encoded = name.encode() + b"\0"
        fields = (ino, mode, uid, gid, nlink, mtime, size, 0, 0, rdev[0], rdev[1], len(encoded), 0)
        header = _MAGIC + b"".join(b"%08X" % (value & 0xFFFFFFFF) for value in fields)
        self._emit(header + encoded + _pad(len(header) + len(encoded)))

    def _emit(self, data: bytes) -> None:
        self._out.write(data)
        self.written += len(data)

    def new_inode(self) -> int:
        ino = self._next_ino
        self._next_ino += 1
        return ino

    def directory(self, name: str, *, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
        self._header(
            name,
            mode=stat.S_IFDIR | (mode & 0o7777),
            size=0,
            ino=self.new_inode(),
            nlink=2,
            uid=uid,
            gid=gid,
        )

    def file(
        self,
        name: str,
        data: bytes,
        *,
        mode: int = 0o644,
        uid: int = 0,
        gid: int = 0,
        ino: int | None = None,
    ) -> int:
        """A regular file; returns its inode so a later `hardlink` can name it."""
        ino = self.new_inode() if ino is None else ino
        # nlink 2 lets the kernel remember the inode for later hard links to it.
        self._header(
            name,
            mode=stat.S_IFREG | (mode & 0o7777),
            size=len(data),
            ino=ino,
            nlink=2,
            uid=uid,
            gid=gid,
        )
        self._emit(data + _pad(len(data)))
        return ino

    def stream_file(
        self,
        name: str,
        source: IO[bytes],
        size: int,
        *,
        mode: int = 0o644,
        uid: int = 0,
        gid: int = 0,
    ) -> int:
        """A regular file of `size` bytes read from `source` in chunks (large image files)."""
        ino = self.new_inode()
        self._header(
            name, mode=stat.S_IFREG | (mode & 0o7777), size=size, ino=ino, nlink=2, uid=uid, gid=gid
        )
        left = size
        while left:
            chunk = source.read(min(left, 1 << 20))
            if not chunk:
                raise EOFError(f"{name}: the archive ended {left} bytes early")
            self._emit(chunk)
            left -= len(chunk)
        self._emit(_pad(size))
        return ino

    def hardlink(
        self, name: str, ino: int, *, mode: int = 0o644, uid: int = 0, gid: int = 0
    ) -> None:
        """Another name for the file written with inode `ino` (no data: the kernel links it)."""
        self._header(
            name, mode=stat.S_IFREG | (mode & 0o7777), size=0, ino=ino, nlink=2, uid=uid, gid=gid
        )

    def symlink(self, name: str, target: str, *, uid: int = 0, gid: int = 0) -> None:
        data = target.encode()
        self._header(
            name, mode=stat.S_IFLNK | 0o777, size=len(data), ino=self.new_inode(), uid=uid, gid=gid
        )
        self._emit(data + _pad(len(data)))

    def device(self, name: str, *, char: bool, major: int, minor: int, mode: int = 0o600) -> None:
        kind = stat.S_IFCHR if char else stat.S_IFBLK
        self._header(
            name, mode=kind | (mode & 0o7777), size=0, ino=self.new_inode(), rdev=(major, minor)
        )

    def fifo(self, name: str, *, mode: int = 0o644) -> None:
        self._header(name, mode=stat.S_IFIFO | (mode & 0o7777), size=0, ino=self.new_inode())

    def close(self) -> None:
        self._header(_TRAILER, mode=0, size=0, ino=0, nlink=1)
