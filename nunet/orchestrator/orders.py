"""From the ensemble to what a provider is told to run: one `AllocationOrder` per allocation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, cast

from nunet.allocation.protocol import AllocationOrder, HealthCheck, InputOrder, OutputOrder, Port
from nunet.ensemble import EnsembleError, FlatEnsemble, Problem

ExecutorName = Literal["docker", "qemu", "firecracker"]
EXECUTORS: frozenset[str] = frozenset(("docker", "qemu", "firecracker"))


def orders_for(
    flat: FlatEnsemble, node: str, gpus: Sequence[int] = ()
) -> tuple[AllocationOrder, ...]:
    """The orders of `node`'s allocations; the GPUs its machine reserved are handed out in
    allocation order, each allocation taking as many as it asked for."""
    spec = flat.nodes[node]
    free_gpus = list(gpus)
    orders = []
    for name in spec.allocations:
        allocation = flat.allocations[name].allocation
        wanted = len(allocation.resources.gpus)
        mine, free_gpus = tuple(free_gpus[:wanted]), free_gpus[wanted:]
        check = allocation.healthcheck
        orders.append(
            AllocationOrder(
                name=name,
                type="service" if allocation.type.value == "service" else "task",
                executor=_executor(allocation.executor, name),
                image=allocation.execution.image,
                command=allocation.execution.command,
                entrypoint=allocation.execution.entrypoint or None,
                env=dict(allocation.execution.env),
                working_dir=allocation.execution.working_dir,
                cpu=allocation.resources.cpu,
                ram=allocation.resources.ram,
                disk=allocation.resources.disk,
                gpus=mine,
                timeout_seconds=allocation.timeouts.run,
                start_timeout_seconds=allocation.timeouts.start,
                health_check=None
                if check is None
                else HealthCheck(
                    command=check.exec,
                    interval=check.interval,
                    timeout=check.timeout,
                    retries=check.retries,
                    start_period=check.start_period,
                ),
                ports=tuple(
                    Port(private=p.private, public=p.public)
                    for p in spec.ports
                    if p.allocation == name
                ),
                provision=allocation.provision,
                keys=allocation.keys,
                privileged=allocation.privileged,
                inputs=tuple(
                    InputOrder(source=i.source, target=i.target, checksum=i.checksum)
                    for i in allocation.inputs
                ),
                outputs=tuple(
                    OutputOrder(path=o.path, destination=o.destination, on_failure=o.on_failure)
                    for o in allocation.outputs
                ),
            )
        )
    return tuple(orders)


def _executor(name: str, allocation: str) -> ExecutorName:
    if name not in EXECUTORS:
        raise EnsembleError(
            [
                Problem(
                    path=f"allocations.{allocation}.executor", message=f"unknown executor {name!r}"
                )
            ]
        )
    return cast(ExecutorName, name)
