"""A node whose log lives in PostgreSQL (scale-out), and the CLI reading it while it runs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from nunet.cli import cli
from nunet.node import ConfigError, Node, load_config, parse_config
from tests.support.homes import PASSPHRASE, make_home
from tests.support.postgres import postgres_dsn

__all__ = ["postgres_dsn"]


def configure_postgres(home: Path, dsn: str) -> None:
    (home / "config.yaml").write_text(
        yaml.safe_dump({"log": {"store": "postgres", "postgres_dsn": dsn}})
    )


async def test_a_node_keeps_its_log_in_postgres_under_its_did(
    tmp_path: Path, postgres_dsn: str
) -> None:
    home = make_home(tmp_path)
    configure_postgres(home, postgres_dsn)
    config = load_config(home / "config.yaml")
    async with await Node.open(home, PASSPHRASE, config) as node:
        assert (await node.invoke_as_user("/public/hello"))["did"] == node.did
        assert getattr(node.log, "log_name", None) == node.did
        runner = CliRunner()
        env = {"NUNET_HOME": str(home), "NUNET_PASSPHRASE": PASSPHRASE}
        # read-only views work while the node holds the writer lock
        # the CLI runs its own event loop: give it a thread, as a separate process would have
        exported = await asyncio.to_thread(runner.invoke, cli, ["events", "export"], env=env)
        assert exported.exit_code == 0, exported.output
        behaviors = [
            json.loads(line)["event"]["envelope"]["behavior"]
            for line in exported.output.splitlines()
            if json.loads(line)["type"] == "envelope.delivered"
        ]
        assert "/public/hello" in behaviors
    assert not (home / "log" / "events.db").exists()  # nothing went to SQLite
    verified = await asyncio.to_thread(
        CliRunner().invoke, cli, ["-o", "json", "events", "verify"], env={"NUNET_HOME": str(home)}
    )
    assert verified.exit_code == 0, verified.output
    report = json.loads(verified.output)
    assert report["ok"] is True
    assert report["checkpoints"] >= 1  # the node signed its head when it stopped


def test_postgres_without_a_dsn_is_a_named_config_error() -> None:
    with pytest.raises(ConfigError, match=r"log\.postgres_dsn"):
        parse_config({"log": {"store": "postgres"}})
    with pytest.raises(ConfigError, match=r"log\.store"):
        parse_config({"log": {"store": "mysql"}})
