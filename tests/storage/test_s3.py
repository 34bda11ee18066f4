"""The S3 provider against a real S3-protocol server (moto's server mode, in its own process on
loopback, with IAM credential checks on), through a relay that can cut its connections: the
storage contract, then what only S3 has — multipart uploads and their cleanup, credentials,
missing buckets, the stored sha256 — and the pure parts (part planning, error mapping, config).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aioboto3  # type: ignore[import-untyped]
import aiohttp
import msgspec
import pytest
from botocore.exceptions import (  # type: ignore[import-untyped]
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
)
from hypothesis import given
from hypothesis import strategies as st

from nunet.storage.provider import (
    AccessDenied,
    BadLocation,
    Checksum,
    ChecksumMismatch,
    NotFound,
    StorageError,
    TransferInterrupted,
)
from nunet.storage.s3 import S3Provider
from nunet.storage.s3_config import BadS3Config, S3Config
from nunet.storage.s3_download import Resumption, claims_of
from nunet.storage.s3_errors import storage_error
from nunet.storage.s3_parts import (
    MAX_OBJECT_BYTES,
    MAX_PART_BYTES,
    MAX_PARTS,
    MIN_PART_BYTES,
    PART_BYTES,
    Part,
    PartReader,
    SourceChanged,
    part_size_for,
    plan_parts,
)
from nunet.storage.streaming import Claim
from tests.storage.contract import (
    MIB,
    Recorder,
    StorageContract,
    StoreUnderTest,
    file_sha256,
    names_in,
    sha256,
    write_large,
)
from tests.storage.relay import Relay
from tests.storage.s3_server import REGION, KeyPair, MotoServer

FAST_RESUMPTION = Resumption(attempts=3, backoff=0.02)


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def users(moto: MotoServer) -> dict[str, KeyPair]:
    """The key pairs the server knows: `tests` (allowed everything in S3, what every test
    uses) and `powerless` (allowed nothing); it refuses any other request from now on."""
    known = {"tests": moto.user("nunet-tests"), "powerless": moto.user("powerless", actions=None)}
    moto.require_credentials()
    return known


@pytest.fixture(scope="session")
def keys(users: dict[str, KeyPair]) -> KeyPair:
    return users["tests"]


def config_for(endpoint: str, keys: KeyPair | None) -> S3Config:
    return S3Config(
        endpoint=endpoint,
        region=REGION,
        access_key=keys.access_key if keys else None,
        secret_key=keys.secret_key if keys else None,
        addressing_style="path",
    )


class S3Store(StoreUnderTest):
    """A fresh bucket; the provider reaches moto through `relay`, `raw` directly."""

    relay: Relay

    def __init__(self, provider: S3Provider, raw: Any, bucket: str, relay: Relay) -> None:
        self.provider = provider
        self.raw = raw
        self.bucket = bucket
        self.relay = relay

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    async def put(self, key: str, data: bytes | Path) -> str:
        if isinstance(data, Path):
            await self.raw.upload_file(str(data), self.bucket, key)
        else:
            await self.raw.put_object(Bucket=self.bucket, Key=key, Body=data)
        return self.location(key)

    async def parts(self, location: str) -> int:
        key = location.removeprefix(f"s3://{self.bucket}/")
        etag = (await self.raw.head_object(Bucket=self.bucket, Key=key))["ETag"].strip('"')
        _, dash, count = etag.rpartition("-")
        return int(count) if dash else 1

    async def incomplete_uploads(self) -> list[str]:
        answer = await self.raw.list_multipart_uploads(Bucket=self.bucket)
        return [upload["Key"] for upload in answer.get("Uploads", [])]


@pytest.fixture
async def s3(moto: MotoServer, keys: KeyPair) -> AsyncIterator[S3Store]:
    relay = await Relay("127.0.0.1", moto.port).start()
    provider = S3Provider(
        config_for(f"http://{relay.address}", keys),
        resumption=FAST_RESUMPTION,
        request_attempts=2,
    )
    session = aioboto3.Session(
        aws_access_key_id=keys.access_key,
        aws_secret_access_key=keys.secret_key,
        region_name=REGION,
    )
    bucket = f"nunet-{uuid.uuid4().hex[:20]}"
    async with session.client("s3", endpoint_url=moto.url) as raw:
        await raw.create_bucket(Bucket=bucket)
        try:
            yield S3Store(provider, raw, bucket, relay)
        finally:
            await provider.close()
            await relay.close()
            await _empty_and_remove(raw, bucket)


async def _empty_and_remove(raw: Any, bucket: str) -> None:
    uploads = await raw.list_multipart_uploads(Bucket=bucket)
    for upload in uploads.get("Uploads", []):
        await raw.abort_multipart_upload(
            Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
        )
    async for page in raw.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            await raw.delete_object(Bucket=bucket, Key=entry["Key"])
    await raw.delete_bucket(Bucket=bucket)


class TestS3Contract(StorageContract):
    supports_multipart = True
    supports_resume = True

    @pytest.fixture
    async def store(self, s3: S3Store) -> StoreUnderTest:
        return s3


# --- multipart uploads ---


async def test_a_40_mib_upload_goes_in_8_mib_parts_with_its_sha256_stored(
    s3: S3Store, tmp_path: Path
) -> None:
    source = tmp_path / "forty.bin"
    expected = write_large(source, 40 * MIB)
    location = s3.location("forty.bin")
    recorder = Recorder()
    moved = await s3.provider.upload(source, location, progress=recorder)
    assert moved.objects[0].checksum == expected
    assert await s3.parts(location) == 5
    head = await s3.raw.head_object(Bucket=s3.bucket, Key="forty.bin")
    assert head["Metadata"]["sha256"] == expected.hex
    assert head["ContentLength"] == 40 * MIB
    recorder.check_monotone_to(40 * MIB)
    assert len(recorder.reports) >= 5  # a report per part at least
    await s3.provider.download(location, tmp_path / "back.bin")
    assert file_sha256(tmp_path / "back.bin") == expected
    assert await s3.incomplete_uploads() == []


async def test_a_source_that_shrinks_mid_upload_aborts_it_leaving_no_parts(
    s3: S3Store, tmp_path: Path
) -> None:
    source = tmp_path / "shrinking.bin"
    write_large(source, 40 * MIB)
    location = s3.location("shrinking.bin")

    def truncate_after_the_first_part(progress: Any) -> None:
        if progress.done > 0 and source.stat().st_size > MIB:
            with source.open("r+b") as f:
                f.truncate(MIB)

    with pytest.raises(SourceChanged) as raised:
        await s3.provider.upload(source, location, progress=truncate_after_the_first_part)
    assert location in str(raised.value)
    assert await s3.incomplete_uploads() == []
    with pytest.raises(NotFound):
        await s3.provider.size(location)


async def test_a_source_rewritten_in_place_mid_upload_is_refused_at_the_end(
    s3: S3Store, tmp_path: Path
) -> None:
    source = tmp_path / "rewritten.bin"
    write_large(source, 24 * MIB)
    location = s3.location("rewritten.bin")
    rewritten = False

    def rewrite_once(progress: Any) -> None:
        nonlocal rewritten
        if progress.done > 0 and not rewritten:
            rewritten = True
            with source.open("r+b") as f:
                f.write(b"changed")

    with pytest.raises(SourceChanged):
        await s3.provider.upload(source, location, progress=rewrite_once)
    assert await s3.incomplete_uploads() == []
    with pytest.raises(NotFound):
        await s3.provider.size(location)


async def test_a_cancelled_multipart_upload_is_aborted(s3: S3Store, tmp_path: Path) -> None:
    source = tmp_path / "cancelled.bin"
    write_large(source, 40 * MIB)
    first_part = asyncio.Event()
    upload = asyncio.create_task(
        s3.provider.upload(
            source,
            s3.location("cancelled.bin"),
            progress=lambda p: first_part.set() if p.done > 0 else None,
        )
    )
    await asyncio.wait_for(first_part.wait(), 30)
    assert await s3.incomplete_uploads() == ["cancelled.bin"]
    upload.cancel()
    with pytest.raises(asyncio.CancelledError):
        await upload
    assert await s3.incomplete_uploads() == []


async def test_a_multipart_upload_cut_for_good_is_cleaned_up_by_a_later_delete(
    s3: S3Store, tmp_path: Path
) -> None:
    source = tmp_path / "cut-parts.bin"
    write_large(source, 24 * MIB)
    location = s3.location("cut-parts.bin")
    s3.relay.cut_all(4 * MIB)  # within the first part on any connection
    with pytest.raises(TransferInterrupted) as raised:
        await s3.provider.upload(source, location)
    assert raised.value.retryable
    # the store was unreachable, so the abort could not reach it either: the error says so
    assert "could not be aborted" in str(raised.value)
    s3.relay.heal()
    assert await s3.incomplete_uploads() == ["cut-parts.bin"]
    await s3.provider.delete(location)
    assert await s3.incomplete_uploads() == []


# --- credentials ---


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("unknown key", "InvalidAccessKeyId"),
        ("wrong secret", "SignatureDoesNotMatch"),
        ("key without permission", "AccessDenied"),
    ],
)
async def test_refused_credentials_are_access_denied_naming_the_location(
    case: str,
    code: str,
    s3: S3Store,
    moto: MotoServer,
    users: dict[str, KeyPair],
    tmp_path: Path,
) -> None:
    bad = {
        "unknown key": KeyPair("AKIAUNKNOWNKEY000000", "whatever"),
        "wrong secret": KeyPair(users["tests"].access_key, "not-the-secret"),
        "key without permission": users["powerless"],
    }[case]
    location = await s3.put("secret.txt", b"for the right key only")
    provider = S3Provider(config_for(moto.url, bad), request_attempts=1)
    source = tmp_path / "up.txt"
    source.write_bytes(b"x")
    try:
        with pytest.raises(AccessDenied) as raised:
            await provider.download(location, tmp_path / "out" / "secret.txt")
        assert location in str(raised.value)
        assert code in str(raised.value)
        assert names_in(tmp_path / "out") == []
        with pytest.raises(AccessDenied):
            await provider.size(location)
        with pytest.raises(AccessDenied):
            await provider.upload(source, s3.location("up.txt"))
        with pytest.raises(AccessDenied):
            [o async for o in provider.list(s3.location(""))]
    finally:
        await provider.close()


async def test_credentials_come_from_the_environment_when_the_config_has_none(
    s3: S3Store, moto: MotoServer, keys: KeyPair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys.secret_key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    location = await s3.put("env.txt", b"signed with the environment's key")
    provider = S3Provider(config_for(moto.url, None))
    try:
        await provider.download(location, tmp_path / "env.txt")
    finally:
        await provider.close()
    assert (tmp_path / "env.txt").read_bytes() == b"signed with the environment's key"


# --- missing buckets and keys ---


async def test_a_missing_bucket_is_not_found_naming_the_bucket(
    s3: S3Store, moto: MotoServer, keys: KeyPair, tmp_path: Path
) -> None:
    missing = f"no-such-bucket-{uuid.uuid4().hex[:8]}"
    source = tmp_path / "f"
    source.write_bytes(b"x")
    calls = {
        "download": s3.provider.download(f"s3://{missing}/key", tmp_path / "out" / "key"),
        "download a prefix": s3.provider.download(f"s3://{missing}/dir/", tmp_path / "dir"),
        "size": s3.provider.size(f"s3://{missing}/key"),
        "size of a prefix": s3.provider.size(f"s3://{missing}/"),
        "upload": s3.provider.upload(source, f"s3://{missing}/key"),
        "delete": s3.provider.delete(f"s3://{missing}/key"),
        "delete a prefix": s3.provider.delete(f"s3://{missing}/dir/"),
    }
    for what, call in calls.items():
        with pytest.raises(NotFound) as raised:
            await call
        assert f"bucket {missing!r} does not exist" in str(raised.value), what
    with pytest.raises(NotFound):
        [o async for o in s3.provider.list(f"s3://{missing}/")]
    assert names_in(tmp_path / "out") == []


async def test_a_missing_key_is_not_found_naming_key_and_bucket(
    s3: S3Store, tmp_path: Path
) -> None:
    with pytest.raises(NotFound) as raised:
        await s3.provider.size(s3.location("nope/absent"))
    assert f"no object 'nope/absent' in bucket {s3.bucket!r}" in str(raised.value)
    assert [o async for o in s3.provider.list(s3.location("nope/absent"))] == []


# --- integrity ---


async def test_an_object_not_matching_its_stored_sha256_is_refused(
    s3: S3Store, tmp_path: Path
) -> None:
    stored = sha256(b"what was uploaded")
    await s3.raw.put_object(
        Bucket=s3.bucket, Key="swapped", Body=b"what is there now", Metadata={"sha256": stored.hex}
    )
    target = tmp_path / "swapped"
    with pytest.raises(ChecksumMismatch) as raised:
        await s3.provider.download(s3.location("swapped"), target)
    assert stored.hex in str(raised.value)
    assert names_in(tmp_path) == []
    # a caller's md5 that matches does not hide the stored sha256 that does not
    md5 = Checksum("md5", hashlib.md5(b"what is there now").hexdigest())
    with pytest.raises(ChecksumMismatch):
        await s3.provider.download(s3.location("swapped"), target, checksum=md5)
    assert names_in(tmp_path) == []


async def test_an_object_uploaded_elsewhere_without_a_sha256_still_downloads_verified_by_etag(
    s3: S3Store, tmp_path: Path
) -> None:
    data = b"uploaded by another tool" * 100
    location = await s3.put("foreign", data)
    moved = await s3.provider.download(location, tmp_path / "foreign")
    assert moved.objects[0].checksum == sha256(data)
    assert (tmp_path / "foreign").read_bytes() == data


def test_the_headers_claim_the_etag_md5_and_the_stored_sha256_beside_an_md5() -> None:
    md5 = hashlib.md5(b"content").hexdigest()
    stored = sha256(b"content")
    plain = {"ETag": f'"{md5}"', "Metadata": {"sha256": stored.hex}}
    etag = Claim(Checksum("md5", md5), "the ETag")
    assert claims_of(plain, None) == [etag]  # the stored sha256 is then the expected one
    assert claims_of(plain, stored) == [etag]
    by_md5 = claims_of(plain, Checksum("md5", md5))
    assert by_md5 == [etag, Claim(stored, "the object's stored x-amz-meta-sha256")]
    # no MD5 in the ETag of a multipart object, nor under KMS or customer-key encryption
    assert claims_of({"ETag": f'"{md5}-3"'}, None) == []
    assert claims_of({"ETag": f'"{md5}"', "ServerSideEncryption": "aws:kms"}, None) == []
    assert claims_of({"ETag": f'"{md5}"', "SSECustomerAlgorithm": "AES256"}, None) == []


async def test_a_large_single_put_object_streams_verified_by_its_etag_and_stored_sha256(
    s3: S3Store, tmp_path: Path
) -> None:
    data = os.urandom(12 * MIB)  # one PUT: its ETag is its MD5, hashed beside the sha256
    await s3.raw.put_object(Bucket=s3.bucket, Key="whole", Body=data)
    moved = await s3.provider.download(s3.location("whole"), tmp_path / "whole")
    assert moved.objects[0].checksum == sha256(data)
    assert (tmp_path / "whole").read_bytes() == data
    stale = sha256(data[1:])
    await s3.raw.put_object(
        Bucket=s3.bucket, Key="stale", Body=data, Metadata={"sha256": stale.hex}
    )
    with pytest.raises(ChecksumMismatch, match=stale.hex):
        await s3.provider.download(s3.location("stale"), tmp_path / "stale")
    assert names_in(tmp_path) == ["whole"]


# --- prefixes ---


async def test_deleting_a_prefix_goes_in_batches(
    s3: S3Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("nunet.storage.s3.DELETE_BATCH", 3)
    for i in range(7):
        await s3.put(f"batch/{i}", b"x")
    await s3.put("batchless", b"kept")
    await s3.provider.delete(s3.location("batch/"))
    assert [o.location async for o in s3.provider.list(s3.location(""))] == [
        s3.location("batchless")
    ]


async def test_a_key_that_cannot_be_a_path_is_refused_and_nothing_is_written(
    s3: S3Store, tmp_path: Path
) -> None:
    await s3.put("odd/fine", b"ok")
    await s3.put("odd/a//b", b"an empty segment")
    with pytest.raises(BadLocation) as raised:
        await s3.provider.download(s3.location("odd/"), tmp_path / "odd")
    assert "odd/a//b" in str(raised.value)
    assert names_in(tmp_path / "odd") == []


async def test_the_whole_bucket_is_a_prefix_with_or_without_the_slash(
    s3: S3Store, tmp_path: Path
) -> None:
    source = tmp_path / "one.txt"
    source.write_bytes(b"1")
    moved = await s3.provider.upload(source, f"s3://{s3.bucket}")
    assert moved.objects[0].location == s3.location("one.txt")
    for i, location in enumerate((f"s3://{s3.bucket}", f"s3://{s3.bucket}/")):
        await s3.provider.download(location, tmp_path / f"all-{i}")
        assert (tmp_path / f"all-{i}" / "one.txt").read_bytes() == b"1"
        assert await s3.provider.size(location) == 1


async def test_a_closed_provider_refuses_work(s3: S3Store, tmp_path: Path) -> None:
    await s3.provider.close()
    await s3.provider.close()
    with pytest.raises(StorageError) as raised:
        await s3.provider.size(s3.location("x"))
    assert "closed" in str(raised.value)


# --- pure: part planning ---


@given(
    size=st.one_of(st.integers(1, 64 * MIB), st.integers(1, MAX_OBJECT_BYTES)),
    preferred=st.integers(MIN_PART_BYTES, 64 * MIB),
)
def test_parts_cover_the_object_once_within_s3_rules(size: int, preferred: int) -> None:
    parts = plan_parts(size, preferred)
    assert [p.number for p in parts] == list(range(1, len(parts) + 1))
    assert parts[0].offset == 0
    assert all(a.offset + a.length == b.offset for a, b in itertools.pairwise(parts))
    assert parts[-1].offset + parts[-1].length == size
    assert len(parts) <= MAX_PARTS
    assert all(MIN_PART_BYTES <= p.length <= MAX_PART_BYTES for p in parts[:-1])
    assert 0 < parts[-1].length <= MAX_PART_BYTES
    if size <= preferred * MAX_PARTS:
        assert all(p.length == preferred for p in parts[:-1])


def test_part_planning_refuses_what_s3_cannot_hold() -> None:
    assert part_size_for(78 * 1024 * MIB) == PART_BYTES
    assert part_size_for(100 * 1024 * MIB) == 11 * MIB
    for size, preferred in ((1, MIN_PART_BYTES - 1), (1, MAX_PART_BYTES + 1)):
        with pytest.raises(ValueError, match="a part is"):
            part_size_for(size, preferred)
    with pytest.raises(ValueError, match="at most"):
        part_size_for(MAX_OBJECT_BYTES + 1)
    with pytest.raises(ValueError, match="non-empty"):
        plan_parts(0)


def test_a_part_reader_reads_and_seeks_only_its_part(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(bytes(range(256)) * 4)
    with path.open("rb") as f:
        reader = PartReader(f.fileno(), Part(2, 100, 50), "s3://b/k")
        assert len(reader) == 50
        assert reader.read(10) == bytes(range(100, 110))
        assert reader.read() == bytes(range(110, 150))
        assert reader.read(10) == b""
        assert reader.seek(-5, 2) == 45
        assert reader.read() == bytes(range(145, 150))
        assert reader.seek(1000) == 50
        with pytest.raises(ValueError, match="whence"):
            reader.seek(0, 7)
        beyond = PartReader(f.fileno(), Part(3, 1000, 100), "s3://b/k")
        with pytest.raises(SourceChanged, match="changed while being uploaded"):
            beyond.read()


# --- pure: errors and config ---


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "GetObject")


@pytest.mark.parametrize(
    ("code", "kind", "retryable"),
    [
        ("NoSuchBucket", NotFound, False),
        ("NoSuchKey", NotFound, False),
        ("404", NotFound, False),
        ("InvalidAccessKeyId", AccessDenied, False),
        ("SignatureDoesNotMatch", AccessDenied, False),
        ("AccessDenied", AccessDenied, False),
        ("BadDigest", ChecksumMismatch, False),
        ("PreconditionFailed", TransferInterrupted, True),
        ("SlowDown", StorageError, True),
        ("InternalError", StorageError, True),
        ("InvalidArgument", StorageError, False),
    ],
)
def test_s3_error_codes_become_storage_errors(
    code: str, kind: type[StorageError], retryable: bool
) -> None:
    error = storage_error(client_error(code), "s3://bkt/k", "bkt", "k")
    assert type(error) is kind
    assert error.retryable is retryable
    assert str(error).startswith("s3://bkt/k: ")


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (aiohttp.ClientPayloadError("Response payload is not completed"), TransferInterrupted),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), TransferInterrupted),
        (ConnectionResetError("reset by peer"), TransferInterrupted),
        (NoCredentialsError(), AccessDenied),
        (RuntimeError("something else"), StorageError),
    ],
)
def test_failures_that_are_not_s3_answers_become_storage_errors(
    error: Exception, kind: type[StorageError]
) -> None:
    mapped = storage_error(error, "s3://bkt/k", "bkt", "k")
    assert type(mapped) is kind
    assert mapped.retryable is (kind is TransferInterrupted)
    assert "s3://bkt/k" in str(mapped)


def test_a_config_needs_both_keys_or_neither_and_a_real_endpoint() -> None:
    with pytest.raises(BadS3Config, match="secret_key is not"):
        S3Config(access_key="AKIA")
    with pytest.raises(BadS3Config, match="access_key is not"):
        S3Config(secret_key="s")
    with pytest.raises(BadS3Config, match="endpoint"):
        S3Config(endpoint="localhost:9000")
    with pytest.raises(msgspec.ValidationError, match=r"storage\.s3\.access_key is set"):
        msgspec.convert({"access_key": "AKIA"}, S3Config)
    with pytest.raises(msgspec.ValidationError, match="addressing_style"):
        msgspec.convert({"addressing_style": "sideways"}, S3Config)
    assert S3Config().session_options() == {}
    assert S3Config().client_options() == {}


def test_a_config_never_shows_its_secret() -> None:
    config = S3Config(endpoint="http://127.0.0.1:9000", access_key="AKIA", secret_key="hunter2")
    assert "hunter2" not in repr(config)
    assert "AKIA" in repr(config)
    assert config.session_options()["aws_secret_access_key"] == "hunter2"
