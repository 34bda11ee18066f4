"""The Docker executor: executions as containers on a local Docker engine, through its Engine API
(an async httpx client on the Unix socket)."""

from nunet.executor.docker.engine import DockerEngine, EngineError
from nunet.executor.docker.executor import DockerExecutor
from nunet.executor.docker.reference import ImageReference, RegistryAuth, parse_reference

__all__ = [
    "DockerEngine",
    "DockerExecutor",
    "EngineError",
    "ImageReference",
    "RegistryAuth",
    "parse_reference",
]
