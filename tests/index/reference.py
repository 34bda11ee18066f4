"""What the index must answer, computed the plain way: `check` and the scalar scores per entry."""

from __future__ import annotations

from collections import Counter

from nunet.capability import Requirement, check, preference_score
from nunet.index import CapabilityIndex, IndexEntry, ask_cost, headroom


def expected_answer(
    entries: dict[str, IndexEntry], requirement: Requirement, limit: int
) -> tuple[list[str], dict[str, int], int]:
    """(the best `limit` DIDs in order, excluded counts, how many fit)."""
    excluded: Counter[str] = Counter()
    fitting = []
    for did, entry in entries.items():
        if not entry.up:
            excluded["down"] += 1
            continue
        fit = check(entry.capability, entry.free, requirement, did=did)
        if fit.ok:
            score = preference_score(entry.capability, entry.free, requirement)
            room = headroom(entry.free, requirement)
            cost = ask_cost(entry.capability.price, requirement)
            fitting.append(((-score, -room, cost, did), did))
        else:
            excluded[fit.unmet[0].constraint] += 1
    fitting.sort()
    return [did for _, did in fitting[:limit]], dict(excluded), len(fitting)


def assert_answers_as_check(index: CapabilityIndex, requirement: Requirement, limit: int) -> None:
    answer = index.query(requirement, limit=limit)
    entries = index.entries()
    best, excluded, matched = expected_answer(entries, requirement, limit)
    assert [c.did for c in answer.candidates] == best
    assert answer.excluded == excluded
    assert answer.matched == matched
    assert answer.considered == len(entries) == matched + sum(excluded.values())
    for candidate in answer.candidates:
        entry = entries[candidate.did]
        fit = check(entry.capability, entry.free, requirement, did=candidate.did)
        assert candidate.gpus == fit.gpus
        assert candidate.score == preference_score(entry.capability, entry.free, requirement)
        assert (candidate.capability, candidate.free) == (entry.capability, entry.free)
