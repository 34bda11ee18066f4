"""The Firecracker backend: a small async client of Firecracker's REST API over its Unix socket
(PUT /machine-config, /boot-source, /drives/{id}, /network-interfaces/{id}, /actions; GET /),
the VM description composed from the same initramfs and drives as QEMU's, and the launcher that
starts `firecracker --api-sock`, configures it and boots it.

Firecracker needs KVM and an uncompressed kernel (ELF vmlinux): `extract_vmlinux` unpacks
Debian's bzImage. Firecracker gives drives no serials, so the guest finds them by attachment
order (the job drive is /dev/vda). Never run here: no firecracker binary can be installed from
the reachable registries, and nested KVM hangs; tests drive the client against a stand-in server.
"""

from __future__ import annotations

import asyncio
import lzma
import shutil
import subprocess
import zlib
from pathlib import Path
from typing import Any, Literal

import httpx
import msgspec

from nunet.executor.errors import ExecutionFailed, ExecutorUnavailable
from nunet.executor.microvm.qemu import Drive
from nunet.executor.microvm.vm import VMProcess

FIRECRACKER = "firecracker"
# reboot=k: the guest's `reboot -f` goes through the i8042 controller, which ends Firecracker.
KERNEL_ARGS = "console=ttyS0 quiet loglevel=0 panic=-1 reboot=k pci=off random.trust_cpu=on"


class MachineConfig(msgspec.Struct, frozen=True, kw_only=True):
    vcpu_count: int  # 1..32, 1 or even with smt
    mem_size_mib: int
    smt: bool = False


class BootSource(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    kernel_image_path: str
    boot_args: str = ""
    initrd_path: str = ""


class FirecrackerDrive(msgspec.Struct, frozen=True, kw_only=True):
    drive_id: str
    path_on_host: str
    is_root_device: bool
    is_read_only: bool
    cache_type: Literal["Unsafe", "Writeback"] = "Unsafe"


class NetworkInterface(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    iface_id: str
    host_dev_name: str
    guest_mac: str = ""


class InstanceInfo(msgspec.Struct, frozen=True, kw_only=True):
    app_name: str
    id: str
    state: Literal["Not started", "Running", "Paused"]
    vmm_version: str


class FirecrackerVM(msgspec.Struct, frozen=True, kw_only=True):
    """Everything configured before InstanceStart, in the order it is sent."""

    machine: MachineConfig
    boot: BootSource
    drives: tuple[FirecrackerDrive, ...]
    interfaces: tuple[NetworkInterface, ...] = ()


def compose_vm(
    *, vmlinux: Path, initrd: Path, drives: tuple[Drive, ...], memory_mib: int, vcpus: int
) -> FirecrackerVM:
    """The Firecracker description of a VM: drives in the order the guest will number them."""
    if not 1 <= vcpus <= 32:
        raise ExecutionFailed(f"Firecracker runs 1 to 32 vCPUs, not {vcpus}")
    return FirecrackerVM(
        machine=MachineConfig(vcpu_count=vcpus, mem_size_mib=memory_mib),
        boot=BootSource(
            kernel_image_path=str(vmlinux), boot_args=KERNEL_ARGS, initrd_path=str(initrd)
        ),
        drives=tuple(
            FirecrackerDrive(
                drive_id=drive.serial.replace("nunet-", ""),
                path_on_host=drive.path,
                is_root_device=False,
                is_read_only=drive.read_only,
            )
            for drive in drives
        ),
    )


class FirecrackerClient:
    """Firecracker's API on `socket`. Each call raises ExecutionFailed with the API's
    fault_message when Firecracker refuses it."""

    def __init__(self, socket: Path, *, timeout: float = 10.0) -> None:
        self._http = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(socket)),
            base_url="http://localhost",
            timeout=timeout,
        )

    async def __aenter__(self) -> FirecrackerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _put(self, path: str, body: msgspec.Struct | dict[str, Any]) -> None:
        payload = msgspec.to_builtins(body)
        try:
            answer = await self._http.put(path, json=payload)
        except httpx.TransportError as error:
            raise ExecutionFailed(
                f"Firecracker's API did not answer PUT {path}: {error}"
            ) from error
        if answer.status_code != 204:
            raise ExecutionFailed(f"Firecracker refused PUT {path}: {_fault(answer)}")

    async def put_machine_config(self, config: MachineConfig) -> None:
        await self._put("/machine-config", config)

    async def put_boot_source(self, boot: BootSource) -> None:
        await self._put("/boot-source", boot)

    async def put_drive(self, drive: FirecrackerDrive) -> None:
        await self._put(f"/drives/{drive.drive_id}", drive)

    async def put_network_interface(self, interface: NetworkInterface) -> None:
        await self._put(f"/network-interfaces/{interface.iface_id}", interface)

    async def instance_start(self) -> None:
        await self._put("/actions", {"action_type": "InstanceStart"})

    async def send_ctrl_alt_del(self) -> None:
        await self._put("/actions", {"action_type": "SendCtrlAltDel"})

    async def describe_instance(self) -> InstanceInfo:
        try:
            answer = await self._http.get("/")
        except httpx.TransportError as error:
            raise ExecutionFailed(f"Firecracker's API did not answer GET /: {error}") from error
        if answer.status_code != 200:
            raise ExecutionFailed(f"Firecracker refused GET /: {_fault(answer)}")
        return msgspec.convert(answer.json(), InstanceInfo)

    async def configure(self, vm: FirecrackerVM) -> None:
        """Everything before the start: machine, boot source, drives, interfaces."""
        await self.put_machine_config(vm.machine)
        await self.put_boot_source(vm.boot)
        for drive in vm.drives:
            await self.put_drive(drive)
        for interface in vm.interfaces:
            await self.put_network_interface(interface)


def _fault(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("fault_message") or answer.text)
    except ValueError:
        return f"{answer.status_code} {answer.text}"


def find_firecracker(*, kvm: Path = Path("/dev/kvm")) -> str:
    """The firecracker binary, or ExecutorUnavailable naming what is missing (it or KVM)."""
    missing = []
    binary = shutil.which(FIRECRACKER)
    if binary is None:
        missing.append("the firecracker binary on PATH")
    try:
        with open(kvm, "rb+", buffering=0):
            pass
    except OSError as error:
        missing.append(f"a usable {kvm} ({error.strerror})")
    if missing or binary is None:
        raise ExecutorUnavailable(
            "the Firecracker backend needs " + " and ".join(missing) + "; use backend 'qemu'"
        )
    return binary


_XZ = b"\xfd7zXZ\x00"
_GZIP = b"\x1f\x8b\x08"
_LZ4_LEGACY = b"\x02\x21\x4c\x18"  # Debian's cloud kernel: CONFIG_KERNEL_LZ4


def extract_vmlinux(bzimage: Path, into: Path) -> Path:
    """The uncompressed ELF kernel inside a bzImage (xz or gzip payload), written to `into`."""
    if into.is_file():
        return into
    data = bzimage.read_bytes()
    if data[:4] == b"\x7fELF":
        shutil.copyfile(bzimage, into)
        return into
    for magic, unpack in ((_XZ, _unxz), (_GZIP, _gunzip), (_LZ4_LEGACY, _unlz4)):
        start = data.find(magic)
        while start >= 0:
            try:
                kernel = unpack(data[start:])
            except (lzma.LZMAError, zlib.error, EOFError, OSError):
                kernel = b""
            if kernel[:4] == b"\x7fELF":
                partial = into.with_suffix(".partial")
                partial.write_bytes(kernel)
                partial.replace(into)
                return into
            start = data.find(magic, start + 1)
    raise ExecutorUnavailable(
        f"{bzimage} holds no xz, gzip or lz4 compressed ELF kernel (lz4 needs the lz4 tool): "
        "Firecracker needs a vmlinux"
    )


def _unxz(blob: bytes) -> bytes:
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(blob)


def _unlz4(blob: bytes) -> bytes:
    """lz4's legacy frames, through the lz4 tool (the standard library has no lz4); it complains
    about the bytes after the last frame but has written the kernel by then."""
    tool = shutil.which("lz4")
    if tool is None:
        raise OSError("no lz4 tool")
    done = subprocess.run([tool, "-dc"], input=blob, capture_output=True, check=False)
    return done.stdout


def _gunzip(blob: bytes) -> bytes:
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(blob)


async def launch_firecracker(
    binary: str, vm: FirecrackerVM, *, workdir: Path, vm_id: str, socket_wait: float = 5.0
) -> VMProcess:
    """Start firecracker on a fresh API socket in `workdir`, configure `vm` and boot it. Its
    stdout is the guest's serial console."""
    socket = workdir / "firecracker.sock"
    socket.unlink(missing_ok=True)
    process = VMProcess(
        [binary, "--api-sock", str(socket), "--id", vm_id],
        cwd=workdir,
        stderr=workdir / "vmm.err",
    )
    try:
        async with asyncio.timeout(socket_wait):
            while not socket.exists():
                if process.ended.done():
                    raise ExecutionFailed(
                        f"firecracker exited before opening its API socket: "
                        f"{(workdir / 'vmm.err').read_text()[-500:]}"
                    )
                await asyncio.sleep(0.01)  # polling a path the VMM creates; bounded above
        async with FirecrackerClient(socket) as client:
            await client.configure(vm)
            await client.instance_start()
    except BaseException:
        process.kill()
        raise
    return process
