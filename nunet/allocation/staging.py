"""An allocation's data on its provider: inputs fetched before it starts, outputs published after.

Each allocation has its own directory of volumes, `<volume_dir>/<deployment>/<allocation>`:

* `in<i>`: input `i`, fetched once (a restart reuses it) and locked read-only; an object becomes
  one file (named after its mount target), a prefix ending in `/` a tree of files;
* `run<n>-out<i>`: output `i` of run `n`, empty when the run starts, mounted read-write at the
  output's path; its files are uploaded under the output's destination when the run's command
  ended by itself: always after exit code 0, and after a failure (a non-zero exit, a crash, a
  timeout) only for outputs marked `on_failure`.

The names depend only on the order and the run, so a node that restarts finds the volumes of the
allocations it adopts. A transfer the store reports as cut is tried again (`attempts` in all,
pausing `retry_seconds`, doubling); every fetch, upload and failure is an event naming the input
or output, its location, sizes and checksums. Nothing partial is presented as complete: a
download lands only once verified (the providers' contract), and an upload that fails leaves the
allocation failed, saying which output and what was published before the failure.
"""

from __future__ import annotations

import asyncio
import dataclasses
import posixpath
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from nunet.allocation.events import InputFetched, OutputPublished, TransferFailed
from nunet.allocation.protocol import InputOrder, OutputOrder, Published, StoredObject
from nunet.errors import NunetError
from nunet.eventlog import Event
from nunet.executor import Mount, OutputMount
from nunet.storage import (
    Checksum,
    Storage,
    StorageError,
    Transferred,
    VolumeController,
    parse_location,
)
from nunet.storage.locations import shorten

T = TypeVar("T")


class StagingFailed(NunetError):
    """An input could not be fetched or an output volume made; the message names which."""

    code = "staging-failed"


@dataclasses.dataclass(frozen=True)
class StorageAccess:
    """What the provider gives every allocation: the node's stores and where volumes live."""

    storage: Storage
    volume_dir: Path
    input_max_bytes: int | None = None
    output_max_bytes: int = 1 << 30
    attempts: int = 3
    retry_seconds: float = 1.0


def input_volume(index: int) -> str:
    return f"in{index}"


def output_volume(run: int, index: int) -> str:
    return f"run{run}-out{index}"


def published_objects(moved: Transferred) -> tuple[StoredObject, ...]:
    return tuple(
        StoredObject(
            location=o.location,
            size=o.size,
            checksum=str(o.checksum) if o.checksum is not None else "",
        )
        for o in moved.objects
    )


def should_publish(output: OutputOrder, *, succeeded: bool) -> bool:
    return succeeded or output.on_failure


class DataStage:
    """The volumes of one allocation. `record` appends an event to the node's log."""

    def __init__(
        self,
        access: StorageAccess,
        *,
        deployment: str,
        node: str,
        allocation: str,
        inputs: tuple[InputOrder, ...],
        outputs: tuple[OutputOrder, ...],
        record: Callable[[Event], None],
    ) -> None:
        self._access = access
        # What every event of this stage names.
        self._about = {"deployment": deployment, "node": node, "allocation": allocation}
        self._inputs = inputs
        self._outputs = outputs
        self._record = record
        self.volumes = VolumeController(access.volume_dir / deployment / allocation)
        self._mounts: tuple[Mount, ...] | None = None  # the inputs, once fetched

    @property
    def output_max_bytes(self) -> int:
        return self._access.output_max_bytes

    # -- inputs --------------------------------------------------------------------------------
    async def input_mounts(self) -> tuple[Mount, ...]:
        """Every input fetched (once) and locked, as read-only mounts; StagingFailed naming the
        first that could not be."""
        if self._mounts is None:
            mounts = []
            for index, wanted in enumerate(self._inputs):
                mounts.append(await self._fetch(index, wanted))
            self._mounts = tuple(mounts)
        return self._mounts

    async def _fetch(self, index: int, wanted: InputOrder) -> Mount:
        what = f"input {index} ({shorten(wanted.source)} -> {wanted.target})"
        name = input_volume(index)
        try:
            location = parse_location(wanted.source)
            checksum = Checksum.parse(wanted.checksum) if wanted.checksum else None
            if checksum is not None and location.is_prefix:
                raise StagingFailed(
                    f"{what}: a checksum is of one object, and {wanted.source} is a prefix"
                )
            await self.volumes.delete(name)  # a fetch cut short by a node restart
            volume = await self.volumes.create(name)
            target = (
                volume.path
                if location.is_prefix
                else volume.path / (posixpath.basename(wanted.target.rstrip("/")) or "input")
            )
            moved = await self._retrying(
                "input",
                index,
                wanted.source,
                lambda: self._access.storage.download(
                    wanted.source,
                    target,
                    checksum=checksum,
                    max_bytes=self._access.input_max_bytes,
                ),
            )
            await self.volumes.lock(name)
        except StorageError as exc:
            raise StagingFailed(f"{what}: {exc}") from None
        self._record(
            InputFetched(
                **self._about,
                index=index,
                source=shorten(wanted.source, 512),
                target=wanted.target,
                objects=published_objects(moved)[:100],
                count=len(moved.objects),
                size=moved.size,
            )
        )
        return Mount(source=str(target), target=wanted.target, read_only=True)

    # -- outputs -------------------------------------------------------------------------------
    async def output_mounts(self, run: int) -> tuple[OutputMount, ...]:
        """Fresh empty volumes for the outputs of run `run` (those of earlier runs removed)."""
        try:
            for name in await self.volumes.names():
                if name.startswith("run"):
                    await self.volumes.delete(name)
            mounts = []
            for index, output in enumerate(self._outputs):
                volume = await self.volumes.create(output_volume(run, index))
                mounts.append(OutputMount(source=str(volume.path), target=output.path))
        except StorageError as exc:
            raise StagingFailed(f"the output volumes of run {run}: {exc}") from None
        return tuple(mounts)

    async def publish(self, run: int, *, succeeded: bool) -> tuple[Published, ...]:
        """Upload the outputs of run `run` that are to be published; every output is tried,
        each result says what it moved or why it could not."""
        published = []
        budget = self._access.output_max_bytes
        for index, output in enumerate(self._outputs):
            if not should_publish(output, succeeded=succeeded):
                continue
            result = await self._upload(run, index, output, budget)
            budget -= result.size
            published.append(result)
        return tuple(published)

    async def _upload(self, run: int, index: int, output: OutputOrder, budget: int) -> Published:
        try:
            volume = await self.volumes.get(output_volume(run, index))
            moved = await self._retrying(
                "output",
                index,
                output.destination,
                lambda: self._access.storage.upload(
                    volume.path, output.destination, max_bytes=max(budget, 0)
                ),
            )
        except StorageError as exc:
            return Published(
                path=output.path,
                destination=output.destination,
                error=f"output {index} ({output.path} -> {output.destination}): {exc}",
            )
        objects = published_objects(moved)
        self._record(
            OutputPublished(
                **self._about,
                run=run,
                index=index,
                path=output.path,
                destination=output.destination,
                objects=objects[:100],
                count=len(objects),
                size=moved.size,
            )
        )
        return Published(path=output.path, destination=output.destination, objects=objects)

    # -- both ----------------------------------------------------------------------------------
    async def discard(self) -> None:
        """Remove every volume of the allocation, and its directory; StagingFailed naming the
        directory when one cannot be removed."""
        try:
            for name in await self.volumes.names():
                await self.volumes.delete(name)
        except StorageError as exc:
            raise StagingFailed(f"the volumes under {self.volumes.root}: {exc}") from None
        await asyncio.to_thread(_remove_empty, self.volumes.root)

    async def _retrying(
        self,
        direction: str,
        index: int,
        location: str,
        transfer: Callable[[], Awaitable[T]],
    ) -> T:
        attempts = self._access.attempts
        for attempt in range(1, attempts + 1):
            try:
                return await transfer()
            except StorageError as exc:
                last = attempt == attempts or not exc.retryable
                self._record(
                    TransferFailed(
                        **self._about,
                        direction=direction,
                        index=index,
                        location=shorten(location, 512),
                        attempt=attempt,
                        retrying=not last,
                        code=exc.code,
                        reason=str(exc)[:1024],
                    )
                )
                if last:
                    raise
                await asyncio.sleep(self._access.retry_seconds * 2 ** (attempt - 1))
        raise AssertionError("unreachable: the last attempt raises")


def _remove_empty(root: Path) -> None:
    for directory in (root, root.parent):
        try:
            directory.rmdir()
        except OSError:
            return
