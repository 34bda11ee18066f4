"""An OCI image becomes a microVM's initramfs: the Docker engine exports the image's filesystem
(a container created, never started, then `GET /containers/{id}/export`), and that tar is
rewritten as a newc cpio with nunet's `/init`, a static busybox and the guest's virtio modules
laid over it. Cached per image id (a content digest) and init, so an image is converted once.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import tarfile
import tempfile
from pathlib import Path
from typing import BinaryIO

import httpx
import msgspec

from nunet.executor.errors import ExecutorUnavailable, ImageNotFound
from nunet.executor.microvm.cpio import CpioWriter
from nunet.executor.microvm.guest import INIT_SCRIPT

DOCKER_SOCKET = Path("/var/run/docker.sock")
_RESERVED = ".nunet"  # nunet's own corner of the guest's root


class ImageConfig(msgspec.Struct, frozen=True, kw_only=True):
    """What the image says about running it (Docker's `Config`)."""

    id: str
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: dict[str, str] = {}
    working_dir: str = ""


def _env_pairs(entries: list[str] | None) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for entry in entries or ():
        key, _, value = entry.partition("=")
        pairs[key] = value
    return pairs


def is_static_elf(path: Path) -> bool:
    """Whether `path` is an ELF executable with no program interpreter (statically linked)."""
    with open(path, "rb") as elf:
        header = elf.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2:  # 64-bit only
            return False
        phoff = int.from_bytes(header[32:40], "little")
        phentsize = int.from_bytes(header[54:56], "little")
        phnum = int.from_bytes(header[56:58], "little")
        elf.seek(phoff)
        table = elf.read(phentsize * phnum)
    return all(
        int.from_bytes(table[i * phentsize : i * phentsize + 4], "little") != 3  # PT_INTERP
        for i in range(phnum)
    )


class ImageStore:
    """Turns image references into cached initramfs files under `cache_dir`."""

    def __init__(
        self,
        cache_dir: Path,
        *,
        busybox: Path,
        modules: list[Path],
        docker_socket: Path = DOCKER_SOCKET,
    ) -> None:
        self._cache_dir = cache_dir
        self._busybox = busybox
        self._modules = modules
        self._socket = docker_socket
        self._locks: dict[str, asyncio.Lock] = {}
        digest = hashlib.sha256(INIT_SCRIPT.encode())
        for extra in (busybox, *modules):
            digest.update(extra.name.encode() + str(extra.stat().st_size).encode())
        self._overlay_digest = digest.hexdigest()[:16]

    def _client(self) -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(uds=str(self._socket))
        return httpx.AsyncClient(transport=transport, base_url="http://docker", timeout=60.0)

    async def inspect(self, image: str) -> ImageConfig:
        """The image's id and run config; ImageNotFound / ExecutorUnavailable."""
        async with self._client() as client:
            try:
                answer = await client.get(f"/images/{image}/json")
            except httpx.TransportError as error:
                raise ExecutorUnavailable(
                    f"no Docker engine answers at {self._socket} ({error}): the microVM executor "
                    "unpacks images through it; start dockerd"
                ) from error
        if answer.status_code == 404:
            raise ImageNotFound(
                f"the image {image!r} is not on this node: docker pull or docker load it first"
            )
        if answer.status_code != 200:
            raise ExecutorUnavailable(
                f"the Docker engine could not inspect {image!r}: {answer.status_code} {answer.text}"
            )
        body = answer.json()
        config = body.get("Config") or {}
        return ImageConfig(
            id=str(body["Id"]),
            entrypoint=tuple(config.get("Entrypoint") or ()),
            cmd=tuple(config.get("Cmd") or ()),
            env=_env_pairs(config.get("Env")),
            working_dir=str(config.get("WorkingDir") or ""),
        )

    async def initramfs(self, image: str, config: ImageConfig) -> Path:
        """The cached initramfs of `image` (built on first use)."""
        name = f"{config.id.removeprefix('sha256:')[:32]}-{self._overlay_digest}.cpio"
        target = self._cache_dir / name
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            if target.is_file():
                return target
            self._cache_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self._cache_dir, prefix=".export-") as scratch:
                exported = Path(scratch) / "rootfs.tar"
                await self._export(image, exported)
                partial = Path(scratch) / name
                await asyncio.to_thread(self._convert, exported, partial)
                os.replace(partial, target)
        return target

    async def _export(self, image: str, into: Path) -> None:
        async with self._client() as client:
            created = await client.post(
                "/containers/create",
                json={
                    "Image": image,
                    "Entrypoint": ["/nunet-export-only"],  # never started
                    "Labels": {"nunet.microvm.export": image},
                    "NetworkDisabled": True,
                },
            )
            if created.status_code == 404:
                raise ImageNotFound(f"the image {image!r} is not on this node")
            if created.status_code != 201:
                raise ExecutorUnavailable(
                    f"the Docker engine could not export {image!r}: {created.text.strip()}"
                )
            container = created.json()["Id"]
            try:
                async with client.stream("GET", f"/containers/{container}/export") as answer:
                    if answer.status_code != 200:
                        raise ExecutorUnavailable(
                            f"exporting {image!r} failed: {answer.status_code}"
                        )
                    out = _create(into)
                    try:
                        async for chunk in answer.aiter_bytes(1 << 20):
                            out.write(chunk)
                    finally:
                        out.close()
            finally:
                await client.delete(f"/containers/{container}", params={"force": "true"})

    def _convert(self, exported: Path, into: Path) -> None:
        with open(exported, "rb") as source, open(into, "wb") as out:
            writer = CpioWriter(out)
            tar_to_cpio(source, writer)
            self._overlay(writer)
            writer.close()

    def _overlay(self, writer: CpioWriter) -> None:
        # The kernel opens /dev/console for init before anything is mounted.
        writer.directory("dev")
        writer.device("dev/console", char=True, major=5, minor=1)
        writer.device("dev/null", char=True, major=1, minor=3, mode=0o666)
        writer.directory(_RESERVED, mode=0o700)
        writer.file(f"{_RESERVED}/busybox", self._busybox.read_bytes(), mode=0o755)
        names = []
        for module in self._modules:
            writer.file(f"{_RESERVED}/{module.name}", module.read_bytes(), mode=0o644)
            names.append(module.name.removesuffix(".ko"))
        writer.file(f"{_RESERVED}/modules", ("\n".join(names) + "\n").encode())
        writer.file("init", INIT_SCRIPT.encode(), mode=0o755)


def _create(path: Path) -> BinaryIO:
    return open(path, "wb")


def tar_to_cpio(source: BinaryIO, writer: CpioWriter) -> None:
    """Every entry of the tar stream `source` as a cpio entry (hard links kept as links)."""
    inodes: dict[str, int] = {}
    with tarfile.open(fileobj=source, mode="r|") as archive:
        for member in archive:
            name = os.path.normpath(member.name.lstrip("/")).removeprefix("./")
            if name in ("", ".") or name.startswith((f"{_RESERVED}/", "dev/")) or name == _RESERVED:
                continue  # /dev: Docker leaves placeholder files there; devtmpfs replaces it
            owner = {"uid": member.uid, "gid": member.gid}
            if member.isdir():
                writer.directory(name, mode=member.mode, **owner)
            elif member.isreg():
                data = archive.extractfile(member)
                assert data is not None  # a regular member always has data
                inodes[name] = writer.stream_file(
                    name, data, member.size, mode=member.mode, **owner
                )
            elif member.issym():
                writer.symlink(name, member.linkname, **owner)
            elif member.islnk():
                target = os.path.normpath(member.linkname.lstrip("/")).removeprefix("./")
                if target in inodes:
                    writer.hardlink(name, inodes[target], mode=member.mode, **owner)
            elif member.ischr() or member.isblk():
                writer.device(
                    name,
                    char=member.ischr(),
                    major=member.devmajor,
                    minor=member.devminor,
                    mode=stat.S_IMODE(member.mode),
                )
            elif member.isfifo():
                writer.fifo(name, mode=member.mode)
