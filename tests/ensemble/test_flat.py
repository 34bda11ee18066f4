"""Flattening sub-ensembles (three levels) and the start waves from depends_on."""

from __future__ import annotations

import pytest

from nunet.ensemble import (
    Allocation,
    Child,
    EnsembleError,
    Execution,
    FlatAllocation,
    FlatEnsemble,
    NodeSpec,
    SupervisorSpec,
    flatten,
    load_ensemble,
    read_ensemble,
)
from tests.ensemble.support import EXAMPLES, IMAGE


def job(**extra: object) -> dict[str, object]:
    return {"execution": {"image": IMAGE}, **extra}


THREE_LEVELS = {
    "version": "nunet/v1",
    "name": "top",
    "allocations": {"api": job(type="service", depends_on=["mid.svc", "mid.low.db"])},
    "nodes": {
        "edge": {
            "allocations": ["api"],
            "ports": [{"public": 443, "private": 8443, "allocation": "api"}],
        }
    },
    "edges": [{"between": ["edge", "mid.low.store"], "rtt": "20ms"}],
    "ensembles": {
        "mid": {
            "allocations": {
                "svc": job(type="service", depends_on=["low.db"]),
                "batch": job(depends_on=["svc"]),
            },
            "nodes": {"m1": {"allocations": ["svc"]}, "m2": {"allocations": ["batch"]}},
            "edges": [{"between": ["m1", "m2"], "bandwidth": "1Gbit/s"}],
            "supervisor": {
                "strategy": "rest-for-one",
                "children": [{"ensemble": "low"}, "svc", "batch"],
            },
            "ensembles": {
                "low": {
                    "allocations": {"db": job(type="service")},
                    "nodes": {
                        "store": {
                            "allocations": ["db"],
                            "ports": [{"public": 5432, "private": 5432, "allocation": "db"}],
                        }
                    },
                }
            },
        }
    },
}


def test_three_levels_flatten_into_qualified_names() -> None:
    flat = flatten(load_ensemble(THREE_LEVELS))
    assert list(flat.allocations) == ["api", "mid.svc", "mid.batch", "mid.low.db"]
    assert list(flat.nodes) == ["edge", "mid.m1", "mid.m2", "mid.low.store"]
    assert flat.allocations["mid.low.db"].node == "mid.low.store"
    assert flat.allocations["mid.batch"].depends_on == ("mid.svc",)
    assert flat.allocations["mid.svc"].depends_on == ("mid.low.db",)
    assert flat.allocations["api"].depends_on == ("mid.svc", "mid.low.db")
    assert flat.nodes["mid.low.store"].allocations == ("mid.low.db",)
    assert flat.nodes["mid.low.store"].ports[0].allocation == "mid.low.db"
    assert [e.between for e in flat.edges] == [("edge", "mid.low.store"), ("mid.m1", "mid.m2")]


def test_sub_ensemble_dns_names_become_subdomains() -> None:
    flat = flatten(load_ensemble(THREE_LEVELS))
    assert {n: a.dns_name for n, a in flat.allocations.items()} == {
        "api": "api",
        "mid.svc": "svc.mid",
        "mid.batch": "batch.mid",
        "mid.low.db": "db.low.mid",
    }


def test_sub_ensemble_supervisors_become_subtrees() -> None:
    tree = flatten(load_ensemble(THREE_LEVELS)).supervisor
    api, mid = tree.children
    assert api == Child(allocation="api")
    assert mid.supervisor is not None
    assert mid.supervisor.strategy.value == "rest-for-one"
    low, svc, batch = mid.supervisor.children
    assert low.supervisor is not None
    assert low.supervisor.children == (Child(allocation="mid.low.db"),)
    assert (svc, batch) == (Child(allocation="mid.svc"), Child(allocation="mid.batch"))


def test_start_order_is_topological_waves() -> None:
    flat = flatten(load_ensemble(THREE_LEVELS))
    assert flat.start_order() == [["mid.low.db"], ["mid.svc"], ["api", "mid.batch"]]


def test_independent_allocations_start_together_in_supervisor_order() -> None:
    doc = {
        "version": "nunet/v1",
        "allocations": {"a": job(), "b": job(), "c": job()},
        "nodes": {"n": {"allocations": ["a", "b", "c"]}},
        "supervisor": {"children": ["c", "a", "b"]},
    }
    assert flatten(load_ensemble(doc)).start_order() == [["c", "a", "b"]]


def test_the_nested_example_flattens() -> None:
    flat = flatten(read_ensemble(EXAMPLES / "nested.yaml"))
    assert "analytics.archive.store" in flat.allocations
    assert flat.start_order()[-1] == ["analytics.sink", "report"]


def flat_of(deps: dict[str, tuple[str, ...]]) -> FlatEnsemble:
    allocation = Allocation(execution=Execution(image=IMAGE))
    return FlatEnsemble(
        name="x",
        allocations={
            n: FlatAllocation(name=n, allocation=allocation, node="n", depends_on=d)
            for n, d in deps.items()
        },
        nodes={"n": NodeSpec(allocations=tuple(deps))},
        supervisor=SupervisorSpec(children=tuple(Child(allocation=n) for n in deps)),
    )


def test_start_order_refuses_a_cycle_and_names_it() -> None:
    with pytest.raises(EnsembleError) as caught:
        flat_of({"a": ("b",), "b": ("c",), "c": ("a",), "d": ()}).start_order()
    assert [str(p) for p in caught.value.problems] == [
        "a.depends_on: dependency cycle a -> b -> c -> a; remove one of these depends_on entries"
    ]


def test_start_order_refuses_a_self_dependency() -> None:
    with pytest.raises(EnsembleError, match="dependency cycle a -> a"):
        flat_of({"a": ("a",)}).start_order()


def test_start_order_refuses_an_unknown_dependency() -> None:
    with pytest.raises(EnsembleError) as caught:
        flat_of({"a": ("ghost",)}).start_order()
    assert str(caught.value.problems[0]) == "a.depends_on: unknown allocation 'ghost'"


def test_node_requirement_of_a_flat_node_sums_its_allocations() -> None:
    flat = flatten(load_ensemble(THREE_LEVELS))
    requirement = flat.node_requirement("mid.low.store")
    assert (requirement.cpu, requirement.ram, requirement.public_ports) == (1.0, 256 << 20, 1)


def test_the_contracts_max_price_caps_every_nodes_requirement() -> None:
    priced = {
        **THREE_LEVELS,
        "contract": {"currency": "NTX", "max_price": {"cpu": 0.5, "gpu": 2}, "budget": 10},
    }
    flat = flatten(load_ensemble(priced))
    for node in flat.nodes:
        cap = flat.node_requirement(node).max_price
        assert cap is not None
        assert (cap.currency, cap.cpu, cap.gpu) == ("NTX", 0.5, 2.0)
    assert flatten(load_ensemble(THREE_LEVELS)).node_requirement("edge").max_price is None
