"""Cross-node invoke latency (signed, verified, both envelopes logged on both nodes) vs a raw
nats-py request/reply between the same two servers over the same TLS leaf link.

Target: p50 and p99 within 1.5x of raw. Both percentiles are printed; the JSON line carries p99
(the harder one), ratio = raw / ours (higher is better, 1/1.5 = 0.67 meets the target).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report
from _mesh_pair import latencies, median, mesh_pair, nunet_call, payload, percentile, raw_call

ROUNDS = 3000
BODY = payload(64)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with mesh_pair(Path(tmp)) as pair:
            ours, raw = [], []
            for _ in range(3):  # interleaved, so drift on a noisy machine hits both alike
                ours += await latencies(pair, nunet_call, ROUNDS // 3, BODY)
                raw += await latencies(pair, raw_call, ROUNDS // 3, BODY)
    for name, samples in (("nunet invoke", ours), ("raw nats-py request", raw)):
        print(
            f"{name}: p50 {median(samples) * 1e6:,.0f} us, p99 {percentile(samples, 0.99) * 1e6:,.0f} us"
        )
    p50_ratio = median(raw) / median(ours)
    print(f"p50 ratio raw/ours {p50_ratio:.2f} (target >= 0.67, i.e. ours <= 1.5x raw)")
    report(
        "mesh_invoke_p99",
        percentile(ours, 0.99) * 1e6,
        "us",
        "nats-py request/reply",
        percentile(raw, 0.99) * 1e6,
        higher_is_better=False,
    )


if __name__ == "__main__":
    asyncio.run(main())
