"""What a bid round exchanges: the request an orchestrator broadcasts, and the signed bid or
decline each node answers with.

A reply's terms travel as the exact msgpack bytes the bidder signed, so the orchestrator (and
anyone it shows a bid to later) verifies the very bytes that were signed, whatever re-encoding
the envelope's payload went through.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from nunet.capability.model import Capability, Gpu, Requirement, Resources, Short
from nunet.identity import KeyPair, verify_signature
from nunet.identity.errors import IdentityError
from nunet.matching.errors import BidRejected

REQUESTS_TOPIC = "nunet.deployment.requests"
REQUEST_BEHAVIOR = "/dms/deployment/request"
BID_BEHAVIOR = "/dms/deployment/bid"

_SIGNING_CONTEXT = b"nunet/bid-reply/v1\x00"  # a bid signature can never pass for another message
Seconds = Annotated[float, msgspec.Meta(ge=0)]


class BidRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Broadcast by an orchestrator: who can serve `requirement`, answering before `deadline`?"""

    request_id: Annotated[str, msgspec.Meta(min_length=8, max_length=64)]
    orchestrator: Short  # DID; must be the broadcasting envelope's signer
    reply_actor: Short  # where bids go: the orchestrator's matching actor ...
    reply_node: Short  # ... on this transport address
    requirement: Requirement
    issued_at: Seconds  # wall clock
    deadline: Seconds  # wall clock; a bid after it is stale
    explain: bool = True  # nodes that cannot serve answer with a decline saying why


class BidTerms(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a node offers for one request; binding until `valid_until`."""

    request_id: Short
    bidder: Short  # DID of the node; the signer
    actor: Short  # the node's matching actor and transport address, to commit with later
    node: Short
    capability: Capability
    free: Resources  # free now, before this bid is taken
    gpus: tuple[Gpu, ...] = ()  # the devices the node would give (device-by-device assignment)
    hourly_cost: Seconds  # the requirement's resources at the node's price, per hour
    issued_at: Seconds
    valid_until: Seconds


class DeclineTerms(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A node cannot serve a request: `constraints` (capability.CONSTRAINTS keys) say why."""

    request_id: Short
    bidder: Short
    constraints: tuple[Short, ...]
    details: tuple[Annotated[str, msgspec.Meta(max_length=1024)], ...] = ()
    issued_at: Seconds


class SignedReply(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The payload of `/dms/deployment/bid`: signed terms of a bid or a decline."""

    kind: Literal["bid", "decline"]
    terms: Annotated[bytes, msgspec.Meta(max_length=256 * 1024)]
    signature: Annotated[bytes, msgspec.Meta(min_length=64, max_length=64)]


_encode = msgspec.msgpack.Encoder().encode
_bid_decoder = msgspec.msgpack.Decoder(BidTerms)
_decline_decoder = msgspec.msgpack.Decoder(DeclineTerms)


def sign_reply(terms: BidTerms | DeclineTerms, key: KeyPair) -> SignedReply:
    if terms.bidder != key.did:
        raise ValueError(f"terms name bidder {terms.bidder}, but the key is {key.did}")
    data = _encode(terms)
    kind: Literal["bid", "decline"] = "bid" if isinstance(terms, BidTerms) else "decline"
    return SignedReply(kind=kind, terms=data, signature=key.sign(_signed_bytes(kind, data)))


def open_reply(reply: SignedReply, sender: str) -> BidTerms | DeclineTerms:
    """The terms of `reply`, sent by the signer of its envelope `sender`; BidRejected unless the
    terms decode, name `sender` as the bidder and carry `sender`'s signature."""
    try:
        terms: BidTerms | DeclineTerms = (
            _bid_decoder.decode(reply.terms)
            if reply.kind == "bid"
            else _decline_decoder.decode(reply.terms)
        )
    except msgspec.DecodeError as exc:
        raise BidRejected(f"malformed {reply.kind} terms: {exc}") from None
    if terms.bidder != sender:
        raise BidRejected(
            f"{reply.kind} names bidder {terms.bidder} but was sent by {sender}: "
            "a node can only bid for itself"
        )
    try:
        verify_signature(sender, _signed_bytes(reply.kind, reply.terms), reply.signature)
    except IdentityError as exc:
        raise BidRejected(f"{reply.kind} signature does not verify: {exc}") from None
    return terms


def _signed_bytes(kind: str, terms: bytes) -> bytes:
    return _SIGNING_CONTEXT + kind.encode() + b"\x00" + terms
