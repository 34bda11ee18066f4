"""Reading a parsed source document key by key, so nothing is left behind unseen.

`Fields` wraps one mapping with its path in the source. Every key a converter looks at is
marked read; `close()` reports each key never read (and not empty) as dropped. A converter thus
cannot lose a field silently: it either maps it, drops it with a reason, or the close reports it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from nunet.translate.errors import TranslateError
from nunet.translate.result import Dropped

NO_EQUIVALENT = "no ensemble equivalent"
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_WHAT_LIMIT = 72


def join(path: str, key: str | int) -> str:
    """`spec` + `ports` → `spec.ports`; `spec.ports` + 0 → `spec.ports[0]`; odd keys quoted."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    step = key if _PLAIN_KEY.match(key) else json.dumps(key)
    if not path:
        return step
    return f"{path}.{step}" if _PLAIN_KEY.match(key) else f"{path}[{step}]"


def describe(value: object) -> str:
    """A value as one short line of JSON, cut with `…` when long."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    text = " ".join(text.split())
    return text if len(text) <= _WHAT_LIMIT else text[: _WHAT_LIMIT - 1] + "…"


def is_empty(value: object) -> bool:
    """Nothing is lost by dropping None, "", [] or {}."""
    return value is None or (isinstance(value, str | list | dict | tuple) and len(value) == 0)


@dataclass
class DropLog:
    """Everything a translation could not express, in the order it was met.

    `quiet_defaults`: an unread `false` or `0` is a default, not a request (the Nomad API
    writes every field of a job, most of them zero), so it is not reported.
    """

    items: list[Dropped] = field(default_factory=list)
    quiet_defaults: bool = False

    def worth_reporting(self, value: object) -> bool:
        if is_empty(value):
            return False
        return not (self.quiet_defaults and (value is False or (type(value) is int and value == 0)))

    def drop(self, path: str, what: object, why: str) -> None:
        self.items.append(Dropped(path, describe(what), why))


class Fields:
    """One mapping of the source document, read key by key (see the module docstring)."""

    def __init__(self, data: Mapping[str, object], path: str, log: DropLog) -> None:
        self.data = data
        self.path = path
        self.log = log
        self._read: set[str] = set()

    @classmethod
    def of(cls, value: object, path: str, log: DropLog, what: str = "a mapping") -> Fields:
        if not isinstance(value, Mapping):
            raise TranslateError(path or "document", f"expected {what}, got {describe(value)}")
        for key in value:
            if not isinstance(key, str):
                raise TranslateError(join(path, str(key)), "keys must be text")
        return cls(value, path, log)

    def at(self, key: str | int) -> str:
        return join(self.path, key)

    def has(self, key: str) -> bool:
        return key in self.data and not is_empty(self.data[key])

    def raw(self, key: str) -> object:
        self._read.add(key)
        return self.data.get(key)

    def skip(self, *keys: str) -> None:
        """Keys that carry nothing the ensemble needs (e.g. `apiVersion`): read, not reported."""
        self._read.update(keys)

    def drop(self, key: str, why: str) -> None:
        """Report `key` (when present and not empty) as not expressible, with a reason."""
        value = self.raw(key)
        if self.log.worth_reporting(value):
            self.log.drop(self.at(key), value, why)

    def close(self, why: str = NO_EQUIVALENT) -> None:
        """Report every key never read; a mapping is closed once, when its converter is done."""
        for key, value in self.data.items():
            if key not in self._read and self.log.worth_reporting(value):
                self.log.drop(self.at(key), value, why)
        self._read.update(self.data)

    # -- typed reads ----------------------------------------------------------------------------
    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.raw(key)
        if value is None:
            if required:
                raise TranslateError(self.at(key), "required")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise TranslateError(self.at(key), f"expected text, got {describe(value)}")
        text = str(value)
        if required and not text.strip():
            raise TranslateError(self.at(key), "required (it is empty)")
        return text

    def integer(self, key: str, *, minimum: int = 0) -> int | None:
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TranslateError(self.at(key), f"expected a whole number, got {describe(value)}")
        if value < minimum:
            raise TranslateError(self.at(key), f"{value} is below the minimum {minimum}")
        return value

    def boolean(self, key: str) -> bool | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise TranslateError(self.at(key), f"expected true or false, got {describe(value)}")
        return value

    def fields(self, key: str) -> Fields | None:
        value = self.raw(key)
        return None if value is None else Fields.of(value, self.at(key), self.log)

    def items(self, key: str) -> Iterator[tuple[str, object]]:
        """The elements of a list with their paths (a missing key is an empty list)."""
        value = self.raw(key)
        if value is None:
            return
        if not isinstance(value, list):
            raise TranslateError(self.at(key), f"expected a list, got {describe(value)}")
        for index, item in enumerate(value):
            yield self.at(key) + f"[{index}]", item

    def field_list(self, key: str) -> list[Fields]:
        return [Fields.of(item, path, self.log) for path, item in self.items(key)]

    def strings(self, key: str) -> list[str] | None:
        """A list of text (numbers are written as text, as YAML readers of argv do)."""
        value = self.raw(key)
        if value is None:
            return None
        return string_list(value, self.at(key))

    def mapping(self, key: str) -> dict[str, object]:
        value = self.raw(key)
        if value is None:
            return {}
        return dict(Fields.of(value, self.at(key), self.log).data)


def string_list(value: object, path: str) -> list[str]:
    if not isinstance(value, list):
        raise TranslateError(path, f"expected a list of text, got {describe(value)}")
    out = []
    for index, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise TranslateError(f"{path}[{index}]", f"expected text, got {describe(item)}")
        out.append(str(item))
    return out


def env_value(value: object, path: str) -> str:
    """An environment value as text: numbers and booleans as YAML writes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TranslateError(path, f"expected text, got {describe(value)}")
