"""Envelope decode+verify per second: nunet's unseal (signature, canonical form, types) vs JSON + Ed25519."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Stopwatch, report
from _envelopes import SENDER, json_seal, json_unseal, sample

from nunet.actor import seal, unseal

N = 10_000


def rate(fn: object, items: list[bytes]) -> float:
    best = 0.0
    for _ in range(3):
        with Stopwatch() as watch:
            for item in items:
                fn(item)  # type: ignore[operator]
        best = max(best, len(items) / watch.seconds)
    return best


def main() -> None:
    ours = rate(unseal, [seal(sample(i), SENDER) for i in range(N)])
    peer = rate(json_unseal, [json_seal(sample(i)) for i in range(N)])
    report("envelope_decode_verify", ours, "envelopes/s", "json+ed25519", peer)


if __name__ == "__main__":
    main()
