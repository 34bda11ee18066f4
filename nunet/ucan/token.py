"""Capability tokens: what a DID may invoke for a subject, signed, with its proof chain inside.

Wire form: a msgpack pair `[body, signature]` where `body` is the msgpack encoding of the token's
fields and `signature` is the issuer's Ed25519 signature of exactly those bytes. Both encodings are
canonical (decoding re-encodes and compares), so one token has one byte string and one id: the
SHA-256 of its wire bytes. A delegated token carries its parent's wire bytes as `proof`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from nunet.ucan.behavior import check_path, check_topic, covers
from nunet.ucan.errors import CapabilityError, MalformedToken

VERSION = 1
MAX_TOKEN_BYTES = 64 * 1024
MAX_CHAIN_LENGTH = 32
NONCE_BYTES = 16


class _Body(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    version: int
    issuer: str
    audience: str
    subject: str
    capabilities: tuple[str, ...]
    topics: tuple[str, ...]
    not_before: float
    expiry: float
    depth: int
    nonce: bytes
    proof: bytes | None


class _Signed(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    body: bytes
    signature: bytes


_BODY_DECODER = msgspec.msgpack.Decoder(_Body)
_SIGNED_DECODER = msgspec.msgpack.Decoder(_Signed)
_ENCODER = msgspec.msgpack.Encoder()


@dataclass(frozen=True, slots=True, eq=False)
class Token:
    """A decoded token. Decoding checks shape; `nunet.ucan.chain` checks signatures and rules."""

    issuer: str
    audience: str
    subject: str
    capabilities: tuple[str, ...]
    topics: tuple[str, ...]
    not_before: float
    expiry: float
    depth: int
    nonce: bytes
    proof: Token | None
    body: bytes
    signature: bytes
    encoded: bytes
    id: str

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Token) and other.encoded == self.encoded

    def __hash__(self) -> int:
        return hash(self.encoded)

    def chain(self) -> tuple[Token, ...]:
        """This token and its ancestors, the root (the token with no proof) first."""
        tokens: list[Token] = []
        token: Token | None = self
        while token is not None:
            tokens.append(token)
            token = token.proof
        return tuple(reversed(tokens))

    def grants(self, behavior: str, topic: str | None = None) -> bool:
        """True when some capability covers `behavior` and `topic` (if any) is among the topics."""
        if topic is not None and topic not in self.topics:
            return False
        return any(covers(cap, behavior) for cap in self.capabilities)

    def text(self) -> str:
        return token_text(self.encoded)

    def describe(self) -> dict[str, Any]:
        """A plain summary for people: ids, DIDs, capabilities, times."""
        return {
            "id": self.id,
            "issuer": self.issuer,
            "audience": self.audience,
            "subject": self.subject,
            "capabilities": list(self.capabilities),
            "topics": list(self.topics),
            "not_before": self.not_before,
            "expiry": self.expiry,
            "depth": self.depth,
            "chain_length": len(self.chain()),
        }


def token_id(encoded: bytes) -> str:
    """The id of a token (or revocation): SHA-256 of its wire bytes, in hex."""
    return hashlib.sha256(encoded).hexdigest()


def token_text(encoded: bytes) -> str:
    """The copy-and-paste form: unpadded base64url of the wire bytes."""
    return base64.urlsafe_b64encode(encoded).rstrip(b"=").decode("ascii")


def bytes_from_text(text: str, what: str = "token") -> bytes:
    """Undo `token_text`; raise MalformedToken naming the problem."""
    cleaned = "".join(text.split()) if isinstance(text, str) else ""
    if not cleaned:
        raise MalformedToken(f"empty {what} text")
    if len(cleaned) > MAX_TOKEN_BYTES * 2:
        raise MalformedToken(f"{what} text is longer than any {what} can be")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise MalformedToken(
            f"{what} text {cleaned[:24]!r}... is not base64url"
            " (copy the whole text printed by `nunet cap grant`)"
        ) from None


def token_from_text(text: str) -> Token:
    return decode_token(bytes_from_text(text))


def decode_token(encoded: bytes) -> Token:
    """Decode wire bytes and their whole proof chain; raise MalformedToken (a CapabilityDenied)."""
    if not isinstance(encoded, bytes | bytearray | memoryview):
        raise MalformedToken(f"a token is bytes, not {type(encoded).__name__}")
    return _decode(bytes(encoded), 0)


def _decode(encoded: bytes, depth: int) -> Token:
    if depth >= MAX_CHAIN_LENGTH:
        raise MalformedToken(f"proof chain is longer than {MAX_CHAIN_LENGTH} tokens")
    if len(encoded) > MAX_TOKEN_BYTES:
        raise MalformedToken(f"token is {len(encoded)} bytes; at most {MAX_TOKEN_BYTES} allowed")
    try:
        signed = _SIGNED_DECODER.decode(encoded)
        body = _BODY_DECODER.decode(signed.body)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
        raise MalformedToken(f"not a capability token: {exc}") from None
    if _ENCODER.encode(signed) != encoded or _ENCODER.encode(body) != signed.body:
        raise MalformedToken("token is not canonically encoded")
    if body.version != VERSION:
        raise MalformedToken(f"token version {body.version} is not supported (only {VERSION})")
    try:
        _check_fields(body)
    except CapabilityError as exc:
        raise MalformedToken(f"malformed token: {exc}") from None
    proof = _decode(body.proof, depth + 1) if body.proof is not None else None
    return Token(
        issuer=body.issuer,
        audience=body.audience,
        subject=body.subject,
        capabilities=body.capabilities,
        topics=body.topics,
        not_before=body.not_before,
        expiry=body.expiry,
        depth=body.depth,
        nonce=body.nonce,
        proof=proof,
        body=signed.body,
        signature=signed.signature,
        encoded=encoded,
        id=token_id(encoded),
    )


def _check_fields(body: _Body) -> None:
    if not body.capabilities:
        raise CapabilityError("a token grants at least one capability")
    for cap in body.capabilities:
        check_path(cap)
    for topic in body.topics:
        check_topic(topic)
    if len(set(body.capabilities)) != len(body.capabilities) or len(set(body.topics)) != len(
        body.topics
    ):
        raise CapabilityError("capabilities and topics are listed once each")
    if not (body.not_before == body.not_before and body.expiry == body.expiry):
        raise CapabilityError("times must be numbers, not NaN")
    if body.expiry <= body.not_before:
        raise CapabilityError(f"expiry {body.expiry} is not after not-before {body.not_before}")
    if body.depth < 0 or body.depth >= MAX_CHAIN_LENGTH:
        raise CapabilityError(f"delegation depth {body.depth} is outside 0..{MAX_CHAIN_LENGTH - 1}")
    if len(body.nonce) != NONCE_BYTES:
        raise CapabilityError(f"nonce has {len(body.nonce)} bytes, not {NONCE_BYTES}")
    for did in (body.issuer, body.audience, body.subject):
        if not isinstance(did, str) or not did.startswith("did:") or len(did) > 256:
            raise CapabilityError(f"{did!r} is not a DID")


def encode_token(
    *,
    sign: Callable[[bytes], bytes],
    issuer: str,
    audience: str,
    subject: str,
    capabilities: tuple[str, ...],
    topics: tuple[str, ...],
    not_before: float,
    expiry: float,
    depth: int,
    proof: bytes | None,
    nonce: bytes | None = None,
) -> bytes:
    """Encode and sign a token body with `sign` (the issuer's `KeyPair.sign`)."""
    body = _Body(
        version=VERSION,
        issuer=issuer,
        audience=audience,
        subject=subject,
        capabilities=tuple(capabilities),
        topics=tuple(topics),
        not_before=float(not_before),
        expiry=float(expiry),
        depth=depth,
        nonce=os.urandom(NONCE_BYTES) if nonce is None else nonce,
        proof=proof,
    )
    _check_fields(body)
    body_bytes = _ENCODER.encode(body)
    signature = sign(body_bytes)
    return _ENCODER.encode(_Signed(body=body_bytes, signature=signature))
