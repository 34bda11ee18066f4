"""Pure: a restarted orchestrator's supervision tree re-attaches to what already ran
(`Supervision.resume`) and starts only the rest, in the tree's order."""

from __future__ import annotations

import pytest

from nunet.ensemble import flatten, parse_ensemble_text
from nunet.orchestrator.allocation_view import AllocationPhase
from nunet.orchestrator.state import AllocationView
from nunet.orchestrator.supervise import Actions, Supervision

CHAIN = """
version: nunet/v1
allocations:
  a: {type: service, execution: {image: x, command: run}}
  b: {type: service, execution: {image: x, command: run}, depends_on: [a]}
  c: {execution: {image: x, command: run}, depends_on: [b]}
nodes:
  n1: {allocations: [a, b, c]}
"""

P = AllocationPhase


def views(a: P, b: P, c: P, *, c_exit: int | None = None) -> dict[str, AllocationView]:
    return {
        "a": AllocationView(node="n1", type="service", state=a, run=int(a is not P.ALLOCATED)),
        "b": AllocationView(node="n1", type="service", state=b, run=int(b is not P.ALLOCATED)),
        "c": AllocationView(
            node="n1", type="task", state=c, run=int(c is not P.ALLOCATED), exit_code=c_exit
        ),
    }


def supervision() -> Supervision:
    return Supervision(flatten(parse_ensemble_text(CHAIN)))


@pytest.mark.parametrize(
    ("found", "started"),
    [
        (views(P.ALLOCATED, P.ALLOCATED, P.ALLOCATED), ("a",)),  # nothing ran: a fresh start
        (views(P.RUNNING, P.ALLOCATED, P.ALLOCATED), ("b",)),
        (views(P.RUNNING, P.RUNNING, P.ALLOCATED), ("c",)),
        (views(P.RUNNING, P.RUNNING, P.EXITED, c_exit=0), ()),
        (views(P.RUNNING, P.STARTING, P.ALLOCATED), ()),  # b is coming up: wait for it
    ],
)
def test_what_ran_is_re_attached_and_only_the_rest_is_started(
    found: dict[str, AllocationView], started: tuple[str, ...]
) -> None:
    tree = supervision()
    assert tree.resume(found, 0.0) == Actions(start=started)
    for name, view in found.items():
        if view.state in (P.RUNNING, P.EXITED):
            assert tree.status(name).value in ("running", "stopped", "exited"), name


@pytest.mark.parametrize("ended", [P.FAILED, P.STOPPED])
def test_what_ended_while_nobody_watched_starts_again_before_what_depends_on_it(
    ended: P,
) -> None:
    tree = supervision()
    assert tree.resume(views(P.RUNNING, ended, P.ALLOCATED), 0.0) == Actions(start=("b",))
    assert tree.observe("b", views(P.RUNNING, P.RUNNING, P.ALLOCATED)["b"], 1.0) == Actions(
        start=("c",)
    )


def test_resuming_a_fresh_deployment_is_starting_it() -> None:
    fresh = views(P.ALLOCATED, P.ALLOCATED, P.ALLOCATED)
    assert supervision().resume(fresh, 0.0) == supervision().start(0.0)
