"""SeqWaiters: callers wait for a seq; a position that reaches it releases them, in seq order."""

from __future__ import annotations

import asyncio

from nunet.eventlog import SeqWaiters


async def test_a_reached_position_returns_at_once() -> None:
    waiters = SeqWaiters()
    await waiters.wait(3, position=5)
    assert not waiters


async def test_waiters_are_released_when_the_position_reaches_their_seq() -> None:
    waiters = SeqWaiters()
    released: list[int] = []

    async def wait(seq: int) -> None:
        await waiters.wait(seq, position=0)
        released.append(seq)

    tasks = [asyncio.create_task(wait(seq)) for seq in (7, 2, 5, 2)]
    await asyncio.sleep(0)
    waiters.wake(4)
    await asyncio.sleep(0)
    assert sorted(released) == [2, 2]
    waiters.wake(7)
    await asyncio.gather(*tasks)
    assert sorted(released) == [2, 2, 5, 7]
    assert not waiters


async def test_a_cancelled_waiter_does_not_break_the_others() -> None:
    waiters = SeqWaiters()
    gone = asyncio.create_task(waiters.wait(1, position=0))
    kept = asyncio.create_task(waiters.wait(1, position=0))
    await asyncio.sleep(0)
    gone.cancel()
    waiters.wake(1)
    await kept
    assert gone.cancelled()
