"""Answering a requirement: vectorised filters in `CONSTRAINTS` order, then a top-k rank.

Each constraint becomes a boolean mask over the slots with exactly `check`'s semantics (case
folding, architecture aliases, location rules, price caps where 0 means none, ...); applying
them in order over the entries still in the running counts each excluded entry under the first
constraint it fails, as `check(...).unmet[0]` names it. Irregular entries (see `store`) are
checked with `check` itself. Ranking selects the top `limit` by vectorised keys, then computes
the exact keys of those few with the scalar functions.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import numpy as np

from nunet.capability.fit import CONSTRAINTS, PRICE_FIELDS, check, normalise_architecture
from nunet.capability.gpus import assign_gpus
from nunet.capability.location import LOCATION_FIELDS
from nunet.capability.model import (
    BENCHMARK_FIELDS,
    Capability,
    Gpu,
    LocationRule,
    Requirement,
    Resources,
)
from nunet.capability.score import preference_score
from nunet.index.columns import Array
from nunet.index.errors import InvalidQuery
from nunet.index.gpu_fit import GpuKindTables, gpus_fit
from nunet.index.memberships import Memberships
from nunet.index.ordering import Key, by, smallest
from nunet.index.scoring import (
    ask_cost,
    ask_costs,
    canonical_int,
    finite_or,
    headroom,
    headrooms,
    scores,
)
from nunet.index.store import EntryStore, StoredEntry

DOWN = "down"  # the excluded count of entries whose node is marked down


class Candidate(msgspec.Struct, frozen=True, kw_only=True):
    """A node that fits, with its preference score and the free GPUs chosen for the needs."""

    did: str
    score: float  # preference_score: 0.5 when the requirement states no preference
    capability: Capability
    free: Resources
    gpus: tuple[Gpu, ...] = ()


class IndexAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """The best `limit` candidates, best first, and why the others were left out.

    `excluded`: entries per reason, `down` first, then each constraint (in `CONSTRAINTS`
    order) for the entries whose first unmet constraint it is; only non-zero counts.
    `considered` = every entry = `matched` + the sum of `excluded`.
    """

    candidates: tuple[Candidate, ...]
    excluded: dict[str, int]
    considered: int
    matched: int


_requirement_codec = msgspec.msgpack.Encoder()
_requirement_decoder = msgspec.msgpack.Decoder(Requirement)


def validated(requirement: Requirement) -> Requirement:
    """The requirement as its wire form checks it (ranges, types), or InvalidQuery naming why."""
    try:
        return _requirement_decoder.decode(_requirement_codec.encode(requirement))
    except (msgspec.ValidationError, msgspec.EncodeError, OverflowError, TypeError) as exc:
        raise InvalidQuery(f"requirement: {exc}") from None


def run_query(
    store: EntryStore, tables: GpuKindTables, requirement: Requirement, limit: int
) -> IndexAnswer:
    if not isinstance(limit, int) or limit < 0:
        raise InvalidQuery(f"limit must be a whole number >= 0, not {limit!r}")
    requirement = validated(requirement)
    columns = store.columns
    end = columns.high_water
    used = columns["used"][:end]
    up = columns["up"][:end]
    counts = dict.fromkeys((DOWN, *CONSTRAINTS), 0)
    counts[DOWN] = int(np.count_nonzero(used & ~up))
    remaining = used & up & columns["regular"][:end]
    masks = _Masks(store, requirement, end)
    left = int(np.count_nonzero(remaining))
    for constraint in CONSTRAINTS[:-1]:  # gpus last, on the rows still left
        mask = masks.of(constraint)
        if mask is None or left == 0:
            continue
        remaining &= mask
        now = int(np.count_nonzero(remaining))
        counts[constraint] += left - now
        left = now
    rows = np.flatnonzero(remaining)
    if requirement.gpus and len(rows):
        fits = gpus_fit(store, tables, requirement.gpus, rows)
        counts["gpus"] += int(len(rows) - np.count_nonzero(fits))
        rows = rows[fits]
    exact: list[tuple[StoredEntry, tuple[Gpu, ...]]] = []
    for slot in store.irregular:
        entry = store.entries[slot]
        if entry is None or not entry.up:
            continue
        fit = check(entry.capability, entry.free, requirement, did=entry.did)
        if fit.ok:
            exact.append((entry, fit.gpus))
        else:
            counts[fit.unmet[0].constraint] += 1
    candidates = _rank(store, requirement, rows, exact, limit)
    return IndexAnswer(
        candidates=candidates,
        excluded={reason: count for reason, count in counts.items() if count},
        considered=len(store),
        matched=len(rows) + len(exact),
    )


def _rank(
    store: EntryStore,
    requirement: Requirement,
    rows: Array,
    exact: list[tuple[StoredEntry, tuple[Gpu, ...]]],
    limit: int,
) -> tuple[Candidate, ...]:
    if limit == 0:
        return ()
    preferring = sum(p.weight for p in requirement.prefer) > 0
    if len(rows) > limit:
        # The first key is computed for every row; the later ones only for rows tied at the cut.
        keys: list[Key] = []
        if preferring:
            keys.append(by(-scores(store, requirement, rows)))
        keys.append(lambda at: -headrooms(store, requirement, rows[at]))
        keys.append(lambda at: ask_costs(store, requirement, rows[at]))
        keys += [store.did_word_key(word, rows) for word in range(store.did_words)]
        rows = rows[smallest(keys, len(rows), limit)]
    pool: list[tuple[tuple[float, float, float, str], Candidate]] = []
    for slot in rows:
        entry = store.entries[slot]
        assert entry is not None
        gpus = assign_gpus(requirement.gpus, entry.free.gpus) if requirement.gpus else ()
        pool.append(_scored(entry, requirement, gpus or ()))
    pool += [_scored(entry, requirement, gpus) for entry, gpus in exact]
    pool.sort(key=lambda item: item[0])
    return tuple(candidate for _, candidate in pool[:limit])


def _scored(
    entry: StoredEntry, requirement: Requirement, gpus: tuple[Gpu, ...]
) -> tuple[tuple[float, float, float, str], Candidate]:
    """The exact rank key (smaller first) and the candidate."""
    try:
        score = preference_score(entry.capability, entry.free, requirement)
    except ArithmeticError:  # only an irregular entry (a negative RTT, say) gets here
        score = 0.0
    try:
        room = headroom(entry.free, requirement)
        cost = ask_cost(entry.capability.price, requirement)
    except (ArithmeticError, TypeError):
        room, cost = float("nan"), float("nan")
    key = (
        -finite_or(score, -np.inf),
        -finite_or(room, -np.inf),
        finite_or(cost, np.inf),
        entry.did,
    )
    candidate = Candidate(
        did=entry.did, score=score, capability=entry.capability, free=entry.free, gpus=gpus
    )
    return key, candidate


class _Masks:
    """Per constraint, which slots meet it (None: every slot does, nothing was asked)."""

    def __init__(self, store: EntryStore, requirement: Requirement, end: int) -> None:
        self._store = store
        self._req = requirement
        self._end = end
        self._builders: dict[str, Callable[[], Array | None]] = {
            "peer": self._peer,
            "location": self._location,
            "architecture": self._architecture,
            "os": self._os,
            "executors": lambda: self._all_of(store.executors, requirement.executors),
            "storage": lambda: self._all_of(store.storage, requirement.storage),
            "labels": self._labels,
            "price": self._price,
            "bandwidth": lambda: self._at_least("bandwidth", requirement.bandwidth),
            "public_ports": lambda: self._at_least("ports", requirement.public_ports),
            "benchmarks": self._benchmarks,
            "cpu": lambda: self._at_least("cpu", requirement.cpu),
            "ram": lambda: self._at_least("ram", requirement.ram),
            "disk": lambda: self._at_least("disk", requirement.disk),
        }

    def of(self, constraint: str) -> Array | None:
        return self._builders[constraint]()

    def _column(self, name: str) -> Array:
        return self._store.columns[name][: self._end]

    def _none(self) -> Array:
        return np.zeros(self._end, dtype=bool)

    def _peer(self) -> Array | None:
        req = self._req
        if not (req.accept_peers or req.reject_peers):
            return None
        slot_of = self._store.slot_of
        if req.accept_peers:
            mask = self._none()
            for did in req.accept_peers:
                if (slot := slot_of.get(did)) is not None:
                    mask[slot] = True
        else:
            mask = np.ones(self._end, dtype=bool)
        for did in req.reject_peers:
            if (slot := slot_of.get(did)) is not None:
                mask[slot] = False
        return mask

    def _location(self) -> Array | None:
        req = self._req
        if not (req.accept_locations or req.reject_locations):
            return None
        mask = np.ones(self._end, dtype=bool)
        if req.accept_locations:
            accepted = self._none()
            for rule in req.accept_locations:
                accepted |= self._rule(rule)
            mask &= accepted
        for rule in req.reject_locations:
            mask &= ~self._rule(rule)
        return mask

    def _rule(self, rule: LocationRule) -> Array:
        """The slots whose location the rule matches (see `rule_matches`)."""
        mask = np.ones(self._end, dtype=bool)
        for name in LOCATION_FIELDS:
            want = getattr(rule, name)
            if want in ("", 0):
                continue
            wanted = str(want).casefold()
            if name == "asn":
                asn = canonical_int(wanted)
                if asn is None:
                    return self._none()
                mask &= self._column("asn") == asn
            else:
                mask &= self._column(name) == self._store.names.get(wanted)
        return mask

    def _architecture(self) -> Array | None:
        wanted = {normalise_architecture(name) for name in self._req.architectures}
        return self._any_name("arch", wanted) if wanted else None

    def _os(self) -> Array | None:
        wanted = {name.casefold() for name in self._req.os}
        return self._any_name("os", wanted) if wanted else None

    def _any_name(self, column: str, wanted: set[str]) -> Array:
        mask = self._none()
        values = self._column(column)
        for name in wanted:
            if name_id := self._store.names.get(name):
                mask |= values == name_id
        return mask

    def _all_of(self, memberships: Memberships, names: tuple[str, ...]) -> Array | None:
        if not names:
            return None
        mask = np.ones(self._end, dtype=bool)
        for name in {n.casefold() for n in names}:
            mask &= memberships.mask(name)[: self._end]
        return mask

    def _labels(self) -> Array | None:
        if not self._req.labels:
            return None
        mask = np.ones(self._end, dtype=bool)
        for pair in self._req.labels.items():
            mask &= self._store.labels.mask(pair)[: self._end]
        return mask

    def _price(self) -> Array | None:
        cap = self._req.max_price
        if cap is None:
            return None
        mask: Array = self._column("currency") == self._store.names.get(cap.currency.casefold())
        for name in PRICE_FIELDS:
            most = getattr(cap, name)
            if most:
                mask &= ~(self._column(f"price_{name}") > most)
        return mask

    def _benchmarks(self) -> Array | None:
        if not self._req.benchmarks:
            return None
        mask = np.ones(self._end, dtype=bool)
        for name, least in self._req.benchmarks.items():
            if name not in BENCHMARK_FIELDS:
                return self._none()
            mask &= ~(self._column(name) < least)
        return mask

    def _at_least(self, column: str, least: float) -> Array | None:
        if least <= 0:  # regular columns hold no negative value
            return None
        mask: Array = self._column(column) >= least
        return mask
