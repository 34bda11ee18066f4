"""Verification of a log: the chain, the signed checkpoints, and a caller-supplied trusted head.

ChainVerifier is the pure core (fed records one by one); verify_log reads a log through it.
A log cannot prove on its own that its tail was not cut off: the last checkpoints go with the
tail. That needs a witness, a (seq, hash) the caller trusts — today given by hand
(`nunet events verify --checkpoint SEQ:HASH`), later by the replicas of the log.
"""

from __future__ import annotations

from collections import deque

import msgspec

from nunet.eventlog.catalogue import Catalogue
from nunet.eventlog.chain import HASH_SIZE, ZERO_HASH, expected_hash, malformed_field
from nunet.eventlog.errors import CorruptLog, EventLogError
from nunet.eventlog.event import EventRecord
from nunet.eventlog.events import EVENTS, UPCASTERS, LogCheckpoint, checkpoint_message
from nunet.eventlog.log import EventLog
from nunet.identity import IdentityError, verify_signature

_WINDOW = 65_536  # recent hashes kept to check checkpoints against; older claims are re-read
_SALVAGE_SPAN = 1000  # records read one by one after a page of the store fails to read


class Problem(msgspec.Struct, frozen=True):
    """Something wrong at one record."""

    seq: int
    reason: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.reason}"


class VerificationReport(msgspec.Struct):
    """What verification found. `ok` when there are no problems."""

    records: int
    head_seq: int
    head_hash: bytes
    checkpoints: int  # checkpoints whose signature and claim verified
    last_checkpoint_seq: int  # the highest seq vouched for by a valid checkpoint
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


class TrustedHead(msgspec.Struct, frozen=True):
    """A (seq, hash) known from outside the log: a replica's head, a checkpoint seen before."""

    seq: int
    hash: bytes

    @classmethod
    def parse(cls, text: str) -> TrustedHead:
        """Parse `SEQ:HASHHEX`; ValueError saying what is wrong."""
        seq_text, sep, hash_text = text.partition(":")
        try:
            seq = int(seq_text)
            digest = bytes.fromhex(hash_text)
        except ValueError:
            seq, digest = 0, b""
        if not sep or seq < 1 or len(digest) != HASH_SIZE:
            raise ValueError(f"{text!r} is not SEQ:HASH (a seq >= 1 and 64 hex digits)")
        return cls(seq, digest)


class CheckpointClaim(msgspec.Struct, frozen=True):
    """A checkpoint at `at_seq` vouches that record `seq` has `hash`."""

    at_seq: int
    seq: int
    hash: bytes


class ChainVerifier:
    """Feed records in seq order; `finish()` says what is wrong, naming each record."""

    def __init__(
        self,
        *,
        trusted: TrustedHead | None = None,
        signer: str | None = None,
        catalogue: Catalogue | None = None,
        from_seq: int = 1,
        prev_hash: bytes = ZERO_HASH,
    ) -> None:
        self._trusted = trusted
        self._signer = signer
        self._catalogue = catalogue or Catalogue(*EVENTS, upcasters=UPCASTERS)
        self._last_seq = from_seq - 1
        self._last_hash: bytes | None = prev_hash
        self._last_timestamp = -(2**63)
        self._records = 0
        self._checkpoints = 0
        self._vouched = 0
        self._problems: list[Problem] = []
        self._recent: dict[int, bytes] = {}
        self._recent_order: deque[int] = deque()
        self.deferred: list[CheckpointClaim] = []  # claims older than the window

    def feed(self, record: EventRecord) -> None:
        self._records += 1
        bad = malformed_field(record)
        if bad is not None:
            seq = record.seq if type(record.seq) is int else self._last_seq + 1
            self._problem(seq, f"malformed record: {bad}")
            self._last_seq = seq
            self._last_hash = None
            return
        seq = record.seq
        expected = self._last_seq + 1
        if seq > expected:
            missing = (
                f"record {expected} is"
                if seq == expected + 1
                else (f"records {expected}..{seq - 1} are")
            )
            self._problem(seq, f"{missing} missing: deleted from the log")
        elif seq < expected:
            self._problem(seq, f"seq {seq} comes after seq {self._last_seq}: records are reordered")
        elif self._last_hash is not None and record.prev_hash != self._last_hash:
            self._problem(
                seq,
                f"prev_hash does not match the hash of seq {self._last_seq}: the chain is broken "
                "(a record before it was edited, replaced or removed)",
            )
        if expected_hash(record) != record.hash:
            self._problem(seq, "stored hash does not match the record's content: it was edited")
        if record.timestamp < self._last_timestamp:
            self._problem(seq, f"timestamp is earlier than that of seq {self._last_seq}")
        if (
            self._trusted is not None
            and seq == self._trusted.seq
            and record.hash != self._trusted.hash
        ):
            self._problem(seq, "hash differs from the trusted checkpoint's hash for this seq")
        if record.type == LogCheckpoint.TYPE:
            self._check_checkpoint(record)
        self._last_seq = seq
        self._last_hash = record.hash
        self._last_timestamp = record.timestamp
        self._remember(seq, record.hash)

    def read_failed(self, error: Exception) -> None:
        """The store cannot deliver any record after the last one fed."""
        self._problem(
            self._last_seq + 1,
            f"the store cannot be read from here on, so no later record was checked: {error}",
        )

    def unreadable(self, first: int, last: int, error: Exception) -> None:
        """Records first..last exist (or may) but the store cannot deliver them."""
        span = f"record {first}" if first == last else f"records {first}..{last}"
        self._problem(first, f"{span} cannot be read from the store (damaged?): {error}")
        self._last_seq = last
        self._last_hash = None  # the next readable record's link cannot be checked

    def resolve(self, claim: CheckpointClaim, record: EventRecord | None) -> None:
        """Check a deferred claim against the record read back for it."""
        if record is None or record.hash != claim.hash:
            self._bad_claim(claim)
        else:
            self._vouch(claim)

    def finish(self) -> VerificationReport:
        if self._trusted is not None and self._last_seq < self._trusted.seq:
            self._problem(
                self._trusted.seq,
                f"the log ends at seq {self._last_seq} but the trusted checkpoint vouches for "
                f"seq {self._trusted.seq}: the tail was truncated",
            )
        return VerificationReport(
            records=self._records,
            head_seq=self._last_seq,
            head_hash=self._last_hash or b"",
            checkpoints=self._checkpoints,
            last_checkpoint_seq=self._vouched,
            problems=sorted(self._problems, key=lambda p: p.seq),
        )

    def _check_checkpoint(self, record: EventRecord) -> None:
        try:
            checkpoint = self._catalogue.decode(record)
        except (EventLogError, msgspec.MsgspecError) as exc:
            self._problem(record.seq, f"checkpoint cannot be decoded: {exc}")
            return
        assert isinstance(checkpoint, LogCheckpoint)
        if self._signer is not None and checkpoint.signer != self._signer:
            self._problem(
                record.seq, f"checkpoint signed by {checkpoint.signer}, not by {self._signer}"
            )
            return
        message = checkpoint_message(
            record.version, checkpoint.seq, checkpoint.head_hash, checkpoint.signed_at
        )
        try:
            verify_signature(checkpoint.signer, message, checkpoint.signature)
        except IdentityError as exc:
            self._problem(record.seq, f"checkpoint signature is not valid: {exc}")
            return
        claim = CheckpointClaim(record.seq, checkpoint.seq, checkpoint.head_hash)
        if not 1 <= checkpoint.seq < record.seq:
            self._problem(record.seq, f"checkpoint vouches for seq {checkpoint.seq}, not before it")
        elif checkpoint.seq in self._recent:
            if self._recent[checkpoint.seq] == checkpoint.head_hash:
                self._vouch(claim)
            else:
                self._bad_claim(claim)
        else:
            self.deferred.append(claim)

    def _vouch(self, claim: CheckpointClaim) -> None:
        self._checkpoints += 1
        self._vouched = max(self._vouched, claim.seq)

    def _bad_claim(self, claim: CheckpointClaim) -> None:
        self._problem(
            claim.seq,
            f"the signed checkpoint at seq {claim.at_seq} vouches for a different hash of this "
            "record: it was changed after being checkpointed",
        )

    def _remember(self, seq: int, digest: bytes) -> None:
        self._recent[seq] = digest
        self._recent_order.append(seq)
        if len(self._recent_order) > _WINDOW:
            self._recent.pop(self._recent_order.popleft(), None)

    def _problem(self, seq: int, reason: str) -> None:
        self._problems.append(Problem(seq, reason))


async def verify_log(
    log: EventLog,
    *,
    trusted_checkpoint: TrustedHead | tuple[int, bytes] | None = None,
    signer: str | None = None,
    catalogue: Catalogue | None = None,
) -> VerificationReport:
    """Read the whole log and verify it. Never raises for bad data: problems go in the report.

    `signer`: if given, every checkpoint must be signed by this DID (the node's).
    `trusted_checkpoint`: a (seq, hash) from outside; detects a truncated or replaced tail.
    """
    if isinstance(trusted_checkpoint, tuple):
        trusted_checkpoint = TrustedHead(*trusted_checkpoint)
    verifier = ChainVerifier(trusted=trusted_checkpoint, signer=signer, catalogue=catalogue)
    next_seq = 1
    while True:
        try:
            async for record in log.read(next_seq):
                verifier.feed(record)
                next_seq = record.seq + 1
            break
        except CorruptLog as exc:
            resumed = await _salvage(log, verifier, next_seq, exc)
            if resumed is None:
                break
            next_seq = resumed
    for claim in verifier.deferred:
        try:
            verifier.resolve(claim, await log.get(claim.seq))
        except CorruptLog:
            verifier.resolve(claim, None)
    return verifier.finish()


async def _salvage(
    log: EventLog, verifier: ChainVerifier, start: int, error: CorruptLog
) -> int | None:
    """Read a damaged stretch one record at a time; where to resume page reads, or None."""
    try:
        end = min(start + _SALVAGE_SPAN, (await log.head())[0] + 1)
    except CorruptLog:
        end = start + _SALVAGE_SPAN
    bad_from: int | None = None
    readable = 0
    for seq in range(start, end):
        try:
            record = await log.get(seq)
        except CorruptLog as exc:
            error, bad_from = exc, seq if bad_from is None else bad_from
            continue
        if bad_from is not None:
            verifier.unreadable(bad_from, seq - 1, error)
            bad_from = None
        if record is not None:
            readable += 1
            verifier.feed(record)
    if bad_from is not None:
        verifier.unreadable(bad_from, end - 1, error)
    if readable == 0 and bad_from is not None:
        verifier.read_failed(error)
        return None
    return end
