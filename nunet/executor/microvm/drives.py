"""The block devices a microVM gets: the job drive (a tar holding job.sh), one ext4 image per input
(read-only) and an empty ext4 image per output, copied back with debugfs after the run.

ext4 because the guest kernel has it built in and e2fsprogs (`mkfs.ext4 -d`, `debugfs rdump`)
build and read images without mounting anything on the host. Images are sparse files.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

from nunet.executor.errors import ExecutionFailed, ExecutorUnavailable

_MIB = 1 << 20
_BLOCK = 4096
OUTPUT_FLOOR = 16 * _MIB  # ext4 needs room for its own metadata: a small limit gets this much


def require_e2fsprogs() -> tuple[str, str]:
    """The paths of mkfs.ext4 and debugfs, or ExecutorUnavailable naming the missing one."""
    found = []
    for tool in ("mkfs.ext4", "debugfs"):
        path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
        if path is None:
            raise ExecutorUnavailable(
                f"the microVM executor needs {tool} (Debian package e2fsprogs) to build and read "
                "the drives of a VM: apt-get install e2fsprogs"
            )
        found.append(path)
    return found[0], found[1]


def write_job_drive(path: Path, files: dict[str, bytes]) -> None:
    """A tar of `files` (mode 0755): the guest's init unpacks it from the raw block device."""
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            archive.addfile(info, io.BytesIO(data))
    size = path.stat().st_size
    os.truncate(path, size + (-size % 512))  # block devices come in sectors


def _tree_size(source: Path) -> tuple[int, int]:
    """(bytes rounded up to blocks, entries) under `source` (a file or a directory)."""
    if source.is_file():
        return source.stat().st_size + _BLOCK, 1
    total, entries = 0, 0
    for root, dirs, files in os.walk(source):
        entries += len(dirs) + len(files)
        for name in files:
            size = os.lstat(os.path.join(root, name)).st_size
            total += size + (-size % _BLOCK)
    return total, entries


def build_input_image(mkfs: str, source: Path, image: Path, staging: Path) -> str:
    """An ext4 image holding `source` (a directory's contents, or one file); the file's name, or
    "" for a directory."""
    if not source.exists():
        raise ExecutionFailed(f"the input {source} does not exist on this node")
    file_name = ""
    tree = source
    if source.is_file():
        file_name = source.name
        tree = staging
        tree.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, tree / file_name)
        except OSError:  # another filesystem
            shutil.copy2(source, tree / file_name)
    data, entries = _tree_size(tree)
    size = data + entries * _BLOCK * 2 + 8 * _MIB
    _mkfs(mkfs, image, size + (-size % _MIB), tree)
    return file_name


def build_output_image(mkfs: str, image: Path, limit: int) -> None:
    """An empty ext4 image a little larger than `limit` (the guest hits ENOSPC past it)."""
    size = max(limit + limit // 16, OUTPUT_FLOOR)
    _mkfs(mkfs, image, size + (-size % _MIB), None)


def _mkfs(mkfs: str, image: Path, size: int, tree: Path | None) -> None:
    with open(image, "wb") as created:
        created.truncate(size)
    argv = [mkfs, "-q", "-F", "-O", "^has_journal", "-E", "lazy_itable_init=1,nodiscard"]
    if tree is not None:
        argv += ["-d", str(tree)]
    argv += [str(image)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ExecutionFailed(f"mkfs.ext4 could not build {image}: {done.stderr.strip()}")


def extract_outputs(debugfs: str, image: Path, into: Path) -> int:
    """Copy the output image's files into `into` (created); their total size in bytes."""
    into.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [debugfs, "-R", f"rdump / {into}", str(image)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise ExecutionFailed(f"the outputs could not be read from {image}: {done.stderr.strip()}")
    lost = into / "lost+found"
    if lost.is_dir() and not any(lost.iterdir()):
        lost.rmdir()
    return tree_bytes(into)


def tree_bytes(root: Path) -> int:
    """The size of the regular files under `root`."""
    total = 0
    for parent, _, files in os.walk(root):
        for name in files:
            status = os.lstat(os.path.join(parent, name))
            if not os.path.islink(os.path.join(parent, name)):
                total += status.st_size
    return total


def move_tree(source: Path, target: Path) -> None:
    """Move `source`'s entries into the directory `target`, replacing same-named ones."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        destination = target / entry.name
        if destination.is_dir() and not destination.is_symlink():
            if entry.is_dir():
                move_tree(entry, destination)
                continue
            shutil.rmtree(destination)
        elif destination.exists() or destination.is_symlink():
            destination.unlink()
        shutil.move(str(entry), str(destination))
