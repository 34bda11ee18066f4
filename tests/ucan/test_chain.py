"""Every delegation rule, one at a time, on chains built with real signatures."""

from __future__ import annotations

import msgspec
import pytest

from nunet.identity import KeyPair
from nunet.ucan import CapabilityDenied, MalformedToken, decode_token, grant, revoke, verify_chain
from nunet.ucan.token import MAX_CHAIN_LENGTH

from .conftest import HOUR, NOW
from .forge import forge


def test_a_valid_three_token_chain_verifies(
    node: KeyPair, alice: KeyPair, bob: KeyPair, carol: KeyPair
) -> None:
    root = forge(node, audience=alice.did, depth=2, capabilities=("/dms",))
    mid = forge(alice, parent=root, audience=bob.did, depth=1, capabilities=("/dms/node",))
    leaf = forge(bob, parent=mid, audience=carol.did, depth=0, capabilities=("/dms/node/peers",))
    chain = verify_chain(leaf)
    assert chain.ids == (root.id, mid.id, leaf.id)
    assert chain.root == root
    assert chain.leaf == leaf
    chain.check_at(NOW)


def test_a_root_token_must_be_issued_by_its_subject(node: KeyPair, alice: KeyPair) -> None:
    token = forge(alice, audience=alice.did, subject=node.did)
    with pytest.raises(CapabilityDenied, match=r"broken chain at token 0.*only a subject"):
        verify_chain(token)


def test_a_delegation_must_be_issued_by_the_audience_of_its_proof(
    node: KeyPair, alice: KeyPair, bob: KeyPair, mallory: KeyPair
) -> None:
    root = forge(node, audience=alice.did, depth=1)
    stolen = forge(mallory, parent=root, audience=bob.did)
    with pytest.raises(CapabilityDenied, match=f"broken chain at token 1: issuer {mallory.did}"):
        verify_chain(stolen)


def test_a_delegation_keeps_the_subject(node: KeyPair, alice: KeyPair, bob: KeyPair) -> None:
    root = forge(node, audience=alice.did, depth=1)
    other = forge(alice, parent=root, audience=bob.did, subject=alice.did)
    with pytest.raises(CapabilityDenied, match="broken chain at token 1: subject"):
        verify_chain(other)


@pytest.mark.parametrize(
    ("parent_caps", "child_caps", "widened"),
    [
        (("/dms/node",), ("/dms",), "/dms"),
        (("/dms",), ("/dmsx",), "/dmsx"),
        (("/dms/node",), ("/dms/node", "/dms/deployment"), "/dms/deployment"),
        (("/dms/node/peers",), ("/",), "/"),
    ],
)
def test_a_delegation_that_widens_a_capability_is_rejected_naming_it(
    node: KeyPair,
    alice: KeyPair,
    bob: KeyPair,
    parent_caps: tuple[str, ...],
    child_caps: tuple[str, ...],
    widened: str,
) -> None:
    root = forge(node, audience=alice.did, depth=1, capabilities=parent_caps)
    child = forge(alice, parent=root, audience=bob.did, capabilities=child_caps)
    with pytest.raises(CapabilityDenied, match=f"token 1 widened capability {widened} beyond"):
        verify_chain(child)


def test_a_delegation_may_split_across_several_parent_capabilities(
    node: KeyPair, alice: KeyPair, bob: KeyPair
) -> None:
    root = forge(node, audience=alice.did, depth=1, capabilities=("/dms/node", "/dms/deployment"))
    child = forge(
        alice, parent=root, audience=bob.did, capabilities=("/dms/node/peers", "/dms/deployment")
    )
    verify_chain(child)


def test_a_delegation_that_adds_a_topic_is_rejected(
    node: KeyPair, alice: KeyPair, bob: KeyPair
) -> None:
    root = forge(node, audience=alice.did, depth=1, topics=("/nunet/a",))
    child = forge(alice, parent=root, audience=bob.did, topics=("/nunet/a", "/nunet/b"))
    with pytest.raises(CapabilityDenied, match="widened topic /nunet/b beyond /nunet/a"):
        verify_chain(child)


def test_a_delegation_that_outlives_its_proof_is_rejected(
    node: KeyPair, alice: KeyPair, bob: KeyPair
) -> None:
    root = forge(node, audience=alice.did, depth=1, expiry=NOW + HOUR)
    child = forge(alice, parent=root, audience=bob.did, expiry=NOW + 2 * HOUR)
    with pytest.raises(CapabilityDenied, match="widened expiry"):
        verify_chain(child)


@pytest.mark.parametrize(("parent_depth", "child_depth"), [(0, 0), (1, 1), (2, 5)])
def test_a_delegation_must_lower_the_depth(
    node: KeyPair, alice: KeyPair, bob: KeyPair, parent_depth: int, child_depth: int
) -> None:
    root = forge(node, audience=alice.did, depth=parent_depth)
    child = forge(alice, parent=root, audience=bob.did, depth=child_depth)
    with pytest.raises(CapabilityDenied, match="widened delegation depth"):
        verify_chain(child)


def test_a_tampered_signature_is_a_bad_signature_of_the_issuer(
    node: KeyPair, alice: KeyPair
) -> None:
    token = forge(node, audience=alice.did)
    body, signature = msgspec.msgpack.decode(token.encoded)
    bad = msgspec.msgpack.encode([body, bytes([signature[0] ^ 1]) + signature[1:]])
    with pytest.raises(CapabilityDenied, match=f"bad signature of {node.did} on token 0"):
        verify_chain(decode_token(bad))


def test_a_token_signed_by_someone_other_than_its_issuer_is_rejected(
    node: KeyPair, mallory: KeyPair
) -> None:
    token = forge(mallory, issuer=node.did, audience=mallory.did)
    with pytest.raises(CapabilityDenied, match=f"bad signature of {node.did}"):
        verify_chain(token)


def test_an_issuer_that_is_not_a_did_key_is_rejected(node: KeyPair) -> None:
    token = forge(node, issuer="did:web:example.com", audience=node.did)
    with pytest.raises(CapabilityDenied, match="not a usable DID"):
        verify_chain(token)


def test_time_checks_name_the_token_and_the_moment(node: KeyPair, alice: KeyPair) -> None:
    token = forge(node, audience=alice.did, not_before=NOW, expiry=NOW + HOUR)
    chain = verify_chain(token)
    chain.check_at(NOW)
    chain.check_at(NOW + HOUR - 1)
    with pytest.raises(CapabilityDenied, match=r"token 0 .* expired at 2023-11-14T23:13:20Z"):
        chain.check_at(NOW + HOUR)
    with pytest.raises(CapabilityDenied, match="not valid before 2023-11-14T22:13:20Z"):
        chain.check_at(NOW - 1)


def test_an_expired_ancestor_expires_the_chain(node: KeyPair, alice: KeyPair, bob: KeyPair) -> None:
    root = forge(node, audience=alice.did, depth=1, expiry=NOW + HOUR)
    child = forge(alice, parent=root, audience=bob.did, expiry=NOW + HOUR, not_before=NOW + 10)
    chain = verify_chain(child)
    with pytest.raises(CapabilityDenied, match=r"token 1 .* not valid before"):
        chain.check_at(NOW)


def test_a_token_revoked_by_its_issuer_is_denied(node: KeyPair, alice: KeyPair) -> None:
    token = forge(node, audience=alice.did)
    chain = verify_chain(token)
    revocation = revoke(node, token.id, NOW)
    with pytest.raises(CapabilityDenied, match=f"revoked {token.id} by {node.did}"):
        chain.check_revocations({token.id: frozenset({revocation.issuer})})


def test_revoking_a_parent_invalidates_every_token_below_it(
    node: KeyPair, alice: KeyPair, bob: KeyPair, carol: KeyPair
) -> None:
    root = forge(node, audience=alice.did, depth=2)
    mid = forge(alice, parent=root, audience=bob.did, depth=1)
    leaf = forge(bob, parent=mid, audience=carol.did)
    with pytest.raises(CapabilityDenied, match=f"revoked {mid.id}"):
        verify_chain(leaf).check_revocations({mid.id: frozenset({alice.did})})


def test_an_issuer_up_the_chain_may_revoke_a_token_below_it(
    node: KeyPair, alice: KeyPair, bob: KeyPair, carol: KeyPair
) -> None:
    root = forge(node, audience=alice.did, depth=2)
    mid = forge(alice, parent=root, audience=bob.did, depth=1)
    leaf = forge(bob, parent=mid, audience=carol.did)
    with pytest.raises(CapabilityDenied, match=f"revoked {leaf.id} by {node.did}"):
        verify_chain(leaf).check_revocations({leaf.id: frozenset({node.did})})


def test_a_revocation_by_someone_outside_the_chain_is_ignored(
    node: KeyPair, alice: KeyPair, bob: KeyPair, carol: KeyPair, mallory: KeyPair
) -> None:
    root = forge(node, audience=alice.did, depth=1)
    leaf = forge(alice, parent=root, audience=bob.did)
    # An issuer below a token cannot revoke it either: bob's audience carol has no say over root.
    verify_chain(leaf).check_revocations(
        {leaf.id: frozenset({mallory.did, carol.did}), root.id: frozenset({alice.did})}
    )


def test_the_chain_length_is_bounded(node: KeyPair) -> None:
    token = grant(node, audience=node.did, capabilities=["/dms"], expiry=NOW + HOUR, now=NOW)
    for _ in range(MAX_CHAIN_LENGTH - 1):
        token = forge(node, parent=token, audience=node.did)
    assert len(token.chain()) == MAX_CHAIN_LENGTH
    with pytest.raises(MalformedToken, match="longer than"):
        forge(node, parent=token, audience=node.did)
