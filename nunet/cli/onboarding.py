"""`nunet onboard | offboard | status | benchmark | hardware`: the share of this machine the
node offers, through the running node's local API.

Values go to the node as typed (`4GiB`, `0,1`, `cpu=0.1,currency=NTX`): the node parses them,
so the CLI and the API refuse the same input with the same message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from nunet.api import find_api
from nunet.capability.units import describe_size
from nunet.cli.context import CliContext, emit, local_actor, output_option, pass_context
from nunet.onboarding.behaviors import (
    BENCHMARK_BEHAVIOR,
    HARDWARE_BEHAVIOR,
    MAX_BENCHMARK_SECONDS,
    OFFBOARD_BEHAVIOR,
    ONBOARD_BEHAVIOR,
    ONBOARDING_ACTOR_ID,
    STATUS_BEHAVIOR,
)

_DETECT_TIMEOUT = 60.0  # detecting GPUs may wait on nvidia-smi
_API_MAX_TIMEOUT = 300.0  # the longest call the local API accepts

_api_option = click.option("--api", default=None, help="API URL or Unix socket path.")


def _call(ctx: CliContext, api: str | None, behavior: str, payload: Any, timeout: float) -> Any:
    with find_api(ctx.home, api) as client:
        return client.invoke(
            behavior, payload, to=local_actor(client, ONBOARDING_ACTOR_ID), timeout=timeout
        )


@click.command("onboard")
@click.option("--cpu", help="Cores to offer (fractions allowed: 0.5).")
@click.option("--ram", help="Memory to offer, with a unit: 4GiB, 512MiB.")
@click.option("--disk", help="Disk to offer, with a unit: 20GiB.")
@click.option("--gpus", help="GPU indices to offer: 0,1 (see `nunet hardware`).")
@click.option("--no-gpu", is_flag=True, help="Offer no GPU.")
@click.option("--price", help="Per hour: cpu=0.1,ram=0.05,disk=0.01,gpu=2,currency=NTX.")
@click.option("--location", help="Where the machine is: EU/DE/Berlin.")
@click.option("--label", "labels", multiple=True, help="key=value; repeat for more.")
@_api_option
@pass_context
@output_option
def onboard(
    ctx: CliContext,
    cpu: str | None,
    ram: str | None,
    disk: str | None,
    gpus: str | None,
    no_gpu: bool,
    price: str | None,
    location: str | None,
    labels: tuple[str, ...],
    api: str | None,
) -> None:
    """Offer a share of this machine to the swarm; on an onboarded node, resize the share.

    The first time, --cpu, --ram and --disk are required; a resize changes only what it names.
    """
    if gpus is not None and no_gpu:
        raise click.UsageError("give --gpus or --no-gpu, not both")
    payload: dict[str, Any] = {}
    for name, value in (
        ("cpu", cpu),
        ("ram", ram),
        ("disk", disk),
        ("gpus", gpus),
        ("price", price),
        ("location", location),
    ):
        if value is not None:
            payload[name] = value
    if no_gpu:
        payload["gpus"] = None
    if labels:
        payload["labels"] = list(labels)
    if not payload:
        raise click.UsageError("say what to offer, e.g. --cpu 2 --ram 4GiB --disk 20GiB")
    status = _call(ctx, api, ONBOARD_BEHAVIOR, payload, _DETECT_TIMEOUT)
    _show_status(ctx, status)


@click.command("offboard")
@click.option("--force", is_flag=True, help="Release running allocations too.")
@click.option("--reason", default="", help="Why (recorded in the log).")
@_api_option
@pass_context
@output_option
def offboard(ctx: CliContext, force: bool, reason: str, api: str | None) -> None:
    """Withdraw this machine's share from the swarm (refused while allocations run, unless --force)."""
    status = _call(ctx, api, OFFBOARD_BEHAVIOR, {"force": force, "reason": reason}, 30.0)
    _show_status(ctx, status)


@click.command("status")
@_api_option
@pass_context
@output_option
def status(ctx: CliContext, api: str | None) -> None:
    """What is onboarded, allocated and free, per resource, and the latest benchmark."""
    _show_status(ctx, _call(ctx, api, STATUS_BEHAVIOR, None, 30.0))


@click.command("benchmark")
@click.option(
    "--budget",
    type=click.FloatRange(min=0, min_open=True, max=MAX_BENCHMARK_SECONDS),
    default=None,
    help="Seconds the run may take (default: the node's configured budget).",
)
@_api_option
@pass_context
@output_option
def benchmark(ctx: CliContext, budget: float | None, api: str | None) -> None:
    """Benchmark the onboarded share again now; the result is stored and announced."""
    payload = {"budget_seconds": budget} if budget is not None else None
    wait = min(_API_MAX_TIMEOUT, (budget or MAX_BENCHMARK_SECONDS) + 60.0)
    summary = _call(ctx, api, BENCHMARK_BEHAVIOR, payload, wait)
    if ctx.output != "table":
        emit(ctx, summary)
        return
    click.echo(render_benchmark(summary))


@click.command("hardware")
@_api_option
@pass_context
@output_option
def hardware(ctx: CliContext, api: str | None) -> None:
    """What the node detects on this machine: CPU, RAM, disk, GPUs (with their indices)."""
    machine = _call(ctx, api, HARDWARE_BEHAVIOR, None, _DETECT_TIMEOUT)
    if ctx.output != "table":
        emit(ctx, machine)
        return
    click.echo(render_hardware(machine))


# -- tables ------------------------------------------------------------------------------------
def _show_status(ctx: CliContext, answer: dict[str, Any]) -> None:
    if ctx.output != "table":
        emit(ctx, answer)
        return
    click.echo(render_status(answer))


def render_status(answer: dict[str, Any]) -> str:
    """Onboarded / allocated / free per resource, then allocations, benchmark and warnings."""
    lines: list[str] = []
    machine = answer.get("machine") or {}
    if not answer["onboarded"]:
        lines.append("not onboarded: this node offers nothing (nunet onboard --cpu ... to offer)")
    else:
        reserved = answer["reservation"]["resources"]
        allocated, free = answer["allocated"], answer["free"]
        rows = [
            ("cpu", _cores(reserved["cpu"]), _cores(allocated["cpu"]), _cores(free["cpu"])),
            ("ram", *(describe_size(part["ram"]) for part in (reserved, allocated, free))),
            ("disk", *(describe_size(part["disk"]) for part in (reserved, allocated, free))),
            ("gpus", *(_gpus(part["gpus"]) for part in (reserved, allocated, free))),
        ]
        lines += _table(("RESOURCE", "ONBOARDED", "ALLOCATED", "FREE"), rows)
        reservation = answer["reservation"]
        price = reservation["price"]
        lines.append("")
        lines.append(
            f"price: cpu {price['cpu']:g}, ram {price['ram']:g}, disk {price['disk']:g}, "
            f"gpu {price['gpu']:g} {price['currency']}/h"
        )
        where = "/".join(
            part
            for part in (reservation["location"][k] for k in ("continent", "country", "city"))
            if part
        )
        lines.append(f"location: {where or 'unknown'}")
        if reservation["labels"]:
            labels = ", ".join(f"{k}={v}" for k, v in sorted(reservation["labels"].items()))
            lines.append(f"labels: {labels}")
        allocations = answer["allocations"]
        lines.append(
            f"allocations: {len(allocations)}"
            + (f" ({', '.join(sorted(allocations))})" if allocations else "")
        )
    if machine:
        lines.append(
            f"machine: {machine['threads']} CPUs ({machine['cpu'] or 'unknown model'}), "
            f"{describe_size(machine['ram'])} RAM, {describe_size(machine['disk_free'])} disk free, "
            f"{len(machine['gpus'])} GPU(s)"
        )
    executors = answer.get("executors") or []
    lines.append(f"executors: {', '.join(executors) or 'none found'}")
    benchmark_ = answer.get("benchmark")
    if answer.get("benchmark_running"):
        lines.append("benchmark: running")
    elif benchmark_ is None:
        lines.append("benchmark: none yet (nunet benchmark)")
    else:
        lines.append(f"benchmark: {_benchmark_line(benchmark_)}")
    lines += [f"warning: {warning}" for warning in answer.get("warnings", [])]
    return "\n".join(lines)


def render_benchmark(summary: dict[str, Any]) -> str:
    lines = [f"benchmark: {_benchmark_line(summary)}"]
    lines += [f"note: {note}" for note in summary.get("notes", [])]
    return "\n".join(lines)


def render_hardware(machine: dict[str, Any]) -> str:
    cpu = machine["cpu"]
    lines = [
        f"cpu: {cpu['model'] or 'unknown model'} ({cpu['architecture']}), {cpu['cores']} cores, "
        f"{cpu['threads']} threads" + (f", {cpu['clock_mhz']} MHz" if cpu["clock_mhz"] else ""),
        f"ram: {describe_size(machine['ram'])} ({describe_size(machine['ram_available'])} available)",
        f"disk: {describe_size(machine['disk'])} ({describe_size(machine['disk_free'])} free)",
        f"os: {machine['os']} {machine['kernel']}".rstrip(),
    ]
    if machine["gpus"]:
        rows = [
            (
                str(gpu["index"]),
                gpu["vendor"],
                gpu["model"],
                describe_size(gpu["vram"]),
                gpu["pci_address"] or "-",
            )
            for gpu in machine["gpus"]
        ]
        lines += _table(("INDEX", "VENDOR", "MODEL", "VRAM", "PCI"), rows)
    else:
        lines.append("gpus: none")
    lines += [f"note: {note}" for note in machine.get("notes", [])]
    return "\n".join(lines)


def _benchmark_line(figures: dict[str, Any]) -> str:
    parts = []
    for name, label, scale, unit in (
        ("cpu_single", "cpu single", 1.0, " op/s"),
        ("cpu_multi", "cpu multi", 1.0, " op/s"),
        ("memory_bandwidth", "memory", 1 << 30, " GiB/s"),
        ("disk_read", "disk read", 1 << 20, " MiB/s"),
        ("disk_write", "disk write", 1 << 20, " MiB/s"),
        ("disk_random_iops", "random reads", 1.0, " IOPS"),
        ("gpu_flops", "gpu", 1e12, " TFLOPS"),
    ):
        value = figures.get(name, 0.0)
        if value:
            parts.append(f"{label} {value / scale:.4g}{unit}")
    if figures.get("network_rtt"):
        parts.append(f"rtt {figures['network_rtt'] * 1000:.1f} ms")
    return ", ".join(parts) or "nothing measured"


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]


def _cores(value: float) -> str:
    return f"{value:g}"


def _gpus(gpus: list[dict[str, Any]]) -> str:
    return ",".join(str(gpu["index"]) for gpu in gpus) or "-"
