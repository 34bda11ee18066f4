"""A whole node in one process: its behaviors, persisted settings, and refusal of untrusted users."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import nunet
from nunet.actor import RemoteError
from nunet.identity import KeyNotFound, WrongPassphrase
from nunet.node import Node
from tests.support.homes import PASSPHRASE, make_home


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    async with await Node.open(make_home(tmp_path), PASSPHRASE) as running:
        yield running


async def test_hello_status_and_self_answer(node: Node) -> None:
    hello = await node.invoke_as_user("/public/hello")
    assert hello["did"] == node.did
    assert hello["version"] == nunet.__version__
    assert node.user_key.did in hello["greeting"]
    status = await node.invoke_as_user("/public/status")
    assert status["did"] == node.did
    assert {"node", "user"} <= set(status["actors"])
    assert status["log"]["head"] >= 0
    assert len(bytes.fromhex(status["log"]["hash"])) == 32
    me = await node.invoke_as_user("/dms/node/peers/self")
    assert me["did"] == node.did
    assert me["handle"] == {"did": node.did, "actor": "node", "node": node.system.address}


async def test_logger_config_changes_are_validated_and_survive_restart(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    async with await Node.open(home, PASSPHRASE) as node:
        assert (await node.invoke_as_user("/dms/node/logger/config"))["level"] == "info"
        changed = await node.invoke_as_user("/dms/node/logger/config", {"level": "debug"})
        assert changed["level"] == "debug"
        with pytest.raises(RemoteError) as bad:
            await node.invoke_as_user("/dms/node/logger/config", {"level": "loud"})
        assert bad.value.code == "invalid-payload"
        assert "loud" in bad.value.remote_message
    async with await Node.open(home, PASSPHRASE) as node:
        assert (await node.invoke_as_user("/dms/node/logger/config"))["level"] == "debug"


async def test_an_untrusted_user_may_call_public_behaviors_only(tmp_path: Path) -> None:
    async with await Node.open(make_home(tmp_path, trust_user=False), PASSPHRASE) as node:
        assert (await node.invoke_as_user("/public/hello"))["did"] == node.did
        with pytest.raises(RemoteError) as denied:
            await node.invoke_as_user("/dms/node/peers/self")
        assert denied.value.code == "unauthorized"
        assert node.user_key.did in denied.value.remote_message


async def test_wrong_passphrase_and_missing_keys_are_clear(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    with pytest.raises(WrongPassphrase):
        await Node.open(home, "not the passphrase")
    with pytest.raises(KeyNotFound, match="nunet key new"):
        await Node.open(tmp_path / "empty", PASSPHRASE)


async def test_the_log_survives_a_restart_and_keeps_growing(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    async with await Node.open(home, PASSPHRASE) as node:
        await node.invoke_as_user("/public/status")
        first_head, _ = await node.log.head()
    async with await Node.open(home, PASSPHRASE) as node:
        await node.invoke_as_user("/public/status")
        second_head, _ = await node.log.head()
    assert second_head > first_head
