"""Ed25519 signing keys and signature checks, named by their did:key."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import nacl.exceptions
import nacl.signing

from nunet.identity.did import did_from_public_key, public_key_from_did
from nunet.identity.errors import InvalidSignature


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A private Ed25519 key and the DID it answers to."""

    _signing: nacl.signing.SigningKey = field(repr=False)
    did: str

    @classmethod
    def generate(cls) -> KeyPair:
        return cls.from_seed(nacl.signing.SigningKey.generate().encode())

    @classmethod
    def from_seed(cls, seed: bytes) -> KeyPair:
        signing = nacl.signing.SigningKey(seed)
        return cls(signing, did_from_public_key(signing.verify_key.encode()))

    @property
    def seed(self) -> bytes:
        return self._signing.encode()

    @property
    def public_key(self) -> bytes:
        return self._signing.verify_key.encode()

    def sign(self, message: bytes) -> bytes:
        return self._signing.sign(message).signature


@lru_cache(maxsize=4096)
def _verify_key(did: str) -> nacl.signing.VerifyKey:
    return nacl.signing.VerifyKey(public_key_from_did(did))


def verify_signature(did: str, message: bytes, signature: bytes) -> None:
    """Raise InvalidSignature unless `signature` is `did`'s signature of `message`."""
    key = _verify_key(did)
    try:
        key.verify(message, signature)
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
        raise InvalidSignature(f"signature does not verify for {did}") from None
