"""The NATS transport passes the shared contract on one server and across a leaf-node mesh."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nunet.network import NatsTransport, Transport
from tests.network.contract import TransportContract, TransportFactory
from tests.support.nats import leaf_mesh, nats_server

_numbers = itertools.count()


def fresh_address() -> str:
    return f"did:key:z6MkNats{next(_numbers)}"


async def _factory(urls: list[str]) -> AsyncIterator[TransportFactory]:
    """Transports spread round-robin over `urls`, closed at teardown."""
    made: list[Transport] = []

    async def make(count: int) -> list[Transport]:
        batch: list[Transport] = [
            NatsTransport(urls[(len(made) + i) % len(urls)], fresh_address()) for i in range(count)
        ]
        made.extend(batch)
        return batch

    yield make
    for transport in made:
        await transport.close()


class TestNatsTransportOnOneServer(TransportContract):
    @pytest.fixture
    async def make_transports(self, tmp_path: Path) -> AsyncIterator[TransportFactory]:
        async with nats_server(tmp_path, jetstream=False) as server:
            async for factory in _factory([server.url]):
                yield factory


class TestNatsTransportAcrossLeafNodes(TransportContract):
    """Transports on the hub and two leaves: messages, requests and topics cross leaf links."""

    @pytest.fixture
    async def make_transports(self, tmp_path: Path) -> AsyncIterator[TransportFactory]:
        async with leaf_mesh(tmp_path, leaves=2, jetstream=False) as mesh:
            urls = [mesh.hub.url, *(leaf.url for leaf in mesh.leaves)]
            async for factory in _factory(urls):
                yield factory
