"""The Firecracker backend without Firecracker: no firecracker binary can be installed from the
registries this machine reaches, and nested KVM hangs here. So the API client runs against a
STAND-IN: an HTTP server on a Unix socket that records every request and checks it against
Firecracker's documented API (swagger: paths, methods, required fields, types, enums, and the
rule that configuration is pre-boot only), answering 204 or 400 {"fault_message"} as Firecracker
does. What the stand-in cannot show is that a real Firecracker boots the composed VM."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from nunet.eventlog import Event
from nunet.executor import ExecutionFailed, ExecutionSpec, ExecutorUnavailable, State
from nunet.executor.microvm import (
    BootSource,
    FirecrackerClient,
    FirecrackerDrive,
    MachineConfig,
    MicroVMExecutor,
    NetworkInterface,
    compose_vm,
    extract_vmlinux,
    find_firecracker,
)
from nunet.executor.microvm.qemu import Drive
from tests.executor.microvm_support import guest_kernel

# Firecracker's API (src/firecracker/swagger/firecracker.yaml): required fields and their types.
SCHEMA: dict[str, tuple[dict[str, type], dict[str, type]]] = {
    "/machine-config": ({"vcpu_count": int, "mem_size_mib": int}, {"smt": bool}),
    "/boot-source": ({"kernel_image_path": str}, {"boot_args": str, "initrd_path": str}),
    "/drives/": (
        {"drive_id": str, "is_root_device": bool},
        {"path_on_host": str, "is_read_only": bool, "cache_type": str},
    ),
    "/network-interfaces/": ({"iface_id": str, "host_dev_name": str}, {"guest_mac": str}),
    "/actions": ({"action_type": str}, {}),
}
ACTIONS = {"InstanceStart", "SendCtrlAltDel", "FlushMetrics"}


class StandInFirecracker:
    """Records requests; refuses what Firecracker would refuse, with its fault format."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.started = False

    def check(self, method: str, path: str, body: dict[str, Any]) -> str:
        """The fault message, or "" when Firecracker would accept the request."""
        if method == "GET" and path == "/":
            return ""
        key = next((k for k in SCHEMA if path == k or (k.endswith("/") and path.startswith(k))), "")
        if method != "PUT" or not key:
            return f"Invalid request method and/or path: {method} {path}"
        required, optional = SCHEMA[key]
        for name, kind in required.items():
            if not isinstance(body.get(name), kind):
                return f"missing or mistyped field {name}"
        for name, value in body.items():
            known = required.get(name) or optional.get(name)
            if known is None or not isinstance(value, known):
                return f"unknown or mistyped field {name}"
        if key == "/drives/" and body["drive_id"] != path.removeprefix("/drives/"):
            return "The id from the path does not match the id from the body!"
        if key == "/network-interfaces/" and body["iface_id"] != path.rsplit("/", 1)[1]:
            return "The id from the path does not match the id from the body!"
        if key == "/machine-config" and not 1 <= body["vcpu_count"] <= 32:
            return "The vCPU number is invalid!"
        if key == "/drives/" and body.get("cache_type", "Unsafe") not in ("Unsafe", "Writeback"):
            return "unknown cache_type"
        if key == "/actions":
            if body["action_type"] not in ACTIONS:
                return f"unknown action {body['action_type']}"
            if body["action_type"] == "InstanceStart":
                if self.started:
                    return "The requested operation is not supported after starting the microVM."
                if not any(p == "/boot-source" for _, p, _ in self.requests):
                    return "Cannot start microvm without kernel configuration."
                self.started = True
            return ""
        if self.started:
            return "The requested operation is not supported after starting the microVM."
        return ""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
            if not head:
                break
            request_line, *header_lines = head.decode().split("\r\n")
            method, path, _ = request_line.split(" ")
            headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
            raw = await reader.readexactly(int(headers.get("content-length", "0")))
            body = json.loads(raw) if raw else {}
            fault = self.check(method, path, body)
            self.requests.append((method, path, body))
            if method == "GET" and not fault:
                info = {
                    "app_name": "Firecracker",
                    "id": "stand-in",
                    "vmm_version": "1.x",
                    "state": "Running" if self.started else "Not started",
                }
                payload, status = json.dumps(info).encode(), "200 OK"
            elif fault:
                payload, status = json.dumps({"fault_message": fault}).encode(), "400 Bad Request"
            else:
                payload, status = b"", "204 No Content"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Length: {len(payload)}\r\n"
                "Content-Type: application/json\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        writer.close()


@pytest.fixture
async def stand_in(tmp_path: Path) -> AsyncIterator[tuple[StandInFirecracker, Path]]:
    fake = StandInFirecracker()
    socket = tmp_path / "firecracker.sock"
    server = await asyncio.start_unix_server(fake.serve, path=str(socket))
    async with server:
        yield fake, socket


async def test_a_composed_vm_is_configured_and_started_as_the_api_documents(
    stand_in: tuple[StandInFirecracker, Path], tmp_path: Path
) -> None:
    fake, socket = stand_in
    drives = (
        Drive(serial="nunet-job", path=str(tmp_path / "job.tar"), read_only=True),
        Drive(serial="nunet-out", path=str(tmp_path / "out.img"), read_only=False),
    )
    vm = compose_vm(
        vmlinux=tmp_path / "vmlinux",
        initrd=tmp_path / "initrd.cpio",
        drives=drives,
        memory_mib=160,
        vcpus=2,
    )
    async with FirecrackerClient(socket) as client:
        assert (await client.describe_instance()).state == "Not started"
        await client.configure(vm)
        await client.put_network_interface(
            NetworkInterface(iface_id="eth0", host_dev_name="tap0", guest_mac="AA:FC:00:00:00:01")
        )
        await client.instance_start()
        assert (await client.describe_instance()).state == "Running"
        await client.send_ctrl_alt_del()
    sent = [(method, path) for method, path, _ in fake.requests]
    assert sent == [
        ("GET", "/"),
        ("PUT", "/machine-config"),
        ("PUT", "/boot-source"),
        ("PUT", "/drives/job"),
        ("PUT", "/drives/out"),
        ("PUT", "/network-interfaces/eth0"),
        ("PUT", "/actions"),
        ("GET", "/"),
        ("PUT", "/actions"),
    ]
    bodies = {path: body for _, path, body in fake.requests}
    assert bodies["/machine-config"] == {"vcpu_count": 2, "mem_size_mib": 160, "smt": False}
    boot = bodies["/boot-source"]
    assert boot["initrd_path"] == str(tmp_path / "initrd.cpio")
    assert "console=ttyS0" in boot["boot_args"]
    assert "reboot=k" in boot["boot_args"]
    assert bodies["/drives/job"]["is_read_only"] is True
    assert bodies["/drives/out"] == {
        "drive_id": "out",
        "path_on_host": str(tmp_path / "out.img"),
        "is_root_device": False,
        "is_read_only": False,
        "cache_type": "Unsafe",
    }


async def test_a_refused_request_raises_with_firecrackers_fault_message(
    stand_in: tuple[StandInFirecracker, Path],
) -> None:
    _, socket = stand_in
    async with FirecrackerClient(socket) as client:
        with pytest.raises(ExecutionFailed, match="without kernel configuration"):
            await client.instance_start()
        with pytest.raises(ExecutionFailed, match="vCPU number is invalid"):
            await client.put_machine_config(MachineConfig(vcpu_count=0, mem_size_mib=128))
        await client.put_boot_source(BootSource(kernel_image_path="/k"))
        await client.instance_start()
        with pytest.raises(ExecutionFailed, match="after starting"):
            await client.put_drive(
                FirecrackerDrive(
                    drive_id="late", path_on_host="/d", is_root_device=False, is_read_only=True
                )
            )


async def test_an_api_socket_nobody_answers_is_a_clear_failure(tmp_path: Path) -> None:
    async with FirecrackerClient(tmp_path / "absent.sock", timeout=2.0) as client:
        with pytest.raises(ExecutionFailed, match="did not answer PUT /machine-config"):
            await client.put_machine_config(MachineConfig(vcpu_count=1, mem_size_mib=128))


def test_compose_refuses_more_vcpus_than_firecracker_runs(tmp_path: Path) -> None:
    with pytest.raises(ExecutionFailed, match="1 to 32 vCPUs"):
        compose_vm(vmlinux=tmp_path, initrd=tmp_path, drives=(), memory_mib=128, vcpus=33)


async def test_without_the_binary_the_backend_is_unavailable_naming_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no firecracker on it (none is installed anyway)
    with pytest.raises(ExecutorUnavailable, match="firecracker binary") as raised:
        find_firecracker(kvm=tmp_path / "kvm")
    assert str(tmp_path / "kvm") in str(raised.value)
    events: list[Event] = []
    executor = MicroVMExecutor(
        events.append, node_id="n", kernel=guest_kernel(), state_dir=tmp_path, backend="firecracker"
    )
    spec = ExecutionSpec(id="fc", image="nunet-test/busybox:1", command=("true",))
    with pytest.raises(ExecutorUnavailable, match="firecracker"):
        await executor.prepare(spec)
    assert (await executor.status("fc")).state is State.FAILED
    assert [type(e).__name__ for e in events] == ["ExecutionFailedToStart"]


def test_the_debian_kernel_is_unpacked_into_the_elf_firecracker_boots(tmp_path: Path) -> None:
    vmlinux = extract_vmlinux(guest_kernel(), tmp_path / "vmlinux")
    assert vmlinux.read_bytes()[:4] == b"\x7fELF"
    assert vmlinux.stat().st_size > guest_kernel().stat().st_size
