"""A subprocess for the crash test: appends from many tasks forever, printing each durable seq.

Usage: python -m tests.eventlog.append_storm PATH. The first line is "writer PID" (the log's
writer process); then a seq is printed (and flushed) only after its append returned, so every
printed seq must survive a SIGKILL.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from nunet.eventlog import EventLog, open_sqlite_log
from tests.eventlog.samples import Noted, Pinged, pings

APPENDERS = 32


async def appender(log: EventLog, worker: int) -> None:
    n = 0
    while True:
        n += 1
        if n % 5 == 0:
            records = await log.append_many(pings(4, start=n), actor=f"w{worker}")
            durable = [r.seq for r in records]
        elif n % 3 == 0:
            durable = [(await log.append_nowait(Noted(text="x" * n), actor=f"w{worker}")).seq]
        else:
            durable = [(await log.append(Pinged(n=n), actor=f"w{worker}")).seq]
        sys.stdout.write("".join(f"{seq}\n" for seq in durable))
        sys.stdout.flush()


async def main(path: Path) -> None:
    log = await open_sqlite_log(path)
    sys.stdout.write(f"writer {log.writer_pid}\n")
    await asyncio.gather(*(appender(log, w) for w in range(APPENDERS)))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
