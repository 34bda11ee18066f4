"""Image references (`[registry/]name[:tag][@sha256:digest]`) and the credentials a registry
wants, as the Engine API takes them (the X-Registry-Auth header)."""

from __future__ import annotations

import base64
import re
from typing import Annotated

import msgspec

from nunet.executor.errors import InvalidSpec

DEFAULT_REGISTRY = "docker.io"
_NAME = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_HOST = re.compile(r"^[A-Za-z0-9.-]+(?::[0-9]+)?$")


class RegistryAuth(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Credentials for one registry, from the node's config (executors.docker.registries)."""

    username: str = ""
    password: str = ""
    identity_token: Annotated[str, msgspec.Meta(description="an OAuth refresh token")] = ""


class ImageReference(msgspec.Struct, frozen=True, kw_only=True):
    registry: str  # the host the engine pulls from; docker.io when the reference names none
    name: str  # as written, without tag or digest (the registry host included when given)
    tag: str  # "" when pinned by digest only
    digest: str  # "sha256:..." or ""

    def __str__(self) -> str:
        return (
            self.name
            + (f":{self.tag}" if self.tag else "")
            + (f"@{self.digest}" if self.digest else "")
        )


def parse_reference(reference: str) -> ImageReference:
    """The parts of an image reference; InvalidSpec naming what is wrong."""
    rest, _, digest = reference.partition("@")
    if digest and not _DIGEST.match(digest):
        raise InvalidSpec(
            f"image {reference!r}: the digest {digest!r} is not sha256: and 64 hex digits"
        )
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    name, tag = (rest[:colon], rest[colon + 1 :]) if colon > slash else (rest, "")
    first, sep, path = name.partition("/")
    is_host = bool(sep) and ("." in first or ":" in first or first == "localhost")
    registry = first if is_host else DEFAULT_REGISTRY
    repository = path if is_host else name
    if is_host and not _HOST.match(first):
        raise InvalidSpec(f"image {reference!r}: {first!r} is not a registry host[:port]")
    if not _NAME.match(repository):
        raise InvalidSpec(
            f"image {reference!r}: {repository!r} is not a repository name "
            "(lowercase letters, digits and . _ - separators, / between path parts)"
        )
    if tag and not _TAG.match(tag):
        raise InvalidSpec(f"image {reference!r}: {tag!r} is not a tag")
    if not tag and not digest:
        tag = "latest"
    return ImageReference(registry=registry, name=name, tag=tag, digest=digest)


def auth_header(auth: RegistryAuth, registry: str) -> str:
    """The X-Registry-Auth value: base64url of the JSON the engine hands to the registry."""
    body: dict[str, str] = {"serveraddress": registry}
    if auth.identity_token:
        body["identitytoken"] = auth.identity_token
    else:
        body["username"] = auth.username
        body["password"] = auth.password
    return base64.urlsafe_b64encode(msgspec.json.encode(body)).decode()
