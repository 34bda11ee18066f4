"""What to run: one execution's image, command, environment, mounts and limits.

Sizes are ints of bytes and times floats of seconds: the ensemble layer turns user units into
these (nunet.capability.units) before a spec is built.
"""

from __future__ import annotations

import posixpath
from typing import Annotated, Literal

import msgspec

ExecutionId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]
Path = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
Bytes = Annotated[int, msgspec.Meta(ge=0)]
GIB = 1 << 30


def nesting(path: str, other: str) -> str:
    """How the absolute path `path` stands to `other`, lexically (`.`, `..`, doubled and trailing
    slashes tidied, nothing resolved): "is the same directory as", "is inside", "holds", or ""
    when they are apart. Two mounts that are not apart hide or land in one another."""
    mine, theirs = _normal(path), _normal(other)
    if mine == theirs:
        return "is the same directory as"
    if mine.startswith(theirs.rstrip("/") + "/"):
        return "is inside"
    if theirs.startswith(mine.rstrip("/") + "/"):
        return "holds"
    return ""


def _normal(path: str) -> str:
    return "/" + posixpath.normpath(path).lstrip("/")


class Mount(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A host directory or file made visible inside the execution (inputs: read-only)."""

    source: Path  # absolute, on the host
    target: Path  # absolute, inside the execution
    read_only: bool = True


class OutputMount(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A host directory mounted read-write; what it holds when the execution ends is an output."""

    source: Path  # absolute host directory (one per output: a storage volume)
    target: Path  # absolute directory inside the execution


class PortMapping(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A port of the execution published on the host (tests: on 127.0.0.1 only)."""

    port: Annotated[int, msgspec.Meta(ge=1, le=65535)]
    host_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 0  # 0: chosen by the backend
    host_ip: str = "127.0.0.1"
    protocol: Literal["tcp", "udp"] = "tcp"


class Limits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the execution may use; enforced by the backend (and said where it cannot be)."""

    cpu: Annotated[float, msgspec.Meta(gt=0, le=1024)] = 1.0  # cores (a CPU quota)
    memory: Annotated[int, msgspec.Meta(ge=4 << 20)] = 256 << 20
    disk: Bytes = 0  # the writable layer / root drive; 0: the backend's default
    gpus: tuple[Annotated[int, msgspec.Meta(ge=0)], ...] = ()  # device indices
    timeout_seconds: Annotated[float, msgspec.Meta(ge=0)] = 0.0  # 0: none
    output_bytes: Bytes = GIB  # the most all outputs together may hold at the end
    log_bytes: Bytes = 64 << 20  # the most log kept per execution; the rest is dropped, counted


class ExecutionSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One execution. `image` is an OCI reference (`name:tag` or `name@sha256:...`)."""

    id: ExecutionId
    image: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
    command: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None  # None: the image's own
    env: dict[str, str] = {}
    working_dir: str = ""  # "": the image's own
    inputs: tuple[Mount, ...] = ()  # always mounted read-only
    outputs: tuple[OutputMount, ...] = ()  # each mounted read-write at its own target
    limits: Limits = Limits()
    network: Literal["none", "host"] = "none"
    ports: tuple[PortMapping, ...] = ()
    privileged: bool = False  # refused unless the node allows privileged executions
    health_check: tuple[str, ...] = ()  # a command run inside; exit status 0 means healthy
    labels: dict[str, str] = {}
