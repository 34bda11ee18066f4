"""Checking an execution spec before a VM is built for it: the struct's own constraints (msgspec
does not check them when a struct is built in code) and what a microVM cannot do. Each refusal
is an InvalidSpec naming the field and how to fix it.
"""

from __future__ import annotations

import msgspec

from nunet.executor.errors import InvalidSpec
from nunet.executor.spec import ExecutionSpec

_GUEST_RESERVED = ("/.nunet", "/proc", "/sys", "/dev")


def check_spec(spec: ExecutionSpec, *, allow_privileged: bool) -> None:
    try:
        msgspec.convert(msgspec.to_builtins(spec), ExecutionSpec)
    except msgspec.ValidationError as error:
        raise InvalidSpec(f"the execution spec is malformed: {error}") from None
    if spec.entrypoint is not None and not spec.entrypoint:
        raise InvalidSpec("entrypoint is empty: leave it out to use the image's own")
    for key in spec.env:
        if not key or "=" in key or "\0" in key:
            raise InvalidSpec(f"env has a bad variable name {key!r}: names hold no '=' or NUL")
    for index, mount in enumerate(spec.inputs):
        if not mount.source.startswith("/"):
            raise InvalidSpec(
                f"inputs[{index}].source must be an absolute path on the host, not {mount.source!r}"
            )
        _check_target(f"inputs[{index}].target", mount.target)
    if spec.output_dir and not spec.output_dir.startswith("/"):
        raise InvalidSpec(
            f"output_dir must be an absolute path on the host, not {spec.output_dir!r}"
        )
    if spec.output_dir:
        _check_target("output_target", spec.output_target)
    if spec.privileged and not allow_privileged:
        raise InvalidSpec("privileged executions are not allowed on this node")
    if spec.limits.gpus:
        raise InvalidSpec("limits.gpus: the microVM executor passes no GPU through to a VM")
    if spec.network != "none" or spec.ports:
        raise InvalidSpec(
            "network/ports: microVMs run without a network here; use network 'none' and no ports"
        )


def _check_target(field: str, target: str) -> None:
    if not target.startswith("/") or target == "/":
        raise InvalidSpec(
            f"{field} must be an absolute path inside the VM other than /: {target!r}"
        )
    for reserved in _GUEST_RESERVED:
        if target == reserved or target.startswith(reserved + "/"):
            raise InvalidSpec(f"{field} {target!r} is under {reserved}, which the guest reserves")
