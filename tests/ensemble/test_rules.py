"""The rules between fields: each test breaks one rule and expects exactly its problem."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ensemble.support import IMAGE, base, problems, put, two_services

T = two_services()


def edit(doc: dict[str, Any], *changes: tuple[str, object]) -> dict[str, Any]:
    for path, value in changes:
        doc = put(doc, path, value)
    return doc


RULES = [
    (
        "an allocation on two nodes",
        edit(T, ("nodes.n2.allocations", ["b", "a"])),
        [
            "nodes.n2.allocations[1]: 'a' is already on node n1; each allocation runs on exactly "
            "one node: remove it from one of them"
        ],
    ),
    (
        "an allocation on no node",
        edit(T, ("nodes", {"n1": {"allocations": ["a"]}})),
        [
            "allocations.b: is on no node; add it to a node's allocations, like "
            "nodes: {n1: {allocations: [b]}}"
        ],
    ),
    (
        "an allocation listed twice on a node",
        edit(T, ("nodes.n1.allocations", ["a", "a"])),
        ["nodes.n1.allocations[1]: 'a' is listed twice on this node; list it once"],
    ),
    (
        "a node naming an unknown allocation",
        edit(T, ("nodes.n1.allocations", ["a", "bb"])),
        ["nodes.n1.allocations[1]: unknown allocation 'bb'; did you mean 'b'?"],
    ),
    (
        "a port of an allocation on another node",
        edit(T, ("nodes.n1.ports", [{"public": 80, "private": 80, "allocation": "b"}])),
        [
            "nodes.n1.ports[0].allocation: 'b' is not hosted by node n1; it runs on node n2: move the port there"
        ],
    ),
    (
        "a port of an unknown allocation",
        edit(T, ("nodes.n1.ports", [{"public": 80, "private": 80, "allocation": "zz"}])),
        ["nodes.n1.ports[0].allocation: 'zz' is not hosted by node n1; name one of a"],
    ),
    (
        "a public port published twice",
        edit(
            T,
            ("nodes.n1.ports", [{"public": 80, "private": 80, "allocation": "a"}]),
            ("nodes.n2.ports", [{"public": 80, "private": 8080, "allocation": "b"}]),
        ),
        [
            "nodes.n2.ports[0].public: 80 is already published by nodes.n1.ports[0]; public ports "
            "are unique in an ensemble: pick another"
        ],
    ),
    (
        "an edge to an unknown node",
        edit(T, ("edges", [{"between": ["n1", "n3"], "rtt": "1ms"}])),
        ["edges[0].between[1]: unknown node 'n3'; known: n1, n2"],
    ),
    (
        "an edge from a node to itself",
        edit(T, ("edges", [{"between": ["n1", "n1"], "rtt": "1ms"}])),
        ["edges[0].between: joins 'n1' to itself; an edge joins two different nodes"],
    ),
    (
        "two edges between one pair",
        edit(
            T,
            (
                "edges",
                [
                    {"between": ["n1", "n2"], "rtt": "1ms"},
                    {"between": ["n2", "n1"], "bandwidth": 5},
                ],
            ),
        ),
        [
            "edges[1].between: n2 and n1 are already joined by edges[0]; give one edge per pair of nodes"
        ],
    ),
    (
        "a dependency on an unknown allocation",
        edit(T, ("allocations.a.depends_on", ["c"])),
        ["allocations.a.depends_on[0]: unknown allocation 'c'; known: a, b"],
    ),
    (
        "a dependency on itself",
        edit(T, ("allocations.a.depends_on", ["a"])),
        ["allocations.a.depends_on[0]: 'a' depends on itself; remove it"],
    ),
    (
        "a dependency listed twice",
        edit(T, ("allocations.a.depends_on", ["b", "b"])),
        ["allocations.a.depends_on: 'b' is listed twice"],
    ),
    (
        "a dependency cycle",
        edit(T, ("allocations.a.depends_on", ["b"]), ("allocations.b.depends_on", ["a"])),
        [
            "allocations.a.depends_on: dependency cycle a -> b -> a; remove one of these depends_on entries"
        ],
    ),
    (
        "a health check on a task",
        edit(T, ("allocations.a.type", "task"), ("allocations.a.healthcheck", {"exec": "true"})),
        [
            "allocations.a.healthcheck: is for services; a task is done when it exits: remove it or set type: service"
        ],
    ),
    (
        "a task that always restarts",
        edit(T, ("allocations.a.type", "task"), ("allocations.a.restart", "always")),
        [
            "allocations.a.restart: always restarts a task that would then never complete; use "
            "on-failure, or set type: service"
        ],
    ),
    (
        "two allocations with one DNS name",
        edit(T, ("allocations.a.dns_name", "b")),
        ["allocations.b.dns_name: 'b' is already the DNS name of a; give each allocation its own"],
    ),
    (
        "an allocation left out of the supervisor",
        edit(T, ("supervisor", {"children": ["a"]})),
        ["supervisor: allocation 'b' is in no supervisor; add it to a children list"],
    ),
    (
        "an allocation supervised twice",
        edit(T, ("supervisor", {"children": ["a", {"supervisor": {"children": ["b", "a"]}}]})),
        [
            "supervisor.children[1].supervisor.children[1]: allocation 'a' is already supervised "
            "at supervisor.children[0]; each child appears once in the tree"
        ],
    ),
    (
        "an unknown supervisor child",
        edit(T, ("supervisor", {"children": ["a", "b", {"allocation": "c"}]})),
        ["supervisor.children[2]: unknown allocation 'c'; known: a, b"],
    ),
    (
        "an unknown sub-ensemble child",
        edit(T, ("supervisor", {"children": ["a", "b", {"ensemble": "x"}]})),
        ["supervisor.children[2].ensemble: unknown ensemble 'x'"],
    ),
    (
        "a sub-ensemble left out of the supervisor",
        edit(
            T,
            (
                "ensembles",
                {
                    "sub": {
                        "allocations": {"w": {"execution": {"image": IMAGE}}},
                        "nodes": {"m": {"allocations": ["w"]}},
                    }
                },
            ),
            ("supervisor", {"children": ["a", "b"]}),
        ),
        [
            "supervisor: sub-ensemble 'sub' is in no supervisor; add {ensemble: sub} to a children list"
        ],
    ),
    (
        "an accepted location inside a rejected one",
        edit(T, ("nodes.n1.location", {"accept": ["EU/DE"], "reject": ["EU"]})),
        [
            "nodes.n1.location.accept[0]: EU/DE lies inside the rejected EU (location.reject[0]); it could never match"
        ],
    ),
    (
        "a rejection of everywhere",
        edit(T, ("nodes.n1.location", {"reject": ["*"]})),
        ["nodes.n1.location.reject[0]: rejects every location; name what to reject"],
    ),
    (
        "a pinned peer that require rejects",
        edit(
            T,
            ("nodes.n1.peer", "did:key:z1"),
            ("nodes.n1.require", {"reject_peers": ["did:key:z1"]}),
        ),
        ["nodes.n1.peer: did:key:z1 is also rejected in require; keep it in one place"],
    ),
    (
        "a node requirement that contradicts itself",
        edit(T, ("nodes.n1.require", {"benchmarks": {"network_rtt": 1}})),
        ["nodes.n1.require.benchmarks.network_rtt: not a benchmark; use one of cpu_single"],
    ),
]


@pytest.mark.parametrize(("rule", "doc", "expected"), RULES, ids=[r for r, _, _ in RULES])
def test_each_rule_reports_exactly_its_problem(
    rule: str, doc: dict[str, Any], expected: list[str]
) -> None:
    found = problems(doc)
    assert len(found) == len(expected), found
    for line, wanted in zip(found, expected, strict=True):
        assert line.startswith(wanted), line


def test_the_two_service_document_breaks_no_rule() -> None:
    assert problems(T) == []


def test_a_longer_cycle_is_named_once_from_its_first_allocation() -> None:
    doc = base()
    doc["allocations"] = {name: {"execution": {"image": IMAGE}} for name in "abcd"}
    doc["nodes"] = {"n1": {"allocations": list("abcd")}}
    doc = edit(
        doc,
        ("allocations.b.depends_on", ["c"]),
        ("allocations.c.depends_on", ["d"]),
        ("allocations.d.depends_on", ["b"]),
        ("allocations.a.depends_on", ["b"]),
    )
    assert problems(doc) == [
        "allocations.b.depends_on: dependency cycle b -> c -> d -> b; remove one of these "
        "depends_on entries"
    ]


def test_a_cycle_inside_a_sub_ensemble_is_named_at_its_path() -> None:
    sub = {
        "allocations": {
            "x": {"depends_on": ["y"], "execution": {"image": IMAGE}},
            "y": {"depends_on": ["x"], "execution": {"image": IMAGE}},
        },
        "nodes": {"m": {"allocations": ["x", "y"]}},
    }
    doc = edit(base(), ("ensembles", {"sub": sub}))
    assert problems(doc) == [
        "ensembles.sub.allocations.x.depends_on: dependency cycle sub.x -> sub.y -> sub.x; "
        "remove one of these depends_on entries"
    ]


def test_names_inside_a_sub_ensemble_are_scoped_to_it() -> None:
    sub = {
        "allocations": {"x": {"depends_on": ["a"], "execution": {"image": IMAGE}}},
        "nodes": {"m": {"allocations": ["x"]}},
        "edges": [{"between": ["m", "n1"], "rtt": "1ms"}],
    }
    found = problems(edit(base(), ("ensembles", {"sub": sub})))
    assert found == [
        "ensembles.sub.edges[0].between[1]: unknown node 'n1'; known: m",
        "ensembles.sub.allocations.x.depends_on[0]: unknown allocation 'a'; known: x",
    ]


def test_a_parent_may_name_sub_ensemble_allocations_and_nodes() -> None:
    sub = {
        "allocations": {"x": {"execution": {"image": IMAGE}}},
        "nodes": {"m": {"allocations": ["x"]}},
    }
    doc = edit(
        base(),
        ("ensembles", {"sub": sub}),
        ("allocations.a.depends_on", ["sub.x"]),
        ("edges", [{"between": ["n1", "sub.m"], "bandwidth": "1Gbit/s"}]),
    )
    assert problems(doc) == []
    assert problems(put(doc, "allocations.a.depends_on", ["sub.z"])) == [
        "allocations.a.depends_on[0]: unknown allocation 'sub.z'; did you mean 'sub.x'?"
    ]


def test_a_broken_field_is_not_blamed_again_by_the_rules() -> None:
    # The type is wrong; the health check rule must not also fire on the default `task`.
    doc = edit(T, ("allocations.a.type", "job"), ("allocations.a.healthcheck", {"exec": "true"}))
    assert problems(doc) == ["allocations.a.type: 'job' is not a type; use one of task, service"]


def test_a_broken_node_does_not_leave_its_allocations_homeless() -> None:
    assert problems(put(T, "nodes.n1", "x")) == [
        'nodes.n1: "x" is not a mapping; write it like {allocations: [web]}'
    ]


def test_sub_ensemble_rules_are_checked_at_every_depth() -> None:
    deep = {
        "allocations": {"z": {"type": "task", "restart": "always", "execution": {"image": IMAGE}}},
        "nodes": {"q": {"allocations": ["z"]}},
    }
    mid = {
        "allocations": {"y": {"execution": {"image": IMAGE}}},
        "nodes": {"p": {"allocations": ["y"]}},
        "ensembles": {"deep": deep},
    }
    found = problems(edit(base(), ("ensembles", {"mid": mid})))
    assert found == [
        "ensembles.mid.ensembles.deep.allocations.z.restart: always restarts a task that would "
        "then never complete; use on-failure, or set type: service"
    ]
