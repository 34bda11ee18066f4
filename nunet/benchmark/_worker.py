"""The workloads benchmark worker processes run. Standard library only, so a worker started as
`python -I -S _worker.py KIND DEADLINE [BYTES]` is up in milliseconds; it prints one JSON line
`{"work": W, "seconds": S}` and stops by itself at DEADLINE, a `time.monotonic()` value (Linux's
CLOCK_MONOTONIC, the same in every process), so its start-up counts against its time. It always
does at least one unit of work, so a worker that starts late still measures something.

cpu: W operations, one operation being 1 KiB of a fixed text deflated by zlib at level 6.
memory: W bytes copied from one buffer of BYTES to another.
"""

from __future__ import annotations

import json
import sys
import time
import zlib

OPERATION_BYTES = 1024
CORPUS_BYTES = 64 * 1024
_WORDS = (
    b"node swarm ensemble allocation capability bid contract voucher payment event log "
    b"replica peer hub leaf actor envelope behavior deadline budget share gpu cpu disk ram "
).split()


def corpus(size: int = CORPUS_BYTES) -> bytes:
    """A fixed, text-like block (a seeded LCG picks words): the same bytes on every machine."""
    state, out = 0x2545F491, bytearray()
    while len(out) < size:
        state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
        out += _WORDS[(state >> 33) % len(_WORDS)] + (b"\n" if (state >> 20) % 11 == 0 else b" ")
    return bytes(out[:size])


def deflate_for(until: float) -> tuple[int, float]:
    """(operations, elapsed): deflate the corpus again and again until monotonic time `until`."""
    block = corpus()
    per_block = len(block) // OPERATION_BYTES
    operations = 0
    start = time.perf_counter()
    while True:
        zlib.compress(block, 6)
        operations += per_block
        if time.monotonic() >= until:
            return operations, time.perf_counter() - start


def copy_for(until: float, size: int) -> tuple[int, float]:
    """(bytes copied, elapsed): copy one `size`-byte buffer onto another until `until`."""
    source = bytearray(b"\x5a" * size)
    target = bytearray(size)
    target[:] = source  # fault every page in before the clock starts
    copied = 0
    start = time.perf_counter()
    while True:
        target[:] = source
        copied += size
        if time.monotonic() >= until:
            return copied, time.perf_counter() - start


def main(argv: list[str]) -> int:
    kind, until = argv[0], float(argv[1])
    if kind == "cpu":
        work, elapsed = deflate_for(until)
    elif kind == "memory":
        work, elapsed = copy_for(until, int(argv[2]))
    else:
        print(f"unknown workload {kind!r}; use cpu or memory", file=sys.stderr)
        return 2
    print(json.dumps({"work": work, "seconds": elapsed}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
