"""Issuing tokens: a root grant by a subject, or a narrower delegation of a token one holds."""

from __future__ import annotations

from collections.abc import Iterable

from nunet.identity import InvalidDID, KeyPair, public_key_from_did
from nunet.ucan.behavior import check_path, check_topic
from nunet.ucan.chain import check_delegation
from nunet.ucan.errors import CapabilityDenied, CapabilityError
from nunet.ucan.timefmt import iso
from nunet.ucan.token import Token, decode_token, encode_token


def grant(
    key: KeyPair,
    *,
    audience: str,
    capabilities: Iterable[str],
    expiry: float,
    now: float,
    topics: Iterable[str] = (),
    depth: int = 0,
    not_before: float | None = None,
) -> Token:
    """A root token: `key` (as subject and issuer) lets `audience` invoke `capabilities`."""
    caps, tops = _check_request(audience, capabilities, topics, expiry, now, depth)
    encoded = encode_token(
        sign=key.sign,
        issuer=key.did,
        audience=audience,
        subject=key.did,
        capabilities=caps,
        topics=tops,
        not_before=now if not_before is None else not_before,
        expiry=expiry,
        depth=depth,
        proof=None,
    )
    return decode_token(encoded)


def delegate(
    parent: Token,
    key: KeyPair,
    *,
    audience: str,
    capabilities: Iterable[str],
    now: float,
    expiry: float | None = None,
    topics: Iterable[str] = (),
    depth: int | None = None,
    not_before: float | None = None,
) -> Token:
    """Derive from `parent` (held by `key`) a token for `audience` that only narrows it.

    Expiry defaults to the parent's, depth to one less than the parent's; widening anything
    raises CapabilityDenied naming what was widened.
    """
    if key.did != parent.audience:
        raise CapabilityDenied(
            f"{key.did} cannot delegate token {parent.id[:16]}: it was granted to {parent.audience}"
        )
    if parent.depth == 0 and depth is None:
        raise CapabilityDenied(f"token {parent.id[:16]} allows no further delegation (depth 0)")
    expiry = parent.expiry if expiry is None else expiry
    depth = parent.depth - 1 if depth is None else depth
    caps, tops = _check_request(audience, capabilities, topics, expiry, now, depth)
    encoded = encode_token(
        sign=key.sign,
        issuer=key.did,
        audience=audience,
        subject=parent.subject,
        capabilities=caps,
        topics=tops,
        not_before=now if not_before is None else not_before,
        expiry=expiry,
        depth=depth,
        proof=parent.encoded,
    )
    child = decode_token(encoded)
    check_delegation(parent, child, len(child.chain()) - 1)
    return child


def _check_request(
    audience: str,
    capabilities: Iterable[str],
    topics: Iterable[str],
    expiry: float,
    now: float,
    depth: int,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    try:
        public_key_from_did(audience)
    except InvalidDID as exc:
        raise CapabilityError(f"audience: {exc}") from None
    caps = tuple(dict.fromkeys(check_path(c) for c in capabilities))
    if not caps:
        raise CapabilityError("name at least one capability (a behavior path such as /dms/node)")
    tops = tuple(dict.fromkeys(check_topic(t) for t in topics))
    if expiry <= now:
        raise CapabilityError(f"expiry {iso(expiry)} is not in the future (now {iso(now)})")
    if depth < 0:
        raise CapabilityError(f"delegation depth {depth} is negative")
    return caps, tops
