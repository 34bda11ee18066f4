"""Images for a swarm on one machine with no registry to pull from: `nunet-test/busybox:1`, a
root filesystem of Debian's static busybox with every applet linked, made by `docker import`.
The tests, the main job (scripts/demo.sh) and the benchmarks run it.

`python -m nunet.devstack.images` builds it unless the engine has it, and prints its reference.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile

BUSYBOX_IMAGE = "nunet-test/busybox:1"
BUSYBOX = "/bin/busybox"


class ImageUnavailable(RuntimeError):
    """The machine lacks what a test image is made of (docker, busybox-static)."""


def docker_available() -> bool:
    """Whether a Docker engine answers here."""
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


def _busybox_rootfs() -> bytes:
    if not os.path.exists(BUSYBOX):
        raise ImageUnavailable(
            f"{BUSYBOX} is missing: install busybox-static (scripts/bootstrap.sh)"
        )
    applets = subprocess.run(
        [BUSYBOX, "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in ("bin", "tmp", "etc", "proc", "sys", "dev", "root"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        tar.add(BUSYBOX, arcname="bin/busybox")
        for applet in applets:
            if applet != "busybox":
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
        passwd = b"root:x:0:0:root:/root:/bin/sh\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        tar.addfile(info, io.BytesIO(passwd))
    return buffer.getvalue()


def ensure_busybox_image() -> str:
    """Import the busybox image unless the engine has it; its reference. Idempotent."""
    present = subprocess.run(
        ["docker", "image", "inspect", BUSYBOX_IMAGE], capture_output=True, check=False
    )
    if present.returncode != 0:
        subprocess.run(
            ["docker", "import", "-c", "ENV PATH=/bin", "-c", 'CMD ["sh"]', "-", BUSYBOX_IMAGE],
            input=_busybox_rootfs(),
            capture_output=True,
            check=True,
        )
    return BUSYBOX_IMAGE


def image_id(reference: str) -> str:
    return subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", reference],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


if __name__ == "__main__":
    print(ensure_busybox_image())
