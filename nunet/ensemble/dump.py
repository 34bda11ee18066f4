"""An Ensemble written back as a native document (plain dicts and lists, YAML/JSON ready).

Units are written exactly (`1.5GiB`, `1h30m`, `100Mbit/s`) and defaults are left out, so the
document is short and `load_ensemble(dump_ensemble(e)) == e` holds for every loaded ensemble.
"""

from __future__ import annotations

from typing import Any

import msgspec

from nunet.capability.location import LOCATION_FIELDS
from nunet.capability.model import GpuNeed, LocationRule, Price, Requirement
from nunet.capability.parse import location_rule_from_user
from nunet.capability.units import format_size
from nunet.ensemble.durations import format_duration
from nunet.ensemble.model import (
    Allocation,
    AllocationResources,
    AllocationType,
    ContractTerms,
    Edge,
    Ensemble,
    HealthCheck,
    NodeSpec,
    Restart,
    SupervisorSpec,
    Timeouts,
)
from nunet.ensemble.reader import NATIVE_VERSION, default_supervisor

_BANDWIDTH = (("Tbit/s", 10**12), ("Gbit/s", 10**9), ("Mbit/s", 10**6), ("kbit/s", 10**3))


def dump_ensemble(ensemble: Ensemble) -> dict[str, Any]:
    """The native document of `ensemble` (top level: with `version`)."""
    return {"version": NATIVE_VERSION, **_ensemble(ensemble)}


def _ensemble(e: Ensemble) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": e.name}
    if e.labels:
        doc["labels"] = dict(e.labels)
    if e.metadata:
        doc["metadata"] = e.metadata
    doc["allocations"] = {name: _allocation(name, a) for name, a in e.allocations.items()}
    doc["nodes"] = {name: _node(n) for name, n in e.nodes.items()}
    if e.edges:
        doc["edges"] = [_edge(edge) for edge in e.edges]
    if e.supervisor != default_supervisor(e.allocations, e.ensembles):
        doc["supervisor"] = _supervisor(e.supervisor)
    if e.ensembles:
        doc["ensembles"] = {name: _ensemble(sub) for name, sub in e.ensembles.items()}
    if e.contract is not None:
        doc["contract"] = _contract(e.contract)
    return doc


def _allocation(name: str, a: Allocation) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if a.type is not AllocationType.TASK:
        doc["type"] = a.type.value
    if a.executor != "docker":
        doc["executor"] = a.executor
    if a.resources != AllocationResources():
        doc["resources"] = _resources(a.resources)
    execution: dict[str, Any] = {"image": a.execution.image}
    if a.execution.command:
        execution["command"] = list(a.execution.command)
    if a.execution.entrypoint:
        execution["entrypoint"] = list(a.execution.entrypoint)
    if a.execution.env:
        execution["env"] = dict(a.execution.env)
    if a.execution.working_dir:
        execution["working_dir"] = a.execution.working_dir
    doc["execution"] = execution
    if a.inputs:
        doc["inputs"] = [_without_empty(msgspec.to_builtins(i)) for i in a.inputs]
    if a.outputs:
        doc["outputs"] = [msgspec.to_builtins(o) for o in a.outputs]
    if a.healthcheck is not None:
        doc["healthcheck"] = _healthcheck(a.healthcheck)
    if a.dns_name != name:
        doc["dns_name"] = a.dns_name
    if a.keys:
        doc["keys"] = list(a.keys)
    if a.provision:
        doc["provision"] = list(a.provision)
    default_restart = Restart.ALWAYS if a.type is AllocationType.SERVICE else Restart.NEVER
    if a.restart is not default_restart:
        doc["restart"] = a.restart.value
    if a.timeouts != Timeouts():
        doc["timeouts"] = {
            "start": format_duration(a.timeouts.start),
            "run": format_duration(a.timeouts.run),
        }
    if a.depends_on:
        doc["depends_on"] = list(a.depends_on)
    if a.privileged:
        doc["privileged"] = True
    return doc


def _resources(r: AllocationResources) -> dict[str, Any]:
    doc: dict[str, Any] = {"cpu": r.cpu, "ram": format_size(r.ram), "disk": format_size(r.disk)}
    if r.gpus:
        if all(g == GpuNeed() for g in r.gpus):
            doc["gpus"] = len(r.gpus)
        else:
            doc["gpus"] = [_gpu(g) for g in r.gpus]
    return doc


def _gpu(g: GpuNeed) -> dict[str, Any]:
    doc = _without_empty(msgspec.to_builtins(g))
    if g.vram:
        doc["vram"] = format_size(g.vram)
    return doc


def _healthcheck(h: HealthCheck) -> dict[str, Any]:
    return {
        "exec": list(h.exec),
        "interval": format_duration(h.interval),
        "timeout": format_duration(h.timeout),
        "retries": h.retries,
        "start_period": format_duration(h.start_period),
    }


def _node(n: NodeSpec) -> dict[str, Any]:
    doc: dict[str, Any] = {"allocations": list(n.allocations)}
    if n.ports:
        doc["ports"] = [msgspec.to_builtins(p) for p in n.ports]
    if n.accept_locations or n.reject_locations:
        location: dict[str, Any] = {}
        if n.accept_locations:
            location["accept"] = [location_text(r) for r in n.accept_locations]
        if n.reject_locations:
            location["reject"] = [location_text(r) for r in n.reject_locations]
        doc["location"] = location
    if n.peer:
        doc["peer"] = n.peer
    if n.redundancy:
        doc["redundancy"] = n.redundancy
    if n.require != Requirement():
        doc["require"] = requirement_document(n.require)
    return doc


def location_text(rule: LocationRule) -> str | dict[str, Any]:
    """`EU/DE/Berlin AS3320` when that reads back as the same rule, else the mapping form."""
    parts = [rule.continent, rule.country, rule.city]
    while parts and not parts[-1]:
        parts.pop()
    text = "/".join(p or "*" for p in parts)
    if rule.asn:
        text = f"{text} AS{rule.asn}".strip()
    try:
        if text and location_rule_from_user(text) == rule:
            return text
    except ValueError:
        pass
    return {k: getattr(rule, k) for k in LOCATION_FIELDS if getattr(rule, k)}


def requirement_document(req: Requirement) -> dict[str, Any]:
    """A Requirement as the mapping `requirement_from_user` reads back, defaults left out."""
    doc: dict[str, Any] = {}
    default = Requirement()
    for field in req.__struct_fields__:
        value = getattr(req, field)
        if value == getattr(default, field):
            continue
        if field in ("accept_locations", "reject_locations"):
            doc[field] = [location_text(r) for r in value]
        elif field == "gpus":
            doc[field] = [_gpu(g) for g in value]
        elif field == "max_price":
            doc[field] = _price(value)
        elif field == "prefer":
            doc[field] = [msgspec.to_builtins(p) for p in value]
        else:
            doc[field] = msgspec.to_builtins(value)
    return doc


def _price(price: Price) -> dict[str, Any]:
    return msgspec.to_builtins(price)  # type: ignore[no-any-return]


def _edge(edge: Edge) -> dict[str, Any]:
    doc: dict[str, Any] = {"between": list(edge.between)}
    if edge.rtt:
        doc["rtt"] = format_duration(edge.rtt)
    if edge.bandwidth:
        doc["bandwidth"] = bandwidth_text(edge.bandwidth)
    return doc


def bandwidth_text(bits_per_second: int) -> str:
    """The largest unit that says it exactly: 100000000 → `100Mbit/s`, 1500 → `1500bit/s`."""
    for unit, scale in _BANDWIDTH:
        if bits_per_second % scale == 0:
            return f"{bits_per_second // scale}{unit}"
    return f"{bits_per_second}bit/s"


def _supervisor(s: SupervisorSpec) -> dict[str, Any]:
    children: list[Any] = []
    for child in s.children:
        if child.supervisor is not None:
            children.append({"supervisor": _supervisor(child.supervisor)})
        elif child.ensemble:
            children.append({"ensemble": child.ensemble})
        else:
            children.append(child.allocation)
    return {
        "strategy": s.strategy.value,
        "intensity": {
            "restarts": s.intensity.restarts,
            "period": format_duration(s.intensity.period),
        },
        "children": children,
    }


def _contract(terms: ContractTerms) -> dict[str, Any]:
    doc: dict[str, Any] = {"currency": terms.currency}
    if terms.max_price is not None:
        doc["max_price"] = _price(terms.max_price)
    if terms.budget is not None:
        doc["budget"] = terms.budget
    for key in ("payment_interval", "grace_period"):
        value = getattr(terms, key)
        if value is not None:
            doc[key] = format_duration(value)
    if terms.termination_notice is not None:
        doc["termination"] = {"notice": format_duration(terms.termination_notice)}
    return doc


def _without_empty(doc: Any) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if v not in ("", 0, None)}
