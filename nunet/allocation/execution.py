"""An allocation order as its executor runs it: the pure translation `AllocationOrder → ExecutionSpec`.

* limits from cpu, ram, disk, gpus and the time limit;
* ports published on 127.0.0.1 with network `host` when the order has ports, network `none`
  otherwise;
* provisioning scripts run before the command, in order, in one shell:
  `sh -c '{ script1 } && { script2 } && exec "$@"' -- command...` (the order's entrypoint, if
  any, is the start of that command), so a failing script ends the allocation with its exit
  code;
* SSH keys written to a file the provider keeps, mounted read-only at `/root/.ssh/authorized_keys`;
* the inputs (read-only) and outputs (read-write) mounted from the volumes the provider staged;
  the outputs together may hold `output_bytes`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from nunet.allocation.errors import AllocateRefused
from nunet.allocation.protocol import AllocationOrder
from nunet.executor.spec import GIB, ExecutionSpec, Limits, Mount, OutputMount, PortMapping

AUTHORIZED_KEYS = "/root/.ssh/authorized_keys"
DEPLOYMENT_LABEL = "nunet.deployment"
ALLOCATION_LABEL = "nunet.allocation"
NODE_LABEL = "nunet.ensemble_node"
RUN_LABEL = "nunet.run"


def execution_id(deployment: str, allocation: str, run: int, incarnation: str = "") -> str:
    """The execution id of one run, readable and at most 63 characters. An executor never
    takes an id twice, so each allocation actor adds its own `incarnation` (a few random hex
    digits): an allocation created again after a refused allocate gets fresh ids."""
    digest = hashlib.sha256(f"{deployment}/{allocation}".encode()).hexdigest()[:8]
    readable = f"{deployment}.{allocation}"[:36].rstrip(".-")
    suffix = f"-{incarnation[:8]}" if incarnation else ""
    return f"{readable}-{digest}{suffix}-r{run}"


def provisioned_command(order: AllocationOrder) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """(entrypoint, command) with the order's provisioning scripts run first."""
    if not order.provision:
        return order.entrypoint, order.command
    program = (*(order.entrypoint or ()), *order.command)
    if not program:
        raise AllocateRefused(
            f"allocations.{order.name}.provision: provisioning runs before the allocation's "
            "command, but it has none (the image's own cannot be run after it); give "
            "execution.command"
        )
    # `{ ...\n}` groups each script without a subshell (a `cd` or `export` carries on) and
    # makes `a; b` one step whose failure stops the rest.
    script = " && ".join(f"{{ {step}\n}}" for step in order.provision) + ' && exec "$@"'
    return ("sh", "-c", script, "--"), program


def keys_text(order: AllocationOrder) -> str:
    """The authorized_keys file of the order's SSH keys (one per line)."""
    for i, key in enumerate(order.keys):
        if "\n" in key or "\r" in key or not key.strip():
            raise AllocateRefused(
                f"allocations.{order.name}.keys[{i}]: an SSH public key is one non-empty line"
            )
    return "".join(key.strip() + "\n" for key in order.keys)


def execution_spec(
    order: AllocationOrder,
    *,
    deployment: str,
    node: str,
    execution: str,
    run: int,
    keys_file: Path | None = None,
    inputs: tuple[Mount, ...] = (),
    outputs: tuple[OutputMount, ...] = (),
    output_bytes: int | None = None,
) -> ExecutionSpec:
    """The spec of run `run` of `order` as execution `execution`; `keys_file` holds
    `keys_text(order)` when it has keys; `inputs` and `outputs` are the staged volumes."""
    if order.keys and keys_file is None:
        raise ValueError(f"allocation {order.name} has SSH keys: give the file that holds them")
    entrypoint, command = provisioned_command(order)
    health = order.health_check
    return ExecutionSpec(
        id=execution,
        image=order.image,
        command=command,
        entrypoint=entrypoint,
        env=dict(order.env),
        working_dir=order.working_dir,
        inputs=(
            (Mount(source=str(keys_file), target=AUTHORIZED_KEYS, read_only=True),)
            if order.keys and keys_file is not None
            else ()
        )
        + inputs,
        outputs=outputs,
        limits=Limits(
            cpu=order.cpu,
            memory=order.ram,
            disk=order.disk,
            gpus=order.gpus,
            timeout_seconds=order.timeout_seconds,
            output_bytes=GIB if output_bytes is None else output_bytes,
        ),
        network="host" if order.ports else "none",
        ports=tuple(
            PortMapping(port=port.private, host_port=port.public, host_ip="127.0.0.1")
            for port in order.ports
        ),
        privileged=order.privileged,
        health_check=health.command if health is not None else (),
        labels={
            DEPLOYMENT_LABEL: deployment,
            NODE_LABEL: node,
            ALLOCATION_LABEL: order.name,
            RUN_LABEL: str(run),
        },
    )
