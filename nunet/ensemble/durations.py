"""Durations at the user boundary: `30s`, `5m`, `1h30m`, `250ms`, `1d` become float seconds.

A plain number is refused rather than guessed (seconds? milliseconds?): the message shows the
spelling to use instead. `format_duration` writes seconds back in the same grammar, exactly.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from nunet.capability.errors import CapabilityError


class DurationError(CapabilityError):
    """A duration that is not understood; the message names the field and shows a fix."""


_UNITS: dict[str, Fraction | int] = {
    "d": 86400,
    "h": 3600,
    "m": 60,
    "s": 1,
    "ms": Fraction(1, 1000),
    "us": Fraction(1, 10**6),
}
_ORDER = ("d", "h", "m", "s", "ms", "us")
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?|\.[0-9]+)(ms|us|d|h|m|s)")
_WHOLE = re.compile(r"^(?:([0-9]+(?:\.[0-9]+)?|\.[0-9]+)(ms|us|d|h|m|s))+$")
MAX_SECONDS = 10 * 365 * 86400  # ten years: a bound, so `1e9d` is an error rather than a float


def parse_duration(value: object, field: str) -> float:
    """Seconds from `30s`, `5m`, `1h30m`, `250ms`, `1.5h`, `2d`, `0s` (units in descending
    order, each once). Numbers alone are refused: `30` does not say its unit."""
    if isinstance(value, bool) or not isinstance(value, str):
        if isinstance(value, int | float) and not isinstance(value, bool):
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            raise DurationError(f"{field}: {shown} is not a duration; write {shown}s")
        raise DurationError(f"{field}: {value!r} is not a duration; write it like 30s, 5m or 1h30m")
    text = value.strip().replace(" ", "")
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", text):
        raise DurationError(f"{field}: {text} is not a duration; write {text}s")
    if not _WHOLE.match(text):
        raise DurationError(
            f"{field}: {value!r} is not a duration; write it like 30s, 5m, 1h30m or 250ms "
            "(units d, h, m, s, ms, us)"
        )
    total = Fraction(0)
    seen: list[str] = []
    for number, unit in _PART.findall(text):
        if seen and _ORDER.index(unit) <= _ORDER.index(seen[-1]):
            raise DurationError(
                f"{field}: {value!r} repeats or misorders its units; write the largest first, "
                "each once, like 1h30m"
            )
        seen.append(unit)
        total += Fraction(number) * _UNITS[unit]
    seconds = float(total)
    if not math.isfinite(seconds) or seconds > MAX_SECONDS:
        raise DurationError(f"{field}: {value!r} is longer than ten years; use a shorter duration")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest usual spelling that `parse_duration` reads back as the same float:
    5400 → `1h30m`, 0.25 → `250ms`, 0 → `0s`, 1.0000001 → `1.0000001s`."""
    if seconds < 0 or not math.isfinite(seconds):
        raise ValueError(f"{seconds!r} is not a duration in seconds")
    millis = round(Fraction(seconds) * 1000)
    parts: list[str] = []
    for unit in ("d", "h", "m", "s", "ms"):
        scale = int(_UNITS[unit] * 1000)
        count, millis = divmod(millis, scale)
        if count:
            parts.append(f"{count}{unit}")
    candidate = "".join(parts) or "0s"
    if parse_duration(candidate, "duration") == seconds:
        return candidate
    return f"{_plain(seconds)}s"


def _plain(seconds: float) -> str:
    """A decimal without an exponent, with just enough digits to read back the same float."""
    for digits in range(1, 400):
        text = f"{seconds:.{digits}f}".rstrip("0").rstrip(".")
        if float(text) == seconds:
            return text
    raise ValueError(f"{seconds!r} has no short decimal spelling")
