"""authorize() per second on a 3-token delegation chain: the cached hot path vs re-verifying.

The peer is the same check done the way a cache-less checker does it: decode the proof and verify
all three Ed25519 signatures on every envelope.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Stopwatch, best_rate, report

from nunet.identity import KeyPair
from nunet.ucan import (
    CapabilityContext,
    MemoryAnchorStore,
    decode_token,
    delegate,
    grant,
    verify_chain,
)

N = 20_000


def main() -> None:
    node, alice, bob, carol = (KeyPair.generate() for _ in range(4))
    now = time.time()
    root = grant(
        node, audience=alice.did, capabilities=["/dms"], expiry=now + 3600, now=now, depth=2
    )
    mid = delegate(root, alice, audience=bob.did, capabilities=["/dms/node"], now=now)
    leaf = delegate(mid, bob, audience=carol.did, capabilities=["/dms/node/peers"], now=now)
    proofs = [leaf.encoded]
    context = CapabilityContext(node.did, MemoryAnchorStore(node.did))

    def cached() -> float:
        with Stopwatch() as watch:
            for _ in range(N):
                context.authorize(
                    carol.did, "/dms/node/peers/list", topic=None, proofs=proofs, now=now
                )
        return N / watch.seconds

    def uncached() -> float:
        n = N // 20
        with Stopwatch() as watch:
            for _ in range(n):
                verify_chain(decode_token(bytes(leaf.encoded))).check_at(now)
        return n / watch.seconds

    report(
        "ucan_authorize",
        best_rate(cached),
        "checks/s",
        "verify every signature",
        best_rate(uncached),
    )


if __name__ == "__main__":
    main()
