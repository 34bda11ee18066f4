"""NuNet DMS's V1 ensemble YAML rewritten as a native document, so one reader serves both.

V1's plain numbers get one documented meaning each: `ram.size`, `disk.size` and GPU `vram` are
GiB (as NuNet DMS reads them), `rtt` is milliseconds, `bw` is Mbit/s, healthcheck timings are
seconds; strings with units are read as the native dialect reads them. Renamed keys are
remembered, so a problem found later still names the field as the V1 document spells it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nunet.ensemble import fields as f
from nunet.ensemble.fields import Collector, FieldError, join
from nunet.ensemble.reader import NATIVE_VERSION

V1_VERSION = "V1"
V1_KEYS = ("version", "name", "allocations", "nodes", "edges", "supervisor", "keys", "scripts")
V1_ALLOCATION_KEYS = (
    "executor",
    "type",
    "resources",
    "execution",
    "dnsname",
    "keys",
    "provision",
    "healthcheck",
    "depends_on",
    "restart",
    "privileged",
)
V1_EXECUTION_KEYS = ("type", "image", "cmd", "entrypoint", "environment", "working_directory")
V1_HEALTHCHECK_KEYS = ("type", "exec", "cmd", "command", "interval", "timeout", "retries")
V1_NODE_KEYS = ("allocations", "ports", "location", "peer", "redundancy")
V1_EDGE_KEYS = ("peers", "rtt", "bw")
V1_STRATEGIES = {
    "OneForOne": "one-for-one",
    "AllForOne": "all-for-one",
    "RestForOne": "rest-for-one",
}


class Renames:
    """Native paths written under another name in the V1 document (longest prefix wins)."""

    def __init__(self) -> None:
        self.paths: dict[str, str] = {}

    def add(self, native: str, v1: str) -> None:
        if native != v1:
            self.paths[native] = v1

    def v1_path(self, native: str) -> str:
        for prefix in sorted(self.paths, key=len, reverse=True):
            if native == prefix or native.startswith((prefix + ".", prefix + "[")):
                return self.paths[prefix] + native[len(prefix) :]
        return native


def translate_v1(doc: Mapping[str, object], c: Collector, renames: Renames) -> dict[str, Any]:
    """The native document V1 `doc` means; problems with V1 shapes go to `c`."""
    c.known(doc, V1_KEYS, "")
    out: dict[str, Any] = {"version": NATIVE_VERSION}
    if "name" in doc:
        out["name"] = doc["name"]
    keys = _named_texts(doc, "keys", c)
    scripts = _named_texts(doc, "scripts", c)
    if "allocations" in doc:
        table = c.guard(
            None,
            lambda: f.mapping(doc["allocations"], "allocations", "{alloc1: ...}"),
            "allocations",
        )
        if table is not None:
            out["allocations"] = {
                name: _allocation(raw, join("allocations", name), c, renames, keys, scripts)
                for name, raw in table.items()
            }
    if "nodes" in doc:
        table = c.guard(
            None,
            lambda: f.mapping(doc["nodes"], "nodes", "{node1: {allocations: [alloc1]}}"),
            "nodes",
        )
        if table is not None:
            out["nodes"] = {name: _node(raw, join("nodes", name), c) for name, raw in table.items()}
    if "edges" in doc:
        items = c.guard(
            None,
            lambda: f.sequence(doc["edges"], "edges", "[{peers: [node1, node2], rtt: 50}]"),
            "edges",
        )
        if items is not None:
            out["edges"] = [_edge(raw, join("edges", i), c, renames) for i, raw in enumerate(items)]
    if "supervisor" in doc:
        out["supervisor"] = _supervisor(doc["supervisor"], "supervisor", c, renames)
    return out


def _named_texts(doc: Mapping[str, object], key: str, c: Collector) -> dict[str, str]:
    """V1's top-level `keys` / `scripts`: name -> text, referred to by allocations."""
    if key not in doc:
        return {}
    table = c.guard(None, lambda: f.mapping(doc[key], key, "{mykey: 'ssh-ed25519 AAAA...'}"), key)
    if table is None:
        return {}
    out: dict[str, str] = {}
    for name, raw in table.items():
        value = c.call(None, join(key, name), f.text, raw, join(key, name))
        if value is not None:
            out[name] = value
    return out


def _allocation(
    raw: object,
    path: str,
    c: Collector,
    renames: Renames,
    keys: Mapping[str, str],
    scripts: Mapping[str, str],
) -> Any:
    if not isinstance(raw, Mapping):
        return raw  # the native reader reports the shape
    c.known(raw, V1_ALLOCATION_KEYS, path)
    out: dict[str, Any] = {}
    for key in ("executor", "type", "depends_on", "restart", "privileged"):
        if key in raw:
            out[key] = raw[key]
    if "dnsname" in raw:
        out["dns_name"] = raw["dnsname"]
        renames.add(join(path, "dns_name"), join(path, "dnsname"))
    if "resources" in raw:
        out["resources"] = _resources(raw["resources"], join(path, "resources"), c, renames)
    if "execution" in raw:
        out["execution"] = _execution(raw["execution"], join(path, "execution"), c, renames)
        executor = raw["execution"].get("type") if isinstance(raw["execution"], Mapping) else None
        if executor is not None and "executor" not in raw:
            out["executor"] = executor
            renames.add(join(path, "executor"), join(path, "execution.type"))
        elif executor is not None and executor != raw["executor"]:
            c.add(
                join(path, "execution.type"),
                f"{f.shown(executor)} differs from executor {f.shown(raw['executor'])}; "
                "give one executor",
            )
    for key, named in (("keys", keys), ("provision", scripts)):
        if key in raw:
            out[key] = _references(raw[key], named)
    if "healthcheck" in raw:
        out["healthcheck"] = _healthcheck(raw["healthcheck"], join(path, "healthcheck"), c, renames)
    return out


def _references(value: object, named: Mapping[str, str]) -> object:
    """Names of top-level keys/scripts resolved to their text; other entries kept as written."""
    if not isinstance(value, list):
        return value
    return [named.get(item, item) if isinstance(item, str) else item for item in value]


def _resources(raw: object, path: str, c: Collector, renames: Renames) -> Any:
    if not isinstance(raw, Mapping):
        return raw
    c.known(raw, ("cpu", "ram", "disk", "gpus"), path)
    out: dict[str, Any] = {}
    if "cpu" in raw:
        cpu = raw["cpu"]
        if isinstance(cpu, Mapping):
            c.known(cpu, ("cores",), join(path, "cpu"))
            if "cores" not in cpu:
                c.add(join(path, "cpu.cores"), "missing; give the number of cores, like cores: 1")
            else:
                out["cpu"] = cpu["cores"]
                renames.add(join(path, "cpu"), join(path, "cpu.cores"))
        else:
            out["cpu"] = cpu
    for key in ("ram", "disk"):
        if key in raw:
            value = raw[key]
            if isinstance(value, Mapping):
                c.known(value, ("size",), join(path, key))
                if "size" not in value:
                    c.add(join(path, f"{key}.size"), "missing; give the size, like size: 2 (GiB)")
                    continue
                value = value["size"]
                renames.add(join(path, key), join(path, f"{key}.size"))
            out[key] = _gib(value)
    if "gpus" in raw:
        gpus = raw["gpus"]
        if isinstance(gpus, list):
            gpus = [
                {**g, "vram": _gib(g["vram"])} if isinstance(g, Mapping) and "vram" in g else g
                for g in gpus
            ]
        out["gpus"] = gpus
    return out


def _gib(value: object) -> object:
    """V1 sizes: a plain number is GiB."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value}GiB"
    return value


def _execution(raw: object, path: str, c: Collector, renames: Renames) -> Any:
    if not isinstance(raw, Mapping):
        return raw
    c.known(raw, V1_EXECUTION_KEYS, path)
    out: dict[str, Any] = {}
    for v1, native in (
        ("image", "image"),
        ("cmd", "command"),
        ("entrypoint", "entrypoint"),
        ("working_directory", "working_dir"),
    ):
        if v1 in raw:
            out[native] = raw[v1]
            renames.add(join(path, native), join(path, v1))
    if "environment" in raw:
        renames.add(join(path, "env"), join(path, "environment"))
        no_env: object = {}
        out["env"] = c.guard(
            no_env,
            lambda: _environment(raw["environment"], join(path, "environment")),
            join(path, "environment"),
        )
    return out


def _environment(value: object, path: str) -> object:
    """A mapping, or V1's list of `NAME=value` strings."""
    if not isinstance(value, list):
        return value
    out: dict[str, str] = {}
    for i, item in enumerate(value):
        entry = f.text(item, join(path, i))
        name, sep, rest = entry.partition("=")
        if not sep:
            raise FieldError(join(path, i), f"{entry!r} has no '='; write NAME=value")
        out[name] = rest
    return out


def _healthcheck(raw: object, path: str, c: Collector, renames: Renames) -> Any:
    if not isinstance(raw, Mapping):
        return raw
    c.known(raw, V1_HEALTHCHECK_KEYS, path)
    kind = raw.get("type", "command")
    if kind not in ("command", "exec"):
        c.add(
            join(path, "type"),
            f"{f.shown(kind)} checks are not run here; use type: command with a command such "
            "as wget -q -O- http://localhost:8080/health",
        )
    out: dict[str, Any] = {}
    given = [k for k in ("exec", "cmd", "command") if k in raw]
    if len(given) > 1:
        c.add(path, f"gives {' and '.join(given)}; give the command once")
    if given:
        out["exec"] = raw[given[0]]
        renames.add(join(path, "exec"), join(path, given[0]))
    for key in ("interval", "timeout"):
        if key in raw:
            value = raw[key]
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            out[key] = f"{value}s" if is_number else value
    if "retries" in raw:
        out["retries"] = raw["retries"]
    return out


def _node(raw: object, path: str, c: Collector) -> Any:
    if not isinstance(raw, Mapping):
        return raw
    c.known(raw, V1_NODE_KEYS, path)
    return {key: raw[key] for key in V1_NODE_KEYS if key in raw}


def _edge(raw: object, path: str, c: Collector, renames: Renames) -> Any:
    if not isinstance(raw, Mapping):
        return raw
    c.known(raw, V1_EDGE_KEYS, path)
    out: dict[str, Any] = {}
    if "peers" in raw:
        out["between"] = raw["peers"]
        renames.add(join(path, "between"), join(path, "peers"))
    if "rtt" in raw:
        rtt = raw["rtt"]
        is_number = isinstance(rtt, int | float) and not isinstance(rtt, bool)
        out["rtt"] = f"{rtt}ms" if is_number else rtt
    if "bw" in raw:
        bw = raw["bw"]
        is_number = isinstance(bw, int | float) and not isinstance(bw, bool)
        out["bandwidth"] = f"{bw}Mbit/s" if is_number else bw
        renames.add(join(path, "bandwidth"), join(path, "bw"))
    return out


def _supervisor(raw: object, path: str, c: Collector, renames: Renames, native: str = "") -> Any:
    """`path` as V1 spells it; `native` as the native document will (they differ below a
    renamed `allocations` list)."""
    native = native or path
    if not isinstance(raw, Mapping):
        return raw
    c.known(raw, ("strategy", "intensity", "children", "allocations"), path)
    out: dict[str, Any] = {}
    if "strategy" in raw:
        strategy = raw["strategy"]
        known = isinstance(strategy, str) and strategy in V1_STRATEGIES
        out["strategy"] = V1_STRATEGIES[strategy] if known else strategy
    if "intensity" in raw:
        out["intensity"] = raw["intensity"]
    given = [k for k in ("children", "allocations") if k in raw]
    if len(given) > 1:
        c.add(path, "gives both children and allocations; list the children once")
    if given:
        items = raw[given[0]]
        renames.add(join(native, "children"), join(path, given[0]))
        if isinstance(items, list):
            items = [
                _child(item, f"{path}.{given[0]}[{i}]", c, renames, f"{native}.children[{i}]")
                for i, item in enumerate(items)
            ]
        out["children"] = items
    return out


def _child(item: object, path: str, c: Collector, renames: Renames, native: str) -> object:
    if isinstance(item, Mapping) and "supervisor" in item and len(item) == 1:
        sub = _supervisor(
            item["supervisor"], f"{path}.supervisor", c, renames, f"{native}.supervisor"
        )
        return {"supervisor": sub}
    return item
