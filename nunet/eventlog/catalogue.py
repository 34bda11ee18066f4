"""The catalogue: which Event class each record type decodes to, and how old versions upcast.

The Python classes are the truth; `render()` prints them as YAML for people and for
events/catalogue.yaml (a test keeps that file in step).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable
from typing import Any

import msgspec
import yaml

from nunet.eventlog.errors import CatalogueError, UnknownEventType, UnknownEventVersion
from nunet.eventlog.event import Event, EventRecord, event_kind


class Upcaster(msgspec.Struct, frozen=True):
    """Turns the field dict of `type` at `from_version` into the dict of from_version + 1."""

    type: str
    from_version: int
    function: Callable[[dict[str, Any]], dict[str, Any]]


class Catalogue:
    """Event classes by type, with the upcasters that bring old versions to the current one."""

    def __init__(self, *event_classes: type[Event], upcasters: Iterable[Upcaster] = ()) -> None:
        self._classes: dict[str, type[Event]] = {}
        self._versions: dict[str, int] = {}
        for cls in event_classes:
            event_type, version = _kind(cls)
            if event_type in self._classes:
                other = self._classes[event_type].__qualname__
                raise CatalogueError(
                    f"type {event_type!r} is claimed by both {other} and {cls.__qualname__}"
                )
            self._classes[event_type] = cls
            self._versions[event_type] = version
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        for upcaster in upcasters:
            key = (upcaster.type, upcaster.from_version)
            if upcaster.type not in self._classes:
                raise CatalogueError(f"upcaster for unknown type {upcaster.type!r}")
            if not 1 <= upcaster.from_version < self._versions[upcaster.type]:
                raise CatalogueError(
                    f"upcaster {upcaster.type} v{upcaster.from_version} is outside "
                    f"1..{self._versions[upcaster.type] - 1}"
                )
            if key in self._upcasters:
                raise CatalogueError(f"two upcasters for {upcaster.type} v{upcaster.from_version}")
            self._upcasters[key] = upcaster
        for event_type, version in self._versions.items():
            missing = [v for v in range(1, version) if (event_type, v) not in self._upcasters]
            if missing:
                raise CatalogueError(
                    f"{event_type} is at version {version} but has no upcaster from "
                    f"version(s) {missing}; old records could not be read"
                )
        self._decoders = {t: msgspec.msgpack.Decoder(cls) for t, cls in self._classes.items()}
        self._any_decoder = msgspec.msgpack.Decoder(dict[str, Any])

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._classes

    def types(self) -> list[str]:
        return sorted(self._classes)

    def event_class(self, event_type: str) -> type[Event]:
        try:
            return self._classes[event_type]
        except KeyError:
            raise UnknownEventType(f"the catalogue has no event type {event_type!r}") from None

    def decode(self, record: EventRecord) -> Event:
        """The record's event at its class's current version; raises on unknown or bad data."""
        cls = self.event_class(record.type)
        current = self._versions[record.type]
        try:
            if record.version == current:
                event: Event = self._decoders[record.type].decode(record.payload)
                return event
            if not 1 <= record.version < current:
                raise UnknownEventVersion(
                    f"seq {record.seq}: {record.type} v{record.version} is unknown to this "
                    f"nunet (it knows v1..v{current}); upgrade nunet to read it"
                )
            fields = self._any_decoder.decode(record.payload)
            for version in range(record.version, current):
                fields = self._upcasters[(record.type, version)].function(fields)
            return msgspec.convert(fields, cls)
        except msgspec.ValidationError as exc:
            raise msgspec.ValidationError(
                f"seq {record.seq}: {record.type} v{record.version} payload: {exc}"
            ) from None
        except msgspec.DecodeError as exc:
            raise msgspec.DecodeError(
                f"seq {record.seq}: {record.type} v{record.version} payload is not msgpack: {exc}"
            ) from None

    def render(self) -> str:
        """YAML describing every type: version, docstring, fields with types, upcasts."""
        document: dict[str, Any] = {}
        for event_type in self.types():
            cls = self._classes[event_type]
            entry: dict[str, Any] = {
                "version": self._versions[event_type],
                "class": f"{cls.__module__}.{cls.__qualname__}",
                "doc": _doc(cls),
                "fields": {f.name: _describe_field(f) for f in msgspec.structs.fields(cls)},
            }
            if self._versions[event_type] > 1:
                entry["upcasts_from"] = list(range(1, self._versions[event_type]))
            document[event_type] = entry
        header = (
            "# The nunet event catalogue, rendered from the Python event classes.\n"
            "# Do not edit: regenerate with `nunet events catalogue > events/catalogue.yaml`.\n"
        )
        return header + yaml.safe_dump(document, sort_keys=False, width=100)


def _kind(cls: type[Event]) -> tuple[str, int]:
    try:
        return event_kind(cls)
    except Exception as exc:
        raise CatalogueError(str(exc)) from None


def _doc(cls: type) -> str:
    doc = cls.__doc__ or ""
    return " ".join(doc.split())


def _describe_field(field: msgspec.structs.FieldInfo) -> str:
    text = type_name(field.type)
    if field.default is not msgspec.NODEFAULT:
        text += f" = {field.default!r}"
    elif field.default_factory is not msgspec.NODEFAULT:
        text += f" = {field.default_factory.__name__}()"
    return text


def type_name(annotation: Any) -> str:
    """A short, stable spelling of a type annotation: `list[str]`, `int | None`, `Foo`."""
    if annotation is type(None):
        return "None"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(type_name(a) for a in args)}]" if args else name
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation)
