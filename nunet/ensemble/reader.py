"""The native dialect (`version: nunet/v1`) read field by field into the model.

Each field is read on its own (`Collector.guard`), so a bad one is recorded with its path and a
default stands in: the rest of the document is still read and every problem is reported at once.
Cross-references between fields are checked afterwards by `rules`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, TypeVar

from nunet.capability.errors import CapabilityError
from nunet.capability.model import GpuNeed, LocationRule, Price, Requirement
from nunet.capability.parse import (
    location_rule_from_user,
    parse_requirement_spec,
    price_from_user,
    requirement_from_user,
)
from nunet.ensemble import fields as f
from nunet.ensemble.fields import Collector, FieldError, join
from nunet.ensemble.model import (
    DEFAULT_RAM,
    EXECUTORS,
    MIB,
    Allocation,
    AllocationResources,
    AllocationType,
    Child,
    ContractTerms,
    DataInput,
    DataOutput,
    Edge,
    Ensemble,
    Execution,
    HealthCheck,
    Intensity,
    NodeSpec,
    PortMap,
    Restart,
    Strategy,
    SupervisorSpec,
    Timeouts,
)
from nunet.executor.docker.reference import parse_reference
from nunet.executor.errors import InvalidSpec
from nunet.storage.locations import BUCKET_SCHEMES, parse_location
from nunet.storage.provider import Checksum, StorageError

E = TypeVar("E", bound=Enum)
T = TypeVar("T")
NATIVE_VERSION = "nunet/v1"
ENSEMBLE_KEYS = (
    "version",
    "name",
    "labels",
    "metadata",
    "allocations",
    "nodes",
    "edges",
    "supervisor",
    "ensembles",
    "contract",
)
ALLOCATION_KEYS = (
    "type",
    "executor",
    "resources",
    "execution",
    "inputs",
    "outputs",
    "healthcheck",
    "dns_name",
    "keys",
    "provision",
    "restart",
    "timeouts",
    "depends_on",
    "privileged",
)
RESOURCE_KEYS = ("cpu", "ram", "disk", "gpus")
EXECUTION_KEYS = ("image", "command", "entrypoint", "env", "working_dir")
HEALTHCHECK_KEYS = ("exec", "interval", "timeout", "retries", "start_period")
NODE_KEYS = ("allocations", "ports", "location", "peer", "redundancy", "require")
PORT_KEYS = ("public", "private", "allocation")
EDGE_KEYS = ("between", "rtt", "bandwidth")
SUPERVISOR_KEYS = ("strategy", "intensity", "children")
CONTRACT_KEYS = (
    "currency",
    "max_price",
    "budget",
    "payment_interval",
    "grace_period",
    "termination",
)
MAX_CPU = 1024.0  # cores: the executor's limit
MIN_RAM = 4 * MIB  # the executor's limit
MAX_REDUNDANCY = 64
_SSH_KEY_PREFIXES = ("ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-")


def read_native(doc: object, c: Collector, *, prefix: str = "", nested: bool = False) -> Ensemble:
    """An Ensemble from a native document; problems go to `c` (the caller raises)."""
    root = f.mapping(doc, prefix.rstrip(".") or f.ROOT, "{version: nunet/v1, ...}")
    c.known(root, ENSEMBLE_KEYS, prefix.rstrip("."))
    at = prefix.rstrip(".")
    _version(root, c, at, nested)
    name = c.guard(
        "ensemble",
        lambda: f.name(root.get("name", "ensemble"), join(at, "name"), "an ensemble name"),
        join(at, "name"),
    )
    no_labels: dict[str, str] = {}
    labels = c.guard(
        no_labels, lambda: f.labels(root.get("labels", {}), join(at, "labels")), join(at, "labels")
    )
    no_metadata: dict[str, Any] = {}
    metadata = c.guard(
        no_metadata,
        lambda: _metadata(root.get("metadata", {}), join(at, "metadata")),
        join(at, "metadata"),
    )
    allocations = _allocations(root, c, at)
    nodes = _nodes(root, c, at)
    ensembles = _sub_ensembles(root, c, at)
    edges = _edges(root, c, at)
    if "supervisor" in root:
        supervisor = c.guard(
            SupervisorSpec(),
            lambda: _supervisor(root["supervisor"], join(at, "supervisor"), c),
            join(at, "supervisor"),
        )
    else:
        supervisor = default_supervisor(allocations, ensembles)
    contract = None
    if "contract" in root:
        contract = c.guard(
            None, lambda: _contract(root["contract"], join(at, "contract"), c), join(at, "contract")
        )
    return Ensemble(
        name=name,
        labels=labels,
        metadata=metadata,
        allocations=allocations,
        nodes=nodes,
        edges=edges,
        supervisor=supervisor,
        ensembles=ensembles,
        contract=contract,
    )


def default_supervisor(
    allocations: Mapping[str, Allocation], ensembles: Mapping[str, Ensemble]
) -> SupervisorSpec:
    """One-for-one over every allocation, then every sub-ensemble, in document order."""
    children = [Child(allocation=a) for a in allocations] + [Child(ensemble=e) for e in ensembles]
    return SupervisorSpec(children=tuple(children))


def _version(root: Mapping[str, object], c: Collector, at: str, nested: bool) -> None:
    path = join(at, "version")
    if "version" not in root:
        if not nested:
            c.add(path, f"missing; start the document with version: {NATIVE_VERSION}")
        return
    if root["version"] != NATIVE_VERSION:
        c.add(
            path,
            f"{f.shown(root['version'])} is not a version this reader knows; "
            f"write {NATIVE_VERSION} (or V1 for a NuNet DMS ensemble)"
            + ("; a sub-ensemble may leave it out" if nested else ""),
        )


def _metadata(value: object, path: str) -> dict[str, Any]:
    table = f.mapping(value, path, "{owner: me}")
    return {key: f.json_value(raw, join(path, key)) for key, raw in table.items()}


# -- allocations --------------------------------------------------------------------------------
def _allocations(root: Mapping[str, object], c: Collector, at: str) -> dict[str, Allocation]:
    return _named_table(
        root,
        c,
        at,
        "allocations",
        need="an ensemble needs at least one allocation",
        example="{web: {execution: {image: ...}}}",
        what="an allocation name",
        read=lambda raw, here, name: _allocation(raw, here, name, c),
    )


def _named_table(
    root: Mapping[str, object],
    c: Collector,
    at: str,
    key: str,
    *,
    need: str,
    example: str,
    what: str,
    read: Callable[[object, str, str], T],
) -> dict[str, T]:
    """A required, non-empty mapping of names (allocations, nodes) each read by `read`."""
    path = join(at, key)
    if key not in root:
        c.add(path, f"missing; {need}")
        return {}
    table = c.guard(None, lambda: f.mapping(root[key], path, example), path)
    if table is None:
        return {}
    if not table:
        c.add(path, f"is empty; {need}")
    out: dict[str, T] = {}
    for name, raw in table.items():
        here = join(path, name)
        c.call("", here, f.name, name, here, what)
        out[name] = read(raw, here, name)
    return out


def _allocation(raw: object, path: str, name: str, c: Collector) -> Allocation:
    table = c.guard(None, lambda: f.mapping(raw, path, "{execution: {image: busybox}}"), path)
    if table is None:
        return Allocation(execution=Execution(image=""), dns_name=name)
    c.known(table, ALLOCATION_KEYS, path)

    def get(key: str, default: Any, read: Any) -> Any:
        if key not in table:
            return default
        return c.guard(default, lambda: read(table[key], join(path, key)), join(path, key))

    kind = get("type", AllocationType.TASK, lambda v, p: _choice(v, p, AllocationType))
    if "execution" not in table:
        c.add(join(path, "execution"), "missing; say what to run, like {image: busybox:1}")
        execution = Execution(image="")
    else:
        execution = _execution(table["execution"], join(path, "execution"), c)
    default_restart = Restart.ALWAYS if kind is AllocationType.SERVICE else Restart.NEVER
    return Allocation(
        execution=execution,
        type=kind,
        executor=get("executor", "docker", _executor),
        resources=get("resources", AllocationResources(), lambda v, p: _resources(v, p, c)),
        inputs=get("inputs", (), _inputs),
        outputs=get("outputs", (), _outputs),
        healthcheck=get("healthcheck", None, lambda v, p: _healthcheck(v, p, c)),
        dns_name=get("dns_name", name, _dns_name),
        keys=get("keys", (), _keys),
        provision=get("provision", (), lambda v, p: f.texts(v, p, "['apk add curl']")),
        restart=get("restart", default_restart, lambda v, p: _choice(v, p, Restart)),
        timeouts=get("timeouts", Timeouts(), lambda v, p: _timeouts(v, p, c)),
        depends_on=get("depends_on", (), _depends_on),
        privileged=get("privileged", False, f.boolean),
    )


def _choice(value: object, path: str, kind: type[E]) -> E:
    choices = [member.value for member in kind]
    word = f.text(value, path)
    if word not in choices:
        what = path.rpartition(".")[2]
        raise FieldError(
            path,
            f"{word!r} is not a {what}; use one of {', '.join(choices)}{_close(word, choices)}",
        )
    return kind(word)


def _close(word: str, choices: list[str]) -> str:
    hint = f.suggest(word, choices)
    return hint if "did you mean" in hint else ""


def _executor(value: object, path: str) -> str:
    word = f.text(value, path)
    if word not in EXECUTORS:
        raise FieldError(
            path,
            f"{word!r} is not an executor; use one of {', '.join(EXECUTORS)}{_close(word, list(EXECUTORS))}",
        )
    return word


def _execution(raw: object, path: str, c: Collector) -> Execution:
    table = c.guard(
        None, lambda: f.mapping(raw, path, "{image: busybox:1, command: [echo, hi]}"), path
    )
    if table is None:
        return Execution(image="")
    c.known(table, EXECUTION_KEYS, path)

    def get(key: str, default: Any, read: Any) -> Any:
        if key not in table:
            return default
        return c.guard(default, lambda: read(table[key], join(path, key)), join(path, key))

    if "image" not in table:
        c.add(join(path, "image"), "missing; name the OCI image to run, like busybox:1")
    return Execution(
        image=get("image", "", _image),
        command=get("command", (), f.command),
        entrypoint=get("entrypoint", (), lambda v, p: f.texts(v, p, "[/bin/sh, -c]")),
        env=get("env", {}, f.env),
        working_dir=get("working_dir", "", f.absolute),
    )


def _image(value: object, path: str) -> str:
    reference = f.text(value, path)
    try:
        parse_reference(reference)
    except InvalidSpec as error:
        detail = str(error).partition(": ")[2] or str(error)
        raise FieldError(
            path,
            f"{detail}; write an OCI reference like registry.example/name:tag or name@sha256:...",
        ) from None
    return reference


def _resources(raw: object, path: str, c: Collector) -> AllocationResources:
    table = f.mapping(raw, path, "{cpu: 1, ram: 512MiB, disk: 1GiB}")
    c.known(table, RESOURCE_KEYS, path)

    def get(key: str, default: Any, read: Any) -> Any:
        if key not in table:
            return default
        return c.guard(default, lambda: read(table[key], join(path, key)), join(path, key))

    return AllocationResources(
        cpu=get("cpu", 1.0, _cpu),
        ram=get("ram", DEFAULT_RAM, _ram),
        disk=get("disk", 0, f.size),
        gpus=get("gpus", (), _gpus),
    )


def _cpu(value: object, path: str) -> float:
    cores = f.number(value, path, positive=True, what="cpu (cores)")
    if cores > MAX_CPU:
        raise FieldError(path, f"{cores:g} cores is more than {MAX_CPU:g}; ask for fewer")
    return cores


def _ram(value: object, path: str) -> int:
    amount = f.size(value, path)
    if amount < MIN_RAM:
        raise FieldError(path, f"{f.shown(value)} is less than 4MiB; ask for at least 4MiB")
    return amount


def _gpus(value: object, path: str) -> tuple[GpuNeed, ...]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, Mapping) and "vram" in item:
                f.size(item["vram"], join(join(path, i), "vram"))  # refuse 24GB as elsewhere
    elif isinstance(value, Mapping) and "vram" in value:
        f.size(value["vram"], join(path, "vram"))
    if isinstance(value, bool) or not isinstance(value, int | list | Mapping):
        raise FieldError(
            path,
            f"{f.shown(value)} is not GPUs; write a count (2) or a list like [{{vram: 24GiB}}]",
        )
    parent = path.rpartition(".")[0]
    return requirement_from_user({"gpus": value}, field=parent).gpus


def _dns_name(value: object, path: str) -> str:
    word = f.text(value, path)
    if not f.DNS_LABEL.match(word):
        raise FieldError(
            path, f"{word!r} is not a DNS label; {f.name_fix(word)} (and not ending in '-')"
        )
    return word


def _keys(value: object, path: str) -> tuple[str, ...]:
    keys = f.texts(value, path, "['ssh-ed25519 AAAA... me@host']")
    for i, key in enumerate(keys):
        if not key.startswith(_SSH_KEY_PREFIXES) or len(key.split()) < 2:
            raise FieldError(
                join(path, i),
                "is not an SSH public key; paste the whole line, like 'ssh-ed25519 AAAA... me@host'",
            )
    return keys


def _depends_on(value: object, path: str) -> tuple[str, ...]:
    names = f.texts(value, path, "[db]")
    for i, name in enumerate(names):
        if not all(f.NAME.match(part) for part in name.split(".")):
            raise FieldError(
                join(path, i), f"{name!r} is not an allocation name; {f.name_fix(name)}"
            )
    return names


def _inputs(value: object, path: str) -> tuple[DataInput, ...]:
    items = f.sequence(value, path, "[{source: s3://bucket/key, target: /in/data.csv}]")
    out: list[DataInput] = []
    for i, raw in enumerate(items):
        here = join(path, i)
        table = f.mapping(raw, here, "{source: s3://bucket/key, target: /in/data.csv}")
        _require_keys(table, ("source", "target"), ("checksum",), here)
        source = _storage_location(table["source"], join(here, "source"))
        checksum = f.text(table.get("checksum", ""), join(here, "checksum"), empty=True)
        if checksum:
            try:
                Checksum.parse(checksum)
            except StorageError as exc:
                raise FieldError(join(here, "checksum"), str(exc)) from None
            if parse_location(source).is_prefix:
                raise FieldError(
                    join(here, "checksum"),
                    f"a checksum is of one object, and {source} is a prefix (it ends in /); "
                    "remove the checksum or name one object",
                )
        out.append(
            DataInput(
                source=source,
                target=f.mount_path(table["target"], join(here, "target")),
                checksum=checksum,
            )
        )
    return tuple(out)


def _outputs(value: object, path: str) -> tuple[DataOutput, ...]:
    items = f.sequence(value, path, "[{path: /out, destination: nunet://results/web}]")
    out: list[DataOutput] = []
    for i, raw in enumerate(items):
        here = join(path, i)
        table = f.mapping(raw, here, "{path: /out, destination: nunet://results/web}")
        _require_keys(table, ("path", "destination"), ("on_failure",), here)
        destination = _storage_location(table["destination"], join(here, "destination"))
        if parse_location(destination).scheme not in BUCKET_SCHEMES:
            raise FieldError(
                join(here, "destination"),
                f"{destination!r} cannot take uploads; send outputs to "
                + " or ".join(f"{s}://bucket/prefix/" for s in BUCKET_SCHEMES),
            )
        out.append(
            DataOutput(
                path=f.mount_path(table["path"], join(here, "path")),
                destination=destination,
                on_failure=f.boolean(table.get("on_failure", False), join(here, "on_failure")),
            )
        )
    return tuple(out)


def _storage_location(value: object, path: str) -> str:
    location = f.text(value, path)
    try:
        parse_location(location)
    except StorageError as exc:
        raise FieldError(path, str(exc)) from None
    return location


def _require_keys(
    table: Mapping[str, object], needed: tuple[str, ...], optional: tuple[str, ...], path: str
) -> None:
    for key in table:
        if key not in needed + optional:
            raise FieldError(
                join(path, key), f"unknown key {key!r}{f.suggest(key, needed + optional)}"
            )
    for key in needed:
        if key not in table:
            raise FieldError(join(path, key), f"missing; give {', '.join(needed)}")


def _healthcheck(raw: object, path: str, c: Collector) -> HealthCheck:
    table = f.mapping(raw, path, "{exec: [pg_isready], interval: 10s}")
    c.known(table, HEALTHCHECK_KEYS, path)
    if "exec" not in table:
        raise FieldError(
            join(path, "exec"), "missing; give the command that says healthy, like [pg_isready]"
        )

    def get(key: str, default: Any, read: Any) -> Any:
        if key not in table:
            return default
        return c.guard(default, lambda: read(table[key], join(path, key)), join(path, key))

    return HealthCheck(
        exec=get("exec", (), f.command),
        interval=get("interval", 10.0, lambda v, p: f.duration(v, p, positive=True)),
        timeout=get("timeout", 5.0, lambda v, p: f.duration(v, p, positive=True)),
        retries=get("retries", 3, lambda v, p: f.whole(v, p, low=1, high=1000, what="retries")),
        start_period=get("start_period", 0.0, f.duration),
    )


def _timeouts(raw: object, path: str, c: Collector) -> Timeouts:
    table = f.mapping(raw, path, "{start: 2m, run: 1h}")
    c.known(table, ("start", "run"), path)

    def get(key: str, default: float, positive: bool) -> float:
        if key not in table:
            return default
        return c.guard(
            default,
            lambda: f.duration(table[key], join(path, key), positive=positive),
            join(path, key),
        )

    return Timeouts(start=get("start", 120.0, True), run=get("run", 0.0, False))


# -- nodes and edges ----------------------------------------------------------------------------
def _nodes(root: Mapping[str, object], c: Collector, at: str) -> dict[str, NodeSpec]:
    return _named_table(
        root,
        c,
        at,
        "nodes",
        need="place each allocation on a node, like {n1: {allocations: [web]}}",
        example="{n1: {allocations: [web]}}",
        what="a node name",
        read=lambda raw, here, name: _node(raw, here, c),
    )


def _node(raw: object, path: str, c: Collector) -> NodeSpec:
    table = c.guard(None, lambda: f.mapping(raw, path, "{allocations: [web]}"), path)
    if table is None:
        return NodeSpec(allocations=())
    c.known(table, NODE_KEYS, path)

    def get(key: str, default: Any, read: Any) -> Any:
        if key not in table:
            return default
        return c.guard(default, lambda: read(table[key], join(path, key)), join(path, key))

    if "allocations" not in table:
        c.add(
            join(path, "allocations"), "missing; list the allocations this node hosts, like [web]"
        )
    allocations = get("allocations", (), _node_allocations)
    accept, reject = get("location", ((), ()), lambda v, p: _location(v, p, c))
    return NodeSpec(
        allocations=allocations,
        ports=get("ports", (), _ports),
        accept_locations=accept,
        reject_locations=reject,
        peer=get("peer", "", _peer),
        redundancy=get(
            "redundancy",
            0,
            lambda v, p: f.whole(v, p, low=0, high=MAX_REDUNDANCY, what="redundancy"),
        ),
        require=get("require", Requirement(), _require),
    )


def _node_allocations(value: object, path: str) -> tuple[str, ...]:
    names = f.texts(value, path, "[web, db]")
    if not names:
        raise FieldError(path, "is empty; a node hosts at least one allocation")
    return names


def _ports(value: object, path: str) -> tuple[PortMap, ...]:
    items = f.sequence(value, path, "[{public: 8080, private: 80, allocation: web}]")
    out: list[PortMap] = []
    for i, raw in enumerate(items):
        here = join(path, i)
        table = f.mapping(raw, here, "{public: 8080, private: 80, allocation: web}")
        _require_keys(table, PORT_KEYS, (), here)
        out.append(
            PortMap(
                public=f.whole(
                    table["public"], join(here, "public"), low=1, high=65535, what="a port"
                ),
                private=f.whole(
                    table["private"], join(here, "private"), low=1, high=65535, what="a port"
                ),
                allocation=f.text(table["allocation"], join(here, "allocation")),
            )
        )
    return tuple(out)


def _location(
    raw: object, path: str, c: Collector
) -> tuple[tuple[LocationRule, ...], tuple[LocationRule, ...]]:
    table = f.mapping(raw, path, "{accept: [EU/DE], reject: [NA]}")
    c.known(table, ("accept", "reject"), path)
    rules: dict[str, tuple[LocationRule, ...]] = {}
    for key in ("accept", "reject"):
        here = join(path, key)
        value = table.get(key, [])
        items = [value] if isinstance(value, str) else f.sequence(value, here, "[EU/DE, NA]")
        rules[key] = tuple(
            location_rule_from_user(item, field=join(here, i)) for i, item in enumerate(items)
        )
    return rules["accept"], rules["reject"]


def _peer(value: object, path: str) -> str:
    did = f.text(value, path).strip()
    if not re.match(r"^did:[a-z0-9]+:[A-Za-z0-9._:%-]+$", did):
        raise FieldError(path, f"{did!r} is not a DID; write the peer's DID, like did:key:z6Mk...")
    return did


def _require(value: object, path: str) -> Requirement:
    if isinstance(value, str):
        try:
            return parse_requirement_spec(value)
        except CapabilityError as error:
            raise FieldError(path, f"{error}; write it like arch=x86_64,label.zone=a") from None
    return requirement_from_user(value, field=path)


def _edges(root: Mapping[str, object], c: Collector, at: str) -> tuple[Edge, ...]:
    path = join(at, "edges")
    if "edges" not in root:
        return ()
    items = c.guard(
        None, lambda: f.sequence(root["edges"], path, "[{between: [n1, n2], rtt: 50ms}]"), path
    )
    if items is None:
        return ()
    out: list[Edge] = []
    for i, raw in enumerate(items):
        here = join(path, i)
        edge = c.call(None, here, _edge, raw, here, c)
        if edge is not None:
            out.append(edge)
    return tuple(out)


def _edge(raw: object, path: str, c: Collector) -> Edge:
    table = f.mapping(raw, path, "{between: [n1, n2], rtt: 50ms, bandwidth: 100Mbit/s}")
    c.known(table, EDGE_KEYS, path)
    if "between" not in table:
        raise FieldError(join(path, "between"), "missing; name the two nodes, like [n1, n2]")
    between = f.texts(table["between"], join(path, "between"), "[n1, n2]")
    if len(between) != 2:
        raise FieldError(
            join(path, "between"),
            f"names {len(between)} nodes; an edge joins exactly two, like [n1, n2]",
        )
    rtt = c.guard(
        0.0, lambda: f.duration(table.get("rtt", "0s"), join(path, "rtt")), join(path, "rtt")
    )
    bandwidth = c.guard(
        0,
        lambda: f.bandwidth(table.get("bandwidth", 0), join(path, "bandwidth")),
        join(path, "bandwidth"),
    )
    if rtt == 0 and bandwidth == 0 and "rtt" not in table and "bandwidth" not in table:
        raise FieldError(path, "constrains nothing; give rtt (at most) or bandwidth (at least)")
    return Edge(between=(between[0], between[1]), rtt=rtt, bandwidth=bandwidth)


# -- supervision, sub-ensembles, contract -------------------------------------------------------
def _supervisor(raw: object, path: str, c: Collector) -> SupervisorSpec:
    table = f.mapping(raw, path, "{strategy: one-for-one, children: [web, db]}")
    c.known(table, SUPERVISOR_KEYS, path)
    strategy = Strategy.ONE_FOR_ONE
    if "strategy" in table:
        strategy = c.guard(
            strategy,
            lambda: _choice(table["strategy"], join(path, "strategy"), Strategy),
            join(path, "strategy"),
        )
    intensity = Intensity()
    if "intensity" in table:
        intensity = c.guard(
            intensity,
            lambda: _intensity(table["intensity"], join(path, "intensity"), c),
            join(path, "intensity"),
        )
    if "children" not in table:
        raise FieldError(
            join(path, "children"), "missing; list what this supervisor restarts, like [web, db]"
        )
    here = join(path, "children")
    items = f.sequence(
        table["children"], here, "[web, {supervisor: {children: [db]}}, {ensemble: analytics}]"
    )
    if not items:
        raise FieldError(here, "is empty; a supervisor supervises at least one child")
    children: list[Child] = []
    for i, item in enumerate(items):
        child = c.call(None, join(here, i), _child, item, join(here, i), c)
        if child is not None:
            children.append(child)
    return SupervisorSpec(strategy=strategy, intensity=intensity, children=tuple(children))


def _child(raw: object, path: str, c: Collector) -> Child:
    if isinstance(raw, str):
        return Child(allocation=raw)
    table = f.mapping(raw, path, "an allocation name, {supervisor: {...}} or {ensemble: name}")
    kinds = ("allocation", "supervisor", "ensemble")
    c.known(table, kinds, path)
    given = [k for k in kinds if k in table]
    if len(given) != 1:
        raise FieldError(path, "give exactly one of allocation, supervisor, ensemble")
    key = given[0]
    if key == "supervisor":
        return Child(supervisor=_supervisor(table[key], join(path, key), c))
    value = f.text(table[key], join(path, key))
    return Child(allocation=value) if key == "allocation" else Child(ensemble=value)


def _intensity(raw: object, path: str, c: Collector) -> Intensity:
    table = f.mapping(raw, path, "{restarts: 3, period: 60s}")
    c.known(table, ("restarts", "period"), path)
    restarts = 3
    if "restarts" in table:
        restarts = f.whole(
            table["restarts"], join(path, "restarts"), low=0, high=10000, what="restarts"
        )
    period = 60.0
    if "period" in table:
        period = f.duration(table["period"], join(path, "period"), positive=True)
    return Intensity(restarts=restarts, period=period)


def _sub_ensembles(root: Mapping[str, object], c: Collector, at: str) -> dict[str, Ensemble]:
    path = join(at, "ensembles")
    if "ensembles" not in root:
        return {}
    table = c.guard(
        None,
        lambda: f.mapping(root["ensembles"], path, "{analytics: {allocations: ..., nodes: ...}}"),
        path,
    )
    if table is None:
        return {}
    out: dict[str, Ensemble] = {}
    for name, raw in table.items():
        here = join(path, name)
        c.call("", here, f.name, name, here, "a sub-ensemble name")
        sub = c.call(None, here, _nested, raw, c, here)
        out[name] = sub if sub is not None else Ensemble(allocations={}, nodes={})
    return out


def _nested(raw: object, c: Collector, path: str) -> Ensemble:
    return read_native(raw, c, prefix=path + ".", nested=True)


def _contract(raw: object, path: str, c: Collector) -> ContractTerms:
    table = f.mapping(raw, path, "{currency: NTX, max_price: {cpu: 0.5}, budget: 100}")
    c.known(table, CONTRACT_KEYS, path)
    currency = "NTX"
    if "currency" in table:
        currency = c.guard(
            currency,
            lambda: price_from_user({"currency": table["currency"]}, field=path).currency,
            join(path, "currency"),
        )

    def get(key: str, read: Any) -> Any:
        if key not in table:
            return None
        return c.guard(None, lambda: read(table[key], join(path, key)), join(path, key))

    def price(value: object, here: str) -> Price:
        given = dict(f.mapping(value, here, "{cpu: 0.5, gpu: 2}"))
        given.setdefault("currency", currency)
        priced = price_from_user(given, field=here)
        if priced.currency != currency:
            raise FieldError(
                join(here, "currency"),
                f"{priced.currency} differs from the contract's {currency}; use one currency",
            )
        return priced

    def positive(value: object, here: str) -> float:
        return f.duration(value, here, positive=True)

    termination = None
    if "termination" in table:
        termination = c.guard(
            None,
            lambda: _termination(table["termination"], join(path, "termination"), c),
            join(path, "termination"),
        )
    return ContractTerms(
        currency=currency,
        max_price=get("max_price", price),
        budget=get("budget", lambda v, p: f.number(v, p, positive=True, what="budget")),
        payment_interval=get("payment_interval", positive),
        grace_period=get("grace_period", positive),
        termination_notice=termination,
    )


def _termination(raw: object, path: str, c: Collector) -> float | None:
    table = f.mapping(raw, path, "{notice: 1m}")
    c.known(table, ("notice",), path)
    if "notice" not in table:
        return None
    return f.duration(table["notice"], join(path, "notice"), positive=True)
