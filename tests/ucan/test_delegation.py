"""grant and delegate refuse, up front, what verification would reject later."""

from __future__ import annotations

import pytest

from nunet.identity import KeyPair
from nunet.ucan import CapabilityDenied, CapabilityError, delegate, grant, verify_chain

from .conftest import HOUR, NOW


def root(node: KeyPair, alice: KeyPair, depth: int = 1) -> object:
    return grant(
        node,
        audience=alice.did,
        capabilities=["/dms/node"],
        topics=["/t"],
        expiry=NOW + HOUR,
        now=NOW,
        depth=depth,
    )


def test_a_delegation_defaults_to_the_parents_expiry_and_one_less_depth(
    node: KeyPair, alice: KeyPair, bob: KeyPair
) -> None:
    parent = grant(
        node, audience=alice.did, capabilities=["/dms"], expiry=NOW + HOUR, now=NOW, depth=3
    )
    child = delegate(parent, alice, audience=bob.did, capabilities=["/dms/node"], now=NOW)
    assert (child.expiry, child.depth, child.subject) == (parent.expiry, 2, node.did)
    verify_chain(child)


def test_only_the_audience_of_a_token_can_delegate_it(
    node: KeyPair, alice: KeyPair, bob: KeyPair
) -> None:
    parent = grant(
        node, audience=alice.did, capabilities=["/dms"], expiry=NOW + HOUR, now=NOW, depth=1
    )
    with pytest.raises(CapabilityDenied, match="it was granted to"):
        delegate(parent, bob, audience=bob.did, capabilities=["/dms"], now=NOW)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"capabilities": ["/dms"]}, "widened capability /dms beyond /dms/node"),
        ({"capabilities": ["/dms/nodes"]}, "widened capability /dms/nodes"),
        ({"capabilities": ["/dms/node"], "topics": ["/u"]}, "widened topic /u beyond /t"),
        ({"capabilities": ["/dms/node"], "expiry": NOW + 2 * HOUR}, "widened expiry"),
        ({"capabilities": ["/dms/node"], "depth": 1}, "widened delegation depth to 1"),
    ],
)
def test_a_widening_delegation_is_refused_when_made(
    node: KeyPair, alice: KeyPair, bob: KeyPair, kwargs: dict[str, object], message: str
) -> None:
    parent = grant(
        node,
        audience=alice.did,
        capabilities=["/dms/node"],
        topics=["/t"],
        expiry=NOW + HOUR,
        now=NOW,
        depth=1,
    )
    with pytest.raises(CapabilityDenied, match=message):
        delegate(parent, alice, audience=bob.did, now=NOW, **kwargs)  # type: ignore[arg-type]


def test_a_depth_zero_token_cannot_be_delegated(
    node: KeyPair, alice: KeyPair, bob: KeyPair
) -> None:
    parent = grant(node, audience=alice.did, capabilities=["/dms"], expiry=NOW + HOUR, now=NOW)
    with pytest.raises(CapabilityDenied, match="allows no further delegation"):
        delegate(parent, alice, audience=bob.did, capabilities=["/dms"], now=NOW)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"audience": "bob"}, "audience: 'bob' is not a did:key"),
        ({"capabilities": []}, "at least one capability"),
        ({"capabilities": ["dms"]}, "must start with '/'"),
        ({"topics": ["has space"]}, "not a topic"),
        ({"expiry": NOW - 1}, "not in the future"),
        ({"depth": -1}, "negative"),
    ],
)
def test_bad_grant_requests_are_clear_errors(
    node: KeyPair, alice: KeyPair, kwargs: dict[str, object], message: str
) -> None:
    request: dict[str, object] = {
        "audience": alice.did,
        "capabilities": ["/dms"],
        "expiry": NOW + HOUR,
        "now": NOW,
    }
    request.update(kwargs)
    with pytest.raises(CapabilityError, match=message):
        grant(node, **request)  # type: ignore[arg-type]
