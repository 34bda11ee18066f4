"""Anchors persisted as one JSON file per context (`<home>/cap/<context>.json`, mode 0600).

Writes are atomic (temp file, fsync, rename) and serialised by an advisory lock; readers notice a
change by the file's (inode, mtime_ns, size), so a running node sees what the CLI wrote.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from nunet.ucan.anchors import Anchors, AnchorStore
from nunet.ucan.errors import AnchorError

_CONTEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def anchor_path(home: Path, context: str) -> Path:
    """Where the anchors of `context` live under a node home."""
    if not _CONTEXT.fullmatch(context):
        raise AnchorError(
            f"{context!r} is not a context name: use letters, digits, '.', '_' or '-' (max 64)"
        )
    return home / "cap" / f"{context}.json"


class FileAnchorStore(AnchorStore):
    """Anchors in a JSON file, reloaded when the file changes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._anchors: Anchors | None = None
        self.snapshot()

    @classmethod
    def create(cls, path: Path, did: str) -> FileAnchorStore:
        """Write an empty anchor file for `did`; never replaces an existing one."""
        if path.exists():
            raise AnchorError(f"anchors already exist at {path}; they are never replaced")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _locked(path):
            if path.exists():
                raise AnchorError(f"anchors already exist at {path}; they are never replaced")
            _write(path, Anchors(did=did))
        return cls(path)

    @classmethod
    def open_or_create(cls, path: Path, did: str) -> FileAnchorStore:
        """The anchors at `path`, first writing an empty file for `did` if there is none."""
        return cls(path) if path.exists() else cls.create(path, did)

    @property
    def path(self) -> Path:
        return self._path

    def snapshot(self) -> Anchors:
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            raise AnchorError(
                f"no anchors at {self._path} (create them: nunet cap new {self._path.stem})"
            ) from None
        except OSError as exc:
            raise AnchorError(f"cannot read anchors at {self._path}: {exc}") from None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        anchors = self._anchors
        if stamp == self._stamp and anchors is not None:
            return anchors
        with self._lock:
            anchors = _read(self._path)
            self._anchors, self._stamp = anchors, stamp
            return anchors

    def update(self, change: Callable[[Anchors], Anchors]) -> Anchors:
        with _locked(self._path):
            after = change(_read(self._path))
            _write(self._path, after)
        return self.snapshot()


def _read(path: Path) -> Anchors:
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise AnchorError(
            f"no anchors at {path} (create them: nunet cap new {path.stem})"
        ) from None
    except (OSError, ValueError) as exc:
        raise AnchorError(f"anchor file {path} cannot be read: {exc}") from None
    return Anchors.from_json(document, str(path))


def _write(path: Path, anchors: Anchors) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(anchors.to_json(), fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    lock = path.with_name(f".{path.name}.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
