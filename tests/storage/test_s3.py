"""The S3 provider against a real S3-protocol server (moto's server mode, in its own process on
loopback, with IAM credential checks on), through a relay that can cut its connections: the
storage contract, then what only S3 has — multipart uploads and their cleanup, credentials,
missing buckets, the stored sha256 — and the pure parts (part planning, error mapping, config).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aioboto3
import msgspec
import pytest
from botocore.exceptions import ClientError
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
from nunet.storage.s3_download import CrossChecks, Resumption
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
def keys(moto: MotoServer) -> KeyPair:
    """The key pair every test uses; the server refuses any other from now on."""
    pair = moto.user("nunet-tests")
    moto.require_credentials()
    return pair


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
        config_for(f"http://{relay.address}", keys), resumption=FAST_RESUMPTION
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
    async def store(self, s3: S3Store) -> AsyncIterator[StoreUnderTest]:
        yield s3
