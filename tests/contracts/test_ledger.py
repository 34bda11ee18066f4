"""LocalLedger against the Ledger contract, over both event stores (SQLite and a real
PostgreSQL), plus what only the local ledger does: its records, its replay, its cancellation
safety; and the pure redemption rules under Hypothesis."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nunet.contracts import LedgerError, PaymentVoucher, Signed
from nunet.contracts.ledger import ChannelStanding, CheckedVoucher, Ledger
from nunet.contracts.local_ledger import (
    EVENTS,
    LedgerBook,
    LedgerProjection,
    LedgerRedeemed,
    LocalLedger,
    ledger_balances,
    local_reference,
    post,
    redemption,
)
from nunet.eventlog import (
    ZERO_HASH,
    Event,
    EventLog,
    EventRecord,
    PostgresEventLog,
    open_sqlite_log,
    replay,
)
from tests.contracts.ledger_contract import (
    OTHER_PROVIDER,
    PROVIDER,
    REQUESTER,
    WAIT_S,
    LedgerBackend,
    LedgerContract,
    agreed,
    make_terms,
    voucher,
)


class Unrelated(Event, frozen=True, kw_only=True):
    """Another room's event in the same log: the ledger must step over it."""

    TYPE = "test.unrelated"
    n: int


class LogBackend(LedgerBackend):
    """A LocalLedger over one event log that `open_log` opens (and reopens)."""

    def __init__(self) -> None:
        self.log: EventLog | None = None

    async def open_log(self) -> EventLog:
        raise NotImplementedError

    async def open(self) -> LocalLedger:
        await self.close()
        self.log = await self.open_log()
        return await LocalLedger.open(self.log, actor="contracts")

    async def close(self) -> None:
        if self.log is not None:
            await self.log.close()
            self.log = None


class SQLiteBackend(LogBackend):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    async def open_log(self) -> EventLog:
        return await open_sqlite_log(self.path)


class PostgresBackend(LogBackend):
    def __init__(self, dsn: str) -> None:
        super().__init__()
        self.dsn = dsn
        self.log_name = f"ledger-{uuid.uuid4().hex}"

    async def open_log(self) -> EventLog:
        return await PostgresEventLog.open(self.dsn, log_name=self.log_name)


class GatedLog(EventLog):
    """A real log whose `append` holds its (already durable) record until the test opens the
    gate: the moment a cancelled caller would leave the ledger's book behind its log."""

    def __init__(self, inner: EventLog) -> None:
        self.inner = inner
        self.committed = asyncio.Event()
        self.gate = asyncio.Event()

    async def append(self, event: Event, *, actor: str = "") -> EventRecord:
        record = await self.inner.append(event, actor=actor)
        self.committed.set()
        await self.gate.wait()
        return record

    async def append_many(self, events: Sequence[Event], *, actor: str = "") -> list[EventRecord]:
        return await self.inner.append_many(events, actor=actor)

    def append_nowait(self, event: Event, *, actor: str = "") -> asyncio.Future[EventRecord]:
        return self.inner.append_nowait(event, actor=actor)

    async def head(self) -> tuple[int, bytes]:
        return await self.inner.head()

    def read(
        self,
        from_seq: int = 1,
        to_seq: int | None = None,
        types: Collection[str] | None = None,
    ) -> AsyncIterator[EventRecord]:
        return self.inner.read(from_seq, to_seq, types)

    def tail(self, from_seq: int = 1) -> AsyncIterator[EventRecord]:
        return self.inner.tail(from_seq)

    async def close(self) -> None:
        await self.inner.close()


async def ledger_records(log: EventLog) -> list[EventRecord]:
    return [r async for r in log.read(types={LedgerRedeemed.TYPE})]


class LocalLedgerContract(LedgerContract):
    """The Ledger contract, and what the local ledger adds, for one event store."""

    @pytest.fixture
    def backend(self) -> LogBackend:
        raise NotImplementedError("a store's test class supplies the `backend` fixture")

    @staticmethod
    def log_of(backend: LedgerBackend) -> EventLog:
        assert isinstance(backend, LogBackend)
        assert backend.log is not None
        return backend.log

    async def test_each_redemption_is_one_record_carrying_the_voucher_and_repeats_add_none(
        self, backend: LedgerBackend, ledger: Ledger
    ) -> None:
        log = self.log_of(backend)
        terms = make_terms()
        contract, first, second = agreed(terms), voucher(terms, 1, 40), voucher(terms, 2, 100)
        receipts = [
            await ledger.redeem(contract, first),
            await ledger.redeem(contract, first),
            await ledger.redeem(contract, second),
            await ledger.redeem(contract, first),
        ]
        records = await ledger_records(log)
        assert (await log.head())[0] == 2
        assert [r.actor for r in records] == ["contracts", "contracts"]
        events = [msgspec.msgpack.decode(r.payload, type=LedgerRedeemed) for r in records]
        assert events == [
            LedgerRedeemed(
                contract_id=terms.contract_id,
                channel=terms.channel,
                payer=REQUESTER.did,
                payee=PROVIDER.did,
                currency="NTX",
                amount=amount,
                credited=credited,
                voucher_seq=seq,
                voucher=signed,
            )
            for seq, amount, credited, signed in ((1, 40, 40, first), (2, 100, 60, second))
        ]
        assert [r.reference for r in receipts] == [local_reference(records[0])] * 2 + [
            local_reference(records[1])
        ] * 2
        assert receipts[2].at == records[1].timestamp / 1e9

    async def test_the_book_replayed_from_the_log_equals_the_live_one(
        self, backend: LedgerBackend, ledger: Ledger
    ) -> None:
        log = self.log_of(backend)
        await log.append(Unrelated(n=1))
        a, b = make_terms(), make_terms(provider=OTHER_PROVIDER, currency="USDC")
        for seq, amount in ((1, 10), (2, 35), (2, 35), (5, 90)):
            await ledger.redeem(agreed(a), voucher(a, seq, amount))
            await log.append(Unrelated(n=seq))
        await ledger.redeem(agreed(b), voucher(b, 1, 3))

        _, replayed = await replay(log, LedgerProjection())
        folded = ledger_balances([r async for r in log.read()])
        live = await ledger.balances()
        assert replayed.balances() == folded.balances() == live
        assert replayed == folded
        for terms in (a, b):
            assert replayed.redeemed(terms.channel) == await ledger.redeemed(terms.channel)
        projection = LedgerProjection()
        assert projection.decode_state(projection.encode_state(replayed)) == replayed

    async def test_a_redemption_whose_caller_is_cancelled_completes_and_is_credited_once(
        self, backend: LogBackend
    ) -> None:
        gated = GatedLog(await backend.open_log())
        try:
            ledger = await LocalLedger.open(gated)
            terms = make_terms()
            contract, paid = agreed(terms), voucher(terms, 1, 500)
            caller = asyncio.create_task(ledger.redeem(contract, paid))
            async with asyncio.timeout(WAIT_S):
                await gated.committed.wait()
            caller.cancel()
            with pytest.raises(asyncio.CancelledError):
                await caller
            gated.gate.set()
            async with asyncio.timeout(WAIT_S):
                again = await ledger.redeem(contract, paid)
            records = await ledger_records(gated)
            assert (again.credited, again.amount) == (0, 500)
            assert again.reference == local_reference(records[0])
            assert len(records) == 1
            assert await ledger.balance(PROVIDER.did, "NTX") == 500
        finally:
            await gated.close()

    async def test_a_log_that_cannot_record_refuses_the_redemption_and_moves_nothing(
        self, backend: LedgerBackend, ledger: Ledger
    ) -> None:
        terms = make_terms()
        await ledger.redeem(agreed(terms), voucher(terms, 1, 10))
        await self.log_of(backend).close()
        with pytest.raises(LedgerError, match=r"could not record voucher 2 .* not redeemed"):
            await ledger.redeem(agreed(terms), voucher(terms, 2, 20))
        await self.assert_untouched(ledger, terms, 10)


class TestLocalLedgerOnSQLite(LocalLedgerContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> LogBackend:
        return SQLiteBackend(tmp_path / "node.db")


class TestLocalLedgerOnPostgres(LocalLedgerContract):
    @pytest.fixture
    def backend(self, postgres_dsn: str) -> LogBackend:
        return PostgresBackend(postgres_dsn)


def test_the_ledger_exports_its_event_for_the_catalogue() -> None:
    assert (LedgerRedeemed,) == EVENTS
    assert LedgerRedeemed.TYPE == "ledger.redeemed"


# -- the pure rules: any order of any vouchers ------------------------------------------------

TERMS = make_terms()
UNSIGNED = Signed(kind="voucher", body=b"", signer=REQUESTER.did, signature=bytes(64))
Voucher = tuple[int, int]  # (seq, amount)
vouchers = st.lists(st.tuples(st.integers(1, 8), st.integers(0, 60)), max_size=24)


def checked(seq: int, amount: int) -> CheckedVoucher:
    return CheckedVoucher(
        terms=TERMS,
        voucher=PaymentVoucher(
            contract_id=TERMS.contract_id,
            channel=TERMS.channel,
            seq=seq,
            amount=amount,
            issued_at=0.0,
        ),
    )


def record(seq: int) -> EventRecord:
    return EventRecord(
        seq=seq,
        timestamp=seq * 1_000_000_000,
        type=LedgerRedeemed.TYPE,
        version=1,
        actor="",
        payload=b"",
        prev_hash=ZERO_HASH,
        hash=seq.to_bytes(32, "big"),
    )


def redeem_all(book: LedgerBook, offered: list[Voucher]) -> tuple[int, list[Voucher]]:
    """Redeem each voucher on `book` in turn: (total credited, the ones refused)."""
    credited, refused = 0, []
    for seq, amount in offered:
        before = book.channels.get(TERMS.channel)
        try:
            event = redemption(book, checked(seq, amount), UNSIGNED)
        except LedgerError:
            assert before is not None
            assert amount > before.amount
            assert seq <= before.voucher_seq
            refused.append((seq, amount))
            continue
        if event is None:
            assert amount <= (0 if before is None else before.amount)
            continue
        post(book, event, record(seq))
        credited += event.credited
        after = book.channels[TERMS.channel]
        assert (after.amount, after.voucher_seq) == (amount, seq)
        assert after.amount > (0 if before is None else before.amount)
    return credited, refused


@given(vouchers)
def test_what_a_channel_redeemed_never_falls_and_every_credit_is_paid_by_the_payer(
    offered: list[Voucher],
) -> None:
    book = LedgerBook()
    credited, _ = redeem_all(book, offered)
    redeemed = book.redeemed(TERMS.channel)
    assert credited == redeemed
    assert book.balances().get((PROVIDER.did, "NTX"), 0) == redeemed
    assert book.balances().get((REQUESTER.did, "NTX"), 0) == -redeemed
    # Offering every voucher again moves nothing: the channel already stands above them all,
    # or they are refused as before.
    assert redeem_all(book, offered)[0] == 0
    assert book.redeemed(TERMS.channel) == redeemed


@given(st.lists(st.integers(0, 50), max_size=12), st.randoms(use_true_random=False))
def test_an_honest_requesters_vouchers_in_any_order_redeem_to_the_latest_total(
    steps: list[int], shuffler: random.Random
) -> None:
    # An honest requester: seq grows by one and the total never falls.
    totals = [sum(steps[: i + 1]) for i in range(len(steps))]
    offered = [(seq, total) for seq, total in enumerate(totals, start=1)]
    shuffled = list(offered)
    shuffler.shuffle(shuffled)
    book = LedgerBook()
    credited, refused = redeem_all(book, shuffled)
    assert refused == []
    assert credited == book.redeemed(TERMS.channel) == (totals[-1] if totals else 0)


def test_a_standing_channel_is_what_post_recorded() -> None:
    book = LedgerBook()
    event = redemption(book, checked(3, 25), UNSIGNED)
    assert event is not None
    post(book, event, record(7))
    assert book.channels[TERMS.channel] == ChannelStanding(
        contract_id=TERMS.contract_id,
        payer=REQUESTER.did,
        payee=PROVIDER.did,
        currency="NTX",
        amount=25,
        voucher_seq=3,
        reference=f"local:7:{(7).to_bytes(32, 'big').hex()[:16]}",
        at=7.0,
    )
