"""What two parties agree on: the contract's terms, and the usage a provider meters against them.

Rates are floats per hour of the named currency, as `nunet.capability.Price` quotes them; every
charge is computed from the cumulative `Metered` usage at once (`charge`), in integer micro-units
and rounded down, so the same usage always gives the same amount on both sides and a later,
larger usage never gives a smaller one.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from nunet.contracts.amount import Amount

Short = Annotated[str, msgspec.Meta(max_length=256)]
ContractId = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{32}$")]
"""16 random bytes in hex, chosen by the requester."""
ChannelId = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{32}$")]
"""The payment channel the contract's vouchers are bound to; 16 random bytes in hex."""
Rate = Annotated[float, msgspec.Meta(ge=0, le=1e12)]
Seconds = Annotated[float, msgspec.Meta(ge=0, le=365 * 86400)]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z][A-Z0-9]{1,11}$")]

_MS_PER_HOUR = 3_600_000
_MIB_PER_GIB = 1024


class Rates(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Price per resource per hour (and per run) in the contract's currency.

    `cpu` is charged on CPU time used (core-hours the executor measured); `ram`, `disk` and
    `gpu` on what is reserved for as long as the work runs (GiB-hours, GPU-hours); `wall` per
    hour of running; `per_job` once per run started.
    """

    cpu: Rate = 0.0
    ram: Rate = 0.0
    disk: Rate = 0.0
    gpu: Rate = 0.0
    wall: Rate = 0.0
    per_job: Rate = 0.0

    def below(self, floor: Rates) -> list[str]:
        """The resources whose rate is under `floor`'s, as `cpu 0.1 < 0.5`."""
        return [
            f"{name} {getattr(self, name):g} < {getattr(floor, name):g}"
            for name in self.__struct_fields__
            if getattr(self, name) < getattr(floor, name)
        ]


class Reserved(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the provider holds for the contract's work: the bound on what it may charge for."""

    cpu: Annotated[float, msgspec.Meta(ge=0)] = 0.0  # cores
    ram: Annotated[int, msgspec.Meta(ge=0)] = 0  # bytes
    disk: Annotated[int, msgspec.Meta(ge=0)] = 0  # bytes
    gpus: Annotated[int, msgspec.Meta(ge=0)] = 0
    allocations: Annotated[int, msgspec.Meta(ge=1)] = 1  # how many allocations share it


class ContractTerms(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A bilateral contract for one ensemble node of one deployment, requester -> provider.

    `budget` caps the total the requester will ever pay (None: no cap). The provider sends a
    debit note every `payment_interval`; a note not covered by a voucher within `grace_period`
    makes the provider stop the work. Either party may terminate; the work then stops after
    `termination_notice` (and is charged until then).
    """

    contract_id: ContractId
    channel: ChannelId
    requester: Short  # DID: the orchestrating node, which pays
    provider: Short  # DID: the node that runs the work, which is paid
    deployment: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
    node: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9.-]{0,190}$")]
    currency: Currency = "NTX"
    rates: Rates = Rates()
    budget: Amount | None = None
    payment_interval: Annotated[float, msgspec.Meta(ge=1, le=86400)] = 60.0
    grace_period: Seconds = 120.0
    termination_notice: Seconds = 0.0
    reserved: Reserved = Reserved()
    proposed_at: Annotated[float, msgspec.Meta(ge=0)]


class Metered(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Cumulative usage of a contract's work, as integers (so two parties sum it alike).

    `ram_mib_ms` and `disk_mib_ms` are the reserved MiB times the milliseconds it ran;
    `gpu_ms` the reserved GPUs times those milliseconds.
    """

    cpu_ms: Annotated[int, msgspec.Meta(ge=0)] = 0
    wall_ms: Annotated[int, msgspec.Meta(ge=0)] = 0
    gpu_ms: Annotated[int, msgspec.Meta(ge=0)] = 0
    ram_mib_ms: Annotated[int, msgspec.Meta(ge=0)] = 0
    disk_mib_ms: Annotated[int, msgspec.Meta(ge=0)] = 0
    runs: Annotated[int, msgspec.Meta(ge=0)] = 0

    def __add__(self, other: Metered) -> Metered:
        return Metered(**{f: getattr(self, f) + getattr(other, f) for f in self.__struct_fields__})

    def at_least(self, other: Metered) -> Metered:
        """Each quantity the larger of this one's and `other`'s."""
        return Metered(
            **{f: max(getattr(self, f), getattr(other, f)) for f in self.__struct_fields__}
        )

    def covers(self, other: Metered) -> bool:
        """Whether every quantity is at least `other`'s (usage never goes back)."""
        return all(getattr(self, f) >= getattr(other, f) for f in self.__struct_fields__)


def charge(rates: Rates, usage: Metered) -> int:
    """What `usage` costs at `rates`, in micro-units, rounded down."""
    unit_ms_per_hour = (
        rates.cpu * usage.cpu_ms
        + rates.wall * usage.wall_ms
        + rates.gpu * usage.gpu_ms
        + rates.ram * usage.ram_mib_ms / _MIB_PER_GIB
        + rates.disk * usage.disk_mib_ms / _MIB_PER_GIB
    )
    # Integer arithmetic on micro-units per hour keeps both parties' sums identical.
    timed = int(unit_ms_per_hour * 1_000_000) // _MS_PER_HOUR
    return timed + int(rates.per_job * 1_000_000) * usage.runs
