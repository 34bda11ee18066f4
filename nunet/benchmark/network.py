"""Network RTT of the node: the median of what a probe of its known peers measured."""

from __future__ import annotations

import asyncio
import math
import statistics
from collections.abc import Awaitable, Callable, Mapping

RttProbe = Callable[[], Awaitable[Mapping[str, float]]]


async def measure_rtt(
    probe: RttProbe, seconds: float
) -> tuple[float, dict[str, float], tuple[str, ...]]:
    """(median seconds, seconds per peer, notes). The probe gets `seconds`; then it is cancelled."""
    try:
        results = await asyncio.wait_for(probe(), seconds)
    except TimeoutError:
        return (
            0.0,
            {},
            (f"network RTT not measured: the peer probe took longer than {seconds:.2f} s",),
        )
    except Exception as exc:  # the probe is the caller's code reaching other machines
        return 0.0, {}, (f"network RTT not measured: the peer probe failed: {exc}",)
    rtt: dict[str, float] = {}
    notes = []
    for peer, value in dict(results).items():
        if isinstance(value, int | float) and math.isfinite(value) and value >= 0:
            rtt[str(peer)] = float(value)
        else:
            notes.append(f"RTT to {peer} ignored: {value!r} is not a number of seconds")
    if not rtt:
        notes.append("network RTT not measured: the probe reached no peer")
        return 0.0, {}, tuple(notes)
    return statistics.median(rtt.values()), rtt, tuple(notes)
