"""Where the S3 provider connects and as whom: the node config's `storage.s3` section.

Every field is optional. A field left out falls back to the standard AWS chain (the
`AWS_ENDPOINT_URL`, `AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
environment, `~/.aws/config` and `~/.aws/credentials`, then instance metadata), so a node on
a cloud machine needs no S3 section at all and one talking to MinIO, Ceph or Garage names its
endpoint and keys here.
"""

from __future__ import annotations

import urllib.parse
from typing import Any, Literal

import msgspec

from nunet.storage.provider import StorageError

AddressingStyle = Literal["auto", "virtual", "path"]


class BadS3Config(StorageError, ValueError):
    """The `storage.s3` section is wrong; the message names the field. (A ValueError too, so
    that msgspec reports it with the field's path when the node config is decoded.)"""

    code = "bad-config"


class S3Config(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The S3-compatible store: `endpoint` (None: AWS itself), `region`, the key pair (both or
    neither), and `addressing_style` (`path` for most self-hosted stores; `auto`: botocore's
    choice)."""

    endpoint: str | None = None
    region: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    addressing_style: AddressingStyle = "auto"

    def __post_init__(self) -> None:
        if self.endpoint is not None:
            parts = urllib.parse.urlsplit(self.endpoint)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise BadS3Config(
                    f"storage.s3.endpoint {self.endpoint!r} is not a URL; write "
                    "http://host:port or https://host"
                )
        if (self.access_key is None) != (self.secret_key is None):
            given, missing = (
                ("access_key", "secret_key")
                if self.access_key is not None
                else ("secret_key", "access_key")
            )
            raise BadS3Config(
                f"storage.s3.{given} is set but storage.s3.{missing} is not; give both, or "
                "neither to use the AWS environment and credential files"
            )
        if self.access_key == "" or self.region == "":
            field = "access_key" if self.access_key == "" else "region"
            raise BadS3Config(f"storage.s3.{field} is empty; remove it or give a value")

    def __repr__(self) -> str:
        # The secret never reaches a log line or a traceback.
        secret = None if self.secret_key is None else "***"
        return (
            f"S3Config(endpoint={self.endpoint!r}, region={self.region!r}, "
            f"access_key={self.access_key!r}, secret_key={secret!r}, "
            f"addressing_style={self.addressing_style!r})"
        )

    def session_options(self) -> dict[str, Any]:
        """Keyword arguments for `aioboto3.Session`: only what is set, so the rest comes from
        the standard chain."""
        options: dict[str, Any] = {}
        if self.access_key is not None:
            options["aws_access_key_id"] = self.access_key
            options["aws_secret_access_key"] = self.secret_key
        if self.region is not None:
            options["region_name"] = self.region
        return options

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for `session.client("s3", ...)` besides its botocore config."""
        return {} if self.endpoint is None else {"endpoint_url": self.endpoint}
