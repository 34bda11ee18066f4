"""Envelope encode+sign per second: nunet's canonical msgpack codec vs a JSON + Ed25519 codec."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Stopwatch, report
from _envelopes import SENDER, json_seal, sample

from nunet.actor import canonical_body, seal

N = 20_000


def rate(fn: object) -> float:
    envelopes = [sample(i) for i in range(N)]
    best = 0.0
    for _ in range(3):
        with Stopwatch() as watch:
            for envelope in envelopes:
                fn(envelope)  # type: ignore[operator]
        best = max(best, N / watch.seconds)
    return best


def main() -> None:
    ours = rate(lambda e: seal(e, SENDER))
    peer = rate(json_seal)
    sign_only = rate(lambda e: SENDER.sign(canonical_body(e)))
    print(f"ceiling (canonical body + Ed25519 sign, no framing): {sign_only:,.0f}/s")
    report("envelope_encode_sign", ours, "envelopes/s", "json+ed25519", peer)


if __name__ == "__main__":
    main()
