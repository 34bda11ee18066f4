"""The executors a node runs work with, as its config and its machine allow: each is opened at
start, recovers what the node started before a restart, and is closed (its work left running,
to be recovered) when the node stops."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

import msgspec
import structlog

from nunet.eventlog import Event
from nunet.executor import Executor, ExecutorError
from nunet.executor.docker import DockerEngine, DockerExecutor, RegistryAuth
from nunet.executor.microvm import MicroVMExecutor, find_kernel
from nunet.node.config import NodeConfig
from nunet.node.layout import NodeLayout

log = structlog.get_logger("nunet.node")


async def open_executors(
    config: NodeConfig,
    layout: NodeLayout,
    did: str,
    record: Callable[[Event], None],
    exits: AsyncExitStack,
) -> dict[str, Executor]:
    """The executors available now, by the names ensembles and capabilities use (`docker`,
    `qemu`, `firecracker`); an unavailable one is logged and left out."""
    executors: dict[str, Executor] = {}
    docker = config.executors.docker
    if docker.enabled:
        engine = DockerEngine(docker.socket)
        try:
            await engine.ping()
        except ExecutorError as exc:
            await engine.close()
            log.info("no docker executor", reason=str(exc))
        else:
            executor = DockerExecutor(
                record,
                node_id=did,
                allow_privileged=docker.allow_privileged,
                registry_auth={
                    host: msgspec.convert(msgspec.to_builtins(auth), RegistryAuth)
                    for host, auth in docker.registries.items()
                },
                engine=engine,
                log_dir=layout.executions / "docker",
            )
            exits.push_async_callback(executor.close)
            recovered = await executor.recover()
            if recovered:
                log.info("executions recovered", executor="docker", executions=recovered)
            executors["docker"] = executor
    microvm = await _open_microvm(config, layout, did, record, exits)
    if microvm is not None:
        executors[config.executors.microvm.backend] = microvm
    return executors


async def _open_microvm(
    config: NodeConfig,
    layout: NodeLayout,
    did: str,
    record: Callable[[Event], None],
    exits: AsyncExitStack,
) -> MicroVMExecutor | None:
    settings = config.executors.microvm
    if not settings.enabled:
        return None
    kernel = find_kernel(Path(settings.kernel_dir))
    vmm = "qemu-system-x86_64" if settings.backend == "qemu" else "firecracker"
    if kernel is None or shutil.which(vmm) is None:
        log.info(
            "no microvm executor",
            reason=f"needs {vmm} on PATH and a guest kernel in {settings.kernel_dir} "
            "(python -m nunet.executor.microvm.kernel)",
        )
        return None
    executor = MicroVMExecutor(
        record,
        node_id=did,
        kernel=kernel,
        state_dir=layout.executions / "microvm",
        backend=settings.backend,
        accel=settings.accel,
        allow_privileged=settings.allow_privileged,
    )
    exits.push_async_callback(executor.close)
    await executor.recover()
    return executor
