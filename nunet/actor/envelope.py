"""The immutable, signed envelope every actor message travels in, and its wire codec.

Wire form: a msgpack array `[1, body, signature]`. `body` is the canonical encoding of the
envelope (msgpack, struct fields in order, map keys sorted) and the Ed25519 signature of the
sender's DID covers exactly those bytes. On receipt the body is decoded, re-encoded and compared,
so one envelope has exactly one accepted byte form.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Annotated, Any

import msgspec

from nunet.actor.errors import (
    EnvelopeTooLarge,
    ForgedEnvelope,
    MalformedEnvelope,
    NonCanonicalEnvelope,
    UnsignedEnvelope,
)
from nunet.actor.handle import Handle
from nunet.identity import IdentityError, KeyPair, verify_signature

DEFAULT_EXPIRY_SECONDS = 30.0
MAX_ENVELOPE_BYTES = 1 << 20
WIRE_VERSION = 1

BehaviorPath = Annotated[str, msgspec.Meta(pattern=r"^/[A-Za-z0-9_.\-/]*$", max_length=256)]
Nonce = Annotated[bytes, msgspec.Meta(min_length=16, max_length=16)]
TraceParent = Annotated[
    str, msgspec.Meta(pattern=r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
]
Proofs = Annotated[tuple[bytes, ...], msgspec.Meta(max_length=16)]


class NonceSource:
    """Unique 16-byte nonces without a system call each: a random prefix and a counter.

    Nonces must never repeat for one sender (the replay window keys on them); they need not be
    unpredictable, because the signature already binds them to their envelope.
    """

    def __init__(self) -> None:
        self._prefix = os.urandom(8)
        self._count = itertools.count(1)

    def __call__(self) -> bytes:
        return self._prefix + next(self._count).to_bytes(8, "big")


class Envelope(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """One message from one actor to another (or to a topic). Times are ns since the epoch."""

    sender: Handle
    recipient: Handle
    behavior: BehaviorPath
    payload: Any = None
    nonce: Nonce
    created_at: int
    expires_at: int
    reply_to: BehaviorPath | None = None
    in_reply_to: Nonce | None = None
    topic: str | None = None
    capability: Proofs = ()
    trace: TraceParent | None = None

    @classmethod
    def create(
        cls,
        sender: Handle,
        recipient: Handle,
        behavior: str,
        payload: Any = None,
        *,
        expiry: float = DEFAULT_EXPIRY_SECONDS,
        reply_to: str | None = None,
        in_reply_to: bytes | None = None,
        topic: str | None = None,
        capability: tuple[bytes, ...] = (),
        trace: str | None = None,
        nonce: bytes | None = None,
        now_ns: int | None = None,
    ) -> Envelope:
        """A new envelope; the payload is reduced to plain msgpack data so local and remote
        receivers see the same values."""
        now = time.time_ns() if now_ns is None else now_ns
        if payload is not None and not isinstance(payload, str | int | float | bool):
            payload = msgspec.to_builtins(payload, builtin_types=(bytes,))
        return cls(
            sender=sender,
            recipient=recipient,
            behavior=behavior,
            payload=payload,
            nonce=os.urandom(16) if nonce is None else nonce,
            created_at=now,
            expires_at=now + int(expiry * 1e9),
            reply_to=reply_to,
            in_reply_to=in_reply_to,
            topic=topic,
            capability=capability,
            trace=trace,
        )


_body_encoder = msgspec.msgpack.Encoder(order="deterministic")
_wire_encoder = msgspec.msgpack.Encoder()
_body_decoder = msgspec.msgpack.Decoder(Envelope)
_wire_decoder = msgspec.msgpack.Decoder(tuple[int, bytes, bytes])


def canonical_body(envelope: Envelope) -> bytes:
    return _body_encoder.encode(envelope)


def seal(envelope: Envelope, key: KeyPair) -> bytes:
    """Sign the envelope with the sender's key and return its wire bytes."""
    if key.did != envelope.sender.did:
        raise ValueError(f"key {key.did} cannot sign for sender {envelope.sender.did}")
    body = _body_encoder.encode(envelope)
    return _wire_encoder.encode((WIRE_VERSION, body, key.sign(body)))


def unseal(data: bytes, *, max_size: int = MAX_ENVELOPE_BYTES) -> Envelope:
    """Decode wire bytes and check signature and canonical form; raise EnvelopeRejected subclasses."""
    if len(data) > max_size:
        raise EnvelopeTooLarge(f"envelope of {len(data)} bytes exceeds the limit of {max_size}")
    try:
        version, body, signature = _wire_decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise MalformedEnvelope(f"not an envelope: {exc}") from None
    if version != WIRE_VERSION:
        raise MalformedEnvelope(f"unsupported envelope wire version {version}")
    try:
        envelope = _body_decoder.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise MalformedEnvelope(f"envelope body: {exc}") from None
    if not signature:
        raise UnsignedEnvelope(f"envelope from {envelope.sender.did} carries no signature")
    try:
        verify_signature(envelope.sender.did, body, signature)
    except IdentityError as exc:
        raise ForgedEnvelope(f"envelope from {envelope.sender.did!r}: {exc}") from None
    if _body_encoder.encode(envelope) != body:
        raise NonCanonicalEnvelope("envelope body is not in canonical encoding")
    return envelope


def peek_sender(data: bytes) -> tuple[str, str]:
    """Best-effort (claimed sender DID, behavior) of raw bytes, for logging a rejection."""
    try:
        _, body, _ = _wire_decoder.decode(data)
        fields = msgspec.msgpack.decode(body)
        return str(fields[0][0]), str(fields[2])
    except Exception:
        return "", ""
