"""Sub-ensembles flattened into one level: what the orchestrator places and starts.

An allocation `worker` of the sub-ensemble `analytics` becomes `analytics.worker` (any depth:
`a.b.worker`); its node, edges and dependencies are renamed the same way, and the sub-ensemble's
supervisor tree becomes the subtree where the parent named it. `start_order` turns the
dependencies into waves that can start together.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import msgspec

from nunet.capability.model import Requirement
from nunet.ensemble.errors import EnsembleError, Problem
from nunet.ensemble.model import (
    Allocation,
    Child,
    ContractTerms,
    Edge,
    Ensemble,
    NodeSpec,
    PortMap,
    SupervisorSpec,
)


class FlatAllocation(msgspec.Struct, frozen=True, kw_only=True):
    """One allocation under its qualified name, with its node and dependencies qualified too."""

    name: str  # qualified: `web`, `analytics.worker`
    allocation: Allocation
    node: str  # qualified node name
    depends_on: tuple[str, ...] = ()  # qualified allocation names
    dns_name: str = ""  # `web`, `worker.analytics`: the sub-ensemble path as DNS subdomains


class FlatEnsemble(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    allocations: dict[str, FlatAllocation]
    nodes: dict[str, NodeSpec]  # qualified names; allocations and ports name qualified allocations
    edges: tuple[Edge, ...] = ()
    supervisor: SupervisorSpec = SupervisorSpec()  # allocation children qualified, no ensembles
    labels: dict[str, str] = {}
    metadata: dict[str, object] = {}
    contract: ContractTerms | None = None

    def start_order(self) -> list[list[str]]:
        """Waves of qualified allocation names: each wave depends only on earlier ones; inside a
        wave, the supervisor tree's order. A dependency cycle is an EnsembleError naming it."""
        graph = {name: flat.depends_on for name, flat in self.allocations.items()}
        unknown = [
            Problem(path=f"{name}.depends_on", message=f"unknown allocation {dep!r}")
            for name, deps in graph.items()
            for dep in deps
            if dep not in graph
        ]
        if unknown:
            raise EnsembleError(unknown)
        cycles = find_cycles(graph)
        if cycles:
            raise EnsembleError(
                Problem(path=f"{cycle[0]}.depends_on", message=describe_cycle(cycle))
                for cycle in cycles
            )
        rank = {name: i for i, name in enumerate(supervised_allocations(self.supervisor))}
        placed: set[str] = set()
        waves: list[list[str]] = []
        while len(placed) < len(graph):
            wave = [n for n in graph if n not in placed and all(d in placed for d in graph[n])]
            wave.sort(key=lambda n: (rank.get(n, len(rank)), n))
            waves.append(wave)
            placed.update(wave)
        return waves

    def node_requirement(self, node: str) -> Requirement:
        """What the machine for `node` must offer (see NodeSpec.requirement); the contract's
        `max_price` caps its price where the node's own constraints do not."""
        spec = self.nodes[node]
        hosted = {name: self.allocations[name].allocation for name in spec.allocations}
        requirement = spec.requirement(hosted)
        cap = None if self.contract is None else self.contract.max_price
        if cap is not None and requirement.max_price is None:
            requirement = msgspec.structs.replace(requirement, max_price=cap)
        return requirement


def flatten(ensemble: Ensemble) -> FlatEnsemble:
    """The one-level view of a (validated) ensemble and all its sub-ensembles."""
    allocations: dict[str, FlatAllocation] = {}
    nodes: dict[str, NodeSpec] = {}
    edges: list[Edge] = []
    _collect(ensemble, "", allocations, nodes, edges)
    return FlatEnsemble(
        name=ensemble.name,
        allocations=allocations,
        nodes=nodes,
        edges=tuple(edges),
        supervisor=_tree(ensemble.supervisor, ensemble, ""),
        labels=dict(ensemble.labels),
        metadata=dict(ensemble.metadata),
        contract=ensemble.contract,
    )


def _collect(
    ensemble: Ensemble,
    prefix: str,
    allocations: dict[str, FlatAllocation],
    nodes: dict[str, NodeSpec],
    edges: list[Edge],
) -> None:
    host = {a: node for node, spec in ensemble.nodes.items() for a in spec.allocations}
    domain = ".".join(reversed(prefix.rstrip(".").split("."))) if prefix else ""
    for name, allocation in ensemble.allocations.items():
        allocations[prefix + name] = FlatAllocation(
            name=prefix + name,
            allocation=allocation,
            node=prefix + host.get(name, ""),
            depends_on=tuple(prefix + dep for dep in allocation.depends_on),
            dns_name=f"{allocation.dns_name}.{domain}" if domain else allocation.dns_name,
        )
    for node, spec in ensemble.nodes.items():
        nodes[prefix + node] = msgspec.structs.replace(
            spec,
            allocations=tuple(prefix + a for a in spec.allocations),
            ports=tuple(
                PortMap(public=p.public, private=p.private, allocation=prefix + p.allocation)
                for p in spec.ports
            ),
        )
    for edge in ensemble.edges:
        a, b = edge.between
        edges.append(msgspec.structs.replace(edge, between=(prefix + a, prefix + b)))
    for sub_name, sub in ensemble.ensembles.items():
        _collect(sub, f"{prefix}{sub_name}.", allocations, nodes, edges)


def _tree(spec: SupervisorSpec, ensemble: Ensemble, prefix: str) -> SupervisorSpec:
    children: list[Child] = []
    for child in spec.children:
        if child.supervisor is not None:
            children.append(Child(supervisor=_tree(child.supervisor, ensemble, prefix)))
        elif child.ensemble:
            sub = ensemble.ensembles[child.ensemble]
            subtree = _tree(sub.supervisor, sub, f"{prefix}{child.ensemble}.")
            children.append(Child(supervisor=subtree))
        else:
            children.append(Child(allocation=prefix + child.allocation))
    return msgspec.structs.replace(spec, children=tuple(children))


def supervised_allocations(spec: SupervisorSpec) -> Iterator[str]:
    """The allocation children of a tree, depth first, in order."""
    for child in spec.children:
        if child.supervisor is not None:
            yield from supervised_allocations(child.supervisor)
        elif child.allocation:
            yield child.allocation


def find_cycles(graph: Mapping[str, tuple[str, ...]]) -> list[list[str]]:
    """Each dependency cycle once, as the names along it starting at its first-declared name
    (`[a, b]` for a -> b -> a). Names missing from `graph` are ignored."""
    order = {name: i for i, name in enumerate(graph)}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []
    found: dict[frozenset[str], list[str]] = {}

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for dep in graph[name]:
            if dep not in graph:
                continue
            if state.get(dep) == 1:
                cycle = path[path.index(dep) :]
                start = min(range(len(cycle)), key=lambda i: order[cycle[i]])
                found.setdefault(frozenset(cycle), cycle[start:] + cycle[:start])
            elif dep not in state:
                visit(dep)
        path.pop()
        state[name] = 2

    for name in graph:
        if name not in state:
            visit(name)
    return list(found.values())


def describe_cycle(cycle: list[str]) -> str:
    loop = " -> ".join([*cycle, cycle[0]])
    return f"dependency cycle {loop}; remove one of these depends_on entries"
