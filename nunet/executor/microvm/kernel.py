"""The guest kernel: Debian's cloud kernel, fetched once with apt-get and kept in a cache
directory as `<cache>/<version>/vmlinuz` beside the few modules the guest needs.

    python -m nunet.executor.microvm.kernel [CACHE_DIR]     # fetch if missing, print the path
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from nunet.executor.errors import ExecutorUnavailable

DEFAULT_KERNEL_DIR = Path("/var/cache/nunet/kernels")
KERNEL_PACKAGE = "linux-image-cloud-amd64"  # Debian's metapackage: depends on the current one
# Loaded in this order by the guest's init: virtio-mmio transport and block devices. Modules the
# kernel has built in are simply not found and not shipped.
GUEST_MODULES = ("virtio", "virtio_ring", "virtio_mmio", "virtio_blk")
FETCH_HINT = (
    "fetch one with `python -m nunet.executor.microvm.kernel` (apt-get download "
    f"{KERNEL_PACKAGE}'s kernel, unpacked into {DEFAULT_KERNEL_DIR})"
)


def find_kernel(cache_dir: Path) -> Path | None:
    """The newest cached kernel image under `cache_dir`, or None."""
    if not cache_dir.is_dir():
        return None
    found = sorted(
        (entry / "vmlinuz" for entry in cache_dir.iterdir() if (entry / "vmlinuz").is_file()),
        key=lambda path: [int(part) for part in re.findall(r"\d+", path.parent.name)],
    )
    return found[-1] if found else None


def guest_modules(kernel: Path) -> list[Path]:
    """The modules shipped beside `kernel` (in `modules/`), in load order."""
    directory = kernel.parent / "modules"
    return [
        directory / f"{name}.ko" for name in GUEST_MODULES if (directory / f"{name}.ko").is_file()
    ]


def require_kernel(kernel: Path) -> Path:
    """`kernel` if it is a file, else ExecutorUnavailable naming it and how to fetch one."""
    if not kernel.is_file():
        raise ExecutorUnavailable(f"no guest kernel at {kernel}: {FETCH_HINT}")
    return kernel


def ensure_kernel(cache_dir: Path = DEFAULT_KERNEL_DIR) -> Path:
    """The cached kernel image, fetched with `apt-get download` + `dpkg -x` when none is there."""
    cached = find_kernel(cache_dir)
    if cached is not None:
        return cached
    for tool in ("apt-get", "apt-cache", "dpkg"):
        if shutil.which(tool) is None:
            raise ExecutorUnavailable(f"cannot fetch a guest kernel without {tool} (Debian only)")
    package = _versioned_package()
    with tempfile.TemporaryDirectory(prefix="nunet-kernel-") as scratch:
        work = Path(scratch)
        _run(["apt-get", "download", "-q", package], cwd=work)
        deb = next(work.glob("*.deb"))
        _run(["dpkg", "-x", str(deb), str(work / "root")], cwd=work)
        images = sorted((work / "root" / "boot").glob("vmlinuz-*"))
        if not images:
            raise ExecutorUnavailable(f"{deb.name} holds no /boot/vmlinuz-*")
        version = images[-1].name.removeprefix("vmlinuz-")
        staged = work / version
        (staged / "modules").mkdir(parents=True)
        shutil.copy2(images[-1], staged / "vmlinuz")
        config = work / "root" / "boot" / f"config-{version}"
        if config.is_file():
            shutil.copy2(config, staged / "config")
        tree = work / "root" / "lib" / "modules" / version
        for name in GUEST_MODULES:
            for module in tree.rglob(f"{name}.ko"):
                shutil.copy2(module, staged / "modules" / module.name)
        cache_dir.mkdir(parents=True, exist_ok=True)
        target = cache_dir / version
        if not target.exists():
            # The copy and then a rename, so a reader never sees half a kernel.
            partial = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=cache_dir))
            shutil.copytree(staged, partial, dirs_exist_ok=True)
            partial.rename(target)
    return target / "vmlinuz"


def _versioned_package() -> str:
    shown = _run(["apt-cache", "depends", KERNEL_PACKAGE], cwd=None)
    for line in shown.splitlines():
        name = line.strip().removeprefix("Depends:").strip()
        if name.startswith("linux-image-") and name != KERNEL_PACKAGE:
            return name
    raise ExecutorUnavailable(
        f"apt-cache knows no kernel behind {KERNEL_PACKAGE}: is a Debian mirror configured?"
    )


def _run(argv: list[str], *, cwd: Path | None) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ExecutorUnavailable(f"{' '.join(argv)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def main(argv: list[str]) -> int:
    cache_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_KERNEL_DIR
    try:
        print(ensure_kernel(cache_dir))
    except ExecutorUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
