"""Driving a devstack from a test the way its user does: the `nunet` CLI as a child process
against one node's home, and the Docker containers its nodes leave behind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nunet.devstack import DevStack

CLI_TIMEOUT = 60.0


@dataclass(frozen=True)
class CliRun:
    """One finished `nunet ...` command."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """Its standard output as JSON (`-o json`); an AssertionError saying what ran if not."""
        assert self.returncode == 0, self.explain()
        return json.loads(self.stdout)

    def explain(self) -> str:
        return (
            f"nunet {' '.join(self.args)} exited {self.returncode}\n"
            f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"
        )


async def nunet(stack: DevStack, home: Path, *args: str, timeout: float = CLI_TIMEOUT) -> CliRun:
    """`nunet --passphrase-file P ARGS` with NUNET_HOME=home; killed after `timeout` seconds."""
    env = {**os.environ, "NUNET_HOME": str(home)}
    env.pop("NUNET_PASSPHRASE", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "nunet",
        "--passphrase-file",
        str(stack.plan.passphrase_file),
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await process.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        out, err = await process.communicate()
        raise AssertionError(
            f"nunet {' '.join(args)} still running after {timeout:g} s\n"
            f"--- stdout\n{out.decode(errors='replace')}\n--- stderr\n"
            f"{err.decode(errors='replace')}"
        ) from None
    assert process.returncode is not None
    return CliRun(args, process.returncode, out.decode(errors="replace"), err.decode())


def containers_of(did: str) -> list[str]:
    """Ids of the containers (running or not) labelled as started by the node `did`."""
    listed = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=nunet.node={did}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()


def remove_containers_of(dids: list[str]) -> None:
    """Remove every container labelled as started by one of these nodes (`nunet.node=<DID>`).

    A node killed with SIGKILL cannot stop its containers, and on this one machine they share
    the Docker engine with everything else: they would outlive the test. (On a swarm of real
    hosts they die with the host; a provider restarted on the same host adopts or removes them.)
    """
    found = [container for did in dids for container in containers_of(did)]
    if found:
        subprocess.run(["docker", "rm", "-f", *found], capture_output=True, check=True)
