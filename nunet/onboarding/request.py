"""User input (YAML/JSON-like mappings in user units) turned into onboarding and allocation asks.

Every size goes through `nunet.capability` units (`4GiB`; a bare `4G` is refused), an unknown
field is an error naming it, and every error is an `InvalidReservation` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from nunet.capability import (
    CapabilityError,
    GpuNeed,
    location_from_user,
    parse_count,
    parse_size,
    price_from_user,
)
from nunet.onboarding.errors import InvalidReservation
from nunet.onboarding.share import ShareRequest

SHARE_FIELDS = ("cpu", "ram", "disk", "gpus", "price", "location", "labels")
ALLOCATION_FIELDS = ("allocation", "cpu", "ram", "disk", "gpus", "gpu_needs")
_NONE = ("none", "no", "")


class AllocationRequest(msgspec.Struct, frozen=True, kw_only=True):
    """An allocation ask in canonical units: explicit GPU devices or needs to choose them by."""

    allocation: str
    cpu: float = 0.0
    ram: int = 0
    disk: int = 0
    gpus: tuple[int, ...] = ()
    gpu_needs: tuple[GpuNeed, ...] = ()


def share_request_from_user(data: object) -> ShareRequest:
    """`{cpu: 2, ram: 4GiB, disk: 20GiB, gpus: [0, 1] | none, price, location, labels}`.

    A field left out keeps its current value (on a resize) or is required (cpu, ram, disk at
    first onboarding); `gpus: none` (or null, or []) reserves no GPU.
    """
    fields = _fields(data, SHARE_FIELDS, "onboard", "{cpu: 2, ram: 4GiB, disk: 20GiB}")
    try:
        return ShareRequest(
            cpu=parse_count(fields["cpu"], "cpu") if "cpu" in fields else None,
            ram=parse_size(fields["ram"], "ram") if "ram" in fields else None,
            disk=parse_size(fields["disk"], "disk") if "disk" in fields else None,
            gpus=_indices(fields["gpus"], "gpus") if "gpus" in fields else None,
            price=price_from_user(fields["price"]) if "price" in fields else None,
            location=location_from_user(fields["location"]) if "location" in fields else None,
            labels=_labels(fields["labels"]) if "labels" in fields else None,
        )
    except CapabilityError as exc:
        raise InvalidReservation(str(exc)) from None


def allocation_request_from_user(data: object) -> AllocationRequest:
    """`{allocation: ID, cpu, ram, disk, gpus: [indices]}` or with `gpu_needs: [{vram: 8GiB,
    vendor, model, compute_capability}]` to let the node choose the devices."""
    fields = _fields(data, ALLOCATION_FIELDS, "allocate", "{allocation: job-1, cpu: 1, ram: 1GiB}")
    allocation = fields.get("allocation")
    if not isinstance(allocation, str) or not allocation.strip():
        raise InvalidReservation("allocation: required, the allocation's id (text)")
    if "gpus" in fields and "gpu_needs" in fields:
        raise InvalidReservation("gpus, gpu_needs: give explicit devices or needs, not both")
    try:
        return AllocationRequest(
            allocation=allocation,
            cpu=parse_count(fields.get("cpu", 0), "cpu"),
            ram=parse_size(fields.get("ram", 0), "ram"),
            disk=parse_size(fields.get("disk", 0), "disk"),
            gpus=_indices(fields.get("gpus", ()), "gpus"),
            gpu_needs=_needs(fields.get("gpu_needs", ())),
        )
    except CapabilityError as exc:
        raise InvalidReservation(str(exc)) from None


def _fields(data: object, known: tuple[str, ...], what: str, example: str) -> dict[str, object]:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise InvalidReservation(f"{what}: expected a mapping like {example}, not {data!r}")
    unknown = sorted(str(key) for key in data if key not in known)
    if unknown:
        raise InvalidReservation(f"{unknown[0]}: unknown field; {what} takes {', '.join(known)}")
    return {str(key): value for key, value in data.items()}


def _indices(value: object, field: str) -> tuple[int, ...]:
    """`[0, 1]`, `"0,1"`, or none (`None`, `"none"`, `[]`)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in _NONE):
        return ()
    if isinstance(value, str):
        parts: list[object] = [part.strip() for part in value.split(",")]
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        raise InvalidReservation(f"{field}: {value!r} is not a list of GPU indices like 0,1")
    indices = []
    for part in parts:
        if isinstance(part, str) and part.isdigit():
            part = int(part)
        if isinstance(part, bool) or not isinstance(part, int) or part < 0:
            raise InvalidReservation(f"{field}: {part!r} is not a GPU index (0, 1, ...)")
        indices.append(part)
    return tuple(indices)


def _labels(value: object) -> dict[str, str]:
    """A mapping, a list of `key=value` texts, or `key=value,key=value`."""
    if isinstance(value, str):
        value = [item for item in value.split(",") if item.strip()]
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list | tuple):
        pairs = []
        for item in value:
            if not isinstance(item, str) or "=" not in item:
                raise InvalidReservation(f"labels: {item!r} is not key=value")
            key, _, text = item.partition("=")
            pairs.append((key.strip(), text.strip()))
    else:
        raise InvalidReservation(f"labels: {value!r} is not a mapping or a list of key=value")
    labels: dict[str, str] = {}
    for key, text in pairs:
        if not isinstance(key, str) or not isinstance(text, str | int | float):
            raise InvalidReservation(f"labels: {key!r}={text!r} must be text")
        labels[key] = str(text)
    return labels


def _needs(value: object) -> tuple[GpuNeed, ...]:
    if not isinstance(value, list | tuple):
        raise InvalidReservation(f"gpu_needs: {value!r} is not a list of GPU needs")
    needs = []
    for position, item in enumerate(value):
        field = f"gpu_needs[{position}]"
        if not isinstance(item, Mapping):
            raise InvalidReservation(f"{field}: {item!r} is not a mapping like {{vram: 8GiB}}")
        item = dict(item)
        if "vram" in item:
            item["vram"] = parse_size(item["vram"], f"{field}.vram")
        try:
            needs.append(msgspec.convert(item, GpuNeed))
        except msgspec.ValidationError as exc:
            raise InvalidReservation(f"{field}: {exc}") from None
    return tuple(needs)
