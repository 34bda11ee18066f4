"""Onboarding through a real `nunet run` process: the share and its allocations survive a
restart of the node (they are replayed from its log), and the log verifies afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

NUNET = [sys.executable, "-m", "nunet"]
CONFIG = """\
mesh:
  mode: memory
onboarding:
  benchmark_on_onboard: false
  benchmark_budget_seconds: 1
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "NUNET_HOME": str(tmp_path / "home"), "NUNET_PASSPHRASE": "onboard"}


def nunet(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*NUNET, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"nunet {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def json_of(env: dict[str, str], *args: str) -> Any:
    return json.loads(nunet(env, "-o", "json", *args).stdout)


class RunningNode:
    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [*NUNET, "run"], env=self._env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        nunet(self._env, "wait-ready", "--timeout", "60")

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(60) == 0

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def node(env: dict[str, str]) -> Iterator[RunningNode]:
    nunet(env, "init")
    (Path(env["NUNET_HOME"]) / "config.yaml").write_text(CONFIG)
    running = RunningNode(env)
    try:
        yield running
    finally:
        running.kill()


@pytest.mark.slow
def test_the_share_and_its_allocations_survive_a_restart(
    env: dict[str, str], node: RunningNode
) -> None:
    node.start()
    nunet(env, "onboard", "--cpu", "1", "--ram", "128MiB", "--disk", "32MiB", "--label", "a=b")
    me = json_of(env, "actor", "cmd", "/dms/node/peers/self")
    onboarding = f"{me['did']}/onboarding/{me['address']}"
    allocated = json_of(
        env, "actor", "cmd", "/dms/node/resources/allocate", "--to", onboarding,
        "--payload", json.dumps({"allocation": "job-1", "cpu": 0.5, "ram": "64MiB"}),
    )  # fmt: skip
    assert allocated["free"]["cpu"] == 0.5
    refused = nunet(env, "onboard", "--cpu", "1000000", check=False)
    assert refused.returncode == 1
    assert "exceeds-machine: cpu: 1000000 cores asked" in refused.stderr
    before = json_of(env, "status")
    node.stop()

    node.start()
    after = json_of(env, "status")
    assert after["reservation"] == before["reservation"]
    assert after["allocations"] == before["allocations"]
    assert after["free"] == before["free"]
    busy = nunet(env, "offboard", check=False)
    assert "allocations-running" in busy.stderr
    assert json_of(env, "offboard", "--force")["onboarded"] is False
    node.stop()
    assert nunet(env, "events", "verify").returncode == 0
    types = {
        json.loads(line)["type"] for line in nunet(env, "events", "export").stdout.splitlines()
    }
    assert {
        "onboarding.onboarded",
        "resources.allocated",
        "onboarding.refused",
        "capability.announced",
        "resources.released",
        "onboarding.offboarded",
    } <= types
