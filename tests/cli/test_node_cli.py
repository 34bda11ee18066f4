"""The CLI against a real node process: init, run, actor calls, clean shutdown, log verification."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

NUNET = [sys.executable, "-m", "nunet"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "NUNET_HOME": str(tmp_path / "home"), "NUNET_PASSPHRASE": "cli-test"}


def nunet(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*NUNET, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"nunet {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def running_node(env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    nunet(env, "init")
    process = subprocess.Popen(
        [*NUNET, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        nunet(env, "wait-ready", "--timeout", "30")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


@pytest.mark.slow
def test_a_node_answers_the_cli_and_stops_cleanly(
    env: dict[str, str], running_node: subprocess.Popen[str]
) -> None:
    home = Path(env["NUNET_HOME"])
    node_did = nunet(env, "key", "did", "dms").stdout.strip()

    status = json.loads(nunet(env, "-o", "json", "actor", "cmd", "/public/status").stdout)
    assert status["did"] == node_did
    hello = json.loads(nunet(env, "actor", "cmd", "/public/hello", "--output", "json").stdout)
    assert hello["node"] == node_did
    me = json.loads(nunet(env, "-o", "json", "actor", "cmd", "/dms/node/peers/self").stdout)
    assert me["did"] == node_did
    level = nunet(
        env, "-o", "yaml", "actor", "cmd", "/dms/node/logger/config", "--arg", "level=debug"
    )
    assert "level: debug" in level.stdout
    table = nunet(env, "actor", "cmd", "/dms/node/peers/self").stdout
    assert table.splitlines()[0].split() == ["did", node_did]

    missing = nunet(env, "actor", "cmd", "/dms/no/such/thing", check=False)
    assert missing.returncode == 1
    assert "unknown-behavior" in missing.stderr
    assert "Traceback" not in missing.stderr

    info = json.loads((home / "api.json").read_text())
    assert (home / "api.json").stat().st_mode & 0o077 == 0  # it holds the API token
    by_tcp = info["url"]
    assert by_tcp.startswith("http://127.0.0.1:")
    via_tcp = nunet(env, "-o", "json", "actor", "cmd", "/public/hello", "--api", by_tcp)
    assert json.loads(via_tcp.stdout)["did"] == node_did
    # over TCP, a client without the token is turned away
    stranger = httpx.get(f"{by_tcp}/api/v1/health", timeout=10)
    assert stranger.status_code == 401
    with_token = httpx.get(
        f"{by_tcp}/api/v1/health",
        headers={"authorization": f"Bearer {info['token']}"},
        timeout=10,
    )
    assert with_token.json()["did"] == node_did

    running_node.send_signal(signal.SIGTERM)
    assert running_node.wait(30) == 0
    assert not (home / "api.json").exists()
    assert not (home / "api.sock").exists()
    verified = nunet(env, "events", "verify")
    assert verified.returncode == 0
    # people read the tail: envelopes as one line each, who -> whom, what
    tail = nunet(env, "events", "tail").stdout
    assert "user -> node /public/status" in tail
    assert "node -> user reply" in tail
    assert "unknown-behavior: actor 'node' has no behavior /dms/no/such/thing" in tail
    # the export is self-describing: envelopes come out as objects with named fields
    exported = nunet(env, "events", "export", "--type", "envelope.delivered").stdout.splitlines()
    behaviors = {json.loads(line)["event"]["envelope"]["behavior"] for line in exported}
    assert {"/public/status", "/public/hello", "/dms/node/peers/self"} <= behaviors
    # the node kept its statistics projection live; a replay from zero agrees with it
    replayed = json.loads(nunet(env, "-o", "json", "events", "replay").stdout)
    assert replayed["stored"]["agrees"] is True
    assert replayed["stored"]["position"] > 0


def test_cli_without_a_node_says_how_to_start_one(env: dict[str, str]) -> None:
    result = nunet(env, "actor", "cmd", "/public/status", check=False)
    assert result.returncode == 1
    assert "nunet run" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_without_keys_names_the_missing_key(env: dict[str, str]) -> None:
    result = nunet(env, "run", check=False)
    assert result.returncode == 1
    assert "no key named 'dms'" in result.stderr


def test_run_with_a_bad_config_names_the_field(env: dict[str, str]) -> None:
    home = Path(env["NUNET_HOME"])
    home.mkdir(parents=True)
    (home / "config.yaml").write_text("api:\n  host: 0.0.0.0\n")
    result = nunet(env, "run", check=False)
    assert result.returncode == 1
    assert "api.host" in result.stderr
    assert "loopback" in result.stderr


def test_bad_arguments_are_named(env: dict[str, str]) -> None:
    result = nunet(env, "actor", "cmd", "/public/status", "--arg", "novalue", check=False)
    assert result.returncode == 2
    assert "KEY=VALUE" in result.stderr
    result = nunet(env, "actor", "cmd", "/public/status", "--to", "just-a-did", check=False)
    assert result.returncode == 2
    assert "DID/ACTOR/NODE" in result.stderr
