"""The storage contract: every provider (inline, URL, S3, JetStream object store) passes these.

A provider's test module subclasses `StorageContract` and overrides one fixture, `store`,
yielding a `StoreUnderTest`: the provider, `location(key)` naming `key` in a bucket/prefix fresh
for this test, `put(key, data)` placing an object in the store *without* the provider (so
read-only providers can be tested) and, where the provider talks to a server over TCP, a
`tests.storage.relay.Relay` between them that the tests use to cut transfers mid-way.

Capabilities a provider lacks are class attributes set to False on the subclass
(`supports_upload = False`, ...): the tests needing them are then removed from the class, not
collected at all (CI turns skips into failures).

Memory: the large-object tests trace the Python heap (`tracemalloc`) during the transfer and
require its peak to stay under `max_buffer_bytes`, a fraction of the object's size. The store's
server must therefore run in another process (moto's `moto_server`, `nats-server`) or allocate
little per request (the URL tests' streaming HTTP server), or it is counted too.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import os
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest

from nunet.storage.provider import (
    BadLocation,
    Checksum,
    ChecksumMismatch,
    NotFound,
    ObjectInfo,
    Progress,
    StorageError,
    StorageProvider,
    TooLarge,
    TransferInterrupted,
)
from tests.storage.relay import Relay

MIB = 1 << 20

Test = TypeVar("Test", bound=Callable[..., Awaitable[None]])


def requires(*capabilities: str) -> Callable[[Test], Test]:
    """Mark a contract test as needing `supports_<capability>` for each capability."""

    def mark(test: Test) -> Test:
        test.__dict__["contract_requires"] = capabilities
        return test

    return mark


class StoreUnderTest(abc.ABC):
    """What a provider's test module supplies to the contract."""

    provider: StorageProvider
    relay: Relay | None = None
    """Between the provider and its server, when the provider talks TCP (`supports_interrupt`)."""

    @abc.abstractmethod
    def location(self, key: str) -> str:
        """The URI of `key` (a prefix when it ends in `/`) in this test's own bucket/prefix; the
        object need not exist."""

    @abc.abstractmethod
    async def put(self, key: str, data: bytes | Path) -> str:
        """Place `data` (bytes, or a file's content) as `key` directly in the store, bypassing
        the provider; return its location (for inline: the literal itself)."""

    async def parts(self, location: str) -> int:
        """How many parts the store holds the object in (`supports_multipart` only)."""
        raise NotImplementedError(f"{type(self).__name__} does not count parts")


def sha256(data: bytes) -> Checksum:
    return Checksum("sha256", hashlib.sha256(data).hexdigest())


def file_sha256(path: Path) -> Checksum:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(MIB):
            digest.update(block)
    return Checksum("sha256", digest.hexdigest())


def write_large(path: Path, size: int) -> Checksum:
    """A file of `size` bytes that no compression or dedup shortcut can fake: one random MiB
    with each copy's index stamped into it."""
    block = bytearray(os.urandom(MIB))
    digest = hashlib.sha256()
    with path.open("wb") as f:
        written = 0
        while written < size:
            block[:8] = written.to_bytes(8, "big")
            piece = bytes(block[: min(MIB, size - written)])
            f.write(piece)
            digest.update(piece)
            written += len(piece)
    return Checksum("sha256", digest.hexdigest())


def files_under(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def names_in(directory: Path) -> list[str]:
    """Everything in `directory` (temp files included), sorted; [] when it does not exist."""
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


@contextlib.contextmanager
def heap_peak() -> Iterator[list[int]]:
    """Yield a list that holds, on exit, the Python heap's peak growth (bytes) inside."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    peak: list[int] = []
    try:
        yield peak
    finally:
        peak.append(tracemalloc.get_traced_memory()[1] - base)
        if started:
            tracemalloc.stop()


class Recorder:
    """A progress callback that keeps every report."""

    def __init__(self) -> None:
        self.reports: list[Progress] = []

    def __call__(self, progress: Progress) -> None:
        self.reports.append(progress)

    def check_monotone_to(self, total: int) -> None:
        assert self.reports, "no progress was reported"
        done = [p.done for p in self.reports]
        assert done == sorted(done), f"progress went backwards: {done}"
        assert done[-1] == total
        assert self.reports[-1].total == total
        assert all(0 <= p.done <= total for p in self.reports)


class StorageContract:
    """Behaviour every StorageProvider honours. Subclass it and override the `store` fixture."""

    supports_upload: ClassVar[bool] = True  # upload (the provider is writable)
    supports_list: ClassVar[bool] = True  # list, prefixes (directories), size of a prefix
    supports_delete: ClassVar[bool] = True
    supports_not_found: ClassVar[bool] = True  # a location can name a missing object
    supports_large: ClassVar[bool] = True  # objects of `large_object_bytes`
    supports_multipart: ClassVar[bool] = False  # large uploads are stored in parts
    supports_interrupt: ClassVar[bool] = True  # the store has a relay to cut transfers
    supports_resume: ClassVar[bool] = False  # a download cut once resumes where it was cut

    large_object_bytes: ClassVar[int] = 64 * MIB
    max_buffer_bytes: ClassVar[int] = 24 * MIB  # the heap's peak growth during a large transfer
    interrupt_object_bytes: ClassVar[int] = 4 * MIB
    resume_object_bytes: ClassVar[int] = 8 * MIB  # several of the provider's chunks

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in dir(cls):
            needs = getattr(getattr(cls, name), "contract_requires", None)
            if needs is not None and not all(getattr(cls, f"supports_{c}") for c in needs):
                setattr(cls, name, None)  # not callable: pytest does not collect it

    # A subclass defines the fixture `store` (an async generator yielding a StoreUnderTest and
    # closing its provider after); the contract has none, so a forgotten one fails loudly.

    async def place(self, store: StoreUnderTest, key: str, data: bytes | Path, tmp: Path) -> str:
        """Put an object in the store: through the provider when it uploads, directly if not."""
        if not self.supports_upload:
            return await store.put(key, data)
        if isinstance(data, bytes):
            source = tmp / f"source-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
            source.write_bytes(data)
            data = source
        location = store.location(key)
        await store.provider.upload(data, location)
        return location

    # --- round trips ---

    async def test_a_small_object_round_trips_with_its_size_and_checksum(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        data = b"hello, storage\n" * 7
        location = await self.place(store, "small/hello.txt", data, tmp_path)
        target = tmp_path / "out" / "hello.txt"
        moved = await store.provider.download(location, target)
        assert target.read_bytes() == data
        (info,) = moved.objects
        assert (info.size, info.checksum) == (len(data), sha256(data))
        assert moved.size == len(data)
        assert await store.provider.size(location) == len(data)

    async def test_an_empty_object_round_trips(self, store: StoreUnderTest, tmp_path: Path) -> None:
        location = await self.place(store, "empty", b"", tmp_path)
        target = tmp_path / "empty"
        moved = await store.provider.download(location, target)
        assert target.read_bytes() == b""
        assert moved.size == 0

    async def test_a_download_replaces_an_existing_file_whole(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        location = await self.place(store, "replace.txt", b"new", tmp_path)
        target = tmp_path / "replace.txt"
        target.write_bytes(b"old content, longer than the new")
        await store.provider.download(location, target)
        assert target.read_bytes() == b"new"

    @requires("upload")
    async def test_an_upload_reports_what_it_stored(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        source = tmp_path / "report.bin"
        source.write_bytes(b"\x00\x01\x02" * 1000)
        location = store.location("report.bin")
        moved = await store.provider.upload(source, location)
        (info,) = moved.objects
        assert info.location == location
        assert (info.size, info.checksum) == (3000, file_sha256(source))

    @requires("large")
    async def test_a_large_object_streams_through_without_being_held_in_memory(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        assert self.large_object_bytes >= 2 * self.max_buffer_bytes
        source = tmp_path / "large.bin"
        expected = write_large(source, self.large_object_bytes)
        if self.supports_upload:
            location = store.location("large.bin")
            with heap_peak() as up_peak:
                moved = await store.provider.upload(source, location)
            assert moved.objects[0].checksum == expected
            assert up_peak[0] < self.max_buffer_bytes, f"upload heap grew {up_peak[0]} bytes"
        else:
            location = await store.put("large.bin", source)
        source.unlink()
        target = tmp_path / "large.out"
        with heap_peak() as down_peak:
            moved = await store.provider.download(location, target, checksum=expected)
        assert down_peak[0] < self.max_buffer_bytes, f"download heap grew {down_peak[0]} bytes"
        assert moved.objects[0].checksum == expected
        assert target.stat().st_size == self.large_object_bytes
        assert file_sha256(target) == expected

    @requires("large", "upload", "multipart")
    async def test_a_large_upload_is_stored_in_parts(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        source = tmp_path / "parts.bin"
        write_large(source, self.large_object_bytes)
        location = store.location("parts.bin")
        await store.provider.upload(source, location)
        assert await store.parts(location) > 1

    # --- directories and listing ---

    @requires("list")
    async def test_a_directory_round_trips_under_a_prefix(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        tree = {"a.txt": b"alpha", "sub/b.txt": b"beta", "sub/deeper/c.bin": bytes(range(256))}
        source = tmp_path / "tree"
        for name, data in tree.items():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes(data)
        prefix = store.location("tree/")
        if self.supports_upload:
            moved = await store.provider.upload(source, prefix)
            assert moved.size == sum(len(d) for d in tree.values())
            assert len(moved.objects) == len(tree)
        else:
            for name, data in tree.items():
                await store.put(f"tree/{name}", data)
        target = tmp_path / "copy"
        moved = await store.provider.download(prefix, target)
        assert files_under(target) == tree
        assert sorted(o.location for o in moved.objects) == [prefix + name for name in sorted(tree)]
        assert await store.provider.size(prefix) == sum(len(d) for d in tree.values())

    @requires("list")
    async def test_list_gives_every_object_under_a_prefix_in_key_order(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        keys = ["list/b", "list/a/2", "list/c", "list/a/1", "listing-not-under-the-prefix"]
        for i, key in enumerate(keys):
            await self.place(store, key, b"x" * (i + 1), tmp_path)
        listed: list[ObjectInfo] = [o async for o in store.provider.list(store.location("list/"))]
        assert [o.location for o in listed] == [
            store.location(k) for k in ("list/a/1", "list/a/2", "list/b", "list/c")
        ]
        assert [o.size for o in listed] == [4, 2, 1, 3]

    @requires("list")
    async def test_an_empty_prefix_lists_nothing_and_downloads_an_empty_directory(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        await self.place(store, "elsewhere", b"x", tmp_path)
        prefix = store.location("nothing-here/")
        assert [o async for o in store.provider.list(prefix)] == []
        moved = await store.provider.download(prefix, tmp_path / "none")
        assert moved.objects == ()
        assert names_in(tmp_path / "none") == []

    # --- delete ---

    @requires("delete")
    async def test_delete_removes_an_object_and_a_missing_one_is_no_error(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        location = await self.place(store, "doomed", b"bye", tmp_path)
        await store.provider.delete(location)
        with pytest.raises(NotFound):
            await store.provider.size(location)
        await store.provider.delete(location)
        await store.provider.delete(store.location("never-was"))

    @requires("delete", "list")
    async def test_delete_of_a_prefix_removes_everything_under_it_only(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        for key in ("gone/1", "gone/2/3", "kept"):
            await self.place(store, key, b"x", tmp_path)
        await store.provider.delete(store.location("gone/"))
        assert [o async for o in store.provider.list(store.location("gone/"))] == []
        assert await store.provider.size(store.location("kept")) == 1

    # --- integrity ---

    async def test_a_given_checksum_is_verified_in_either_algorithm(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        data = b"checked content"
        location = await self.place(store, "checked", data, tmp_path)
        md5 = Checksum("md5", hashlib.md5(data).hexdigest())
        for i, checksum in enumerate((sha256(data), md5)):
            target = tmp_path / f"checked-{i}"
            moved = await store.provider.download(location, target, checksum=checksum)
            assert target.read_bytes() == data
            assert moved.objects[0].checksum == sha256(data)

    async def test_a_checksum_mismatch_leaves_no_file_and_no_temporary(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        location = await self.place(store, "tampered", b"what is stored", tmp_path)
        target_dir = tmp_path / "mismatch"
        target_dir.mkdir()
        wrong = sha256(b"what was expected")
        with pytest.raises(ChecksumMismatch) as raised:
            await store.provider.download(location, target_dir / "file", checksum=wrong)
        assert wrong.hex in str(raised.value)
        assert names_in(target_dir) == []

    async def test_a_checksum_mismatch_keeps_the_previous_file(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        location = await self.place(store, "tampered2", b"what is stored", tmp_path)
        target = tmp_path / "kept" / "file"
        target.parent.mkdir()
        target.write_bytes(b"previous")
        with pytest.raises(ChecksumMismatch):
            await store.provider.download(location, target, checksum=sha256(b"other"))
        assert target.read_bytes() == b"previous"
        assert names_in(target.parent) == ["file"]

    # --- errors ---

    @requires("not_found")
    async def test_a_missing_object_is_not_found_naming_it(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        await self.place(store, "present", b"x", tmp_path)
        location = store.location("absent.bin")
        target_dir = tmp_path / "absent"
        target_dir.mkdir()
        with pytest.raises(NotFound) as raised:
            await store.provider.download(location, target_dir / "absent.bin")
        assert location in str(raised.value)
        assert names_in(target_dir) == []
        with pytest.raises(NotFound) as raised:
            await store.provider.size(location)
        assert location in str(raised.value)

    async def test_a_location_of_another_scheme_is_refused(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        with pytest.raises(BadLocation) as raised:
            await store.provider.download("nosuchscheme://bucket/key", tmp_path / "x")
        assert "nosuchscheme" in str(raised.value)
        assert names_in(tmp_path) == []
        with pytest.raises(BadLocation):
            await store.provider.size("nosuchscheme://bucket/key")

    async def test_a_download_over_max_bytes_is_too_large_with_nothing_written(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        location = await self.place(store, "big-ish", b"y" * 5000, tmp_path)
        target_dir = tmp_path / "limited"
        target_dir.mkdir()
        with pytest.raises(TooLarge) as raised:
            await store.provider.download(location, target_dir / "f", max_bytes=4096)
        assert "4096" in str(raised.value)
        assert names_in(target_dir) == []
        moved = await store.provider.download(location, target_dir / "f", max_bytes=5000)
        assert moved.size == 5000

    @requires("upload")
    async def test_an_upload_over_max_bytes_is_too_large_and_stores_nothing(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        source = tmp_path / "too-big"
        source.write_bytes(b"z" * 5000)
        location = store.location("too-big")
        with pytest.raises(TooLarge) as raised:
            await store.provider.upload(source, location, max_bytes=4096)
        assert "4096" in str(raised.value)
        if self.supports_not_found:
            with pytest.raises(NotFound):
                await store.provider.size(location)

    @requires("upload")
    async def test_uploading_a_missing_file_names_it(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        missing = tmp_path / "no-such-file"
        with pytest.raises(StorageError) as raised:
            await store.provider.upload(missing, store.location("x"))
        assert str(missing) in str(raised.value)

    # --- progress ---

    async def test_download_progress_is_monotone_and_ends_at_the_total(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        data = os.urandom(300_000)
        location = await self.place(store, "progress", data, tmp_path)
        recorder = Recorder()
        await store.provider.download(location, tmp_path / "p", progress=recorder)
        recorder.check_monotone_to(len(data))
        assert {p.location for p in recorder.reports} == {location}

    @requires("upload")
    async def test_upload_progress_is_monotone_and_ends_at_the_total(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        source = tmp_path / "up"
        source.write_bytes(os.urandom(300_000))
        recorder = Recorder()
        location = store.location("up")
        await store.provider.upload(source, location, progress=recorder)
        recorder.check_monotone_to(300_000)

    # --- cut transfers ---

    def relay_of(self, store: StoreUnderTest) -> Relay:
        assert store.relay is not None, "supports_interrupt needs a relay in the store"
        return store.relay

    @requires("interrupt")
    async def test_a_download_cut_for_good_is_interrupted_with_no_partial_file(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        source = tmp_path / "cut-source"
        write_large(source, self.interrupt_object_bytes)
        location = await self.place(store, "cut", source, tmp_path)
        target_dir = tmp_path / "cut"
        target_dir.mkdir()
        relay = self.relay_of(store)
        relay.cut_all(self.interrupt_object_bytes // 2)
        with pytest.raises(TransferInterrupted) as raised:
            await store.provider.download(location, target_dir / "f")
        assert relay.counters.cuts >= 1
        assert raised.value.retryable
        assert location in str(raised.value)
        assert names_in(target_dir) == []
        relay.heal()
        await store.provider.download(location, target_dir / "f")
        assert file_sha256(target_dir / "f") == file_sha256(source)

    @requires("interrupt", "upload")
    async def test_an_upload_cut_for_good_is_interrupted_and_stores_nothing(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        source = tmp_path / "cut-up"
        write_large(source, self.interrupt_object_bytes)
        location = store.location("cut-up")
        relay = self.relay_of(store)
        relay.cut_all(self.interrupt_object_bytes // 2)
        with pytest.raises(TransferInterrupted) as raised:
            await store.provider.upload(source, location)
        assert relay.counters.cuts >= 1
        assert raised.value.retryable
        assert location in str(raised.value)
        relay.heal()
        with pytest.raises(NotFound):
            await store.provider.size(location)

    @requires("interrupt", "resume")
    async def test_a_download_cut_once_resumes_where_it_was_cut(
        self, store: StoreUnderTest, tmp_path: Path
    ) -> None:
        size = self.resume_object_bytes
        source = tmp_path / "resume-source"
        expected = write_large(source, size)
        location = await self.place(store, "resume", source, tmp_path)
        relay = self.relay_of(store)
        relay.reset_counters()
        relay.cut_next(size // 2)
        recorder = Recorder()
        moved = await store.provider.download(
            location, tmp_path / "resumed", checksum=expected, progress=recorder
        )
        assert relay.counters.cuts == 1
        assert moved.objects[0].checksum == expected
        assert file_sha256(tmp_path / "resumed") == expected
        # starting again from zero moves the half before the cut and then the whole object
        assert relay.counters.from_server < size * 1.4, relay.counters
        recorder.check_monotone_to(size)
