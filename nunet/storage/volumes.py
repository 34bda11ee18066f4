"""Volumes: the directories on this machine that hold an allocation's inputs and outputs.

A volume is a directory under the controller's root, named after what it holds. Inputs are
fetched into one and then locked read-only (every write bit cleared, recursively) before the
executor mounts it (`Volume.mount`: a Docker bind mount, a microVM drive); outputs are written
into an unlocked one and uploaded after the execution. The lock lives on disk (the mode bits),
so a restarted node sees which volumes are locked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

from nunet.executor.spec import Mount
from nunet.storage.paths import safe_join
from nunet.storage.provider import StorageError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


class VolumeError(StorageError):
    """A volume that cannot be created, found, locked or removed."""

    code = "volume-error"


@dataclasses.dataclass(frozen=True)
class Volume:
    """A volume as it is on disk now."""

    name: str
    path: Path
    read_only: bool

    def mount(self, target: str) -> Mount:
        """This volume at `target` inside the execution (read-only when locked)."""
        if not target.startswith("/"):
            raise VolumeError(f"mount target {target!r} of volume {self.name!r} is not absolute")
        return Mount(source=str(self.path), target=target, read_only=self.read_only)


class VolumeController:
    """Creates, locks, measures and deletes the volumes under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, name: str) -> Path:
        if not isinstance(name, str) or not _NAME.match(name):
            raise VolumeError(
                f"{name!r} is not a volume name: 1-128 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        return self.root / name

    async def create(self, name: str) -> Volume:
        """A new empty volume; VolumeError if one of that name exists."""
        path = self.path_of(name)

        def make() -> None:
            self.root.mkdir(parents=True, exist_ok=True)
            path.mkdir(mode=0o755)

        try:
            await asyncio.to_thread(make)
        except FileExistsError:
            raise VolumeError(f"volume {name!r} exists already ({path})") from None
        except OSError as error:
            raise VolumeError(f"cannot create volume {name!r} at {path}: {error}") from error
        return Volume(name, path, read_only=False)

    async def get(self, name: str) -> Volume:
        path = self.path_of(name)
        try:
            mode = (await asyncio.to_thread(path.lstat)).st_mode
        except FileNotFoundError:
            raise VolumeError(f"there is no volume {name!r} (under {self.root})") from None
        if not stat.S_ISDIR(mode):
            raise VolumeError(f"volume {name!r} at {path} is not a directory")
        return Volume(name, path, read_only=not mode & _WRITE_BITS)

    async def names(self) -> tuple[str, ...]:
        def scan() -> tuple[str, ...]:
            if not self.root.is_dir():
                return ()
            return tuple(sorted(p.name for p in self.root.iterdir() if _NAME.match(p.name)))

        return await asyncio.to_thread(scan)

    def inside(self, volume: Volume, relative: str) -> Path:
        """A path under the volume; BadLocation when `relative` escapes it."""
        return safe_join(volume.path, relative, what=f"path in volume {volume.name!r}")

    async def lock(self, name: str) -> Volume:
        """Clear every write bit under the volume (its directories too), without following
        symlinks: the inputs it holds are read-only from now on."""
        volume = await self.get(name)
        await asyncio.to_thread(_chmod_tree, volume.path, lambda mode: mode & ~_WRITE_BITS)
        return dataclasses.replace(volume, read_only=True)

    async def unlock(self, name: str) -> Volume:
        """Let the owner write again (directories and files get u+w)."""
        volume = await self.get(name)
        await asyncio.to_thread(_chmod_tree, volume.path, lambda mode: mode | stat.S_IWUSR)
        return dataclasses.replace(volume, read_only=False)

    async def size(self, name: str) -> int:
        """The bytes of the regular files under the volume (symlinks not followed)."""
        volume = await self.get(name)
        return await asyncio.to_thread(_tree_size, volume.path)

    async def delete(self, name: str) -> None:
        """Remove the volume and everything in it, locked or not; a missing one is no error."""
        path = self.path_of(name)
        if not await asyncio.to_thread(os.path.lexists, path):
            return

        def remove() -> None:
            if path.is_symlink() or not path.is_dir():
                path.unlink()
                return
            _chmod_tree(path, lambda mode: mode | stat.S_IWUSR, files=False)
            shutil.rmtree(path)

        try:
            await asyncio.to_thread(remove)
        except OSError as error:
            raise VolumeError(f"cannot delete volume {name!r} at {path}: {error}") from error


def _chmod_tree(root: Path, change: Callable[[int], int], *, files: bool = True) -> None:
    for directory, dirs, names in os.walk(root, followlinks=False):
        entries = [Path(directory) / n for n in names] if files else []
        entries += [Path(directory) / d for d in dirs if not (Path(directory) / d).is_symlink()]
        for entry in entries:
            mode = entry.lstat().st_mode
            if stat.S_ISLNK(mode):
                continue
            os.chmod(entry, change(stat.S_IMODE(mode)))
    os.chmod(root, change(stat.S_IMODE(root.lstat().st_mode)))


def _tree_size(root: Path) -> int:
    total = 0
    for directory, _, names in os.walk(root, followlinks=False):
        for name in names:
            info = (Path(directory) / name).lstat()
            if stat.S_ISREG(info.st_mode):
                total += info.st_size
    return total
