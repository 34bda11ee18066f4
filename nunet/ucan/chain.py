"""The rules a proof chain obeys, checked without I/O: signatures, narrowing, time, revocation.

A chain reads from the root token (position 0, issued by its subject) down to the leaf. Each
delegation may only narrow its proof: issuer is the proof's audience, same subject, capabilities
covered by the proof's (by path segment), topics a subset, expiry no later, depth strictly less.
`verify_chain` checks the time-independent rules once (the expensive part: signatures);
`VerifiedChain.check_at` and `check_revocations` are cheap and run on every use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nunet.identity import InvalidDID, InvalidSignature, verify_signature
from nunet.ucan.behavior import narrower
from nunet.ucan.errors import CapabilityDenied
from nunet.ucan.timefmt import iso
from nunet.ucan.token import Token


@dataclass(frozen=True, slots=True)
class VerifiedChain:
    """A token whose chain has good signatures and only narrows; time and revocation still apply."""

    tokens: tuple[Token, ...]  # root first, leaf last

    @property
    def leaf(self) -> Token:
        return self.tokens[-1]

    @property
    def root(self) -> Token:
        return self.tokens[0]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.tokens)

    def check_at(self, now: float) -> None:
        """Raise CapabilityDenied unless every token of the chain is valid at `now`."""
        for position, token in enumerate(self.tokens):
            if now < token.not_before:
                raise CapabilityDenied(
                    f"token {position} ({token.id[:16]}) is not valid before"
                    f" {iso(token.not_before)}"
                )
            if now >= token.expiry:
                raise CapabilityDenied(
                    f"token {position} ({token.id[:16]}) expired at {iso(token.expiry)}"
                )

    def check_revocations(self, revokers: Mapping[str, frozenset[str]]) -> None:
        """Raise CapabilityDenied if a token is revoked by its issuer or an issuer above it.

        `revokers` maps a token id to the DIDs whose signed revocations of it were verified.
        """
        if not revokers:
            return
        issuers: set[str] = set()
        for token in self.tokens:
            issuers.add(token.issuer)
            by = revokers.get(token.id)
            if by:
                allowed = sorted(by & issuers)
                if allowed:
                    raise CapabilityDenied(f"revoked {token.id} by {allowed[0]}")


def verify_chain(token: Token) -> VerifiedChain:
    """Check every signature and every delegation rule of `token`'s chain, root to leaf."""
    tokens = token.chain()
    root = tokens[0]
    if root.issuer != root.subject:
        raise CapabilityDenied(
            f"broken chain at token 0: root token is issued by {root.issuer} for subject"
            f" {root.subject}; only a subject can issue a root token"
        )
    for position, current in enumerate(tokens):
        check_signature(current, position)
        if position:
            check_delegation(tokens[position - 1], current, position)
    return VerifiedChain(tokens)


def check_signature(token: Token, position: int = 0) -> None:
    try:
        verify_signature(token.issuer, token.body, token.signature)
    except InvalidDID as exc:
        raise CapabilityDenied(f"token {position}: issuer is not a usable DID: {exc}") from None
    except InvalidSignature:
        raise CapabilityDenied(f"bad signature of {token.issuer} on token {position}") from None


def check_delegation(parent: Token, child: Token, position: int) -> None:
    """Raise CapabilityDenied naming the first way `child` fails to narrow `parent`."""
    if child.issuer != parent.audience:
        raise CapabilityDenied(
            f"broken chain at token {position}: issuer {child.issuer} is not the audience"
            f" {parent.audience} of its proof"
        )
    if child.subject != parent.subject:
        raise CapabilityDenied(
            f"broken chain at token {position}: subject {child.subject} differs from its"
            f" proof's subject {parent.subject}"
        )
    for cap in child.capabilities:
        if not narrower(cap, parent.capabilities):
            raise CapabilityDenied(
                f"token {position} widened capability {cap} beyond {', '.join(parent.capabilities)}"
            )
    for topic in child.topics:
        if topic not in parent.topics:
            beyond = ", ".join(parent.topics) or "no topics"
            raise CapabilityDenied(f"token {position} widened topic {topic} beyond {beyond}")
    if child.expiry > parent.expiry:
        raise CapabilityDenied(
            f"token {position} widened expiry {iso(child.expiry)} beyond its proof's"
            f" {iso(parent.expiry)}"
        )
    if child.depth >= parent.depth:
        allowed = (
            "allows no further delegation"
            if parent.depth == 0
            else f"allows depth below {parent.depth}"
        )
        raise CapabilityDenied(
            f"token {position} widened delegation depth to {child.depth}; its proof {allowed}"
        )
