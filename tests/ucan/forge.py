"""Building tokens that break the rules on purpose, bypassing the checks `grant`/`delegate` make."""

from __future__ import annotations

from nunet.identity import KeyPair
from nunet.ucan import Token, decode_token
from nunet.ucan.token import encode_token

from .conftest import HOUR, NOW


def forge(
    signer: KeyPair,
    *,
    audience: str,
    parent: Token | None = None,
    issuer: str | None = None,
    subject: str | None = None,
    capabilities: tuple[str, ...] = ("/dms",),
    topics: tuple[str, ...] = (),
    not_before: float = NOW - HOUR,
    expiry: float = NOW + HOUR,
    depth: int = 0,
) -> Token:
    """A token signed by `signer` with any fields, even ones that widen `parent`."""
    issuer = signer.did if issuer is None else issuer
    if subject is None:
        subject = parent.subject if parent is not None else issuer
    encoded = encode_token(
        sign=signer.sign,
        issuer=issuer,
        audience=audience,
        subject=subject,
        capabilities=capabilities,
        topics=topics,
        not_before=not_before,
        expiry=expiry,
        depth=depth,
        proof=None if parent is None else parent.encoded,
    )
    return decode_token(encoded)
