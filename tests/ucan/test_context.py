"""CapabilityContext.authorize and proofs_for: who may invoke what, with which proofs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nunet.identity import KeyPair, verify_signature
from nunet.ucan import (
    AnchorError,
    CapabilityContext,
    CapabilityDenied,
    FileAnchorStore,
    MemoryAnchorStore,
    Token,
    delegate,
    grant,
    revoke,
)

from .conftest import HOUR, NOW
from .forge import forge


def context_of(node: KeyPair) -> CapabilityContext:
    return CapabilityContext(node.did, MemoryAnchorStore(node.did))


def token(issuer: KeyPair, audience: KeyPair, *caps: str, **kw: object) -> Token:
    return grant(
        issuer,
        audience=audience.did,
        capabilities=caps or ("/dms",),
        expiry=NOW + HOUR,
        now=NOW - 1,
        **kw,  # type: ignore[arg-type]
    )


def test_the_owner_may_invoke_anything_without_proofs(node: KeyPair) -> None:
    context_of(node).authorize(node.did, "/dms/node/peers/list", topic=None, proofs=(), now=NOW)


def test_public_behaviors_need_no_proof(node: KeyPair, mallory: KeyPair) -> None:
    context_of(node).authorize(mallory.did, "/public/hello", topic=None, proofs=(), now=NOW)


def test_a_stranger_without_proofs_is_denied_with_no_proof(node: KeyPair, alice: KeyPair) -> None:
    with pytest.raises(CapabilityDenied, match=f"no proof: {alice.did} carries no capability"):
        context_of(node).authorize(alice.did, "/dms/node", topic=None, proofs=(), now=NOW)


def test_a_root_anchor_may_invoke_anything(node: KeyPair, alice: KeyPair) -> None:
    ctx = context_of(node)
    ctx.anchors.add_root(alice.did)
    ctx.authorize(alice.did, "/dms/deployment/bid", topic="/any", proofs=(), now=NOW)


def test_a_token_from_the_owner_lets_its_audience_invoke_covered_behaviors(
    node: KeyPair, alice: KeyPair
) -> None:
    grant_ = token(node, alice, "/dms/node")
    ctx = context_of(node)
    ctx.authorize(alice.did, "/dms/node/peers/list", topic=None, proofs=[grant_.encoded], now=NOW)
    with pytest.raises(CapabilityDenied, match="grants /dms/node, not /dms/deployment"):
        ctx.authorize(alice.did, "/dms/deployment", topic=None, proofs=[grant_.encoded], now=NOW)
    with pytest.raises(CapabilityDenied, match="grants /dms/node, not /dms/nodes"):
        ctx.authorize(alice.did, "/dms/nodes", topic=None, proofs=[grant_.encoded], now=NOW)


def test_a_token_carried_by_someone_other_than_its_audience_is_denied(
    node: KeyPair, alice: KeyPair, mallory: KeyPair
) -> None:
    grant_ = token(node, alice)
    with pytest.raises(CapabilityDenied, match=f"granted to {alice.did}, not to the sender"):
        context_of(node).authorize(
            mallory.did, "/dms/node", topic=None, proofs=[grant_.encoded], now=NOW
        )


def test_a_chain_rooted_in_an_untrusted_subject_is_denied(
    node: KeyPair, alice: KeyPair, mallory: KeyPair
) -> None:
    self_made = token(mallory, alice)
    with pytest.raises(CapabilityDenied, match=f"rooted in {mallory.did}, which is neither"):
        context_of(node).authorize(
            alice.did, "/dms/node", topic=None, proofs=[self_made.encoded], now=NOW
        )


def test_a_chain_rooted_in_a_root_anchor_is_accepted(
    node: KeyPair, alice: KeyPair, bob: KeyPair
) -> None:
    ctx = context_of(node)
    ctx.anchors.add_root(alice.did)
    ctx.authorize(bob.did, "/dms/node", topic=None, proofs=[token(alice, bob).encoded], now=NOW)


def test_a_delegated_chain_authorizes_its_leaf_audience(
    node: KeyPair, alice: KeyPair, bob: KeyPair
) -> None:
    root = token(node, alice, "/dms", depth=1)
    child = delegate(root, alice, audience=bob.did, capabilities=["/dms/node"], now=NOW)
    ctx = context_of(node)
    ctx.authorize(bob.did, "/dms/node/x", topic=None, proofs=[child.encoded], now=NOW)
    with pytest.raises(CapabilityDenied, match="not /dms/deployment"):
        ctx.authorize(bob.did, "/dms/deployment", topic=None, proofs=[child.encoded], now=NOW)


def test_an_expired_token_is_denied_naming_when(node: KeyPair, alice: KeyPair) -> None:
    grant_ = token(node, alice)
    with pytest.raises(CapabilityDenied, match="expired at 2023-11-14T23:13:20Z"):
        context_of(node).authorize(
            alice.did, "/dms", topic=None, proofs=[grant_.encoded], now=NOW + HOUR
        )


def test_a_widening_delegation_is_denied_naming_the_capability(
    node: KeyPair, alice: KeyPair, bob: KeyPair
) -> None:
    root = token(node, alice, "/dms/node", depth=1)
    wide = forge(alice, parent=root, audience=bob.did, capabilities=("/dms",))
    with pytest.raises(CapabilityDenied, match="widened capability /dms beyond /dms/node"):
        context_of(node).authorize(bob.did, "/dms/x", topic=None, proofs=[wide.encoded], now=NOW)


def test_a_revoked_token_is_denied_and_so_is_everything_below_it(
    node: KeyPair, alice: KeyPair, bob: KeyPair
) -> None:
    root = token(node, alice, "/dms", depth=1)
    child = delegate(root, alice, audience=bob.did, capabilities=["/dms"], now=NOW)
    ctx = context_of(node)
    ctx.authorize(bob.did, "/dms", topic=None, proofs=[child.encoded], now=NOW)
    ctx.anchors.add_revocation(revoke(node, root.id, NOW))
    with pytest.raises(CapabilityDenied, match=f"revoked {root.id} by {node.did}"):
        ctx.authorize(bob.did, "/dms", topic=None, proofs=[child.encoded], now=NOW)
    with pytest.raises(CapabilityDenied, match=f"revoked {root.id}"):
        ctx.authorize(alice.did, "/dms", topic=None, proofs=[root.encoded], now=NOW)


def test_a_revocation_by_a_delegate_below_does_not_revoke_the_parent(
    node: KeyPair, alice: KeyPair
) -> None:
    root = token(node, alice)
    ctx = context_of(node)
    ctx.anchors.add_revocation(revoke(alice, root.id, NOW))
    ctx.authorize(alice.did, "/dms", topic=None, proofs=[root.encoded], now=NOW)


def test_topics_must_be_granted_for_broadcasts(node: KeyPair, alice: KeyPair) -> None:
    grant_ = token(node, alice, "/dms/deployment", topics=["/nunet/deploy"])
    ctx = context_of(node)
    ctx.authorize(
        alice.did, "/dms/deployment/bid", topic="/nunet/deploy", proofs=[grant_.encoded], now=NOW
    )
    with pytest.raises(CapabilityDenied, match="does not grant topic /nunet/other"):
        ctx.authorize(
            alice.did, "/dms/deployment/bid", topic="/nunet/other", proofs=[grant_.encoded], now=NOW
        )


def test_a_require_anchor_lets_its_audience_invoke_without_carrying_proofs(
    node: KeyPair, alice: KeyPair, bob: KeyPair
) -> None:
    ctx = context_of(node)
    ctx.anchors.add_root(alice.did)
    ctx.anchors.add_require(token(alice, bob, "/dms/node"))
    ctx.authorize(bob.did, "/dms/node/peers", topic=None, proofs=(), now=NOW)
    with pytest.raises(CapabilityDenied, match="no proof"):
        ctx.authorize(bob.did, "/dms/deployment", topic=None, proofs=(), now=NOW)


def test_a_require_anchor_issued_by_an_untrusted_party_grants_nothing(
    node: KeyPair, bob: KeyPair, mallory: KeyPair
) -> None:
    ctx = context_of(node)
    ctx.anchors.add_require(token(mallory, bob))
    with pytest.raises(CapabilityDenied, match=r"require anchor .*rooted in"):
        ctx.authorize(bob.did, "/dms", topic=None, proofs=(), now=NOW)


def test_an_expired_require_anchor_is_reported(node: KeyPair, bob: KeyPair) -> None:
    ctx = context_of(node)
    ctx.anchors.add_require(token(node, bob))
    with pytest.raises(CapabilityDenied, match=r"require anchor .* expired at"):
        ctx.authorize(bob.did, "/dms", topic=None, proofs=(), now=NOW + 2 * HOUR)


def test_a_bad_proof_does_not_spoil_a_good_one(
    node: KeyPair, alice: KeyPair, mallory: KeyPair
) -> None:
    good = token(node, alice)
    bad = token(mallory, alice)
    context_of(node).authorize(
        alice.did, "/dms", topic=None, proofs=[b"junk", bad.encoded, good.encoded], now=NOW
    )


def test_every_failed_proof_is_named_in_the_denial(
    node: KeyPair, alice: KeyPair, mallory: KeyPair
) -> None:
    with pytest.raises(CapabilityDenied) as info:
        context_of(node).authorize(
            alice.did, "/dms", topic=None, proofs=[b"junk", token(mallory, alice).encoded], now=NOW
        )
    assert "proof 0: not a capability token" in str(info.value)
    assert "proof 1: chain is rooted in" in str(info.value)


def test_too_many_proofs_are_refused_before_any_work(node: KeyPair, alice: KeyPair) -> None:
    with pytest.raises(CapabilityDenied, match="at most 16"):
        context_of(node).authorize(alice.did, "/dms", topic=None, proofs=[b"x"] * 17, now=NOW)


def test_a_proof_that_is_not_bytes_is_denied(node: KeyPair, alice: KeyPair) -> None:
    with pytest.raises(CapabilityDenied, match="a proof is bytes"):
        context_of(node).authorize(
            alice.did,
            "/dms",
            topic=None,
            proofs=["text"],  # type: ignore[list-item]
            now=NOW,
        )


def test_verified_chains_are_cached_so_signatures_are_checked_once(
    node: KeyPair, alice: KeyPair, bob: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = token(node, alice, depth=1)
    child = delegate(root, alice, audience=bob.did, capabilities=["/dms"], now=NOW)
    calls: list[str] = []
    real = verify_signature

    def counting(did: str, message: bytes, signature: bytes) -> None:
        calls.append(did)
        real(did, message, signature)

    monkeypatch.setattr("nunet.ucan.chain.verify_signature", counting)
    ctx = context_of(node)
    for _ in range(50):
        ctx.authorize(bob.did, "/dms", topic=None, proofs=[bytes(child.encoded)], now=NOW)
    assert calls == [node.did, alice.did]
    assert ctx.cache.hits == 49


def test_failed_verifications_are_cached_too(
    node: KeyPair, alice: KeyPair, mallory: KeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    forged = forge(mallory, issuer=node.did, audience=alice.did)
    calls: list[str] = []
    real = verify_signature

    def counting(did: str, message: bytes, signature: bytes) -> None:
        calls.append(did)
        real(did, message, signature)

    monkeypatch.setattr("nunet.ucan.chain.verify_signature", counting)
    ctx = context_of(node)
    for _ in range(3):
        with pytest.raises(CapabilityDenied, match=f"bad signature of {node.did}"):
            ctx.authorize(alice.did, "/dms", topic=None, proofs=[forged.encoded], now=NOW)
    assert calls == [node.did]


def test_the_cache_is_bounded(node: KeyPair, alice: KeyPair) -> None:
    ctx = CapabilityContext(node.did, MemoryAnchorStore(node.did), cache_size=3)
    for _ in range(10):
        ctx.authorize(alice.did, "/dms", topic=None, proofs=[token(node, alice).encoded], now=NOW)
    assert len(ctx.cache) == 3


def test_proofs_for_returns_provided_tokens_covering_the_behavior(
    node: KeyPair, alice: KeyPair
) -> None:
    ctx = context_of(node)
    wide = token(alice, node, "/dms")
    narrow = token(alice, node, "/dms/node", topics=["/t"])
    ctx.anchors.add_provide(wide)
    ctx.anchors.add_provide(narrow)
    assert ctx.proofs_for("/dms/node/peers", now=NOW) == (wide.encoded, narrow.encoded)
    assert ctx.proofs_for("/dms/deployment", now=NOW) == (wide.encoded,)
    assert ctx.proofs_for("/dms/node", topic="/t", now=NOW) == (narrow.encoded,)
    assert ctx.proofs_for("/other", now=NOW) == ()
    assert ctx.proofs_for("/public/x", now=NOW) == ()


def test_proofs_for_leaves_out_expired_and_revoked_tokens(node: KeyPair, alice: KeyPair) -> None:
    ctx = context_of(node)
    first = token(alice, node)
    second = token(alice, node)
    ctx.anchors.add_provide(first)
    ctx.anchors.add_provide(second)
    ctx.anchors.add_revocation(revoke(alice, first.id, NOW))
    assert ctx.proofs_for("/dms", now=NOW) == (second.encoded,)
    assert ctx.proofs_for("/dms", now=NOW + HOUR) == ()


def test_provided_proofs_authorize_the_owner_at_the_granting_node(
    node: KeyPair, alice: KeyPair
) -> None:
    """Round trip: alice's node grants to `node`; `node` attaches it; alice's node accepts it."""
    ours = context_of(node)
    ours.anchors.add_provide(token(alice, node, "/dms/deployment"))
    theirs = context_of(alice)
    proofs = ours.proofs_for("/dms/deployment/bid", now=NOW)
    theirs.authorize(node.did, "/dms/deployment/bid", topic=None, proofs=proofs, now=NOW)


def test_only_tokens_granted_to_the_context_can_be_provided(node: KeyPair, alice: KeyPair) -> None:
    with pytest.raises(AnchorError, match="only tokens granted to it can be provided"):
        MemoryAnchorStore(node.did).add_provide(token(node, alice))


def test_a_running_context_sees_anchors_changed_in_the_file(
    tmp_path: Path, node: KeyPair, alice: KeyPair
) -> None:
    path = tmp_path / "cap" / "dms.json"
    FileAnchorStore.create(path, node.did)
    ctx = CapabilityContext(node.did, FileAnchorStore(path))
    with pytest.raises(CapabilityDenied, match="no proof"):
        ctx.authorize(alice.did, "/dms", topic=None, proofs=(), now=NOW)
    FileAnchorStore(path).add_root(alice.did)  # as the CLI would, from another process
    ctx.authorize(alice.did, "/dms", topic=None, proofs=(), now=NOW)
    FileAnchorStore(path).remove(alice.did)
    with pytest.raises(CapabilityDenied, match="no proof"):
        ctx.authorize(alice.did, "/dms", topic=None, proofs=(), now=NOW)


def test_unreadable_anchors_fail_closed_except_for_the_owner(
    tmp_path: Path, node: KeyPair, alice: KeyPair
) -> None:
    path = tmp_path / "dms.json"
    store = FileAnchorStore.create(path, node.did)
    store.add_root(alice.did)
    ctx = CapabilityContext(node.did, store)
    ctx.authorize(alice.did, "/dms", topic=None, proofs=(), now=NOW)
    path.write_text(json.dumps({"format": "something else"}))
    os.utime(path, ns=(1, 1))
    with pytest.raises(CapabilityDenied, match="anchors unavailable"):
        ctx.authorize(alice.did, "/dms", topic=None, proofs=(), now=NOW)
    ctx.authorize(node.did, "/dms", topic=None, proofs=(), now=NOW)
