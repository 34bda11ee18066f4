"""The microVM executor with QEMU's microvm machine under TCG, for real: the contract, then what
only a VM has (a missing kernel, the console, drives, recover). Every boot costs ~2 s here, so
tests batch their assertions per boot."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nunet.eventlog import Event
from nunet.executor import (
    ExecutionFailedToStart,
    ExecutionRecovered,
    ExecutionSpec,
    ExecutorUnavailable,
    ImageNotFound,
    InvalidSpec,
    Limits,
    Mount,
    OutputMount,
    State,
)
from nunet.executor.microvm import MicroVMExecutor, kvm_works
from nunet.executor.microvm.console import (
    ConsoleParser,
    Exited,
    HealthReport,
    NotFound,
    Output,
    Started,
)
from nunet.executor.microvm.cpio import CpioWriter
from nunet.executor.microvm.guest import GuestMount, GuestPlan, job_script, sentinel
from nunet.executor.microvm.qemu import memory_mib_for, vcpus_for
from nunet.executor.microvm.rootfs import tar_to_cpio
from tests.executor.contract import WAIT_S, ExecutorBackend, ExecutorContract
from tests.executor.microvm_support import MicroVMBackend, guest_kernel, vmm_processes


@pytest.fixture(scope="session")
def microvm_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("microvm")


@pytest.fixture(scope="session")
def kernel() -> Path:
    return guest_kernel()


class TestMicroVMContract(ExecutorContract):
    # The output drives are read back and their sum checked before any host directory gets a
    # byte: over the limit, nothing is copied.
    keeps_outputs_over_the_limit = False

    @pytest.fixture
    def backend(self, busybox_image: str, kernel: Path, microvm_state: Path) -> ExecutorBackend:
        return MicroVMBackend(busybox_image, kernel, microvm_state)


# --- what only the microVM executor has ---


@pytest.fixture
def microvm(busybox_image: str, kernel: Path, microvm_state: Path) -> MicroVMBackend:
    return MicroVMBackend(busybox_image, kernel, microvm_state)


async def test_a_missing_kernel_is_refused_naming_the_path_and_the_fetch(
    microvm: MicroVMBackend, tmp_path: Path
) -> None:
    events: list[Event] = []
    missing = tmp_path / "no-kernel" / "vmlinuz"
    executor = MicroVMExecutor(events.append, node_id="n", kernel=missing, state_dir=tmp_path)
    spec = ExecutionSpec(id="no-kernel", image=microvm.image, command=("true",))
    with pytest.raises(ExecutorUnavailable, match=str(missing)) as raised:
        await executor.prepare(spec)
    assert "nunet.executor.microvm.kernel" in str(raised.value)
    (refused,) = events
    assert isinstance(refused, ExecutionFailedToStart)
    assert refused.code == "executor-unavailable"
    assert (await executor.status(spec.id)).state is State.FAILED
    assert not (tmp_path / "vms" / spec.id).exists()


async def test_an_unknown_image_and_what_a_vm_cannot_offer_are_refused(
    microvm: MicroVMBackend,
) -> None:
    events: list[Event] = []
    executor = microvm.executor(events.append)
    unknown = ExecutionSpec(id="unknown-image", image="nunet-test/nothing:0", command=("true",))
    with pytest.raises(ImageNotFound, match="nunet-test/nothing:0"):
        await executor.prepare(unknown)
    for field, spec in [
        ("gpus", ExecutionSpec(id="gpu", image=microvm.image, limits=Limits(gpus=(0,)))),
        ("network", ExecutionSpec(id="net", image=microvm.image, network="host")),
        (
            "reserves",
            ExecutionSpec(
                id="dev",
                image=microvm.image,
                command=("true",),
                inputs=(Mount(source="/tmp", target="/proc/x"),),
            ),
        ),
        (
            r"outputs\[1\]\.target '/dev/out' is under /dev",
            ExecutionSpec(
                id="dev-out",
                image=microvm.image,
                command=("true",),
                outputs=(
                    OutputMount(source="/tmp/a", target="/out"),
                    OutputMount(source="/tmp/b", target="/dev/out"),
                ),
            ),
        ),
    ]:
        with pytest.raises(InvalidSpec, match=field):
            await executor.prepare(spec)
    codes = [e.code for e in events if isinstance(e, ExecutionFailedToStart)]
    assert codes == ["image-not-found", *["invalid-spec"] * 4]
    await executor.close()


async def test_a_flood_of_output_is_capped_and_its_timeout_leaves_no_vm(
    microvm: MicroVMBackend, tmp_path: Path
) -> None:
    """One boot: a job printing without end (it would print gigabytes) through a file input."""
    (tmp_path / "line.txt").write_text("x" * 99 + "\n")
    executor = microvm.executor(lambda event: None)
    spec = ExecutionSpec(
        id="flood",
        image=microvm.image,
        command=("sh", "-c", "while :; do cat /in/line.txt; done"),
        inputs=(Mount(source=str(tmp_path / "line.txt"), target="/in/line.txt"),),
        limits=Limits(log_bytes=1000, timeout_seconds=5.0),
    )
    await executor.prepare(spec)
    await executor.start(spec.id)
    async with asyncio.timeout(WAIT_S):
        status = await executor.wait(spec.id)
    assert status.state is State.TIMED_OUT
    lines = [line async for line in executor.logs(spec.id)]
    assert [line.text for line in lines] == ["x" * 99] * 10
    assert status.logs_dropped > 0
    await executor.cleanup(spec.id)
    assert await microvm.leftovers(spec.id) == []
    assert vmm_processes(str(microvm.state_dir)) == []


async def test_a_guest_that_does_not_boot_in_time_is_booted_again_then_failed_clearly(
    microvm: MicroVMBackend,
) -> None:
    """A boot timeout no guest can meet: each boot is killed by the watchdog, the second
    attempt too, and the execution fails saying so, with no VM left."""
    executor = microvm.executor(lambda event: None, boot_timeout_seconds=0.05)
    spec = ExecutionSpec(id="stalled", image=microvm.image, command=("true",))
    await executor.prepare(spec)
    await executor.start(spec.id)
    async with asyncio.timeout(WAIT_S):
        status = await executor.wait(spec.id)
    assert status.state is State.FAILED
    assert "the guest did not boot within 0.05 s, 2 times" in status.error
    lines = [line.text async for line in executor.logs(spec.id)]
    assert "nunet: the guest did not boot within 0.05 s; booting it again" in lines
    await executor.cleanup(spec.id)
    assert await microvm.leftovers(spec.id) == []
    assert vmm_processes(str(microvm.state_dir)) == []


def _start_sleeper(cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "600"], cwd=cwd, start_new_session=True)


async def test_recover_kills_and_removes_what_an_earlier_node_left(tmp_path: Path) -> None:
    events: list[Event] = []
    left = tmp_path / "vms" / "left-behind"
    left.mkdir(parents=True)
    # A stand-in for a VMM an earlier node started (a real boot is not needed to prove the kill).
    survivor = _start_sleeper(left)
    (left / "vm.json").write_text(f'{{"id": "left-behind", "pid": {survivor.pid}}}')
    executor = MicroVMExecutor(
        events.append, node_id="n", kernel=tmp_path / "vmlinuz", state_dir=tmp_path
    )
    assert await executor.recover() == ["left-behind"]
    assert survivor.wait(timeout=WAIT_S) == -9
    assert not left.exists()
    assert events == [
        ExecutionRecovered(execution="left-behind", executor="microvm-qemu", action="cleaned")
    ]


async def test_kvm_is_not_used_where_its_device_does_not_open(kernel: Path, tmp_path: Path) -> None:
    assert not await kvm_works(kernel, Path("/bin/busybox"), device=tmp_path / "kvm")


# --- pure parts ---

NONCE = "0123abcd"
TAG = sentinel(NONCE)


def test_the_console_turns_tagged_lines_into_facts_and_keeps_the_rest() -> None:
    parser = ConsoleParser(NONCE)
    raw = (
        f"{TAG}started\r\n{TAG}out hello world\r\n{TAG}err  spaced \r\nkernel says\r\n"
        f"partial{TAG}health 1\r\n{TAG}notfound /x y\r\n{TAG}exit 3 1\r\nlast"
    ).encode()
    facts = parser.feed(raw) + parser.close()
    assert facts == [
        Started(),
        Output("stdout", "hello world"),
        Output("stderr", " spaced "),
        Output("console", "kernel says"),
        Output("console", "partial"),
        HealthReport(1),
        NotFound("/x y"),
        Exited(3, 1),
        Output("console", "last"),
    ]


@given(st.lists(st.text(alphabet="ab \t", max_size=12), max_size=8), st.data())
def test_the_console_reads_the_same_however_the_bytes_are_split(
    texts: list[str], data: st.DataObject
) -> None:
    raw = "".join(f"{TAG}out {text}\r\n" for text in texts).encode() + f"{TAG}exit 0 0\n".encode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=6)))
    parser = ConsoleParser(NONCE)
    facts = []
    for start, end in zip([0, *cuts], [*cuts, len(raw)], strict=True):
        facts += parser.feed(raw[start:end])
    assert facts == [*(Output("stdout", text) for text in texts), Exited(0, 0)]


def _read_cpio(data: bytes) -> list[tuple[str, int, bytes]]:
    """(name, mode, data) of each entry of a newc archive, up to the trailer."""
    entries: list[tuple[str, int, bytes]] = []
    at = 0
    while True:
        header = data[at : at + 110]
        assert header[:6] == b"070701"
        fields = [int(header[6 + 8 * i : 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name_end = at + 110 + namesize
        name = data[at + 110 : name_end - 1].decode()
        body_at = name_end + (-name_end % 4)
        if name == "TRAILER!!!":
            return entries
        entries.append((name, mode, data[body_at : body_at + size]))
        at = body_at + size + (-(body_at + size) % 4)


def test_an_exported_tar_becomes_a_cpio_with_links_kept_and_dev_left_out() -> None:
    exported = io.BytesIO()
    with tarfile.open(fileobj=exported, mode="w") as tar:
        for name, kind in [("./bin", tarfile.DIRTYPE), ("dev", tarfile.DIRTYPE)]:
            info = tarfile.TarInfo(name)
            info.type, info.mode = kind, 0o755
            tar.addfile(info)
        body = b"#!/bin/sh\n"
        info = tarfile.TarInfo("bin/run")
        info.size, info.mode = len(body), 0o4755
        tar.addfile(info, io.BytesIO(body))
        for name, kind, target in [
            ("bin/again", tarfile.LNKTYPE, "bin/run"),
            ("bin/sh", tarfile.SYMTYPE, "run"),
            ("dev/console", tarfile.REGTYPE, ""),
        ]:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            tar.addfile(info, io.BytesIO(b""))
    exported.seek(0)
    out = io.BytesIO()
    writer = CpioWriter(out)
    tar_to_cpio(exported, writer)
    writer.close()
    entries = {name: (mode, data) for name, mode, data in _read_cpio(out.getvalue())}
    assert set(entries) == {"bin", "dev", "bin/run", "bin/again", "bin/sh"}  # not dev/console
    assert entries["bin/run"] == (0o104755, body)
    assert entries["bin/again"][1] == b""  # a hard link: the kernel links it to bin/run
    assert entries["bin/sh"] == (0o120777, b"run")


def test_the_job_script_mounts_each_output_drive_read_write_and_unmounts_it_before_the_exit() -> (
    None
):
    outputs = tuple(
        GuestMount(serial=f"nunet-out{i}", device=f"/dev/vd{d}", target=t, read_only=False)
        for i, (d, t) in enumerate([("b", "/results"), ("c", "/logs/run")])
    )
    plan = GuestPlan(
        nonce=NONCE,
        argv=("true",),
        env={},
        working_dir="",
        memory_bytes=1 << 30,
        cpu_quota=1.0,
        outputs=outputs,
    )
    script = job_script(plan).splitlines()
    started, exit_report = script.index("say started"), script.index('say exit $code "${oom:-0}"')
    for mount in outputs:
        found = f"dev=$(drive {mount.serial} {mount.device})"
        mounted = f"$B mount -t ext4 -o rw $dev {mount.target} || fail "
        assert script.index(found) < started
        assert any(line.startswith(mounted) for line in script[:started])
        unmount = script.index(f"$B umount {mount.target} 2>/dev/null")
        assert started < script.index("$B sync") < unmount < exit_report


@given(st.floats(0.01, 64, allow_nan=False))
def test_vcpus_cover_the_cpu_limit_and_memory_covers_the_job_and_the_guest(cores: float) -> None:
    vcpus = vcpus_for(cores)
    assert vcpus >= cores
    assert vcpus - cores < 1
    assert vcpus >= 1
    assert memory_mib_for(16 << 20, 4 << 20) * (1 << 20) >= (16 << 20) + 2 * (4 << 20)


def test_no_vmm_outlives_the_tests_that_started_them(microvm_state: Path) -> None:
    assert vmm_processes(str(microvm_state)) == []
    assert os.path.isdir(microvm_state)
