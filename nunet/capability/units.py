"""Unambiguous units at the user boundary: sizes (`4GiB`, `512MiB`, `1.5TB`, plain bytes),
bandwidths (`100Mbit/s`, `1Gbps`), clock rates (`3.2GHz`) and their canonical spellings.

Inside nunet every size is an int of bytes, every bandwidth an int of bits per second and every
clock an int of MHz; these parsers are the only way user text becomes one. A bare `4G` or
`4 GB`-as-GiB guess is refused rather than guessed: the message names the field and the fix.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from nunet.capability.errors import CapabilityError


class UnitError(CapabilityError):
    """A quantity that is not understood; the message names the field and shows a fix."""


_SIZE_UNITS = {
    "b": 1,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
    "tib": 1 << 40,
    "pib": 1 << 50,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "pb": 10**15,
}
_BANDWIDTH_UNITS = {
    "bit/s": 1,
    "bps": 1,
    "kbit/s": 10**3,
    "kbps": 10**3,
    "mbit/s": 10**6,
    "mbps": 10**6,
    "gbit/s": 10**9,
    "gbps": 10**9,
    "tbit/s": 10**12,
    "tbps": 10**12,
}
_CLOCK_UNITS = {"mhz": 1, "ghz": 1000}
_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?|\.[0-9]+)\s*([A-Za-z/]*)\s*$")
_AMBIGUOUS = {"k": "KiB", "m": "MiB", "g": "GiB", "t": "TiB", "p": "PiB"}


def parse_size(value: object, field: str) -> int:
    """Bytes from an int (bytes) or a string like `4GiB`, `512MiB`, `1.5TB`, `1048576`."""
    number, unit = _split(value, field, "a size", "4GiB")
    key = unit.lower()
    if unit == "":
        return _whole(number, 1, field, value, "a size")
    # The final B must be a capital: `4Gb` is four gigabits, a bandwidth's unit, not a size.
    if key in _SIZE_UNITS and unit.endswith("B"):
        return _whole(number, _SIZE_UNITS[key], field, value, "a size")
    if (key in _SIZE_UNITS and key != "b") or key in _BANDWIDTH_UNITS:
        raise UnitError(
            f"{field}: {value!r} is not a size: that is a bandwidth unit (bits); a size is in "
            f"bytes, like {_fmt(number)}{unit[:1].upper()}iB (powers of 1024) or "
            f"{_fmt(number)}{unit[:1].upper()}B (powers of 1000)"
        )
    hint = _AMBIGUOUS.get(key.rstrip("i").rstrip("b")[:1], "GiB")
    raise UnitError(
        f"{field}: {value!r} is not a size; use a unit like {_fmt(number)}{hint} "
        "(KiB, MiB, GiB, TiB: powers of 1024; KB, MB, GB, TB: powers of 1000) or plain bytes"
    )


def parse_bandwidth(value: object, field: str) -> int:
    """Bits per second from an int or a string like `100Mbit/s`, `1Gbps`, `2.5Gbit/s`."""
    number, unit = _split(value, field, "a bandwidth", "1Gbit/s")
    key = unit.lower()
    if key == "":
        return _whole(number, 1, field, value, "a bandwidth")
    if key in _BANDWIDTH_UNITS:
        return _whole(number, _BANDWIDTH_UNITS[key], field, value, "a bandwidth")
    raise UnitError(
        f"{field}: {value!r} is not a bandwidth; use bits per second like 100Mbit/s, 1Gbit/s "
        "(or Mbps, Gbps), or a plain number of bits per second"
    )


def parse_clock(value: object, field: str) -> int:
    """MHz from an int (MHz) or a string like `3.2GHz`, `2400MHz`."""
    number, unit = _split(value, field, "a clock rate", "3.2GHz")
    key = unit.lower()
    if key == "":
        return _whole(number, 1, field, value, "a clock rate")
    if key in _CLOCK_UNITS:
        return _whole(number, _CLOCK_UNITS[key], field, value, "a clock rate")
    raise UnitError(f"{field}: {value!r} is not a clock rate; use MHz or GHz, like 3.2GHz")


def parse_count(value: object, field: str, *, minimum: float = 0) -> float:
    """A plain non-negative number (CPU cores may be fractional: `0.5`)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UnitError(f"{field}: {value!r} is not a number")
    try:
        number = float(value)
    except ValueError:
        raise UnitError(f"{field}: {value!r} is not a number") from None
    if not math.isfinite(number) or number < minimum:
        raise UnitError(f"{field}: {value!r} must be a finite number ≥ {minimum:g}")
    return number


def format_size(size: int) -> str:
    """The shortest exact binary spelling: 4294967296 → `4GiB`, 1536 → `1.5KiB`, 1000 → `1000B`."""
    for unit in ("PiB", "TiB", "GiB", "MiB", "KiB"):
        scale = _SIZE_UNITS[unit.lower()]
        if size >= scale and (size * 100) % scale == 0:
            return f"{_fmt(size / scale)}{unit}"
    return f"{size}B"


def describe_size(size: int) -> str:
    """For people, not for parsing back: three significant figures, `~` when rounded
    (25275355136 → `~23.5GiB`); exact sizes read as `format_size` writes them."""
    exact = format_size(size)
    if not exact.endswith("KiB") or size < 1 << 20:
        return exact
    for unit in ("PiB", "TiB", "GiB", "MiB"):
        scale = _SIZE_UNITS[unit.lower()]
        if size >= scale:
            return f"~{size / scale:.3g}{unit}"
    return exact


def format_bandwidth(bits_per_second: int) -> str:
    for unit, scale in (("Tbit/s", 10**12), ("Gbit/s", 10**9), ("Mbit/s", 10**6), ("kbit/s", 1e3)):
        if bits_per_second >= scale:
            return f"{_fmt(round(bits_per_second / scale, 2))}{unit}"
    return f"{bits_per_second}bit/s"


def _split(value: object, field: str, what: str, example: str) -> tuple[Fraction, str]:
    if isinstance(value, bool):
        raise UnitError(f"{field}: {value!r} is not {what}; write it like {example}")
    if isinstance(value, int):
        if value < 0:
            raise UnitError(f"{field}: {value} is negative; {what} cannot be")
        return Fraction(value), ""
    if isinstance(value, float):
        if not math.isfinite(value) or value < 0:
            raise UnitError(f"{field}: {value!r} is not {what}; write it like {example}")
        return Fraction(value), ""
    if not isinstance(value, str):
        raise UnitError(f"{field}: {value!r} is not {what}; write it like {example}")
    match = _QUANTITY.match(value)
    if match is None:
        raise UnitError(f"{field}: {value!r} is not {what}; write it like {example}")
    # Exact arithmetic: a plain byte count beyond 2**53 must not be rounded through a float.
    return Fraction(match.group(1)), match.group(2)


def _whole(number: Fraction, scale: int, field: str, value: object, what: str) -> int:
    exact = number * scale
    rounded = round(exact)
    if abs(exact - rounded) * 10**6 > max(Fraction(1), exact):  # 1.1GiB rounds; 0.3B does not
        raise UnitError(f"{field}: {value!r} is not a whole number of units ({what})")
    if rounded > 1 << 62:
        raise UnitError(f"{field}: {value!r} is too large for {what}")
    return int(rounded)


def _fmt(number: float | Fraction) -> str:
    return f"{float(number):.2f}".rstrip("0").rstrip(".")
