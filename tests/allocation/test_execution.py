"""Allocation order → execution spec: limits, network and ports, provisioning, keys, ids."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nunet.allocation import (
    AUTHORIZED_KEYS,
    AllocateRefused,
    AllocationOrder,
    HealthCheck,
    Port,
    execution_id,
    execution_spec,
    keys_text,
    provisioned_command,
)
from nunet.executor import ExecutionSpec, Limits, Mount, PortMapping

MiB = 1 << 20
ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")  # the executor's ExecutionId

names = st.from_regex(r"[a-z0-9][a-z0-9.-]{0,190}", fullmatch=True)
deployments = st.from_regex(r"[a-z0-9][a-z0-9-]{0,62}", fullmatch=True)


def order(**fields: object) -> AllocationOrder:
    return msgspec.convert({"name": "web", "image": "busybox:1", **fields}, AllocationOrder)


def spec_of(o: AllocationOrder, keys_file: Path | None = None) -> ExecutionSpec:
    return execution_spec(
        o, deployment="dep", node="n1", execution="dep.web-1-r1", run=1, keys_file=keys_file
    )


@given(deployments, names, st.integers(min_value=1, max_value=10**6), st.text("0123456789abcdef"))
def test_execution_ids_fit_the_executor_and_differ_per_run_and_incarnation(
    deployment: str, allocation: str, run: int, incarnation: str
) -> None:
    one = execution_id(deployment, allocation, run, incarnation)
    assert ID.match(one), one
    assert one != execution_id(deployment, allocation, run + 1, incarnation)
    assert one != execution_id(deployment, allocation + "x", run, incarnation)


def test_limits_come_from_the_order() -> None:
    spec = spec_of(order(cpu=1.5, ram=512 * MiB, disk=2 << 30, gpus=[0, 2], timeout_seconds=30.0))
    assert spec.limits == Limits(
        cpu=1.5, memory=512 * MiB, disk=2 << 30, gpus=(0, 2), timeout_seconds=30.0
    )
    assert spec.id == "dep.web-1-r1"
    assert spec.labels == {
        "nunet.deployment": "dep",
        "nunet.ensemble_node": "n1",
        "nunet.allocation": "web",
        "nunet.run": "1",
    }


def test_ports_are_published_on_loopback_with_host_network_and_none_without_ports() -> None:
    spec = spec_of(order(ports=[{"private": 8080, "public": 8080}]))
    assert spec.network == "host"
    assert spec.ports == (PortMapping(port=8080, host_port=8080, host_ip="127.0.0.1"),)
    assert spec_of(order()).network == "none"
    assert spec_of(order()).ports == ()


def test_the_health_check_command_is_run_inside() -> None:
    spec = spec_of(order(type="service", health_check={"command": ["pg_isready"]}))
    assert spec.health_check == ("pg_isready",)
    assert order(health_check=HealthCheck(command=("true",))).health_check is not None


def test_provisioning_runs_before_the_command_and_the_entrypoint_leads_it() -> None:
    plain = order(command=["echo", "hi"])
    assert provisioned_command(plain) == (None, ("echo", "hi"))
    o = order(command=["-c", "x"], entrypoint=["python"], provision=["apk add curl", "cd /srv"])
    entrypoint, command = provisioned_command(o)
    assert entrypoint == ("sh", "-c", '{ apk add curl\n} && { cd /srv\n} && exec "$@"', "--")
    assert command == ("python", "-c", "x")


@pytest.mark.parametrize(
    ("steps", "status", "output"),
    [
        (["echo one", "echo two"], 0, "one\ntwo\nmain a b\n"),
        (["echo one; false", "echo never"], 1, "one\n"),  # a failing script stops the rest
        (["cd /tmp && X=1", "echo $X $(pwd)"], 0, "1 /tmp\nmain a b\n"),  # no subshells
    ],
)
def test_the_provisioning_wrapper_behaves_in_a_real_shell(
    steps: list[str], status: int, output: str
) -> None:
    entrypoint, command = provisioned_command(
        order(command=["echo", "main", "a", "b"], provision=steps)
    )
    assert entrypoint is not None
    done = subprocess.run([*entrypoint, *command], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout) == (status, output)


def test_provisioning_without_a_command_is_refused_with_the_fix() -> None:
    with pytest.raises(
        AllocateRefused, match=r"allocations\.web\.provision: .*give execution\.command"
    ):
        provisioned_command(order(provision=["echo hi"]))


def test_keys_are_mounted_read_only_from_the_file_that_holds_them(tmp_path: Path) -> None:
    o = order(keys=["ssh-ed25519 AAAA one", " ssh-rsa BBBB two "])
    assert keys_text(o) == "ssh-ed25519 AAAA one\nssh-rsa BBBB two\n"
    spec = spec_of(o, keys_file=tmp_path / "authorized_keys")
    assert spec.inputs == (
        Mount(source=str(tmp_path / "authorized_keys"), target=AUTHORIZED_KEYS, read_only=True),
    )
    with pytest.raises(ValueError, match="give the file"):
        spec_of(o)


@pytest.mark.parametrize("key", ["", "   ", "ssh-ed25519 AAAA\nssh-rsa injected"])
def test_a_key_that_is_not_one_line_is_refused_naming_it(key: str) -> None:
    with pytest.raises(AllocateRefused, match=r"allocations\.web\.keys\[1\]"):
        keys_text(order(keys=["ssh-ed25519 AAAA ok", key]))


def test_a_port_order_round_trips() -> None:
    assert order(ports=[Port(private=80, public=8080)]).ports == (Port(private=80, public=8080),)
