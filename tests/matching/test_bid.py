"""Signed replies: a bid or decline opens only for its signer, with its exact signed bytes."""

from __future__ import annotations

import msgspec
import pytest

from nunet.capability.model import Requirement
from nunet.identity import KeyPair
from nunet.matching import BidRejected, BidTerms, DeclineTerms, SignedReply, open_reply, sign_reply
from tests.matching.samples import bid, decline, offer, request

ORCHESTRATOR = KeyPair.generate()
BIDDER = KeyPair.generate()
OTHER = KeyPair.generate()
REQUEST = request(ORCHESTRATOR, Requirement(cpu=2))


def test_a_signed_bid_opens_to_the_same_terms_for_its_signer() -> None:
    terms = bid(BIDDER, REQUEST, offer())
    reply = sign_reply(terms, BIDDER)
    assert reply.kind == "bid"
    assert open_reply(reply, BIDDER.did) == terms


def test_a_signed_decline_opens_to_the_same_terms() -> None:
    terms = decline(BIDDER, REQUEST, "cpu", "ram")
    reply = sign_reply(terms, BIDDER)
    assert reply.kind == "decline"
    opened = open_reply(reply, BIDDER.did)
    assert isinstance(opened, DeclineTerms)
    assert opened.constraints == ("cpu", "ram")


def test_a_reply_survives_the_envelopes_plain_data_round_trip() -> None:
    reply = sign_reply(bid(BIDDER, REQUEST, offer()), BIDDER)
    plain = msgspec.to_builtins(reply, builtin_types=(bytes,))
    wire = msgspec.msgpack.decode(msgspec.msgpack.encode(plain))
    assert open_reply(msgspec.convert(wire, SignedReply, strict=False), BIDDER.did).bidder == (
        BIDDER.did
    )


def test_a_bid_sent_by_another_node_than_its_bidder_is_rejected() -> None:
    reply = sign_reply(bid(BIDDER, REQUEST, offer()), BIDDER)
    with pytest.raises(BidRejected, match="can only bid for itself"):
        open_reply(reply, OTHER.did)


def test_terms_signed_by_another_key_are_rejected() -> None:
    terms = bid(BIDDER, REQUEST, offer())
    forged = SignedReply(
        kind="bid",
        terms=msgspec.msgpack.encode(terms),
        signature=sign_reply(bid(OTHER, REQUEST, offer()), OTHER).signature,
    )
    with pytest.raises(BidRejected, match="signature does not verify"):
        open_reply(forged, BIDDER.did)


def test_altered_terms_no_longer_verify() -> None:
    reply = sign_reply(bid(BIDDER, REQUEST, offer(), cost=5.0), BIDDER)
    cheaper = msgspec.msgpack.encode(
        msgspec.structs.replace(msgspec.msgpack.decode(reply.terms, type=BidTerms), hourly_cost=0.1)
    )
    with pytest.raises(BidRejected, match="signature does not verify"):
        open_reply(msgspec.structs.replace(reply, terms=cheaper), BIDDER.did)


def test_a_decline_relabelled_as_a_bid_is_malformed() -> None:
    reply = sign_reply(decline(BIDDER, REQUEST, "cpu"), BIDDER)
    with pytest.raises(BidRejected, match="malformed bid terms"):
        open_reply(msgspec.structs.replace(reply, kind="bid"), BIDDER.did)


def test_signing_terms_for_another_bidder_is_refused() -> None:
    with pytest.raises(ValueError, match="the key is"):
        sign_reply(bid(BIDDER, REQUEST, offer()), OTHER)
