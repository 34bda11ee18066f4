"""The matching actor: both sides of decentralized search.

As a provider it hears bid requests on `nunet.deployment.requests`, decides locally whether this
node can serve (onboarded, free resources, executors, location and peer rules, price) and
answers the orchestrator with a signed bid or a signed decline saying why not. As an
orchestrator it answers `/dms/node/search`: broadcast a request, collect replies until the
deadline, enough bids, or every known node answered, verify them, rank them, and — when nothing
fits and the caller asked for it — queue and ask again with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from typing import Annotated, Any

import msgspec
import structlog

from nunet.actor import Actor, BehaviorFailed, Handle, Message, behavior
from nunet.capability import (
    CapabilityError,
    check,
    hourly_cost,
    parse_requirement_spec,
    requirement_from_user,
    validate_requirement,
)
from nunet.capability.model import Capability, Gpu, Requirement, Resources
from nunet.errors import NunetError
from nunet.eventlog import Event
from nunet.index import CapabilityIndex, CapabilityIndexError
from nunet.matching.bid import (
    BID_BEHAVIOR,
    REQUEST_BEHAVIOR,
    REQUESTS_TOPIC,
    BidRequest,
    BidTerms,
    DeclineTerms,
    SignedReply,
    open_reply,
    sign_reply,
)
from nunet.matching.errors import BidRejected, MatchingError
from nunet.matching.events import (
    BidRefused,
    BidRequested,
    BidSent,
    Declined,
    Queued,
    RequestRefused,
    RoundCompleted,
)
from nunet.matching.failures import FailureBook
from nunet.matching.ranking import RankerChain, RankingContext
from nunet.matching.round import NOT_ONBOARDED, BidRound, RoundResult
from nunet.replication.backoff import Backoff

log = structlog.get_logger("nunet.matching")

MATCHING_ACTOR_ID = "matching"
SEARCH_BEHAVIOR = "/dms/node/search"
INDEX_QUERY_BEHAVIOR = "/dms/node/index/query"

Offering = tuple[Capability, Resources]  # what the node offers and what of it is free now


class SearchRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`/dms/node/search`: `requirement` is a spec string (`cpu=2,ram=4GiB`) or a mapping in
    user units; a round lasts `timeout` seconds at most; `want` bids end it early; with
    `queue_timeout` > 0 a search that finds nothing asks again, with backoff, until then."""

    requirement: Any
    timeout: Annotated[float, msgspec.Meta(gt=0, le=300)] = 2.0
    want: Annotated[int, msgspec.Meta(ge=1, le=10_000)] | None = None
    queue_timeout: Annotated[float, msgspec.Meta(ge=0, le=86_400)] = 0.0
    explain: bool = True
    rankers: dict[str, float] | None = None


class IndexQuery(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`/dms/node/index/query`: the same requirement forms as a search; no network involved."""

    requirement: Any
    limit: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 10


class MatchingActor(Actor):
    """Spawn as `MATCHING_ACTOR_ID`. `offering()` says what the node offers now (None when it is
    not onboarded); `rtt` and `failures` (refused replies count; orchestration adds failed
    allocations) feed the locality and reliability rankers; `expected`
    counts the nodes a round may wait for (the live peers and this node)."""

    kind = "matching"
    # A search waits for bids, which arrive through this very mailbox: it runs beside it.
    beside_mailbox = frozenset((SEARCH_BEHAVIOR,))
    max_beside = 256

    def __init__(
        self,
        *,
        offering: Callable[[], Offering | None],
        rtt: Callable[[str], float | None] = lambda did: None,
        failures: FailureBook | None = None,
        expected: Callable[[], int | None] = lambda: None,
        chain: RankerChain | None = None,
        reject_requesters: frozenset[str] = frozenset(),
        bid_validity_seconds: float = 60.0,
        clock_skew_seconds: float = 30.0,
        retry: Callable[[], Backoff] = lambda: Backoff(0.25, 10.0),
        topic: str = REQUESTS_TOPIC,
        clock: Callable[[], float] = time.time,
        index: CapabilityIndex | None = None,
    ) -> None:
        super().__init__()
        self._offering = offering
        self._rtt = rtt
        # Orchestration records failed allocations here too.
        self.failures = failures if failures is not None else FailureBook()
        self._expected = expected
        self._chain = chain or RankerChain.from_weights()
        self._reject_requesters = reject_requesters
        self._validity = bid_validity_seconds
        self._skew = clock_skew_seconds
        self._retry = retry
        self._topic = topic
        self._clock = clock
        self._index = index
        self._rounds: dict[str, tuple[BidRound, asyncio.Event]] = {}
        self._issued: dict[str, tuple[str, BidTerms]] = {}  # request id -> (orchestrator, bid)

    async def on_start(self) -> None:
        await self.subscribe(self._topic)

    # -- the provider's side -----------------------------------------------------------------
    @behavior(REQUEST_BEHAVIOR, public=True)
    async def on_request(self, message: Message) -> None:
        sender = message.sender
        try:
            request = msgspec.convert(message.payload, BidRequest, strict=False)
        except msgspec.ValidationError as exc:
            self._record(RequestRefused(sender=sender.did, reason=f"malformed request: {exc}"))
            return
        if request.orchestrator != sender.did:
            self._record(
                RequestRefused(
                    sender=sender.did,
                    reason=f"request claims orchestrator {request.orchestrator} "
                    f"but was signed by {sender.did}",
                )
            )
            return
        now = self._clock()
        if now > request.deadline:
            self._record(RequestRefused(sender=sender.did, reason="request past its deadline"))
            return
        if sender.did in self._reject_requesters:
            self._record(RequestRefused(sender=sender.did, reason="requester refused by policy"))
            return
        reply_to = Handle(request.orchestrator, request.reply_actor, request.reply_node)
        terms = self._decide(request, now)
        if isinstance(terms, DeclineTerms):
            self._record(
                Declined(
                    request_id=request.request_id,
                    orchestrator=request.orchestrator,
                    constraints=list(terms.constraints),
                )
            )
            if not request.explain:
                return
        else:
            self._remember(request.orchestrator, terms)
            self._record(
                BidSent(
                    request_id=request.request_id,
                    orchestrator=request.orchestrator,
                    hourly_cost=terms.hourly_cost,
                    valid_until=terms.valid_until,
                )
            )
        reply = sign_reply(terms, self.system.key)
        try:
            await self.send(
                reply_to,
                BID_BEHAVIOR,
                reply,
                expiry=max(1.0, request.deadline - now + self._skew),
            )
        except NunetError as exc:
            log.warning("bid not delivered", request=request.request_id, error=str(exc))

    def issued_bid(self, request_id: str, orchestrator: str) -> BidTerms | None:
        """The bid this node sent `orchestrator` for `request_id`, while it is valid: a commit
        is accepted only on the strength of one."""
        issued = self._issued.get(request_id)
        if issued is None or issued[0] != orchestrator:
            return None
        terms = issued[1]
        return terms if self._clock() <= terms.valid_until else None

    def _remember(self, orchestrator: str, terms: BidTerms) -> None:
        now = self._clock()
        for request_id in [r for r, (_, t) in self._issued.items() if t.valid_until < now]:
            del self._issued[request_id]
        self._issued[terms.request_id] = (orchestrator, terms)

    def _decide(self, request: BidRequest, now: float) -> BidTerms | DeclineTerms:
        me = self.handle
        offering = self._offering()
        if offering is None:
            return DeclineTerms(
                request_id=request.request_id,
                bidder=me.did,
                constraints=(NOT_ONBOARDED,),
                details=("this node has not onboarded any resources",),
                issued_at=now,
            )
        capability, free = offering
        fit = check(capability, free, request.requirement, did=me.did)
        if not fit.ok:
            return DeclineTerms(
                request_id=request.request_id,
                bidder=me.did,
                constraints=tuple(dict.fromkeys(u.constraint for u in fit.unmet)),
                details=tuple(f"{u.constraint}: {u.detail}"[:1024] for u in fit.unmet),
                issued_at=now,
            )
        asked = _asked(request.requirement, fit.gpus)
        return BidTerms(
            request_id=request.request_id,
            bidder=me.did,
            actor=me.actor,
            node=me.node,
            capability=capability,
            free=free,
            gpus=fit.gpus,
            hourly_cost=hourly_cost(capability.price, asked),
            issued_at=now,
            valid_until=now + self._validity,
        )

    # -- the orchestrator's side -------------------------------------------------------------
    @behavior(BID_BEHAVIOR, public=True)
    async def on_bid(self, message: Message) -> None:
        sender = message.sender.did
        try:
            reply = msgspec.convert(message.payload, SignedReply, strict=False)
            terms = open_reply(reply, sender)
        except msgspec.ValidationError as exc:
            self._refused(sender, "", f"malformed reply: {exc}")
            return
        except BidRejected as exc:
            self._refused(sender, "", str(exc))
            return
        entry = self._rounds.get(terms.request_id)
        if entry is None:
            # Not held against the sender: a round that just closed looks the same.
            self._refused(
                sender, terms.request_id, "no open bid round has this request id", failure=False
            )
            return
        bid_round, done = entry
        now = self._clock()
        rejection = bid_round.offer(terms, now)
        if rejection is not None:
            self._refused(sender, terms.request_id, rejection.reason)
        if bid_round.complete(now, expected_replies=self._expected()):
            done.set()

    @behavior(SEARCH_BEHAVIOR, payload_type=SearchRequest)
    async def search(self, message: Message) -> dict[str, Any]:
        ask: SearchRequest = message.payload
        try:
            requirement = _requirement(ask.requirement)
            chain = self._chain if ask.rankers is None else RankerChain.from_weights(ask.rankers)
        except (CapabilityError, MatchingError) as exc:
            raise BehaviorFailed(str(exc), code="invalid-requirement") from None
        started = self._clock()
        queue_until = started + ask.queue_timeout
        backoff = self._retry()
        attempt = 0
        while True:
            attempt += 1
            result = await self.bid_round(
                requirement,
                timeout=ask.timeout,
                want=ask.want,
                explain=ask.explain,
                chain=chain,
                attempt=attempt,
            )
            now = self._clock()
            if result.matched or now >= queue_until:
                return _answer(result, attempt, now - started)
            delay = min(backoff.next_delay(), max(0.0, queue_until - now))
            self._record(
                Queued(
                    request_id=result.request.request_id,
                    attempt=attempt,
                    retry_in_seconds=round(delay, 3),
                    why=result.why_not(),
                )
            )
            await asyncio.sleep(delay)

    @behavior(INDEX_QUERY_BEHAVIOR, payload_type=IndexQuery)
    async def query_index(self, message: Message) -> dict[str, Any]:
        """What the swarm's replicated announcements say could serve a requirement: no bids,
        no network; as current as the replicated logs (a bid round asks the nodes themselves)."""
        if self._index is None:
            raise BehaviorFailed("this node keeps no capability index", code="no-index")
        ask: IndexQuery = message.payload
        try:
            requirement = _requirement(ask.requirement)
            answer = self._index.query(requirement, limit=ask.limit)
        except (CapabilityError, CapabilityIndexError) as exc:
            raise BehaviorFailed(str(exc), code="invalid-requirement") from None
        return {
            "candidates": [
                {
                    "did": c.did,
                    "score": round(c.score, 6),
                    "hourly_cost": hourly_cost(c.capability.price, _asked(requirement, c.gpus)),
                    "currency": c.capability.price.currency,
                    "free": msgspec.to_builtins(c.free),
                    "gpus": [gpu.index for gpu in c.gpus],
                    "benchmarks": msgspec.to_builtins(c.capability.benchmarks),
                    "location": msgspec.to_builtins(c.capability.location),
                }
                for c in answer.candidates
            ],
            "excluded": answer.excluded,
            "considered": answer.considered,
            "matched": answer.matched,
        }

    async def bid_round(
        self,
        requirement: Requirement,
        *,
        timeout: float = 2.0,
        want: int | None = None,
        explain: bool = True,
        chain: RankerChain | None = None,
        attempt: int = 1,
    ) -> RoundResult:
        """One round: broadcast, collect until done, rank. Used by search and orchestration."""
        now = self._clock()
        request = BidRequest(
            request_id=os.urandom(12).hex(),
            orchestrator=self.handle.did,
            reply_actor=self.handle.actor,
            reply_node=self.handle.node,
            requirement=requirement,
            issued_at=now,
            deadline=now + timeout,
            explain=explain,
        )
        bid_round = BidRound(request, want=want, skew=self._skew)
        done = asyncio.Event()
        self._rounds[request.request_id] = (bid_round, done)
        started = time.perf_counter()
        try:
            self._record(
                BidRequested(
                    request_id=request.request_id, deadline=request.deadline, attempt=attempt
                )
            )
            await self.publish(self._topic, REQUEST_BEHAVIOR, request, expiry=timeout + self._skew)
            with contextlib.suppress(TimeoutError):  # the deadline: rank what came
                await asyncio.wait_for(done.wait(), timeout)
        finally:
            del self._rounds[request.request_id]
        context = RankingContext(requirement, rtt=self._rtt, failures=self.failures.count)
        result = bid_round.result(chain or self._chain, context)
        self._record(
            RoundCompleted(
                request_id=request.request_id,
                candidates=[r.bid.bidder for r in result.candidates[:32]],
                bids=len(result.candidates),
                declined=result.declined,
                excluded=result.excluded,
                rejected=len(result.rejected),
                elapsed_seconds=round(time.perf_counter() - started, 6),
            )
        )
        return result

    # -- plumbing ----------------------------------------------------------------------------
    def _refused(self, sender: str, request_id: str, reason: str, *, failure: bool = True) -> None:
        if failure:
            self.failures.record(sender)
        self._record(BidRefused(sender=sender, request_id=request_id, reason=reason))
        log.warning("bid refused", sender=sender, request=request_id, reason=reason)

    def _record(self, event: Event) -> None:
        self.system.event_log.append_nowait(event, actor=str(self.handle))


def _asked(requirement: Requirement, gpus: tuple[Gpu, ...]) -> Resources:
    return Resources(cpu=requirement.cpu, ram=requirement.ram, disk=requirement.disk, gpus=gpus)


def _requirement(value: Any) -> Requirement:
    requirement = (
        parse_requirement_spec(value)
        if isinstance(value, str)
        else requirement_from_user(value, field="requirement")
    )
    validate_requirement(requirement)
    return requirement


def _answer(result: RoundResult, attempts: int, elapsed: float) -> dict[str, Any]:
    return {
        "request_id": result.request.request_id,
        "attempts": attempts,
        "matched": result.matched,
        "candidates": [
            {
                "did": ranked.bid.bidder,
                "actor": ranked.bid.actor,
                "node": ranked.bid.node,
                "score": ranked.score,
                "by_ranker": ranked.by_ranker,
                "hourly_cost": ranked.bid.hourly_cost,
                "currency": ranked.bid.capability.price.currency,
                "free": msgspec.to_builtins(ranked.bid.free),
                "gpus": [gpu.index for gpu in ranked.bid.gpus],
                "benchmarks": msgspec.to_builtins(ranked.bid.capability.benchmarks),
                "location": msgspec.to_builtins(ranked.bid.capability.location),
                "valid_until": ranked.bid.valid_until,
            }
            for ranked in result.candidates
        ],
        "declined": result.declined,
        "excluded": result.excluded,
        "rejected": [{"bidder": r.bidder, "reason": r.reason} for r in result.rejected],
        "why": "" if result.matched else result.why_not(),
        "elapsed_seconds": round(elapsed, 6),
    }
