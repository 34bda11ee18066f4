"""`did:key` identifiers for Ed25519 public keys (multicodec 0xed, multibase base58btc)."""

from nunet.identity.errors import InvalidDID

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
_ED25519_PREFIX = b"\xed\x01"  # varint of multicodec 0xed (ed25519-pub)
_DID_KEY = "did:key:z"


def b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, rem = divmod(number, 58)
        out.append(_ALPHABET[rem])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        try:
            number = number * 58 + _INDEX[char]
        except KeyError:
            raise ValueError(f"{char!r} is not a base58btc character") from None
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def did_from_public_key(public_key: bytes) -> str:
    if len(public_key) != 32:
        raise InvalidDID(f"an Ed25519 public key has 32 bytes, not {len(public_key)}")
    return _DID_KEY + b58encode(_ED25519_PREFIX + public_key)


def public_key_from_did(did: str) -> bytes:
    """The Ed25519 public key a `did:key` names; raises InvalidDID naming what is wrong."""
    if not isinstance(did, str) or not did.startswith(_DID_KEY):
        raise InvalidDID(f"{did!r} is not a did:key (expected 'did:key:z...')")
    try:
        raw = b58decode(did[len(_DID_KEY) :])
    except ValueError as exc:
        raise InvalidDID(f"{did!r}: {exc}") from None
    if not raw.startswith(_ED25519_PREFIX) or len(raw) != 34:
        raise InvalidDID(f"{did!r} does not name an Ed25519 public key")
    return raw[2:]
