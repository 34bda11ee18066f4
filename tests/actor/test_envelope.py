"""The envelope codec: signing, canonical form, and every way bad bytes are refused."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nunet.actor import (
    Envelope,
    EnvelopeRejected,
    EnvelopeTooLarge,
    ForgedEnvelope,
    Handle,
    MalformedEnvelope,
    NonCanonicalEnvelope,
    UnsignedEnvelope,
    canonical_body,
    seal,
    unseal,
)
from nunet.identity import KeyPair

ALICE = KeyPair.generate()
BOB = KeyPair.generate()

payloads = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def envelope(payload: object = None, **kw: object) -> Envelope:
    return Envelope.create(
        Handle(ALICE.did, "node", ALICE.did),
        Handle(BOB.did, "node", BOB.did),
        "/dms/node/peers/list",
        payload,
        **kw,  # type: ignore[arg-type]
    )


@given(payloads)
@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=60)
def test_sealed_envelopes_round_trip(payload: object) -> None:
    original = envelope(
        payload, topic="swarm.hello", trace="00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    )
    assert unseal(seal(original, ALICE)) == original


def test_map_order_does_not_change_the_signed_bytes() -> None:
    a = envelope({"x": 1, "y": 2})
    b = msgspec.structs.replace(a, payload={"y": 2, "x": 1})
    assert canonical_body(a) == canonical_body(b)


def test_only_the_senders_key_can_seal() -> None:
    with pytest.raises(ValueError, match="cannot sign"):
        seal(envelope(), BOB)


def test_forged_signature_is_refused() -> None:
    wire = msgspec.msgpack.decode(seal(envelope(), ALICE))
    forged = msgspec.msgpack.encode([1, wire[1], BOB.sign(wire[1])])
    with pytest.raises(ForgedEnvelope, match=ALICE.did):
        unseal(forged)


def test_edited_body_is_refused() -> None:
    original = envelope({"amount": 1})
    version, _body, signature = msgspec.msgpack.decode(seal(original, ALICE))
    edited = canonical_body(msgspec.structs.replace(original, payload={"amount": 1000}))
    with pytest.raises(ForgedEnvelope):
        unseal(msgspec.msgpack.encode([version, edited, signature]))


def test_unsigned_envelope_is_refused() -> None:
    body = canonical_body(envelope())
    with pytest.raises(UnsignedEnvelope):
        unseal(msgspec.msgpack.encode([1, body, b""]))


def test_non_canonical_body_is_refused_even_when_signed() -> None:
    original = envelope({"b": 1, "a": 2})
    fields = msgspec.msgpack.decode(canonical_body(original))
    fields[3] = {"b": 1, "a": 2}  # same data, keys out of canonical order
    body = msgspec.msgpack.encode(fields)
    assert body != canonical_body(original)
    with pytest.raises(NonCanonicalEnvelope):
        unseal(msgspec.msgpack.encode([1, body, ALICE.sign(body)]))


def test_oversized_envelope_is_refused_before_decoding() -> None:
    data = seal(envelope(b"x" * 5000), ALICE)
    with pytest.raises(EnvelopeTooLarge, match="exceeds the limit of 4096"):
        unseal(data, max_size=4096)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00", b"\x93\x01", b"not msgpack at all", msgspec.msgpack.encode([2, b"", b""])],
)
def test_malformed_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(MalformedEnvelope):
        unseal(data)


def test_bad_field_values_are_refused_with_the_field_named() -> None:
    fields = msgspec.msgpack.decode(canonical_body(envelope()))
    fields[2] = "no-leading-slash"
    body = msgspec.msgpack.encode(fields)
    with pytest.raises(MalformedEnvelope, match=r"\$\[2\]"):
        unseal(msgspec.msgpack.encode([1, body, ALICE.sign(body)]))


SEALED = seal(envelope({"k": [1, 2, 3]}), ALICE)


@given(st.integers(min_value=0, max_value=len(SEALED) - 1), st.integers(min_value=1, max_value=255))
@settings(max_examples=300)
def test_any_flipped_byte_is_refused_or_yields_the_same_envelope(index: int, flip: int) -> None:
    data = bytearray(SEALED)
    data[index] ^= flip
    try:
        result = unseal(bytes(data))
    except EnvelopeRejected:
        return
    # A flip inside the wire framing that decodes to identical content is harmless.
    assert result == unseal(SEALED)


@given(st.binary(max_size=len(SEALED)))
def test_truncations_and_garbage_are_refused(data: bytes) -> None:
    with pytest.raises(EnvelopeRejected):
        unseal(SEALED[: len(data) % len(SEALED)] if data else b"")
