"""The capability vocabulary: what a node offers (`Capability`) and what a job asks for
(`Requirement`), as plain immutable data.

Every size is an int of bytes, every bandwidth an int of bits per second, every clock an int of
MHz, every price a float per hour in the named currency: user text becomes these only through
`nunet.capability.units` (and `requirement_from_user` / `capability_from_user`), so the wire,
the log and the index never see an ambiguous unit. Every struct is frozen and strict: an unknown field is an error
naming it, never silently dropped.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Bytes = Annotated[int, msgspec.Meta(ge=0)]
Index = Annotated[int, msgspec.Meta(ge=0)]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Weight = Annotated[float, msgspec.Meta(gt=0, le=1000)]
Short = Annotated[str, msgspec.Meta(max_length=256)]

GPU_VENDORS = ("nvidia", "amd", "intel", "other")


class Gpu(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One GPU device of a machine (or of a node's onboarded share)."""

    index: Index  # the device's index on its machine (NVML / nvidia-smi order for NVIDIA)
    vendor: Short  # one of GPU_VENDORS
    model: Short
    vram: Bytes
    pci_address: Short = ""  # domain:bus:device.function, e.g. 0000:19:00.0
    uuid: Short = ""
    compute_capability: Short = ""  # NVIDIA's "9.0"; empty elsewhere


class CpuInfo(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What the machine's processor is (not how much of it is offered: see `Resources.cpu`)."""

    vendor: Short = ""  # GenuineIntel, AuthenticAMD, ARM, ...
    model: Short = ""
    architecture: Short = ""  # as `uname -m` says: x86_64, aarch64, ...
    cores: Index = 0  # physical cores of the machine
    threads: Index = 0  # logical CPUs of the machine
    clock_mhz: Index = 0  # the highest clock a core reaches


class Resources(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """An amount of machine: what is onboarded, allocated, free, or asked for by one allocation."""

    cpu: NonNegative = 0.0  # cores (logical CPUs); fractions allowed
    ram: Bytes = 0
    disk: Bytes = 0
    gpus: tuple[Gpu, ...] = ()


class Location(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Where a node is; empty fields are unknown. Codes are upper case."""

    continent: Short = ""  # AF, AN, AS, EU, NA, OC, SA
    country: Short = ""  # ISO 3166-1 alpha-2
    city: Short = ""
    asn: Index = 0  # autonomous system number; 0: unknown


class NetworkInfo(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    public_ports: tuple[Port, ...] = ()  # ports reachable from outside that jobs may publish on
    bandwidth: Index = 0  # bits per second


class Price(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Price per hour of each resource, in `currency`; `per_job` is charged once per allocation."""

    currency: Short = "NTX"
    cpu: NonNegative = 0.0  # per core-hour
    ram: NonNegative = 0.0  # per GiB-hour
    disk: NonNegative = 0.0  # per GiB-hour
    gpu: NonNegative = 0.0  # per GPU-hour
    per_job: NonNegative = 0.0


class Benchmarks(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What the onboarded share measured at onboarding; 0 means not measured."""

    cpu_single: NonNegative = 0.0  # operations per second on one core
    cpu_multi: NonNegative = 0.0  # operations per second on every reserved core
    memory_bandwidth: NonNegative = 0.0  # bytes per second (copy)
    disk_read: NonNegative = 0.0  # bytes per second, sequential
    disk_write: NonNegative = 0.0  # bytes per second, sequential
    disk_random_iops: NonNegative = 0.0  # 4 KiB random reads per second
    gpu_flops: NonNegative = 0.0  # FP32 operations per second, all reserved GPUs together
    network_rtt: NonNegative = 0.0  # median seconds to known peers; 0: no peer measured
    measured_at: NonNegative = 0.0  # wall-clock seconds
    duration: NonNegative = 0.0  # seconds the run took


BENCHMARK_FIELDS = (
    "cpu_single",
    "cpu_multi",
    "memory_bandwidth",
    "disk_read",
    "disk_write",
    "disk_random_iops",
    "gpu_flops",
)  # higher is better for each; network_rtt (lower is better) is handled on its own


class Capability(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What a node offers the swarm: its onboarded share and everything known about it."""

    resources: Resources  # the onboarded share: the most that can be allocated at once
    cpu: CpuInfo = CpuInfo()
    os: Short = "linux"
    executors: tuple[Short, ...] = ()  # docker, qemu, firecracker
    storage: tuple[Short, ...] = ()  # s3, nunet, url, inline
    network: NetworkInfo = NetworkInfo()
    location: Location = Location()
    price: Price = Price()
    labels: dict[Short, Short] = {}
    benchmarks: Benchmarks = Benchmarks()


class GpuNeed(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One GPU device a job needs; each need is met by a distinct device."""

    vram: Bytes = 0  # at least
    vendor: Short = ""  # exactly (one of GPU_VENDORS); empty: any
    model: Short = ""  # a case-insensitive substring of the model; empty: any
    compute_capability: Short = ""  # at least (NVIDIA, "8.0"); empty: any


class LocationRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Matches a location when every non-empty field equals it (case-insensitive)."""

    continent: Short = ""
    country: Short = ""
    city: Short = ""
    asn: Index = 0


class Preference(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A soft preference. `dimension` is one of:

    `price` (cheaper), `cpu`, `ram`, `disk`, `gpus`, `vram`, `bandwidth` (more), a benchmark field
    (`cpu_multi`, ..., higher; `network_rtt`, lower), `location.<field>=<value>`,
    `label.<key>=<value>`, `executor=<name>`.
    """

    dimension: Short
    weight: Weight = 1.0


class Requirement(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """What a job asks of a node. Everything but `prefer` is a hard constraint (must)."""

    cpu: NonNegative = 0.0  # at least, in cores
    ram: Bytes = 0
    disk: Bytes = 0
    gpus: tuple[GpuNeed, ...] = ()
    architectures: tuple[Short, ...] = ()  # any of; empty: any
    os: tuple[Short, ...] = ()  # any of; empty: any
    executors: tuple[Short, ...] = ()  # all of
    storage: tuple[Short, ...] = ()  # all of
    bandwidth: Index = 0  # at least, bits per second
    public_ports: Index = 0  # at least this many
    labels: dict[Short, Short] = {}  # each must be present with this value
    benchmarks: dict[Short, NonNegative] = {}  # BENCHMARK_FIELDS name -> at least
    max_price: Price | None = None  # per resource, in its currency; none: any price
    accept_locations: tuple[LocationRule, ...] = ()  # empty: anywhere not rejected
    reject_locations: tuple[LocationRule, ...] = ()
    accept_peers: tuple[Short, ...] = ()  # DIDs; empty: any peer not rejected
    reject_peers: tuple[Short, ...] = ()
    prefer: tuple[Preference, ...] = ()
