"""What a machine has, as detected: the facts onboarding validates a reservation against."""

from __future__ import annotations

import msgspec

from nunet.capability.model import Bytes, CpuInfo, Gpu, Short


class Machine(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole machine. `disk` and `disk_free` are of the filesystem holding the node's home."""

    cpu: CpuInfo
    ram: Bytes  # total
    ram_available: Bytes  # available now (MemAvailable)
    disk: Bytes  # total
    disk_free: Bytes  # free now, for an unprivileged writer
    gpus: tuple[Gpu, ...] = ()
    os: Short = "linux"
    kernel: Short = ""  # uname -r
    notes: tuple[str, ...] = ()  # what could not be detected and why (no nvidia-smi, ...)
