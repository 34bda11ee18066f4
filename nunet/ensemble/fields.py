"""The reader's vocabulary for one field: shapes (mapping, list, text, name), units through
`nunet.capability.units` and `durations`, and the collector that keeps every problem found.

A field helper raises `FieldError` (or a `CapabilityError` whose message starts with the path);
`Collector.guard` turns either into a `Problem` and hands back a default, so reading goes on and
one run reports everything.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from nunet.capability.errors import CapabilityError
from nunet.capability.units import parse_bandwidth, parse_size
from nunet.ensemble.durations import parse_duration
from nunet.ensemble.errors import Problem

T = TypeVar("T")

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
DNS_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DECIMAL_SIZE = re.compile(r"^\s*([0-9.]+)\s*([kKmMgGtTpP])[bB]\s*$")


class FieldError(Exception):
    """One field that cannot be read; carries its problem."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.problem = Problem(path=path, message=message)


class Collector:
    """Every problem found while reading one document, in the order found."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path=path, message=message))

    def guard(self, default: T, read: Callable[[], T], path: str) -> T:
        """`read()`, or `default` once its problem is recorded."""
        try:
            return read()
        except FieldError as error:
            self.problems.append(error.problem)
        except CapabilityError as error:
            self.problems.append(problem_from(error, path))
        return default

    def call(self, default: T, path: str, read: Callable[..., T], *args: Any) -> T:
        """`read(*args)`, or `default` once its problem is recorded (for loops: no closure)."""
        return self.guard(default, lambda: read(*args), path)

    def known(self, mapping: Mapping[str, object], keys: Sequence[str], path: str) -> None:
        """Record each key of `mapping` that is not in `keys`, with the nearest known one."""
        for key in mapping:
            if key not in keys:
                self.add(join(path, key), f"unknown key {key!r}{suggest(key, keys)}")


def problem_from(error: CapabilityError, path: str) -> Problem:
    """The capability layer's `path: message` text as a Problem (its path if it gave one)."""
    text = str(error)
    head, sep, rest = text.partition(": ")
    if sep and head.startswith(path.split(".")[0]) and " " not in head:
        return Problem(path=head, message=rest)
    return Problem(path=path, message=text)


def suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; known keys: {', '.join(sorted(choices))}"


ROOT = "(document)"  # the path of the document itself


def join(path: str, key: str | int) -> str:
    if path == ROOT:
        path = ""
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = key or "''"  # an empty key still needs a visible path
    return f"{path}.{key}" if path else key


def mapping(value: object, path: str, example: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise FieldError(path, f"{shown(value)} is not a mapping; write it like {example}")
    for key in value:
        if not isinstance(key, str):
            raise FieldError(
                join(path, str(key)), f"the key {key!r} is not text; quote it: '{key}'"
            )
    return value


def sequence(value: object, path: str, example: str) -> list[object]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise FieldError(path, f"{shown(value)} is not a list; write it like {example}")
    return list(value)


def text(value: object, path: str, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        hint = f"quote it: '{shown(value)}'" if _scalar(value) else "write a string"
        raise FieldError(path, f"{shown(value)} is not text; {hint}")
    if not empty and not value.strip():
        raise FieldError(path, "is empty; give a value or leave the key out")
    return value


def texts(value: object, path: str, example: str) -> tuple[str, ...]:
    items = sequence(value, path, example)
    return tuple(text(item, join(path, i)) for i, item in enumerate(items))


def name(value: object, path: str, what: str) -> str:
    word = text(value, path)
    if not NAME.match(word):
        raise FieldError(path, f"{word!r} is not {what}; {name_fix(word)}")
    return word


def name_fix(word: str) -> str:
    fixed = re.sub(r"[^a-z0-9-]+", "-", word.lower()).strip("-")[:63] or "web"
    return f"use lowercase letters, digits and '-', starting with a letter or digit, like {fixed!r}"


def command(value: object, path: str) -> tuple[str, ...]:
    """A list of strings, or one string run by `sh -c`."""
    if isinstance(value, str):
        if not value.strip():
            raise FieldError(path, "is empty; give a command or leave the key out")
        return ("sh", "-c", value)
    return texts(value, path, "[echo, hello] or 'echo hello'")


def boolean(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise FieldError(path, f"{shown(value)} is not true or false; write true or false")
    return value


def whole(value: object, path: str, *, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(path, f"{shown(value)} is not {what}; write a whole number")
    if not low <= value <= high:
        raise FieldError(path, f"{value} is out of range; {what} is {low} to {high}")
    return value


def number(value: object, path: str, *, positive: bool, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError(path, f"{shown(value)} is not a number; write {what} as a number")
    result = float(value)
    if not math.isfinite(result) or result < 0 or (positive and result == 0):
        bound = "greater than 0" if positive else "0 or more"
        raise FieldError(path, f"{shown(value)} is out of range; {what} must be {bound}")
    return result


def size(value: object, path: str) -> int:
    """Bytes. Decimal units (`4GB`) are refused here though `parse_size` reads them: people
    write 4GB meaning 4GiB as often as 4*10^9, and an ensemble must not guess."""
    if isinstance(value, str):
        decimal = _DECIMAL_SIZE.match(value)
        if decimal:
            amount, prefix = decimal.groups()
            raise FieldError(
                path,
                f"{value!r} is ambiguous (GB is 10^9 bytes to some tools, 2^30 to others); "
                f"use {amount}{prefix.upper()}iB, or write the number of bytes",
            )
    if isinstance(value, float):
        raise FieldError(path, f"{value!r} is not a size; use a unit like 512MiB or 4GiB")
    return parse_size(value, path)


def bandwidth(value: object, path: str) -> int:
    return parse_bandwidth(value, path)


def duration(value: object, path: str, *, positive: bool = False) -> float:
    seconds = parse_duration(value, path)
    if positive and seconds == 0:
        raise FieldError(path, "must be longer than 0s; give a duration like 30s")
    return seconds


def absolute(value: object, path: str) -> str:
    where = text(value, path)
    if not where.startswith("/"):
        raise FieldError(path, f"{where!r} is not an absolute path; write it like /{where}")
    return where


def mount_path(value: object, path: str) -> str:
    """An absolute path inside an allocation where data is mounted: not `/` itself, with no
    `.`/`..` segments (the mount lands where it says); a trailing `/` is dropped."""
    where = absolute(value, path)
    segments = [s for s in where.split("/") if s]
    if not segments:
        raise FieldError(path, "data cannot be mounted over / itself; name a directory like /data")
    if any(s in (".", "..") for s in segments) or "//" in where.rstrip("/"):
        raise FieldError(path, f"{where!r} is not a plain path; write it without '.', '..' or '//'")
    return "/" + "/".join(segments)


def env(value: object, path: str) -> dict[str, str]:
    table = mapping(value, path, "{NAME: value}")
    out: dict[str, str] = {}
    for key, raw in table.items():
        if not ENV_NAME.match(key):
            raise FieldError(
                join(path, key), f"{key!r} is not a variable name; use letters, digits and _"
            )
        out[key] = text(raw, join(path, key), empty=True)
    return out


def labels(value: object, path: str) -> dict[str, str]:
    table = mapping(value, path, "{team: ml}")
    out: dict[str, str] = {}
    for key, raw in table.items():
        if not 0 < len(key) <= 256:
            raise FieldError(join(path, key), "label keys are 1-256 characters")
        out[key] = text(raw, join(path, key), empty=True)
        if len(out[key]) > 256:
            raise FieldError(join(path, key), "label values are at most 256 characters")
    return out


def json_value(value: object, path: str) -> Any:
    """Free JSON kept as is; YAML's dates, sets and binary are refused (they are not JSON)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FieldError(path, f"{value!r} is not a JSON number; quote it")
        return value
    if isinstance(value, Mapping):
        table = mapping(value, path, "{key: value}")
        return {k: json_value(v, join(path, k)) for k, v in table.items()}
    if isinstance(value, list | tuple):
        return [json_value(v, join(path, i)) for i, v in enumerate(value)]
    raise FieldError(path, f"{shown(value)} is not JSON data; quote it: '{value}'")


def shown(value: object) -> str:
    """A value as the user wrote it, for messages: strings in double quotes, YAML words plain."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return str(value)


def _scalar(value: object) -> bool:
    return isinstance(value, bool | int | float) or value is None
