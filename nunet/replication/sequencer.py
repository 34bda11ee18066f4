"""One node's records as they arrive from the stream, turned back into its verified chain.

Pure (no I/O): records go in as the stream delivers them (re-sent, out of order, tampered), and
what comes out is the node's chain in seq order, each record checked against its own hash and
linked to the one before, each checkpoint checked against the node's key, plus a problem for
everything refused. Readers keep one per node.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from nunet.eventlog import EventRecord
from nunet.eventlog.chain import hash_matches, malformed_field
from nunet.replication.authentication import is_checkpoint, vouched_head
from nunet.replication.errors import UntrustedCheckpoint

HOLD_LIMIT = 1024  # records held back waiting for a missing one before the gap is given up
_REMEMBERED = 4096  # hashes of recently released seqs, to tell a re-send from a conflicting copy


@dataclass(frozen=True)
class ChainProblem:
    """A record (or a stretch of them) of `node` that was not released, and why.

    kind: `tampered` (its hash does not cover its content), `broken-chain` (its prev_hash is not
    the hash of the record before), `bad-checkpoint` (a checkpoint not signed by the node's key,
    or vouching for a hash other than the one released for that seq), `conflict` (a different
    record for a seq already released), `malformed`, or `gap` (records that never arrived and
    were given up on).
    """

    node: str
    seq: int
    kind: str
    reason: str

    def __str__(self) -> str:
        return f"{self.node} seq {self.seq}: {self.kind}: {self.reason}"


@dataclass
class Sequenced:
    """What one offered record released: records in seq order, and problems found."""

    records: list[EventRecord] = field(default_factory=list)
    problems: list[ChainProblem] = field(default_factory=list)


class NodeSequencer:
    """De-duplicates, reorders and verifies one node's records.

    Starts at `from_seq`; `prev_hash` is the hash of the record before it when known (None: the
    first record released is trusted as the anchor of what follows, as when reading from the
    middle of a log). Records before `from_seq` are ignored.

    A missing record holds back the ones after it, up to `hold_limit`; past that the gap is given
    up: reported as a `gap` problem, and the chain re-anchors at the first held record (its own
    hash is checked, its link to the missing one cannot be). Until then the gap may still fill:
    the outbox re-sends everything after its first unacknowledged record.

    A checkpoint is released only when the node's key (from its did:key) signed it and the head
    it vouches for is the record released for that seq; `authenticated` is then that seq: the
    signature covers that record's hash, and the chain every record back to the anchor.
    """

    def __init__(
        self,
        node: str,
        *,
        from_seq: int = 1,
        prev_hash: bytes | None = None,
        hold_limit: int = HOLD_LIMIT,
    ) -> None:
        if from_seq < 1 or hold_limit < 1:
            raise ValueError("from_seq and hold_limit must be >= 1")
        self.node = node
        self.next_seq = from_seq
        self._from_seq = from_seq
        self._last_hash = prev_hash if from_seq > 1 else (prev_hash or bytes(32))
        self._hold_limit = hold_limit
        self._held: dict[int, list[EventRecord]] = {}
        self._held_count = 0
        self._released: dict[int, bytes] = {}
        self._released_order: deque[int] = deque()
        self.authenticated = 0  # the last seq a verified checkpoint vouched for; 0: none yet
        if prev_hash is not None and from_seq > 1:
            self._released[from_seq - 1] = prev_hash  # so a checkpoint for it can be checked

    @property
    def held(self) -> int:
        """Records held back behind a missing one."""
        return self._held_count

    def offer(self, record: EventRecord) -> Sequenced:
        out = Sequenced()
        bad = malformed_field(record)
        if bad is not None:
            seq = record.seq if type(record.seq) is int else self.next_seq
            out.problems.append(ChainProblem(self.node, seq, "malformed", bad))
            return out
        seq = record.seq
        if seq < self.next_seq:
            known = self._released.get(seq)
            if known is not None and known != record.hash:
                out.problems.append(
                    self._problem(record, "conflict", "differs from the record already released")
                )
            return out  # a re-send (or from before from_seq): dropped
        if not hash_matches(record):
            out.problems.append(
                self._problem(record, "tampered", "its hash does not match its content")
            )
            return out
        candidates = self._held.setdefault(seq, [])
        if any(held.hash == record.hash for held in candidates):
            return out  # a re-send of a held record
        candidates.append(record)
        self._held_count += 1
        self._release(out)
        if self._held_count > self._hold_limit:
            self._give_up_gap(out)
        return out

    def pending_gap(self) -> ChainProblem | None:
        """The gap holding records back now, as a problem (for a read that ends here)."""
        if not self._held or self.next_seq in self._held:
            return None
        first_held = min(self._held)
        return ChainProblem(
            self.node,
            self.next_seq,
            "gap",
            f"{_span(self.next_seq, first_held - 1)} never arrived; "
            f"{self._held_count} later record(s) held back",
        )

    def _release(self, out: Sequenced) -> None:
        while (candidates := self._held.pop(self.next_seq, None)) is not None:
            self._held_count -= len(candidates)
            last = self._last_hash
            linked = [r for r in candidates if last is None or r.prev_hash == last]
            refused = [r for r in linked if is_checkpoint(r) and not self._authenticates(r, out)]
            linked = [r for r in linked if not any(r is bad for bad in refused)]
            for record in candidates:
                if any(record is bad for bad in refused):
                    continue  # reported as a bad checkpoint
                if linked and record is linked[0]:
                    continue
                if record in linked:
                    reason = "another record with this seq, linked the same way, came first"
                    out.problems.append(self._problem(record, "conflict", reason))
                else:
                    reason = f"its prev_hash is not the hash of seq {record.seq - 1}"
                    out.problems.append(self._problem(record, "broken-chain", reason))
            if not linked:
                return  # wait for a record that links
            record = linked[0]
            out.records.append(record)
            self._remember(record)
            self._last_hash = record.hash
            self.next_seq += 1

    def _authenticates(self, record: EventRecord, out: Sequenced) -> bool:
        """Whether checkpoint `record` may be released (a problem says why not); moves
        `authenticated` when the head it vouches for is the one released."""
        try:
            head = vouched_head(self.node, record)
        except UntrustedCheckpoint as exc:
            out.problems.append(self._problem(record, "bad-checkpoint", str(exc)))
            return False
        released = self._released.get(head.seq)
        if released is None:
            return True  # before what this reader saw (or long ago): signed, but not provable here
        if released != head.hash:
            reason = (
                f"it vouches for another hash of seq {head.seq} than the record released: that "
                "record, or this checkpoint, was forged"
            )
            out.problems.append(self._problem(record, "bad-checkpoint", reason))
            return False
        self.authenticated = max(self.authenticated, head.seq)
        return True

    def _give_up_gap(self, out: Sequenced) -> None:
        first_held = min(self._held)
        gap = self.pending_gap()
        if gap is not None:
            out.problems.append(
                ChainProblem(
                    self.node,
                    gap.seq,
                    "gap",
                    f"{_span(self.next_seq, first_held - 1)} did not arrive while "
                    f"{self._hold_limit} later records waited; going on without them",
                )
            )
        self.next_seq = first_held
        self._last_hash = None
        self._release(out)

    def _remember(self, record: EventRecord) -> None:
        self._released[record.seq] = record.hash
        self._released_order.append(record.seq)
        if len(self._released_order) > _REMEMBERED:
            self._released.pop(self._released_order.popleft(), None)

    def _problem(self, record: EventRecord, kind: str, reason: str) -> ChainProblem:
        return ChainProblem(self.node, record.seq, kind, reason)


def _span(first: int, last: int) -> str:
    return f"record {first}" if first == last else f"records {first}..{last}"
