"""The embedded ledger: balances kept in the node's own event log, as `ledger.redeemed` events.

Each redemption that adds something is one record; balances and what each channel redeemed
are the fold of those records (`LedgerProjection`), rebuilt by replay when the ledger opens.
It moves no real money: it is the node's own book of what it was paid and by whom, which an
auditor checks against the vouchers the records carry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import ClassVar

import msgspec

from nunet.contracts.documents import Signed, SignedContract
from nunet.contracts.errors import LedgerError
from nunet.contracts.ledger import (
    ChannelStanding,
    CheckedVoucher,
    Receipt,
    check_voucher,
    credit_for,
    receipt_for,
)
from nunet.eventlog import Event, EventLog, EventLogError, EventRecord, Projection, replay

LOCAL = "local"


class LedgerRedeemed(Event, frozen=True, kw_only=True):
    """A voucher redeemed on the local ledger: `payee` credited and `payer` debited by
    `credited`, bringing what `channel` redeemed to `amount`. `voucher` is the requester's
    signed voucher, kept so the record can be checked again. The redemption's reference is
    the record's own (`local_reference`)."""

    TYPE: ClassVar[str] = "ledger.redeemed"
    contract_id: str
    channel: str
    payer: str
    payee: str
    currency: str
    amount: int  # cumulative on the channel
    credited: int
    voucher_seq: int
    voucher: Signed


EVENTS: tuple[type[Event], ...] = (LedgerRedeemed,)

_decode_redeemed = msgspec.msgpack.Decoder(LedgerRedeemed).decode


def local_reference(record: EventRecord) -> str:
    """The reference of the redemption `record` holds: its seq and the head of its hash."""
    return f"{LOCAL}:{record.seq}:{record.hash.hex()[:16]}"


class LedgerBook(msgspec.Struct, kw_only=True):
    """The local ledger's state: each channel's standing and each account's balance."""

    channels: dict[str, ChannelStanding] = {}
    accounts: dict[str, dict[str, int]] = {}  # currency -> account DID -> balance

    def balance(self, account: str, currency: str) -> int:
        return self.accounts.get(currency, {}).get(account, 0)

    def balances(self) -> dict[tuple[str, str], int]:
        return {
            (account, currency): amount
            for currency, accounts in self.accounts.items()
            for account, amount in accounts.items()
        }

    def redeemed(self, channel: str) -> int:
        standing = self.channels.get(channel)
        return 0 if standing is None else standing.amount


def post(book: LedgerBook, event: LedgerRedeemed, record: EventRecord) -> LedgerBook:
    """`book` after the redemption `event`, which `record` holds (updated in place)."""
    book.channels[event.channel] = ChannelStanding(
        contract_id=event.contract_id,
        payer=event.payer,
        payee=event.payee,
        currency=event.currency,
        amount=event.amount,
        voucher_seq=event.voucher_seq,
        reference=local_reference(record),
        at=record.timestamp / 1e9,
    )
    accounts = book.accounts.setdefault(event.currency, {})
    accounts[event.payee] = accounts.get(event.payee, 0) + event.credited
    accounts[event.payer] = accounts.get(event.payer, 0) - event.credited
    return book


def redemption(book: LedgerBook, checked: CheckedVoucher, voucher: Signed) -> LedgerRedeemed | None:
    """The record that redeeming `checked` (whose signed form is `voucher`) on `book` appends,
    or None when it adds nothing; LedgerError when the ledger refuses it."""
    terms = checked.terms
    credited = credit_for(book.channels.get(terms.channel), checked)
    if credited == 0:
        return None
    return LedgerRedeemed(
        contract_id=terms.contract_id,
        channel=terms.channel,
        payer=terms.requester,
        payee=terms.provider,
        currency=terms.currency,
        amount=checked.voucher.amount,
        credited=credited,
        voucher_seq=checked.voucher.seq,
        voucher=voucher,
    )


class LedgerProjection(Projection[LedgerBook]):
    """The local ledger's book as a projection of the log (what `LocalLedger.open` replays)."""

    name = "contracts.ledger"
    types = frozenset({LedgerRedeemed.TYPE})

    def __init__(self) -> None:
        super().__init__(LedgerBook)

    def initial(self) -> LedgerBook:
        return LedgerBook()

    def evolve(self, state: LedgerBook, record: EventRecord) -> LedgerBook:
        return post(state, _decode_redeemed(record.payload), record)


def ledger_balances(records: Iterable[EventRecord]) -> LedgerBook:
    """The book that `records` (a log's, in seq order) add up to; other types are skipped."""
    projection = LedgerProjection()
    book = projection.initial()
    for record in records:
        if projection.wants(record):
            book = projection.evolve(book, record)
    return book


class LocalLedger:
    """The `Ledger` whose book is the node's event log. One per log: the log is its store, and
    another writer of `ledger.redeemed` records would go unseen until the ledger reopens."""

    name: str = LOCAL

    def __init__(self, log: EventLog, book: LedgerBook, actor: str) -> None:
        self._log = log
        self._book = book
        self._actor = actor
        # One redemption at a time: each decides on the book the one before left.
        self._lock = asyncio.Lock()
        self._in_flight: set[asyncio.Task[Receipt]] = set()

    @classmethod
    async def open(cls, log: EventLog, *, actor: str = "") -> LocalLedger:
        """The ledger over `log`, its book rebuilt from the log's `ledger.redeemed` records;
        `actor` is the handle its records are appended under."""
        _, book = await replay(log, LedgerProjection())
        return cls(log, book, actor)

    async def redeem(self, contract: SignedContract, voucher: Signed) -> Receipt:
        """Redeem `voucher` (see `Ledger.redeem`); the record is durable when this returns. A
        caller cancelled mid-way does not cancel the redemption: a retry gets its receipt."""
        checked = check_voucher(contract, voucher)
        # Shielded, so the book always takes in a record the log took; otherwise a cancelled
        # append that still committed would let the same voucher be credited twice.
        task = asyncio.ensure_future(self._redeem(checked, voucher))
        self._in_flight.add(task)
        task.add_done_callback(self._settled)
        return await asyncio.shield(task)

    def _settled(self, task: asyncio.Task[Receipt]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled():
            task.exception()  # a cancelled caller never reads it; the ledger has

    async def _redeem(self, checked: CheckedVoucher, voucher: Signed) -> Receipt:
        terms = checked.terms
        async with self._lock:
            event = redemption(self._book, checked, voucher)
            if event is None:
                return receipt_for(self.name, checked, self._book.channels.get(terms.channel))
            try:
                record = await self._log.append(event, actor=self._actor)
            except EventLogError as exc:
                raise LedgerError(
                    f"the local ledger could not record voucher {checked.voucher.seq} of "
                    f"contract {terms.contract_id}: {exc}; it was not redeemed, try again"
                ) from exc
            post(self._book, event, record)
            return receipt_for(
                self.name, checked, self._book.channels[terms.channel], credited=event.credited
            )

    async def redeemed(self, channel: str) -> int:
        return self._book.redeemed(channel)

    async def balance(self, account: str, currency: str) -> int:
        return self._book.balance(account, currency)

    async def balances(self) -> dict[tuple[str, str], int]:
        return self._book.balances()
