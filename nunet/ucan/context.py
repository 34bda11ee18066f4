"""The capability check the actor runtime runs on every remote envelope, and the proofs it attaches.

Trust: the owner DID and root anchors may invoke anything. Anyone else needs a token chain whose
leaf is granted to them and covers the behavior (and topic), valid now, not revoked, and whose root
token was issued by a trusted DID (the owner or a root anchor). The chain comes with the envelope
as a proof, or sits in the node's require anchors so the sender need not carry it.
"""

from __future__ import annotations

from collections.abc import Sequence

from nunet.ucan.anchors import Anchors, AnchorStore
from nunet.ucan.behavior import is_public
from nunet.ucan.cache import ChainCache
from nunet.ucan.chain import VerifiedChain, verify_chain
from nunet.ucan.errors import AnchorError, CapabilityDenied
from nunet.ucan.token import Token, decode_token, token_id

MAX_PROOFS = 16


class CapabilityContext:
    """Authorizes invocations of `owner_did`'s behaviors against the anchors of one context."""

    def __init__(self, owner_did: str, anchors: AnchorStore, *, cache_size: int = 4096) -> None:
        self.owner_did = owner_did
        self.anchors = anchors
        self.cache = ChainCache(cache_size)

    def authorize(
        self,
        sender_did: str,
        behavior: str,
        *,
        topic: str | None,
        proofs: Sequence[bytes],
        now: float,
    ) -> None:
        """Pass if `sender_did` may invoke `behavior` (on `topic`) or raise CapabilityDenied."""
        if sender_did == self.owner_did or is_public(behavior):
            return
        try:
            anchors = self.anchors.snapshot()
        except AnchorError as exc:
            # Fail closed: without readable anchors only the owner is trusted.
            raise CapabilityDenied(
                f"anchors unavailable, only the owner is trusted: {exc}"
            ) from None
        if sender_did in anchors.roots:
            return
        if len(proofs) > MAX_PROOFS:
            raise CapabilityDenied(f"{len(proofs)} proofs attached; at most {MAX_PROOFS} are read")
        wanted = behavior if topic is None else f"{behavior} on topic {topic}"
        reasons: list[str] = []
        for index, proof in enumerate(proofs):
            try:
                chain = self._verified_bytes(proof)
                self._check(chain, anchors, sender_did, behavior, topic, now)
                return
            except CapabilityDenied as exc:
                reasons.append(f"proof {index}: {exc}")
        for token in anchors.require:
            if token.audience != sender_did or not token.grants(behavior, topic):
                continue
            try:
                chain = self._verified_token(token)
                self._check(chain, anchors, sender_did, behavior, topic, now)
                return
            except CapabilityDenied as exc:
                reasons.append(f"require anchor {token.id[:16]}: {exc}")
        if not reasons:
            raise CapabilityDenied(
                f"no proof: {sender_did} carries no capability for {wanted}"
                " and no require anchor grants it"
            )
        raise CapabilityDenied(f"{sender_did} may not invoke {wanted}: {'; '.join(reasons)}")

    def proofs_for(
        self, behavior: str, *, topic: str | None = None, now: float
    ) -> tuple[bytes, ...]:
        """Provide-anchored tokens granted to the owner that cover `behavior`, valid at `now`."""
        if is_public(behavior):
            return ()
        anchors = self.anchors.snapshot()
        found: list[bytes] = []
        for token in anchors.provide:
            if token.audience != self.owner_did or not token.grants(behavior, topic):
                continue
            try:
                chain = self._verified_token(token)
                chain.check_at(now)
                chain.check_revocations(anchors.revokers)
            except CapabilityDenied:
                continue
            found.append(token.encoded)
        return tuple(found)

    def _check(
        self,
        chain: VerifiedChain,
        anchors: Anchors,
        sender: str,
        behavior: str,
        topic: str | None,
        now: float,
    ) -> None:
        leaf = chain.leaf
        if leaf.audience != sender:
            raise CapabilityDenied(
                f"token {leaf.id[:16]} was granted to {leaf.audience}, not to the sender {sender}"
            )
        if not leaf.grants(behavior, topic):
            if topic is not None and topic not in leaf.topics:
                raise CapabilityDenied(f"token {leaf.id[:16]} does not grant topic {topic}")
            raise CapabilityDenied(
                f"token {leaf.id[:16]} grants {', '.join(leaf.capabilities)}, not {behavior}"
            )
        chain.check_at(now)
        chain.check_revocations(anchors.revokers)
        subject = chain.root.subject
        if subject != self.owner_did and subject not in anchors.roots:
            raise CapabilityDenied(
                f"chain is rooted in {subject}, which is neither this node nor a root anchor"
            )

    def _verified_bytes(self, encoded: bytes) -> VerifiedChain:
        if not isinstance(encoded, bytes):
            raise CapabilityDenied(f"a proof is bytes, not {type(encoded).__name__}")
        key = token_id(encoded)
        outcome = self.cache.get(key)
        if outcome is None:
            try:
                outcome = verify_chain(decode_token(encoded))
            except CapabilityDenied as exc:
                outcome = exc
            self.cache.put(key, outcome)
        if isinstance(outcome, CapabilityDenied):
            raise CapabilityDenied(str(outcome))
        return outcome

    def _verified_token(self, token: Token) -> VerifiedChain:
        outcome = self.cache.get(token.id)
        if outcome is None:
            try:
                outcome = verify_chain(token)
            except CapabilityDenied as exc:
                outcome = exc
            self.cache.put(token.id, outcome)
        if isinstance(outcome, CapabilityDenied):
            raise CapabilityDenied(str(outcome))
        return outcome
