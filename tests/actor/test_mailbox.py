"""The actor mailbox: FIFO, one consumer woken per message, producers held back when full."""

from __future__ import annotations

import asyncio

import pytest

from nunet.actor.mailbox import Mailbox, MailboxFull


async def test_items_come_out_in_order_and_wake_a_waiting_consumer() -> None:
    mailbox: Mailbox[int] = Mailbox(4)
    consumer = asyncio.create_task(mailbox.get())
    await asyncio.sleep(0)  # let the consumer start waiting
    mailbox.put_nowait(1)
    mailbox.put_nowait(2)
    assert await asyncio.wait_for(consumer, 1) == 1
    assert await mailbox.get() == 2
    assert len(mailbox) == 0


async def test_a_full_mailbox_refuses_put_nowait_and_holds_put_until_there_is_room() -> None:
    mailbox: Mailbox[int] = Mailbox(2)
    mailbox.put_nowait(1)
    mailbox.put_nowait(2)
    assert mailbox.full()
    with pytest.raises(MailboxFull):
        mailbox.put_nowait(3)
    producer = asyncio.create_task(mailbox.put(3))
    await asyncio.sleep(0)
    assert not producer.done()
    assert await mailbox.get() == 1
    await asyncio.wait_for(producer, 1)
    assert [await mailbox.get(), await mailbox.get()] == [2, 3]


async def test_a_cancelled_producer_passes_its_turn_on() -> None:
    mailbox: Mailbox[int] = Mailbox(1)
    mailbox.put_nowait(0)
    first = asyncio.create_task(mailbox.put(1))
    second = asyncio.create_task(mailbox.put(2))
    await asyncio.sleep(0)
    first.cancel()
    assert await mailbox.get() == 0
    await asyncio.wait_for(second, 1)
    assert await mailbox.get() == 2
    assert first.cancelled()


async def test_a_cancelled_consumer_leaves_the_mailbox_usable() -> None:
    mailbox: Mailbox[int] = Mailbox(1)
    consumer = asyncio.create_task(mailbox.get())
    await asyncio.sleep(0)
    consumer.cancel()
    await asyncio.wait({consumer})
    mailbox.put_nowait(7)
    assert await asyncio.wait_for(mailbox.get(), 1) == 7
