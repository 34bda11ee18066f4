"""The executors a node runs work with, as its config and its machine allow: each is opened at
start, recovers what the node started before a restart, and is closed (its work left running,
to be recovered) when the node stops."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack

import msgspec
import structlog

from nunet.eventlog import Event
from nunet.executor import Executor, ExecutorError
from nunet.executor.docker import DockerEngine, DockerExecutor, RegistryAuth
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
    """The executors available now, by name; an unavailable one is logged and left out."""
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
    return executors
