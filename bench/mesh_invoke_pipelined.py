"""Cross-node invoke throughput with 100 requests in flight vs raw nats-py request/reply with
100 in flight between the same two servers. Target: >= 0.7x raw."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report
from _mesh_pair import mesh_pair, nunet_call, payload, pipelined_rate, raw_call

TOTAL = 6000
IN_FLIGHT = 100
BODY = payload(64)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with mesh_pair(Path(tmp)) as pair:
            await pipelined_rate(pair, nunet_call, 500, IN_FLIGHT, BODY)
            await pipelined_rate(pair, raw_call, 500, IN_FLIGHT, BODY)
            ours = raw = 0.0
            for _ in range(3):
                ours = max(ours, await pipelined_rate(pair, nunet_call, TOTAL, IN_FLIGHT, BODY))
                raw = max(raw, await pipelined_rate(pair, raw_call, TOTAL, IN_FLIGHT, BODY))
    print("target: >= 0.7x raw")
    report("mesh_invoke_pipelined", ours, "roundtrips/s", "nats-py request/reply", raw)


if __name__ == "__main__":
    asyncio.run(main())
