"""Paths inside a volume: a relative path from an ensemble or a store key never leaves its root.

`safe_join` is the one door from an untrusted relative path (an output's path, a key under a
downloaded prefix) to a host path: absolute paths, `..` that climbs out and symlinks leading out
are refused with `BadLocation`. `files_to_upload` walks what an upload sends, refusing symlinks
that lead out of it (an allocation could otherwise publish any file of the host).
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
from pathlib import Path

from nunet.storage.provider import BadLocation, StorageError, TooLarge


def safe_join(root: Path, relative: str, *, what: str = "path") -> Path:
    """`relative` (`/`-separated) under `root`, symlinks resolved; BadLocation when it is
    absolute, climbs out with `..`, or goes out through a symlink. `what` names it in errors."""
    if "\x00" in relative:
        raise BadLocation(f"{what} {relative!r} holds a NUL byte")
    if relative.startswith("/"):
        raise BadLocation(f"{what} {relative!r} is absolute; give a path relative to the volume")
    normal = posixpath.normpath(relative) if relative else "."
    if normal == ".." or normal.startswith("../"):
        raise BadLocation(f"{what} {relative!r} escapes the volume (..); stay inside it")
    base = root.resolve()
    joined = (base / normal).resolve()
    if not joined.is_relative_to(base):
        raise BadLocation(
            f"{what} {relative!r} leads out of the volume through a symlink (to {joined})"
        )
    return joined


@dataclasses.dataclass(frozen=True)
class UploadItem:
    """One file an upload sends and the location it goes to."""

    path: Path
    location: str
    size: int


def files_to_upload(source: Path, location: str) -> tuple[UploadItem, ...]:
    """What uploading `source` to `location` sends: the file itself (to `location`, or to
    `location<name>` when the location is a prefix ending in `/`), or each file under a
    directory to `location/<relative path>`, in key order. Symlinks are followed only while
    they stay inside the directory; symlinked directories are not descended into."""
    try:
        if source.is_file():
            target = location + source.name if location.endswith("/") else location
            return (UploadItem(source, target, source.stat().st_size),)
        if not source.is_dir():
            raise StorageError(f"cannot upload {source}: there is no such file or directory")
        prefix = location if location.endswith("/") else location + "/"
        root = source.resolve()
        items: list[UploadItem] = []
        for directory, _, names in os.walk(source, followlinks=False):
            for name in names:
                path = Path(directory) / name
                relative = path.relative_to(source).as_posix()
                if path.is_symlink():
                    real = path.resolve()
                    if not real.is_relative_to(root):
                        raise BadLocation(
                            f"cannot upload {path}: it is a symlink leading out of {source}"
                        )
                    if not real.is_file():
                        continue
                items.append(UploadItem(path, prefix + relative, path.stat().st_size))
    except OSError as error:
        raise StorageError(f"cannot upload {source}: {error}") from error
    return tuple(sorted(items, key=lambda item: item.location))


def check_upload_size(items: tuple[UploadItem, ...], location: str, max_bytes: int | None) -> int:
    """The upload's total size; TooLarge, before a byte is sent, when over `max_bytes`."""
    total = sum(item.size for item in items)
    if max_bytes is not None and total > max_bytes:
        raise TooLarge(
            f"{location}: the upload holds {total} bytes, over the limit of {max_bytes}; "
            "write less or raise the limit"
        )
    return total


def relative_key(prefix: str, location: str) -> str:
    """The part of `location` under the prefix `prefix` (which ends in `/`, or is empty)."""
    if not location.startswith(prefix):
        raise BadLocation(f"{location} is not under {prefix}")
    return location[len(prefix) :]
