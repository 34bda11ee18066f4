"""An allocation's data stage against real stores: inline literals and a real HTTP server for
inputs, a real local JetStream object store for outputs (both streamed, verified, recorded)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from nunet.allocation.events import InputFetched, OutputPublished, TransferFailed
from nunet.allocation.protocol import InputOrder, OutputOrder
from nunet.allocation.staging import DataStage, StagingFailed, StorageAccess
from nunet.eventlog import Event
from nunet.storage import InlineProvider, JetStreamProvider, NotFound, Storage, UrlProvider
from tests.storage.http_server import FileServer, Request
from tests.support.nats import NatsProcess, nats_server


@dataclass
class Stage:
    access: StorageAccess
    http: FileServer
    store: JetStreamProvider
    events: list[Event] = field(default_factory=list)

    def make(
        self, inputs: tuple[InputOrder, ...] = (), outputs: tuple[OutputOrder, ...] = ()
    ) -> DataStage:
        return DataStage(
            self.access,
            deployment="d1",
            node="n1",
            allocation="job",
            inputs=inputs,
            outputs=outputs,
            record=self.events.append,
        )

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.http.port}/{name}"

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
async def nats(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[NatsProcess]:
    async with nats_server(tmp_path_factory.mktemp("nats")) as started:
        yield started


@pytest.fixture
async def stage(tmp_path: Path, nats: NatsProcess) -> AsyncIterator[Stage]:
    served = tmp_path / "served"
    served.mkdir()
    http = await FileServer(served).start()
    store = await JetStreamProvider.connect(nats.url)
    storage = Storage([InlineProvider(), UrlProvider(retries=0), store])
    access = StorageAccess(
        storage=storage,
        volume_dir=tmp_path / "volumes",
        output_max_bytes=64 * 1024,
        attempts=3,
        retry_seconds=0.01,
    )
    try:
        yield Stage(access, http, store)
    finally:
        await storage.close()
        await http.close()


async def read(path: str) -> bytes:
    return await asyncio.to_thread(Path(path).read_bytes)


async def write(path: Path, data: bytes) -> None:
    def put() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    await asyncio.to_thread(put)


async def entries(path: str) -> list[Path] | None:
    """What the directory holds; None when it is gone."""
    directory = Path(path)
    return await asyncio.to_thread(
        lambda: list(directory.iterdir()) if directory.exists() else None
    )


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def test_inputs_land_on_locked_volumes_as_read_only_mounts(stage: Stage) -> None:
    data = os.urandom(300_000)
    (stage.http.root / "data.bin").write_bytes(data)
    staged = stage.make(
        inputs=(
            InputOrder(source=stage.url("data.bin"), target="/in/data.bin", checksum=sha256(data)),
            InputOrder(source="inline:text,hello", target="/etc/greeting"),
        )
    )
    mounts = await staged.input_mounts()

    assert [(m.target, m.read_only) for m in mounts] == [
        ("/in/data.bin", True),
        ("/etc/greeting", True),
    ]
    assert await read(mounts[0].source) == data
    assert await read(mounts[1].source) == b"hello"
    for mount in mounts:  # locked: no write bit on the file or its volume
        for path in (Path(mount.source), Path(mount.source).parent):
            assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH), path
    fetched = stage.of(InputFetched)
    assert [(e.index, e.size, e.objects[0].checksum) for e in fetched] == [  # type: ignore[attr-defined]
        (0, len(data), sha256(data)),
        (1, 5, sha256(b"hello")),
    ]
    # Fetched once: a restart reuses them without asking the server again.
    asked = len(stage.http.requests)
    assert await staged.input_mounts() == mounts
    assert len(stage.http.requests) == asked


async def test_a_checksum_mismatch_fails_naming_the_input_and_leaves_no_file(stage: Stage) -> None:
    (stage.http.root / "data.bin").write_bytes(b"what the server has")
    staged = stage.make(
        inputs=(
            InputOrder(
                source=stage.url("data.bin"), target="/in/data", checksum=sha256(b"expected")
            ),
        )
    )
    with pytest.raises(
        StagingFailed, match=r"^input 0 \(http://127.0.0.1:\d+/data.bin -> /in/data\)"
    ):
        await staged.input_mounts()
    volume = staged.volumes.root / "in0"
    assert list(volume.iterdir()) == []  # nothing presented as complete
    (failure,) = stage.of(TransferFailed)
    assert (failure.code, failure.retrying, failure.direction) == (  # type: ignore[attr-defined]
        "checksum-mismatch",
        False,
        "input",
    )


async def test_a_missing_input_is_not_retried(stage: Stage) -> None:
    staged = stage.make(inputs=(InputOrder(source=stage.url("absent"), target="/in/x"),))
    with pytest.raises(StagingFailed, match="no such file"):
        await staged.input_mounts()
    assert [e.attempt for e in stage.of(TransferFailed)] == [1]  # type: ignore[attr-defined]


async def test_a_failure_worth_retrying_is_tried_again(stage: Stage) -> None:
    (stage.http.root / "flaky").write_bytes(b"eventually")
    stage.http.status_override["/flaky"] = 503
    seen = 0

    async def recover_after_one(request: Request) -> None:
        nonlocal seen
        seen += 1
        if seen > 1:
            stage.http.status_override.clear()

    stage.http.on_request = recover_after_one
    staged = stage.make(inputs=(InputOrder(source=stage.url("flaky"), target="/in/flaky"),))
    (mount,) = await staged.input_mounts()

    assert await read(mount.source) == b"eventually"
    assert [(e.attempt, e.retrying) for e in stage.of(TransferFailed)] == [(1, True)]  # type: ignore[attr-defined]


async def test_outputs_are_published_with_sizes_and_checksums(stage: Stage) -> None:
    staged = stage.make(
        outputs=(
            OutputOrder(path="/results", destination="nunet://results/job/"),
            OutputOrder(path="/logs", destination="nunet://results/logs/", on_failure=True),
        )
    )
    results, logs = await staged.output_mounts(1)
    assert (results.target, logs.target) == ("/results", "/logs")
    await write(Path(results.source, "sum.txt"), b"6\n")
    await write(Path(results.source, "deep", "part.bin"), b"x" * 1000)
    await write(Path(logs.source, "run.log"), b"ok\n")

    published = await staged.publish(1, succeeded=True)

    assert [(p.destination, p.size, p.error) for p in published] == [
        ("nunet://results/job/", 1002, ""),
        ("nunet://results/logs/", 3, ""),
    ]
    assert {o.location: o.checksum for o in published[0].objects} == {
        "nunet://results/job/deep/part.bin": sha256(b"x" * 1000),
        "nunet://results/job/sum.txt": sha256(b"6\n"),
    }
    events = stage.of(OutputPublished)
    assert [(e.index, e.count, e.size) for e in events] == [(0, 2, 1002), (1, 1, 3)]  # type: ignore[attr-defined]


async def test_after_a_failure_only_outputs_marked_on_failure_are_published(stage: Stage) -> None:
    staged = stage.make(
        outputs=(
            OutputOrder(path="/results", destination="nunet://results/job/"),
            OutputOrder(path="/logs", destination="nunet://results/logs/", on_failure=True),
        )
    )
    _, logs = await staged.output_mounts(1)
    await write(Path(logs.source, "why.log"), b"it broke\n")
    published = await staged.publish(1, succeeded=False)
    assert [p.path for p in published] == ["/logs"]


async def test_outputs_over_the_limit_are_refused_naming_the_output(stage: Stage) -> None:
    staged = stage.make(outputs=(OutputOrder(path="/out", destination="nunet://results/big/"),))
    (out,) = await staged.output_mounts(1)
    await write(Path(out.source, "big.bin"), b"y" * (65 * 1024))
    (published,) = await staged.publish(1, succeeded=True)
    assert published.objects == ()
    assert published.error.startswith("output 0 (/out -> nunet://results/big/): ")
    assert "over the limit" in published.error
    with pytest.raises(NotFound):
        await stage.store.size("nunet://results/big/big.bin")


async def test_a_new_run_gets_empty_output_volumes_and_discard_removes_everything(
    stage: Stage,
) -> None:
    staged = stage.make(
        inputs=(InputOrder(source="inline:text,x", target="/in/x"),),
        outputs=(OutputOrder(path="/out", destination="nunet://results/r/"),),
    )
    await staged.input_mounts()
    (first,) = await staged.output_mounts(1)
    await write(Path(first.source, "left.txt"), b"from run 1")
    (second,) = await staged.output_mounts(2)
    assert await entries(second.source) == []
    assert await entries(first.source) is None

    await staged.discard()
    assert await entries(str(staged.volumes.root)) is None
    assert await entries(str(staged.volumes.root.parent)) is None  # the deployment's too


async def test_volumes_that_cannot_be_removed_are_said_as_a_staging_failure(
    stage: Stage,
) -> None:
    staged = stage.make(outputs=(OutputOrder(path="/out", destination="nunet://results/r/"),))
    (out,) = await staged.output_mounts(1)
    held = Path(out.source, "held")
    await write(held, b"x")
    # Immutable: not even root removes it (e2fsprogs' chattr; the volumes live on ext4 here).
    await asyncio.to_thread(subprocess.run, ["chattr", "+i", str(held)], check=True)
    try:
        with pytest.raises(StagingFailed, match=f"the volumes under {staged.volumes.root}"):
            await staged.discard()
    finally:
        await asyncio.to_thread(subprocess.run, ["chattr", "-i", str(held)], check=True)
    await staged.discard()
    assert await entries(str(staged.volumes.root)) is None
