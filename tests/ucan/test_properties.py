"""Properties over random chains: tampering is always a denial, narrowing always verifies."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nunet.identity import KeyPair
from nunet.ucan import (
    CapabilityContext,
    CapabilityDenied,
    MemoryAnchorStore,
    Token,
    decode_token,
    delegate,
    grant,
    verify_chain,
)
from nunet.ucan.behavior import narrower

from .conftest import NOW, key
from .forge import forge

NODE = key(1)
HOLDERS = [key(n) for n in range(2, 8)]
SEGMENTS = st.sampled_from(["dms", "node", "peers", "list", "deployment", "bid", "x"])
PATHS = st.lists(SEGMENTS, min_size=1, max_size=4).map(lambda s: "/" + "/".join(s))
TOPICS = st.sampled_from(["/nunet/a", "/nunet/b", "/nunet/c"])
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def chains(draw: st.DrawFn) -> tuple[Token, KeyPair]:
    """A random valid chain from NODE: each link narrows its parent at random."""
    length = draw(st.integers(1, 5))
    caps = draw(st.lists(PATHS, min_size=1, max_size=3, unique=True))
    topics = draw(st.lists(TOPICS, max_size=3, unique=True))
    expiry = NOW + draw(st.integers(3600, 10 * 24 * 3600))
    holder = draw(st.sampled_from(HOLDERS))
    token = grant(
        NODE,
        audience=holder.did,
        capabilities=caps,
        topics=topics,
        expiry=expiry,
        depth=length - 1 + draw(st.integers(0, 2)),
        now=NOW - 1,
    )
    for link in range(length - 1):
        child_caps = [
            cap + draw(st.sampled_from(["", "", "/node", "/peers/list"]))
            for cap in draw(st.lists(st.sampled_from(token.capabilities), min_size=1, unique=True))
        ]
        child_topics = (
            draw(st.lists(st.sampled_from(token.topics), unique=True)) if token.topics else []
        )
        audience = draw(st.sampled_from(HOLDERS))
        token = delegate(
            token,
            holder,
            audience=audience.did,
            capabilities=child_caps,
            topics=child_topics,
            expiry=token.expiry - draw(st.integers(0, 30)),
            depth=draw(st.integers(length - 2 - link, token.depth - 1)),
            now=NOW - 1,
        )
        holder = audience
    return token, holder


@SETTINGS
@given(chains())
def test_a_valid_random_chain_verifies_and_authorizes_its_holder(
    chain: tuple[Token, KeyPair],
) -> None:
    token, holder = chain
    verified = verify_chain(decode_token(token.encoded))
    verified.check_at(NOW)
    context = CapabilityContext(NODE.did, MemoryAnchorStore(NODE.did))
    for cap in token.capabilities:
        topic = token.topics[0] if token.topics else None
        context.authorize(holder.did, cap, topic=topic, proofs=[token.encoded], now=NOW)


@st.composite
def mutations(draw: st.DrawFn, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "splice"]))
    i = draw(st.integers(0, len(data) - 1))
    if kind == "flip":
        bit = draw(st.integers(0, 7))
        return data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1 :]
    if kind == "set":
        value = draw(st.integers(0, 255).filter(lambda v: v != data[i]))
        return data[:i] + bytes([value]) + data[i + 1 :]
    if kind == "truncate":
        return data[:i]
    if kind == "insert":
        return data[:i] + draw(st.binary(min_size=1, max_size=8)) + data[i:]
    if kind == "delete":
        j = draw(st.integers(i + 1, len(data)))
        return data[:i] + data[j:]
    j = draw(st.integers(i, len(data)))
    replacement = draw(st.binary(max_size=16))
    return data[:i] + replacement + data[j:]


@SETTINGS
@given(chains(), st.data())
def test_any_mutation_of_a_tokens_bytes_is_a_capability_denial(
    chain: tuple[Token, KeyPair], data: st.DataObject
) -> None:
    token, holder = chain
    mutated = data.draw(mutations(token.encoded))
    if mutated == token.encoded:
        return
    context = CapabilityContext(NODE.did, MemoryAnchorStore(NODE.did))
    try:
        context.authorize(holder.did, token.capabilities[0], topic=None, proofs=[mutated], now=NOW)
    except CapabilityDenied:
        pass
    else:
        raise AssertionError("a mutated token was accepted")
    try:
        verify_chain(decode_token(mutated))
    except CapabilityDenied:
        return
    raise AssertionError("a mutated token verified")


WIDENINGS = st.sampled_from(["capability", "sibling", "topic", "expiry", "depth"])


@SETTINGS
@given(chains(), WIDENINGS, st.sampled_from(HOLDERS))
def test_a_delegation_that_widens_anything_is_rejected(
    chain: tuple[Token, KeyPair], widening: str, audience: KeyPair
) -> None:
    parent, holder = chain
    fields: dict[str, object] = {
        "capabilities": parent.capabilities,
        "topics": parent.topics,
        "expiry": parent.expiry,
        "depth": max(parent.depth - 1, 0),
    }
    if widening == "capability":
        fields["capabilities"] = ("/",)
    elif widening == "sibling":
        siblings = [
            c + "x" for c in parent.capabilities if not narrower(c + "x", parent.capabilities)
        ]
        fields["capabilities"] = (siblings[0],) if siblings else ("/",)
    elif widening == "topic":
        fields["topics"] = (*parent.topics, "/nunet/other")
    elif widening == "expiry":
        fields["expiry"] = parent.expiry + 1
    else:
        fields["depth"] = parent.depth
    child = forge(holder, parent=parent, audience=audience.did, not_before=NOW - 1, **fields)  # type: ignore[arg-type]
    with pytest.raises(CapabilityDenied, match="widened"):
        verify_chain(child)
    context = CapabilityContext(NODE.did, MemoryAnchorStore(NODE.did))
    try:
        context.authorize(
            audience.did, child.capabilities[0], topic=None, proofs=[child.encoded], now=NOW
        )
    except CapabilityDenied:
        return
    raise AssertionError("a widening delegation authorized")
