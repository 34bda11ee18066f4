"""The provider's meter: what its executors report per allocation and run, as the contract's
cumulative `Metered` usage (pure: no I/O, no clock).

An executor's usage restarts at zero with each run of an allocation (run 1, 2, ... after
restarts) and, within a run, only grows; reports may arrive late and out of order. The meter
keeps each run's largest report and ignores what is older, so `metered()` never goes back
whatever order the reports come in.
"""

from __future__ import annotations

import math
from typing import Annotated, Final

import msgspec

from nunet.contracts.errors import ContractError
from nunet.contracts.terms import Metered, Reserved

MIB: Final = 1024 * 1024
MAX_RUN_SECONDS: Final = 100 * 365 * 86400.0
"""No run reports more than this much CPU or wall time; more is a broken report."""


class RunUsage(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The largest usage reported for run `run` of allocation `allocation`."""

    allocation: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    run: Annotated[int, msgspec.Meta(ge=1)]
    cpu_seconds: Annotated[float, msgspec.Meta(ge=0, le=MAX_RUN_SECONDS)]
    wall_seconds: Annotated[float, msgspec.Meta(ge=0, le=MAX_RUN_SECONDS)]


class MeterState(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a meter persists: every run it has seen, by allocation then run."""

    runs: tuple[RunUsage, ...] = ()


class Meter:
    """Cumulative usage of one contract's work, from its allocations' usage reports."""

    def __init__(self, reserved: Reserved) -> None:
        self._reserved = reserved
        # allocation -> run -> (cpu seconds, wall seconds), runs in increasing order
        self._runs: dict[str, dict[int, tuple[float, float]]] = {}

    @classmethod
    def from_state(cls, reserved: Reserved, state: MeterState) -> Meter:
        """The meter `state` was taken from, going on as it would have."""
        meter = cls(reserved)
        for usage in state.runs:
            meter.observe(usage.allocation, usage.run, usage.cpu_seconds, usage.wall_seconds)
        return meter

    @property
    def state(self) -> MeterState:
        return MeterState(
            runs=tuple(
                RunUsage(allocation=allocation, run=run, cpu_seconds=cpu, wall_seconds=wall)
                for allocation, runs in self._runs.items()
                for run, (cpu, wall) in runs.items()
            )
        )

    def observe(self, allocation: str, run: int, cpu_seconds: float, wall_seconds: float) -> bool:
        """Take a usage report of `allocation`'s run `run`; whether it changed the usage.

        Run 0 (not started) and runs older than the allocation's latest are ignored, and so is
        a report lower than one already taken for the same run. ContractError naming the field
        when a report is not a usage (negative, not finite, or beyond any run).
        """
        if not 0 < len(allocation) <= 256:
            raise ContractError(f"allocation {allocation[:64]!r}: the name must be 1 to 256 long")
        _check(allocation, "cpu_seconds", cpu_seconds)
        _check(allocation, "wall_seconds", wall_seconds)
        if run < 0:
            raise ContractError(f"allocation {allocation!r}: run {run} is not a run number")
        if run == 0:
            return False
        runs = self._runs.setdefault(allocation, {})
        if runs and run < max(runs):
            return False  # a late report of a run that has since restarted
        cpu, wall = runs.get(run, (0.0, 0.0))
        seen = run in runs
        updated = (max(cpu, cpu_seconds), max(wall, wall_seconds))
        runs[run] = updated
        return not seen or updated != (cpu, wall)

    def metered(self) -> Metered:
        """The contract's usage so far: CPU summed over every run of every allocation; wall time
        the longest any allocation has run (the reservation is held while any one runs); RAM,
        disk and GPUs their reservation for that wall time; runs every run seen."""
        cpu_ms = sum(
            math.floor(cpu * 1000) for runs in self._runs.values() for cpu, _ in runs.values()
        )
        wall_ms = max(
            (
                sum(math.floor(wall * 1000) for _, wall in runs.values())
                for runs in self._runs.values()
            ),
            default=0,
        )
        reserved = self._reserved
        return Metered(
            cpu_ms=cpu_ms,
            wall_ms=wall_ms,
            gpu_ms=reserved.gpus * wall_ms,
            ram_mib_ms=reserved.ram // MIB * wall_ms,
            disk_mib_ms=reserved.disk // MIB * wall_ms,
            runs=sum(len(runs) for runs in self._runs.values()),
        )


def _check(allocation: str, field: str, value: float) -> None:
    if not (math.isfinite(value) and 0 <= value <= MAX_RUN_SECONDS):
        raise ContractError(
            f"allocation {allocation!r}: {field} {value!r} is not a usage "
            f"(a number of seconds from 0 to {MAX_RUN_SECONDS:.0f})"
        )
