"""The rules between fields: placement, ports, edges, dependencies, supervision, lifecycles.

Each rule records a Problem at the path of the field that breaks it; every rule runs, so one
validation reports them all. Sub-ensembles are checked on their own (their names are scoped to
them); a parent may name `sub.allocation` in depends_on and `sub.node` in edges.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import msgspec

from nunet.capability.errors import CapabilityError
from nunet.capability.location import describe_location, rule_within
from nunet.capability.model import LocationRule
from nunet.capability.parse import validate_requirement
from nunet.ensemble.fields import Collector, join, suggest
from nunet.ensemble.flat import describe_cycle, find_cycles
from nunet.ensemble.model import AllocationType, Child, Ensemble, Restart
from nunet.executor.spec import nesting


def check(ensemble: Ensemble, c: Collector) -> None:
    """Every cross-field rule over the whole tree, then dependency cycles across it."""
    _check_level(ensemble, c, "")
    graph: dict[str, tuple[str, ...]] = {}
    paths: dict[str, str] = {}
    _dependency_graph(ensemble, "", "", graph, paths)
    for cycle in find_cycles(graph):
        if len(cycle) == 1:
            continue  # depending on itself is reported where it is written
        c.add(paths[cycle[0]], describe_cycle(cycle))


def _check_level(e: Ensemble, c: Collector, at: str) -> None:
    _placement(e, c, at)
    _ports(e, c, at)
    _edges(e, c, at)
    _lifecycles(e, c, at)
    _dependencies(e, c, at)
    _supervision(e, c, at)
    _node_constraints(e, c, at)
    _mounts(e, c, at)
    for name, sub in e.ensembles.items():
        _check_level(sub, c, join(at, f"ensembles.{name}"))


def _placement(e: Ensemble, c: Collector, at: str) -> None:
    host: dict[str, str] = {}
    for node, spec in e.nodes.items():
        seen: set[str] = set()
        for i, name in enumerate(spec.allocations):
            path = join(at, f"nodes.{node}.allocations[{i}]")
            if name not in e.allocations:
                c.add(path, f"unknown allocation {name!r}{_near(name, e.allocations)}")
            elif name in seen:
                c.add(path, f"{name!r} is listed twice on this node; list it once")
            elif name in host:
                c.add(
                    path,
                    f"{name!r} is already on node {host[name]}; each allocation runs on "
                    "exactly one node: remove it from one of them",
                )
            else:
                host[name] = node
            seen.add(name)
    for name in e.allocations:
        if name not in host:
            c.add(
                join(at, f"allocations.{name}"),
                "is on no node; add it to a node's allocations, like "
                f"nodes: {{n1: {{allocations: [{name}]}}}}",
            )


def _mounts(e: Ensemble, c: Collector, at: str) -> None:
    """An allocation's input targets and output paths are distinct and none lies inside
    another (each is a mount of its own)."""
    for name, allocation in e.allocations.items():
        places = [(f"inputs[{i}].target", d.target) for i, d in enumerate(allocation.inputs)]
        places += [(f"outputs[{i}].path", d.path) for i, d in enumerate(allocation.outputs)]
        for i, (field, where) in enumerate(places):
            for other_field, other in places[:i]:
                if nesting(where, other):
                    c.add(
                        join(at, f"allocations.{name}.{field}"),
                        f"{where} overlaps {other} ({other_field}); every input and output is "
                        "mounted on its own: give each a separate path",
                    )


def _ports(e: Ensemble, c: Collector, at: str) -> None:
    published: dict[int, str] = {}
    for node, spec in e.nodes.items():
        for i, port in enumerate(spec.ports):
            path = join(at, f"nodes.{node}.ports[{i}]")
            if port.allocation not in spec.allocations:
                where = [n for n, s in e.nodes.items() if port.allocation in s.allocations]
                hint = (
                    f"it runs on node {where[0]}: move the port there"
                    if where
                    else f"name one of {', '.join(spec.allocations) or 'its allocations'}"
                )
                c.add(
                    f"{path}.allocation",
                    f"{port.allocation!r} is not hosted by node {node}; {hint}",
                )
            if port.public in published:
                c.add(
                    f"{path}.public",
                    f"{port.public} is already published by {published[port.public]}; "
                    "public ports are unique in an ensemble: pick another",
                )
            else:
                published[port.public] = path


def _edges(e: Ensemble, c: Collector, at: str) -> None:
    known = set(_qualified_nodes(e))
    pairs: dict[frozenset[str], int] = {}
    for i, edge in enumerate(e.edges):
        path = join(at, f"edges[{i}].between")
        a, b = edge.between
        bad = False
        for j, node in enumerate(edge.between):
            if node not in known:
                c.add(f"{path}[{j}]", f"unknown node {node!r}{_near(node, known)}")
                bad = True
        if a == b:
            c.add(path, f"joins {a!r} to itself; an edge joins two different nodes")
        elif not bad:
            pair = frozenset(edge.between)
            if pair in pairs:
                c.add(
                    path,
                    f"{a} and {b} are already joined by edges[{pairs[pair]}]; "
                    "give one edge per pair of nodes",
                )
            else:
                pairs[pair] = i


def _lifecycles(e: Ensemble, c: Collector, at: str) -> None:
    names: dict[str, str] = {}
    for name, allocation in e.allocations.items():
        path = join(at, f"allocations.{name}")
        task = allocation.type is AllocationType.TASK
        if task and allocation.healthcheck is not None:
            c.add(
                f"{path}.healthcheck",
                "is for services; a task is done when it exits: remove it or set type: service",
            )
        if task and allocation.restart is Restart.ALWAYS:
            c.add(
                f"{path}.restart",
                "always restarts a task that would then never complete; use on-failure, or "
                "set type: service",
            )
        if allocation.dns_name in names:
            c.add(
                f"{path}.dns_name",
                f"{allocation.dns_name!r} is already the DNS name of {names[allocation.dns_name]}; "
                "give each allocation its own",
            )
        else:
            names[allocation.dns_name] = name


def _dependencies(e: Ensemble, c: Collector, at: str) -> None:
    known = set(_qualified_allocations(e))
    for name, allocation in e.allocations.items():
        for i, dep in enumerate(allocation.depends_on):
            path = join(at, f"allocations.{name}.depends_on[{i}]")
            if dep == name:
                c.add(path, f"{name!r} depends on itself; remove it")
            elif dep not in known:
                c.add(path, f"unknown allocation {dep!r}{_near(dep, known)}")
        repeated = [d for d, n in Counter(allocation.depends_on).items() if n > 1]
        for dep in repeated:
            c.add(join(at, f"allocations.{name}.depends_on"), f"{dep!r} is listed twice")


def _supervision(e: Ensemble, c: Collector, at: str) -> None:
    seen: dict[tuple[str, str], str] = {}

    def walk(children: tuple[Child, ...], path: str) -> None:
        for i, raw in enumerate(children):
            here = f"{path}.children[{i}]"
            if raw.supervisor is not None:
                walk(raw.supervisor.children, f"{here}.supervisor")
                continue
            kind, name = (
                ("ensemble", raw.ensemble) if raw.ensemble else ("allocation", raw.allocation)
            )
            table = e.ensembles if kind == "ensemble" else e.allocations
            where = f"{here}.ensemble" if kind == "ensemble" else here
            if name not in table:
                c.add(where, f"unknown {kind} {name!r}{_near(name, table)}")
            elif (kind, name) in seen:
                c.add(
                    where,
                    f"{kind} {name!r} is already supervised at {seen[(kind, name)]}; "
                    "each child appears once in the tree",
                )
            else:
                seen[(kind, name)] = where

    walk(e.supervisor.children, join(at, "supervisor"))
    for name in e.allocations:
        if ("allocation", name) not in seen:
            c.add(
                join(at, "supervisor"),
                f"allocation {name!r} is in no supervisor; add it to a children list",
            )
    for name in e.ensembles:
        if ("ensemble", name) not in seen:
            c.add(
                join(at, "supervisor"),
                f"sub-ensemble {name!r} is in no supervisor; add {{ensemble: {name}}} to a "
                "children list",
            )


def _node_constraints(e: Ensemble, c: Collector, at: str) -> None:
    for node, spec in e.nodes.items():
        path = join(at, f"nodes.{node}")
        for i, rejected in enumerate(spec.reject_locations):
            if rule_within(LocationRule(), rejected):
                c.add(f"{path}.location.reject[{i}]", "rejects every location; name what to reject")
            for j, accepted in enumerate(spec.accept_locations):
                if rule_within(accepted, rejected):
                    c.add(
                        f"{path}.location.accept[{j}]",
                        f"{describe_location(accepted)} lies inside the rejected "
                        f"{describe_location(rejected)} (location.reject[{i}]); it could never match",
                    )
        if spec.peer and spec.peer in spec.require.reject_peers:
            c.add(f"{path}.peer", f"{spec.peer} is also rejected in require; keep it in one place")
        hosted = {a: e.allocations[a] for a in spec.allocations if a in e.allocations}
        if len(hosted) != len(spec.allocations):
            continue  # placement already reported the unknown names
        # Locations and the peer were checked above, under the paths the document uses.
        combined = msgspec.structs.replace(
            spec.requirement(hosted), accept_locations=(), reject_locations=(), accept_peers=()
        )
        try:
            validate_requirement(combined, field=f"{path}.require")
        except CapabilityError as error:
            head, _, rest = str(error).partition(": ")
            c.add(head, rest)


def _dependency_graph(
    e: Ensemble, prefix: str, at: str, graph: dict[str, tuple[str, ...]], paths: dict[str, str]
) -> None:
    for name, allocation in e.allocations.items():
        graph[prefix + name] = tuple(prefix + dep for dep in allocation.depends_on)
        paths[prefix + name] = join(at, f"allocations.{name}.depends_on")
    for sub_name, sub in e.ensembles.items():
        _dependency_graph(
            sub, f"{prefix}{sub_name}.", join(at, f"ensembles.{sub_name}"), graph, paths
        )


def _qualified_allocations(e: Ensemble, prefix: str = "") -> list[str]:
    names = [prefix + name for name in e.allocations]
    for sub_name, sub in e.ensembles.items():
        names += _qualified_allocations(sub, f"{prefix}{sub_name}.")
    return names


def _qualified_nodes(e: Ensemble, prefix: str = "") -> list[str]:
    names = [prefix + name for name in e.nodes]
    for sub_name, sub in e.ensembles.items():
        names += _qualified_nodes(sub, f"{prefix}{sub_name}.")
    return names


def _near(name: str, known: Iterable[str]) -> str:
    choices = list(known)
    hint = suggest(name, choices)
    if "did you mean" in hint:
        return hint
    return f"; known: {', '.join(sorted(choices))}" if choices else ""
