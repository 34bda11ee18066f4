"""cancel_and_wait: a swallowed cancellation is repeated; a task that never ends is left."""

from __future__ import annotations

import asyncio
import contextlib

from nunet.actor.cancel import cancel_and_wait, where


async def test_a_task_that_swallows_one_cancellation_is_cancelled_again() -> None:
    swallowed = asyncio.Event()

    async def loop() -> None:
        with contextlib.suppress(asyncio.CancelledError):  # as 3.11's wait_for may do
            await asyncio.Event().wait()
        swallowed.set()
        await asyncio.Event().wait()  # carries on as if nothing happened

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    assert await cancel_and_wait([task], grace=5.0) == set()
    assert swallowed.is_set()
    assert task.cancelled()


async def test_a_task_that_never_ends_is_answered_after_the_grace() -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(3600)

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    assert await cancel_and_wait([task], grace=0.3) == {task}
    assert "stubborn" in where(task)
    release.set()
    task.cancel()
    await asyncio.wait({task})


async def test_tasks_that_end_on_their_first_cancellation_leave_nothing() -> None:
    tasks = [asyncio.create_task(asyncio.sleep(3600)) for _ in range(3)]
    assert await cancel_and_wait(tasks, grace=5.0) == set()
    assert all(task.cancelled() for task in tasks)
