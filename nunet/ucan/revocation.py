"""Signed revocations: an issuer in a token's chain declares the token (and all below it) void."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from nunet.identity import InvalidDID, InvalidSignature, KeyPair, verify_signature
from nunet.ucan.errors import MalformedToken
from nunet.ucan.token import MAX_TOKEN_BYTES, bytes_from_text, token_text

_KIND = "nunet-revocation"


class _Body(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    kind: str
    token_id: str
    issuer: str
    issued_at: float


class _Signed(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    body: bytes
    signature: bytes


_ENCODER = msgspec.msgpack.Encoder()
_BODY = msgspec.msgpack.Decoder(_Body)
_SIGNED = msgspec.msgpack.Decoder(_Signed)


@dataclass(frozen=True, slots=True)
class Revocation:
    """`issuer` declares token `token_id` revoked; the signature has been checked."""

    token_id: str
    issuer: str
    issued_at: float
    encoded: bytes

    def text(self) -> str:
        return token_text(self.encoded)


def revoke(key: KeyPair, revoked_id: str, now: float) -> Revocation:
    """Sign a revocation of token `revoked_id` with `key`."""
    _check_id(revoked_id)
    body = _ENCODER.encode(_Body(_KIND, revoked_id, key.did, float(now)))
    encoded = _ENCODER.encode(_Signed(body, key.sign(body)))
    return Revocation(revoked_id, key.did, float(now), encoded)


def decode_revocation(encoded: bytes) -> Revocation:
    """Decode and verify a revocation; raise MalformedToken naming what is wrong."""
    if len(encoded) > MAX_TOKEN_BYTES:
        raise MalformedToken("revocation is too large")
    try:
        signed = _SIGNED.decode(encoded)
        body = _BODY.decode(signed.body)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
        raise MalformedToken(f"not a revocation: {exc}") from None
    if body.kind != _KIND:
        raise MalformedToken(f"not a revocation: kind {body.kind!r}")
    if _ENCODER.encode(signed) != encoded or _ENCODER.encode(body) != signed.body:
        raise MalformedToken("revocation is not canonically encoded")
    _check_id(body.token_id)
    try:
        verify_signature(body.issuer, signed.body, signed.signature)
    except (InvalidDID, InvalidSignature):
        raise MalformedToken(f"bad signature of {body.issuer} on revocation") from None
    return Revocation(body.token_id, body.issuer, body.issued_at, encoded)


def revocation_from_text(text: str) -> Revocation:
    return decode_revocation(bytes_from_text(text, "revocation"))


def is_token_id(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def _check_id(value: str) -> None:
    if not is_token_id(value):
        raise MalformedToken(f"{value!r} is not a token id (64 lowercase hex digits)")
