"""The unit rules between other systems' numbers and the ensemble's unit-bearing texts.

* Kubernetes quantities: CPU `500m` = 0.5 cores, `2` = 2 cores; memory/storage `128Mi` =
  128 MiB, `1G` = 10^9 bytes, `1e3` = 1000 bytes, fractions of a byte round up.
* Docker/compose sizes: `512m`, `1g`, `1.5G`, `1024k`, `100b` or a plain number of bytes; the
  letters are powers of 1024, in either case, with an optional trailing `b`/`ib`.
* Nomad: `cpu` MHz → cores at 1000 MHz per core (500 → 0.5); `memory`, `memory_max` and
  `ephemeral_disk.size` in MB, which Nomad means as MiB (256 → 256MiB).
* Durations: Go/compose texts (`1m30s`, `250ms`, `1h`), Kubernetes whole seconds, Nomad API
  nanoseconds; written back as the ensemble reads them (`90s`, `250ms`, `2h`).
* Sizes are written in the largest binary unit that divides them (`128MiB`), else the largest
  decimal one (`1GB`), else plain bytes.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from nunet.translate.errors import TranslateError

NOMAD_MHZ_PER_CORE = 1000

_K8S_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))([eE][+-]?[0-9]+|[A-Za-z]*)$")
_K8S_SUFFIX = {
    "": Fraction(1),
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(1 << 10),
    "Mi": Fraction(1 << 20),
    "Gi": Fraction(1 << 30),
    "Ti": Fraction(1 << 40),
    "Pi": Fraction(1 << 50),
    "Ei": Fraction(1 << 60),
}
_DOCKER_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([kmgtp]?)(i?b)?$", re.IGNORECASE)
_DOCKER_UNIT = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_GO_DURATION = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h)")
_GO_UNIT = {
    "ns": Fraction(1, 10**9),
    "us": Fraction(1, 10**6),
    "µs": Fraction(1, 10**6),
    "ms": Fraction(1, 1000),
    "s": Fraction(1),
    "m": Fraction(60),
    "h": Fraction(3600),
}
_BINARY = (("PiB", 1 << 50), ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))
_DECIMAL = (("PB", 10**15), ("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3))


def k8s_quantity(value: object, path: str) -> Fraction:
    """A Kubernetes resource quantity as an exact number (`500m` → 1/2, `128Mi` → 134217728)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TranslateError(path, f"{value!r} is not a quantity; write it like 500m or 128Mi")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise TranslateError(path, f"{value!r} is not a quantity; it must be ≥ 0")
        return Fraction(value)
    match = _K8S_QUANTITY.match(value.strip())
    if match is None:
        raise TranslateError(path, f"{value!r} is not a quantity; write it like 500m or 128Mi")
    number, suffix = Fraction(match.group(1)), match.group(2)
    if suffix[:1] in ("e", "E"):
        scaled = number * Fraction(10) ** int(suffix[1:])
    elif suffix in _K8S_SUFFIX:
        scaled = number * _K8S_SUFFIX[suffix]
    else:
        raise TranslateError(
            path,
            f"{value!r}: unknown suffix {suffix!r}; use m, k, M, G, T (powers of 1000) or "
            "Ki, Mi, Gi, Ti (powers of 1024)",
        )
    if scaled < 0:
        raise TranslateError(path, f"{value!r} is negative")
    return scaled


def k8s_cpu(value: object, path: str) -> float:
    return float(k8s_quantity(value, path))


def k8s_bytes(value: object, path: str) -> int:
    return math.ceil(k8s_quantity(value, path))


def docker_bytes(value: object, path: str) -> int:
    """A compose/Docker size (`512m`, `1g`, `1.5G`, `2gb`, plain bytes) in bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if not isinstance(value, str) or (match := _DOCKER_SIZE.match(value.strip())) is None:
        raise TranslateError(path, f"{value!r} is not a size; write it like 512m or 1g")
    return math.ceil(Fraction(match.group(1)) * _DOCKER_UNIT[match.group(2).lower()])


def cpu_count(value: object, path: str) -> float:
    """A plain count of cores (`0.5`, `"1.5"`), as compose's `cpus` writes it."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TranslateError(path, f"{value!r} is not a number of CPUs; write it like 0.5")
    try:
        number = float(value)
    except ValueError:
        raise TranslateError(
            path, f"{value!r} is not a number of CPUs; write it like 0.5"
        ) from None
    if not math.isfinite(number) or number < 0:
        raise TranslateError(path, f"{value!r} is not a number of CPUs; it must be ≥ 0")
    return number


def nomad_cores(mhz: int) -> float:
    """Nomad's CPU share in MHz as cores, at `NOMAD_MHZ_PER_CORE` MHz per core."""
    return mhz / NOMAD_MHZ_PER_CORE


def nomad_mib(megabytes: int) -> int:
    """Nomad's memory/disk `MB` (which Nomad means as MiB) in bytes."""
    return megabytes << 20


def go_duration(value: object, path: str) -> Fraction:
    """Seconds from a Go/compose duration text (`1m30s`, `250ms`, `1h`)."""
    if not isinstance(value, str):
        raise TranslateError(path, f"{value!r} is not a duration; write it like 30s or 1m30s")
    text = value.strip()
    if text == "0":
        return Fraction(0)
    position, total = 0, Fraction(0)
    for match in _GO_DURATION.finditer(text):
        if match.start() != position:
            break
        total += Fraction(match.group(1)) * _GO_UNIT[match.group(2)]
        position = match.end()
    if position != len(text) or not text:
        raise TranslateError(path, f"{value!r} is not a duration; write it like 30s or 1m30s")
    return total


def nanoseconds(value: object, path: str) -> Fraction:
    """Seconds from a Nomad API duration (an integer of nanoseconds)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TranslateError(path, f"{value!r} is not a duration in nanoseconds")
    return Fraction(value, 10**9)


def duration_text(seconds: Fraction | float | int) -> str:
    """The ensemble's spelling: whole hours/minutes/seconds as `2h`/`5m`/`90s`, else `ms`
    (rounded up to a whole millisecond: the ensemble counts no finer)."""
    exact = Fraction(seconds)
    if exact.denominator == 1:
        whole = int(exact)
        if whole and whole % 3600 == 0:
            return f"{whole // 3600}h"
        if whole and whole % 60 == 0:
            return f"{whole // 60}m"
        return f"{whole}s"
    return f"{math.ceil(exact * 1000)}ms"


def size_text(size: int) -> str | int:
    """`134217728` → `128MiB`, `10**9` → `1GB`, `1000001` → 1000001 (plain bytes)."""
    for unit, scale in _BINARY:
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    for unit, scale in _DECIMAL:
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    return size


def cpu_value(cores: float) -> float | int:
    """Whole cores as an int (`2`), fractions as they are (`0.5`)."""
    return int(cores) if float(cores).is_integer() else cores
