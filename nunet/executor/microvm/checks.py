"""Checking an execution spec before a VM is built for it: the rules every backend shares
(`contract_support.check_spec`), then what a microVM cannot do. Each refusal is an InvalidSpec
naming the field and how to fix it.
"""

from __future__ import annotations

from nunet.executor.contract_support import check_spec as check_shared_rules
from nunet.executor.errors import InvalidSpec
from nunet.executor.spec import ExecutionSpec

_GUEST_RESERVED = ("/.nunet", "/proc", "/sys", "/dev")


def check_spec(spec: ExecutionSpec, *, allow_privileged: bool) -> None:
    check_shared_rules(spec, allow_privileged=allow_privileged)
    for index, mount in enumerate(spec.inputs):
        _check_target(f"inputs[{index}].target", mount.target)
    for index, output in enumerate(spec.outputs):
        _check_target(f"outputs[{index}].target", output.target)
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
