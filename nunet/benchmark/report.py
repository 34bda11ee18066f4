"""What one benchmark run measured: the figures, the RTT to each peer, and what was not measured."""

from __future__ import annotations

import msgspec

from nunet.capability.model import Benchmarks


class BenchmarkReport(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    benchmarks: Benchmarks
    rtt: dict[str, float] = {}  # seconds to each peer probed
    notes: tuple[str, ...] = ()  # what could not be measured and why
