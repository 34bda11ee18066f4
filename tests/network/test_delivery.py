"""The delivery lane: ordered, bounded, draining task only while there is work, closable."""

from __future__ import annotations

import asyncio
import logging

import pytest

from nunet.network.delivery import DeliveryLane, LaneClosed
from tests.network.contract import WAIT


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


class Collector:
    def __init__(self) -> None:
        self.items: list[int] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, item: int) -> None:
        await self.gate.wait()
        self.items.append(item)


async def test_items_are_delivered_in_order_by_one_task_that_ends_when_idle() -> None:
    collector = Collector()
    idle: list[DeliveryLane[int]] = []
    lane = DeliveryLane(collector, capacity=10, name="test", on_idle=idle.append)
    for item in range(5):
        assert lane.offer(item)
    assert len(lane) == 5
    await settle()
    assert collector.items == [0, 1, 2, 3, 4]
    assert lane.worker is None
    assert idle == [lane]


async def test_offer_refuses_when_full_and_put_waits_for_room() -> None:
    collector = Collector()
    collector.gate.clear()
    lane = DeliveryLane(collector, capacity=2, name="test")
    lane.offer(1)
    await settle()  # 1 is being delivered; the lane is empty again
    assert lane.offer(2)
    assert lane.offer(3)
    assert not lane.offer(4)
    waiting = asyncio.ensure_future(lane.put(4))
    await settle()
    assert not waiting.done()
    collector.gate.set()
    async with asyncio.timeout(WAIT):
        await waiting
    await settle()
    assert collector.items == [1, 2, 3, 4]


async def test_close_drops_queued_items_and_fails_waiting_puts() -> None:
    collector = Collector()
    collector.gate.clear()
    idle: list[DeliveryLane[int]] = []
    lane = DeliveryLane(collector, capacity=1, name="test", on_idle=idle.append)
    lane.offer(1)
    await settle()
    lane.offer(2)
    waiting = asyncio.ensure_future(lane.put(3))
    await settle()
    lane.close()
    with pytest.raises(LaneClosed):
        await waiting
    with pytest.raises(LaneClosed):
        lane.offer(4)
    collector.gate.set()  # the delivery already running finishes; nothing after it
    await settle()
    assert collector.items == [1]
    assert lane.closed
    assert idle == []


async def test_a_failing_delivery_is_logged_and_the_lane_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    delivered: list[int] = []

    async def fragile(item: int) -> None:
        if item == 1:
            raise RuntimeError("boom")
        delivered.append(item)

    lane = DeliveryLane(fragile, capacity=5, name="fragile lane")
    with caplog.at_level(logging.ERROR):
        for item in (1, 2):
            lane.offer(item)
        await settle()
    assert delivered == [2]
    assert "delivery on fragile lane failed" in caplog.text


def test_capacity_must_be_positive() -> None:
    async def nothing(item: int) -> None:
        return None

    with pytest.raises(ValueError, match="at least one"):
        DeliveryLane(nothing, capacity=0, name="x")
