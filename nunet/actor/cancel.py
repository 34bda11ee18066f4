"""Cancelling tasks for good.

A cancellation can be lost: on Python 3.11 `asyncio.wait_for` (which client libraries use under
the hood) returns the inner result and swallows the cancellation when both arrive together, so a
loop that cancels nothing itself runs on. Stopping an actor must not wait on such a task for
ever: `cancel_and_wait` cancels again until the tasks end, for at most `grace` seconds, and
answers what is still running then.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

RECANCEL_SECONDS = 0.25


async def cancel_and_wait(
    tasks: Iterable[asyncio.Task[Any]], *, grace: float
) -> set[asyncio.Task[Any]]:
    """Cancel `tasks` and wait for them, cancelling again while any runs, up to `grace` seconds;
    the tasks still running then (their exceptions are retrieved for the rest)."""
    pending = {task for task in tasks if task is not asyncio.current_task()}
    loop = asyncio.get_running_loop()
    until = loop.time() + grace
    while pending:
        for task in pending:
            task.cancel()
        left = until - loop.time()
        if left <= 0:
            break
        done, pending = await asyncio.wait(pending, timeout=min(RECANCEL_SECONDS, left))
        for task in done:
            if not task.cancelled():
                task.exception()  # retrieved: not "never retrieved" noise
    return pending


def where(task: asyncio.Task[Any]) -> str:
    """Where a task is suspended (its chain of awaited coroutines), for a log line."""
    places: list[str] = []
    awaited: Any = task.get_coro()
    while awaited is not None and len(places) < 16:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
        if frame is None:
            places.append(type(awaited).__name__)
            break
        places.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
    return " -> ".join(places)
