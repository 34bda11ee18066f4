"""Locations: every scheme's valid forms parse to their parts; every malformed one is refused
naming what is wrong."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nunet.storage import BadLocation, Location, parse_location
from nunet.storage.locations import parse_for, shorten


@pytest.mark.parametrize(
    ("text", "scheme", "bucket", "key", "prefix"),
    [
        ("s3://my-bucket/data/input.csv", "s3", "my-bucket", "data/input.csv", False),
        ("s3://my.bucket.eu/dir/", "s3", "my.bucket.eu", "dir/", True),
        ("s3://abc", "s3", "abc", "", True),
        ("s3://abc/", "s3", "abc", "", True),
        ("nunet://results_2/run-1/out.tar", "nunet", "results_2", "run-1/out.tar", False),
        ("nunet://R/", "nunet", "R", "", True),
        ("https://example.org/a/b.bin?x=1", "https", "example.org", "/a/b.bin", False),
        ("http://127.0.0.1:8080", "http", "127.0.0.1:8080", "/", False),
        ("inline:aGk=", "inline", "", "aGk=", False),
        ("inline:text,hello", "inline", "", "text,hello", False),
        ("S3://abc/k", "s3", "abc", "k", False),
    ],
)
def test_valid_locations_parse_to_their_parts(
    text: str, scheme: str, bucket: str, key: str, prefix: bool
) -> None:
    location = parse_location(text)
    assert (location.scheme, location.bucket, location.key) == (scheme, bucket, key)
    assert location.is_prefix is prefix
    assert str(location) == text


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "empty"),
        ("bucket/key", "no scheme"),
        ("ftp://host/file", "unknown scheme 'ftp'"),
        ("s3:bucket/key", "s3://bucket/key"),
        ("s3:///key", "no bucket"),
        ("s3://Upper/key", "not a valid name"),
        ("s3://ab/key", "not a valid name"),
        ("s3://-abc/key", "not a valid name"),
        ("s3://a..b/key", "not a valid name"),
        ("nunet://has.dot/key", "not a valid name"),
        ("s3://abc/a/../b", "'..'"),
        ("s3://abc/./b", "'.'"),
        ("s3://abc/a//b", "empty segment"),
        ("s3://abc/a\nb", "control character"),
        ("s3://abc/" + "k" * 1025, "longer than 1024"),
        ("https:///path", "no host"),
        ("http://host:99999/x", "not a valid URL"),
        ("http://host/a b", "spaces"),
    ],
)
def test_malformed_locations_are_refused_saying_why(text: str, said: str) -> None:
    with pytest.raises(BadLocation) as raised:
        parse_location(text)
    assert said in str(raised.value)


def test_a_prefix_gives_its_children() -> None:
    prefix = parse_location("s3://abc/run/")
    assert prefix.child("out/a.txt") == Location(
        "s3://abc/run/out/a.txt", "s3", "abc", "run/out/a.txt"
    )
    with pytest.raises(BadLocation, match="not a prefix"):
        parse_location("s3://abc/file").child("x")
    with pytest.raises(BadLocation, match=r"'\.\.'"):
        prefix.child("../escape")


def test_a_provider_refuses_schemes_it_does_not_serve_naming_its_own() -> None:
    with pytest.raises(BadLocation) as raised:
        parse_for("s3://abc/k", ("http", "https"), "the URL provider")
    assert "'s3' is not served by the URL provider, which takes http:, https:" in str(raised.value)


def test_long_locations_are_shortened_in_messages() -> None:
    assert shorten("x" * 10) == "x" * 10
    assert len(shorten("x" * 1000)) == 80


@given(st.text(max_size=300))
def test_any_text_either_parses_or_is_a_bad_location(text: str) -> None:
    try:
        location = parse_location(text)
    except BadLocation:
        return  # refused; test_malformed_locations_are_refused_saying_why checks the messages
    assert location.text == text
    if location.scheme in ("s3", "nunet") and location.key:
        segments = location.key.removesuffix("/").split("/")
        assert all(s not in ("", ".", "..") for s in segments), location.key
