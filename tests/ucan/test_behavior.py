from __future__ import annotations

import pytest

from nunet.ucan import CapabilityError, check_path, check_topic, covers, is_public


@pytest.mark.parametrize(
    ("capability", "behavior"),
    [
        ("/dms", "/dms"),
        ("/dms", "/dms/node"),
        ("/dms", "/dms/node/peers/list"),
        ("/dms/node", "/dms/node/peers/list"),
        ("/", "/anything/at/all"),
    ],
)
def test_a_capability_covers_itself_and_every_path_below_it(capability: str, behavior: str) -> None:
    assert covers(capability, behavior)


@pytest.mark.parametrize(
    ("capability", "behavior"),
    [
        ("/dms", "/dmsx"),
        ("/dms", "/dmsx/node"),
        ("/dms/node", "/dms"),
        ("/dms/node", "/dms/nodes"),
        ("/dms/node/peers", "/dms/node"),
    ],
)
def test_a_capability_does_not_cover_siblings_sharing_a_string_prefix_or_parents(
    capability: str, behavior: str
) -> None:
    assert not covers(capability, behavior)


def test_public_behaviors_are_exactly_those_under_the_public_segment() -> None:
    assert is_public("/public")
    assert is_public("/public/hello")
    assert not is_public("/publicity")
    assert not is_public("/dms/public")


@pytest.mark.parametrize("bad", ["", "dms", "/dms/", "//dms", "/dms//node", "/dms node", "/a/b\n"])
def test_malformed_behavior_paths_are_rejected_with_the_path_named(bad: str) -> None:
    with pytest.raises(CapabilityError, match="behavior path"):
        check_path(bad)


def test_well_formed_paths_are_returned_unchanged() -> None:
    assert check_path("/") == "/"
    assert check_path("/dms/node/peers/list") == "/dms/node/peers/list"


@pytest.mark.parametrize("bad", ["", "has space", "x" * 257])
def test_bad_topics_are_rejected(bad: str) -> None:
    with pytest.raises(CapabilityError, match="not a topic"):
        check_topic(bad)
