"""Who a node or user is: Ed25519 key pairs, did:key identifiers, an encrypted key store."""

from nunet.identity.did import did_from_public_key, public_key_from_did
from nunet.identity.errors import (
    IdentityError,
    InvalidDID,
    InvalidSignature,
    KeyExists,
    KeyNotFound,
    WrongPassphrase,
)
from nunet.identity.keys import KeyPair, verify_signature
from nunet.identity.keystore import KeyStore

__all__ = [
    "IdentityError",
    "InvalidDID",
    "InvalidSignature",
    "KeyExists",
    "KeyNotFound",
    "KeyPair",
    "KeyStore",
    "WrongPassphrase",
    "did_from_public_key",
    "public_key_from_did",
    "verify_signature",
]
