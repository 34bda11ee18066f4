"""The user boundary: requirements, resources, prices and locations from YAML/JSON-like data
and from the CLI's one-line requirement spec.

Everything returned is validated: sizes, bandwidths and counts through `units`, structure
through msgspec (its errors are rewritten to name the field path), contradictions through
`validate_requirement`. Every error is a `CapabilityError` whose message starts with the path of
the field at fault (`requirement.gpus[1].vram: ...`) and says how to write it instead.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import msgspec

from nunet.capability.errors import CapabilityError, RequirementError
from nunet.capability.gpus import compute_capability_key
from nunet.capability.location import LOCATION_FIELDS, describe_location, rule_within
from nunet.capability.model import (
    BENCHMARK_FIELDS,
    GPU_VENDORS,
    Capability,
    Location,
    LocationRule,
    Price,
    Requirement,
    Resources,
)
from nunet.capability.score import validate_preference
from nunet.capability.units import (
    parse_bandwidth,
    parse_clock,
    parse_count,
    parse_size,
)

T = TypeVar("T")
Parser = Callable[[object, str], object]

CONTINENTS = ("AF", "AN", "AS", "EU", "NA", "OC", "SA")
MAX_GPUS = 256  # GPU needs in one requirement: a bound, so `count: 1e9` is an error, not a hang
_ASN = re.compile(r"(?:^|[\s/])AS(\d+)\s*$", re.IGNORECASE)
_CURRENCY = re.compile(r"^[A-Z0-9]{2,12}$")
_PRICE_FIELDS = ("cpu", "ram", "disk", "gpu", "per_job")
_GPU_NEED_KEYS = ("count", "vram", "vendor", "model", "compute_capability")
_GPU_KEYS = ("index", "vendor", "model", "vram", "pci_address", "uuid", "compute_capability")


# -- locations ----------------------------------------------------------------------------------
def location_from_user(data: object, *, field: str = "location") -> Location:
    """A node's location from `EU/DE/Berlin AS3320`-style text or a mapping of its fields."""
    return _convert(_location_fields(data, field), Location, field)


def location_rule_from_user(data: object, *, field: str = "location") -> LocationRule:
    """A location rule (same grammar; `*` or an omitted part matches anything)."""
    return _convert(_location_fields(data, field), LocationRule, field)


def _location_fields(data: object, field: str) -> dict[str, object]:
    if isinstance(data, str):
        return _location_text(data, field)
    mapping = _mapping(data, field, "a location like EU/DE/Berlin or {continent, country, ...}")
    _known(mapping, LOCATION_FIELDS, field)
    fields: dict[str, object] = {}
    for key in ("continent", "country", "city"):
        if key in mapping:
            fields[key] = _location_part(key, _text(mapping[key], f"{field}.{key}"), field)
    if "asn" in mapping:
        fields["asn"] = _asn(mapping["asn"], f"{field}.asn")
    return fields


def _location_text(text: str, field: str) -> dict[str, object]:
    rest = text.strip()
    fields: dict[str, object] = {}
    asn = _ASN.search(rest)
    if asn is not None:
        fields["asn"] = int(asn.group(1))
        rest = rest[: asn.start()].strip().rstrip("/").strip()
    if not rest and not fields:
        raise CapabilityError(f"{field}: empty location; write it like EU, EU/DE, EU/DE/Berlin")
    parts = [part.strip() for part in rest.split("/")] if rest else []
    if len(parts) > 3:
        raise CapabilityError(
            f"{field}: {text!r} has {len(parts)} parts; a location is "
            "continent/country/city (then optionally AS<number>), like EU/DE/Berlin AS3320"
        )
    for key, part in zip(("continent", "country", "city"), parts, strict=False):
        fields[key] = _location_part(key, part, field)
    return fields


def _location_part(key: str, part: str, field: str) -> str:
    if part in ("", "*"):
        return ""
    if key == "continent":
        if part.upper() not in CONTINENTS:
            raise CapabilityError(
                f"{field}: {part!r} is not a continent code; use one of {', '.join(CONTINENTS)}"
            )
        return part.upper()
    if key == "country":
        if not (len(part) == 2 and part.isascii() and part.isalpha()):
            raise CapabilityError(
                f"{field}: {part!r} is not a country code; use ISO 3166 two letters, like DE"
            )
        return part.upper()
    return part


def _asn(value: object, field: str) -> int:
    if isinstance(value, str) and value.strip().upper().startswith("AS"):
        value = value.strip()[2:]
    return int(_whole(value, field, "an AS number like 13335 or AS13335"))


# -- prices and resources -----------------------------------------------------------------------
def price_from_user(data: object, *, field: str = "price") -> Price:
    """A price from a mapping or `cpu=0.1,ram=0.05,gpu=2,currency=USDC` (per hour; RAM and disk
    per GiB-hour)."""
    if isinstance(data, str):
        data = _pairs(data, field)
    mapping = _mapping(data, field, "a price like cpu=0.1,gpu=2,currency=NTX")
    _known(mapping, ("currency", *_PRICE_FIELDS), field)
    fields: dict[str, object] = {
        key: parse_count(mapping[key], f"{field}.{key}") for key in _PRICE_FIELDS if key in mapping
    }
    if "currency" in mapping:
        fields["currency"] = _currency(mapping["currency"], f"{field}.currency")
    return _convert(fields, Price, field)


def _currency(value: object, field: str) -> str:
    code = _text(value, field).strip().upper()
    if not _CURRENCY.match(code):
        raise CapabilityError(
            f"{field}: {value!r} is not a currency code; use 2-12 letters or digits, like NTX"
        )
    return code


def resources_from_user(data: object, *, field: str = "resources") -> Resources:
    """An amount of machine: `{cpu: 4, ram: 16GiB, disk: 100GiB, gpus: [{index, vendor, ...}]}`."""
    mapping = _mapping(data, field, "a mapping like {cpu: 4, ram: 16GiB, disk: 100GiB}")
    _known(mapping, ("cpu", "ram", "disk", "gpus"), field)
    fields: dict[str, object] = {}
    if "cpu" in mapping:
        fields["cpu"] = parse_count(mapping["cpu"], f"{field}.cpu")
    for key in ("ram", "disk"):
        if key in mapping:
            fields[key] = parse_size(mapping[key], f"{field}.{key}")
    if "gpus" in mapping:
        devices = _sequence(mapping["gpus"], f"{field}.gpus", "a list of GPU devices")
        fields["gpus"] = [_gpu(item, f"{field}.gpus[{i}]") for i, item in enumerate(devices)]
    return _convert(fields, Resources, field)


def _gpu(data: object, field: str) -> dict[str, object]:
    mapping = _mapping(
        data, field, "a GPU like {index: 0, vendor: nvidia, model: A100, vram: 80GiB}"
    )
    _known(mapping, _GPU_KEYS, field)
    fields: dict[str, object] = {
        k: _text(mapping[k], f"{field}.{k}")
        for k in ("model", "pci_address", "uuid")
        if k in mapping
    }
    if "index" in mapping:
        fields["index"] = int(_whole(mapping["index"], f"{field}.index", "a device index"))
    if "vram" in mapping:
        fields["vram"] = parse_size(mapping["vram"], f"{field}.vram")
    if "vendor" in mapping:
        fields["vendor"] = _vendor(mapping["vendor"], f"{field}.vendor")
    if "compute_capability" in mapping:
        fields["compute_capability"] = _compute(mapping["compute_capability"], field)
    return fields


def capability_from_user(data: object, *, field: str = "capability") -> Capability:
    """A whole capability (tests, fixtures, static announcements), with the same units."""
    mapping = _mapping(data, field, "a capability mapping")
    keys = ("resources", "cpu", "os", "executors", "storage", "network", "location", "price")
    _known(mapping, (*keys, "labels", "benchmarks"), field)
    fields: dict[str, object] = {}
    for key, raw in mapping.items():
        path = f"{field}.{key}"
        fields[key] = _CAPABILITY_PARSERS[key](raw, path)
    if "resources" not in fields:
        raise CapabilityError(f"{field}.resources: missing; say what is onboarded (cpu, ram, ...)")
    return _convert(fields, Capability, field)


def _cpu_info(data: object, field: str) -> dict[str, object]:
    mapping = _mapping(data, field, "a mapping like {architecture: x86_64, cores: 8}")
    _known(mapping, ("vendor", "model", "architecture", "cores", "threads", "clock_mhz"), field)
    fields: dict[str, object] = {}
    for key, raw in mapping.items():
        path = f"{field}.{key}"
        if key in ("cores", "threads"):
            fields[key] = int(_whole(raw, path, "a whole number"))
        elif key == "clock_mhz":
            fields[key] = parse_clock(raw, path)
        else:
            fields[key] = _text(raw, path)
    return fields


def _network(data: object, field: str) -> dict[str, object]:
    mapping = _mapping(data, field, "a mapping like {public_ports: [8080], bandwidth: 1Gbit/s}")
    _known(mapping, ("public_ports", "bandwidth"), field)
    fields: dict[str, object] = {}
    if "public_ports" in mapping:
        ports = _sequence(mapping["public_ports"], f"{field}.public_ports", "a list of ports")
        fields["public_ports"] = [
            _whole(p, f"{field}.public_ports[{i}]", "a port") for i, p in enumerate(ports)
        ]
    if "bandwidth" in mapping:
        fields["bandwidth"] = parse_bandwidth(mapping["bandwidth"], f"{field}.bandwidth")
    return fields


def _benchmark_values(data: object, field: str) -> dict[str, float]:
    mapping = _mapping(data, field, "a mapping of benchmark name to a number")
    return {str(k): parse_count(v, f"{field}.{k}") for k, v in mapping.items()}


# -- requirements -------------------------------------------------------------------------------
def requirement_from_user(data: object, *, field: str = "requirement") -> Requirement:
    """A validated requirement from a YAML/JSON-like mapping (see docs/capability-model.md)."""
    mapping = _mapping(data, field, "a mapping like {cpu: 2, ram: 4GiB}")
    _known(mapping, tuple(_REQUIREMENT_PARSERS), field)
    fields = {key: _REQUIREMENT_PARSERS[key](raw, f"{field}.{key}") for key, raw in mapping.items()}
    requirement = _convert(fields, Requirement, field)
    validate_requirement(requirement, field=field)
    return requirement


def _gpu_needs(data: object, field: str) -> list[dict[str, object]]:
    if isinstance(data, int) and not isinstance(data, bool):
        return [{} for _ in range(_gpu_count(data, field))]
    if isinstance(data, Mapping):
        return _gpu_shape(data, field)
    items = _sequence(data, field, "a GPU count, {count: 2, vram: 24GiB} or a list of GPUs")
    return [need for i, item in enumerate(items) for need in _gpu_shape(item, f"{field}[{i}]")]


def _gpu_shape(data: object, field: str) -> list[dict[str, object]]:
    """One `{count, vram, vendor, model, compute_capability}`: `count` copies of one need."""
    mapping = _mapping(data, field, "a GPU like {vram: 24GiB, vendor: nvidia}")
    _known(mapping, _GPU_NEED_KEYS, field)
    need: dict[str, object] = {}
    if "vram" in mapping:
        need["vram"] = parse_size(mapping["vram"], f"{field}.vram")
    if "vendor" in mapping:
        need["vendor"] = _vendor(mapping["vendor"], f"{field}.vendor")
    if "model" in mapping:
        need["model"] = _text(mapping["model"], f"{field}.model")
    if "compute_capability" in mapping:
        need["compute_capability"] = _compute(mapping["compute_capability"], field)
    count = _gpu_count(mapping.get("count", 1), f"{field}.count")
    return [dict(need) for _ in range(count)]


def _gpu_count(value: object, field: str) -> int:
    count = int(_whole(value, field, "a whole number of GPUs"))
    if count > MAX_GPUS:
        raise RequirementError(f"{field}: {count} GPUs; at most {MAX_GPUS} in one requirement")
    return count


def _vendor(value: object, field: str) -> str:
    vendor = _text(value, field).strip().lower()
    if vendor and vendor not in GPU_VENDORS:  # empty: any vendor, as in the model
        raise CapabilityError(
            f"{field}: {value!r} is not a GPU vendor; use one of {', '.join(GPU_VENDORS)}"
        )
    return vendor


def _compute(value: object, field: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = f"{float(value)}"  # YAML reads 8.0 as a float; "8.0" is what NVIDIA prints
    text = _text(value, f"{field}.compute_capability").strip()
    if text and compute_capability_key(text) is None:  # empty: any
        raise CapabilityError(
            f"{field}.compute_capability: {value!r} is not a compute capability; "
            'write it as major.minor, like "8.6"'
        )
    return text


def _names(data: object, field: str) -> list[str]:
    items = [data] if isinstance(data, str) else _sequence(data, field, "a name or list of names")
    names = [_text(item, f"{field}[{i}]").strip() for i, item in enumerate(items)]
    for i, name in enumerate(names):
        if not name:
            raise CapabilityError(f"{field}[{i}]: empty name")
    return names


def _labels(data: object, field: str) -> dict[str, str]:
    mapping = _mapping(data, field, "a mapping like {tier: gold}")
    labels = {str(k): _scalar_text(v, f"{field}.{k}") for k, v in mapping.items()}
    for key, value in labels.items():
        if not key or len(key) > 256 or len(value) > 256:
            raise CapabilityError(f"{field}.{key}: keys and values are 1-256 characters")
    return labels


def _location_rules(data: object, field: str) -> list[LocationRule]:
    items = [data] if isinstance(data, str) else _sequence(data, field, "a list of locations")
    return [location_rule_from_user(item, field=f"{field}[{i}]") for i, item in enumerate(items)]


def _preferences(data: object, field: str) -> list[dict[str, object]]:
    if isinstance(data, Mapping):
        return [
            {"dimension": str(k), "weight": _weight(w, f"{field}.{k}")} for k, w in data.items()
        ]
    items = [data] if isinstance(data, str) else _sequence(data, field, "a list of preferences")
    out: list[dict[str, object]] = []
    for i, item in enumerate(items):
        path = f"{field}[{i}]"
        if isinstance(item, str):
            out.append({"dimension": item})
            continue
        mapping = _mapping(item, path, "{dimension: price, weight: 2}")
        _known(mapping, ("dimension", "weight"), path)
        if "dimension" not in mapping:
            raise RequirementError(f"{path}.dimension: missing; say what is preferred, like price")
        pref: dict[str, object] = {"dimension": _text(mapping["dimension"], f"{path}.dimension")}
        if "weight" in mapping:
            pref["weight"] = _weight(mapping["weight"], f"{path}.weight")
        out.append(pref)
    return out


def _weight(value: object, field: str) -> float:
    weight = parse_count(value, field)
    if not 0 < weight <= 1000:
        raise RequirementError(f"{field}: weight {value!r} must be > 0 and ≤ 1000")
    return weight


def validate_requirement(req: Requirement, *, field: str = "requirement") -> None:
    """Raise `RequirementError` if `req` is malformed or contradicts itself (could never match)."""
    for i, need in enumerate(req.gpus):
        path = f"{field}.gpus[{i}]"
        if need.vendor and need.vendor.lower() not in GPU_VENDORS:
            raise RequirementError(
                f"{path}.vendor: {need.vendor!r} is not a GPU vendor; "
                f"use one of {', '.join(GPU_VENDORS)}"
            )
        if need.compute_capability and compute_capability_key(need.compute_capability) is None:
            raise RequirementError(
                f"{path}.compute_capability: {need.compute_capability!r} is not major.minor"
            )
    for name in req.benchmarks:
        if name not in BENCHMARK_FIELDS:
            hint = "; prefer a low network_rtt instead" if name == "network_rtt" else ""
            raise RequirementError(
                f"{field}.benchmarks.{name}: not a benchmark; use one of "
                f"{', '.join(BENCHMARK_FIELDS)}{hint}"
            )
    for i, preference in enumerate(req.prefer):
        validate_preference(preference.dimension, f"{field}.prefer[{i}].dimension")
    for did in req.accept_peers:
        if did in req.reject_peers:
            raise RequirementError(
                f"{field}.accept_peers: {did} is both accepted and rejected; keep it in one list"
            )
    for i, rejected in enumerate(req.reject_locations):
        if rule_within(LocationRule(), rejected):
            raise RequirementError(
                f"{field}.reject_locations[{i}]: rejects every location; name what to reject"
            )
        for j, accepted in enumerate(req.accept_locations):
            if rule_within(accepted, rejected):
                raise RequirementError(
                    f"{field}.accept_locations[{j}]: {describe_location(accepted)} lies inside "
                    f"the rejected {describe_location(rejected)} (reject_locations[{i}]); "
                    "it could never match"
                )
    if req.max_price is not None and not _CURRENCY.match(req.max_price.currency.upper()):
        raise RequirementError(
            f"{field}.max_price.currency: {req.max_price.currency!r} is not a currency code"
        )


# -- the CLI's one-line spec --------------------------------------------------------------------
_SPEC_SCALARS: dict[str, tuple[str, Parser]] = {
    "cpu": ("cpu", lambda v, f: parse_count(v, f)),
    "ram": ("ram", lambda v, f: parse_size(v, f)),
    "disk": ("disk", lambda v, f: parse_size(v, f)),
    "bandwidth": ("bandwidth", lambda v, f: parse_bandwidth(v, f)),
    "ports": ("public_ports", lambda v, f: _whole(v, f, "a number of ports")),
}
_SPEC_LISTS: dict[str, tuple[str, Parser]] = {
    "arch": ("architectures", lambda v, f: _text(v, f).strip()),
    "os": ("os", lambda v, f: _text(v, f).strip()),
    "executor": ("executors", lambda v, f: _text(v, f).strip()),
    "storage": ("storage", lambda v, f: _text(v, f).strip()),
    "location": ("accept_locations", lambda v, f: location_rule_from_user(v, field=f)),
    "reject-location": ("reject_locations", lambda v, f: location_rule_from_user(v, field=f)),
    "peer": ("accept_peers", lambda v, f: _text(v, f).strip()),
    "reject-peer": ("reject_peers", lambda v, f: _text(v, f).strip()),
}
_SPEC_MAPS = {"label": "labels", "bench": "benchmarks", "price": "max_price", "gpu": "gpus"}


def parse_requirement_spec(text: str) -> Requirement:
    """`cpu=2,ram=4GiB,gpu.vram=24GiB,gpu.count=2,executor=docker,prefer.price=2,...` (the
    grammar is in docs/capability-model.md). Repeated list keys add; a scalar or label given
    twice with different values is a `RequirementError`."""
    if not isinstance(text, str):
        raise RequirementError(f"requirement spec: {text!r} is not text")
    fields: dict[str, Any] = {}
    groups: dict[str, dict[str, str]] = {"label": {}, "bench": {}, "price": {}, "gpu": {}}
    prefer: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, equals, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not equals or not value:
            raise RequirementError(f"{key or item}: no value; write it as {key or 'key'}=value")
        head, dot, rest = key.partition(".")
        if key in _SPEC_SCALARS:
            name, parse = _SPEC_SCALARS[key]
            _once(fields, name, parse(value, key), key)
        elif key in _SPEC_LISTS:
            name, parse = _SPEC_LISTS[key]
            fields.setdefault(name, []).append(parse(value, key))
        elif head == "prefer" and dot:
            dimension, _, weight = item.partition(".")[2].rpartition("=")
            dimension = dimension.strip()
            if not weight.strip() or not dimension:
                raise RequirementError(f"{key}: write a preference as prefer.<dimension>=<weight>")
            _once(prefer, dimension, _weight(weight.strip(), key), f"prefer.{dimension}")
        elif head in groups and dot and rest:
            _once(groups[head], rest, value, key)
        else:
            raise RequirementError(f"{key}: unknown key{_suggest(key, _SPEC_KEYS)}")
    fields["labels"] = groups["label"]
    fields["benchmarks"] = {k: parse_count(v, f"bench.{k}") for k, v in groups["bench"].items()}
    if groups["price"]:
        fields["max_price"] = price_from_user(groups["price"], field="price")
    if groups["gpu"]:
        fields["gpus"] = _gpu_shape(groups["gpu"], "gpu")
    fields["prefer"] = [{"dimension": d, "weight": w} for d, w in prefer.items()]
    requirement = _convert(fields, Requirement, "requirement")
    validate_requirement(requirement)
    return requirement


_SPEC_KEYS = (
    *_SPEC_SCALARS,
    *_SPEC_LISTS,
    *(f"gpu.{k}" for k in _GPU_NEED_KEYS),
    *(f"price.{k}" for k in ("currency", *_PRICE_FIELDS)),
    "label.<key>",
    "bench.<name>",
    "prefer.<dimension>",
)


def _once(fields: dict[str, Any], name: str, value: object, key: str) -> None:
    if name in fields and fields[name] != value:
        raise RequirementError(
            f"{key}: given twice with different values ({fields[name]!r} and {value!r}); "
            "give it once"
        )
    fields[name] = value


# -- shared pieces ------------------------------------------------------------------------------
_REQUIREMENT_PARSERS: dict[str, Parser] = {
    "cpu": lambda v, f: parse_count(v, f),
    "ram": lambda v, f: parse_size(v, f),
    "disk": lambda v, f: parse_size(v, f),
    "gpus": _gpu_needs,
    "architectures": _names,
    "os": _names,
    "executors": _names,
    "storage": _names,
    "bandwidth": lambda v, f: parse_bandwidth(v, f),
    "public_ports": lambda v, f: _whole(v, f, "a number of ports"),
    "labels": _labels,
    "benchmarks": _benchmark_values,
    "max_price": lambda v, f: price_from_user(v, field=f),
    "accept_locations": _location_rules,
    "reject_locations": _location_rules,
    "accept_peers": _names,
    "reject_peers": _names,
    "prefer": _preferences,
}
_CAPABILITY_PARSERS: dict[str, Parser] = {
    "resources": lambda v, f: resources_from_user(v, field=f),
    "cpu": _cpu_info,
    "os": lambda v, f: _text(v, f).strip(),
    "executors": _names,
    "storage": _names,
    "network": _network,
    "location": lambda v, f: location_from_user(v, field=f),
    "price": lambda v, f: price_from_user(v, field=f),
    "labels": _labels,
    "benchmarks": _benchmark_values,
}


def _convert(fields: dict[str, Any], kind: type[T], field: str) -> T:
    """msgspec's structural checks, its errors rewritten as `<field path>: <what is wrong>`."""
    try:
        return msgspec.convert(fields, kind)
    except msgspec.ValidationError as error:
        message, _, where = str(error).rpartition(" - at `")
        if not message:
            message, where = str(error), "$`"
        path = where.removesuffix("`").removeprefix("$").replace("[...]", "")
        text = message.replace("`", "")
        raise CapabilityError(f"{field}{path}: {text[:1].lower()}{text[1:]}") from None


def _mapping(data: object, field: str, example: str) -> Mapping[str, object]:
    if not isinstance(data, Mapping):
        raise CapabilityError(f"{field}: expected {example}, got {_kind(data)}")
    for key in data:
        if not isinstance(key, str):
            raise CapabilityError(f"{field}: key {key!r} is not text")
    return data


def _sequence(data: object, field: str, example: str) -> list[object]:
    if isinstance(data, str | bytes | Mapping) or not isinstance(data, list | tuple):
        raise CapabilityError(f"{field}: expected {example}, got {_kind(data)}")
    return list(data)


def _known(mapping: Mapping[str, object], keys: tuple[str, ...], field: str) -> None:
    for key in mapping:
        if key not in keys:
            raise CapabilityError(f"{field}.{key}: unknown field{_suggest(key, keys)}")


def _suggest(key: str, keys: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, keys, n=1)
    return f"; did you mean {close[0]}?" if close else f"; known: {', '.join(keys)}"


def _text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise CapabilityError(f"{field}: expected text, got {_kind(value)}")
    return value


def _scalar_text(value: object, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise CapabilityError(f"{field}: expected text, got {_kind(value)}")
    return (
        value
        if isinstance(value, str)
        else f"{value:g}"
        if isinstance(value, float)
        else str(value)
    )


def _whole(value: object, field: str, what: str) -> int:
    number = parse_count(value, field)
    if number != int(number):
        raise CapabilityError(f"{field}: {value!r} is not a whole number; expected {what}")
    return int(number)


def _pairs(text: str, field: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        key, equals, value = item.partition("=")
        if not equals:
            raise CapabilityError(f"{field}: {item!r} is not key=value, like cpu=0.1")
        pairs[key.strip()] = value.strip()
    return pairs


def _kind(value: object) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value)
