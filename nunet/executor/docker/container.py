"""The pure translation between an execution spec and the Engine API: the container to create,
the labels that find it again, and what inspect and stats say back."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import msgspec

from nunet.executor.errors import InvalidSpec
from nunet.executor.spec import ExecutionSpec, Limits, OutputMount

NODE_LABEL = "nunet.node"
EXECUTION_LABEL = "nunet.execution"
LIMITS_LABEL = "nunet.limits"  # what recover() needs to keep enforcing them after a restart
OUTPUTS_LABEL = "nunet.outputs"  # JSON [{source, target}]: recover() still measures them
HEALTH_LABEL = "nunet.health_check"
CPU_PERIOD_US = 100_000


def check_docker_spec(spec: ExecutionSpec) -> None:
    """What Docker on this node cannot do; InvalidSpec naming the field."""
    if spec.ports and spec.network != "host":
        raise InvalidSpec(
            f"execution spec {spec.id!r}: ports need network 'host' (network 'none' has no "
            "interface to publish on, and this node's engine runs without a bridge)"
        )
    for i, port in enumerate(spec.ports):
        if port.host_port not in (0, port.port):
            raise InvalidSpec(
                f"execution spec {spec.id!r}: ports[{i}] maps {port.port} to host port "
                f"{port.host_port}, but with network 'host' the job binds the host's ports "
                "itself: leave host_port 0 or equal to port"
            )


def container_name(node_id: str, execution_id: str) -> str:
    """Unique per node on a shared engine (a devstack runs several nodes against one)."""
    node = hashlib.sha256(node_id.encode()).hexdigest()[:8]
    return f"nunet-{node}-{execution_id}"


def labels(spec: ExecutionSpec, node_id: str) -> dict[str, str]:
    return {
        **spec.labels,
        NODE_LABEL: node_id,
        EXECUTION_LABEL: spec.id,
        LIMITS_LABEL: msgspec.json.encode(spec.limits).decode(),
        OUTPUTS_LABEL: msgspec.json.encode(spec.outputs).decode(),
        HEALTH_LABEL: msgspec.json.encode(spec.health_check).decode(),
    }


def container_config(spec: ExecutionSpec, image_id: str, node_id: str) -> dict[str, Any]:
    """The body of POST /containers/create for a checked spec, pinned to `image_id`."""
    limits = spec.limits
    binds = [f"{m.source}:{m.target}:ro" for m in spec.inputs]
    binds += [f"{o.source}:{o.target}:rw" for o in spec.outputs]
    host: dict[str, Any] = {
        "NetworkMode": spec.network,
        "Binds": binds,
        "CpuPeriod": CPU_PERIOD_US,
        "CpuQuota": max(1000, round(limits.cpu * CPU_PERIOD_US)),
        "Memory": limits.memory,
        "MemorySwap": limits.memory,  # no swap: the limit is the limit
        "Privileged": spec.privileged,
        "LogConfig": {"Type": "none", "Config": {}},  # the executor keeps the (capped) log
        "Init": False,
    }
    if limits.disk:
        host["StorageOpt"] = {"size": str(limits.disk)}
    if limits.gpus:
        host["DeviceRequests"] = [
            {
                "Driver": "nvidia",
                "DeviceIDs": [str(index) for index in limits.gpus],
                "Capabilities": [["gpu"]],
            }
        ]
    config: dict[str, Any] = {
        "Image": image_id,
        "Cmd": list(spec.command) or None,
        "Env": [f"{name}={value}" for name, value in spec.env.items()],
        "Labels": labels(spec, node_id),
        "AttachStdout": True,
        "AttachStderr": True,
        "HostConfig": host,
    }
    if spec.entrypoint is not None:
        config["Entrypoint"] = list(spec.entrypoint)
    if spec.working_dir:
        config["WorkingDir"] = spec.working_dir
    if spec.ports:
        config["ExposedPorts"] = {f"{p.port}/{p.protocol}": {} for p in spec.ports}
    return config


def limits_of(container_labels: dict[str, str]) -> Limits:
    """The limits a container was created with (defaults where the label is missing)."""
    try:
        return msgspec.json.decode(container_labels.get(LIMITS_LABEL, "{}"), type=Limits)
    except msgspec.DecodeError:
        return Limits()


def outputs_of(container_labels: dict[str, str]) -> tuple[OutputMount, ...]:
    """The outputs a container was created with (none where the label is missing or unreadable)."""
    try:
        return msgspec.json.decode(
            container_labels.get(OUTPUTS_LABEL, "[]"), type=tuple[OutputMount, ...]
        )
    except msgspec.DecodeError:
        return ()


def health_check_of(container_labels: dict[str, str]) -> tuple[str, ...]:
    try:
        return msgspec.json.decode(container_labels.get(HEALTH_LABEL, "[]"), type=tuple[str, ...])
    except msgspec.DecodeError:
        return ()


def cpu_and_memory(stats: dict[str, Any]) -> tuple[float, int]:
    """CPU seconds and the memory peak (bytes) in one stats sample; zeros once it has stopped.

    cgroup v1 reports the peak (max_usage); v2 has none, so the sample's usage stands in and
    the executor keeps the largest it saw."""
    cpu_ns = stats.get("cpu_stats", {}).get("cpu_usage", {}).get("total_usage", 0)
    memory = stats.get("memory_stats", {})
    return cpu_ns / 1e9, int(memory.get("max_usage") or memory.get("usage") or 0)


def timestamp(text: str) -> float | None:
    """An Engine API time (RFC 3339 with nanoseconds) as seconds; None for the zero time."""
    if not text or text.startswith("0001-"):
        return None
    whole, _, fraction = text.rstrip("Z").partition(".")
    digits = (fraction.split("+")[0].split("-")[0] + "000000")[:6]
    moment = datetime.fromisoformat(whole + "+00:00")
    return moment.timestamp() + int(digits) / 1e6


def describe_bytes(count: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size:
            return f"{count / size:.1f}{unit} = {count} bytes"
    return f"{count} bytes"
