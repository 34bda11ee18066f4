"""Storage locations: parse and validate the URIs that name inputs and outputs.

`s3://bucket/key` and `nunet://bucket/key` name an object (a key ending in `/`, or no key at
all: a prefix, every object under it); `https://host/path` and `http://...` a download;
`inline:<base64>` and `inline:text,<text>` a small literal. Every malformed location raises
`BadLocation` saying what is wrong and how to write it instead.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse

from nunet.storage.provider import BadLocation

BUCKET_SCHEMES = ("s3", "nunet")
URL_SCHEMES = ("http", "https")
INLINE_SCHEME = "inline"
SCHEMES = (*BUCKET_SCHEMES, *URL_SCHEMES, INLINE_SCHEME)

MAX_KEY_BYTES = 1024  # S3's limit, and far beyond any path an allocation mounts
# S3's bucket rules (3-63 of lowercase letters, digits, dots, hyphens; a letter or digit at
# each end) also fit JetStream's object store bucket names once dots are left out there.
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_NUNET_BUCKET = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


@dataclasses.dataclass(frozen=True)
class Location:
    """A parsed location. For bucket schemes `bucket` and `key` are set (`key` "" or ending in
    `/`: a prefix); for URLs `key` is the path; for inline `key` is the payload."""

    text: str
    scheme: str
    bucket: str = ""
    key: str = ""

    @property
    def is_prefix(self) -> bool:
        return self.scheme in BUCKET_SCHEMES and (self.key == "" or self.key.endswith("/"))

    def child(self, relative: str) -> Location:
        """The location of `relative` (a `/`-separated path) under this prefix."""
        if not self.is_prefix:
            raise BadLocation(f"{self.text} is an object, not a prefix ending in /")
        return parse_location(f"{self.scheme}://{self.bucket}/{self.key}{relative}")

    def __str__(self) -> str:
        return self.text


def scheme_of(text: str) -> str:
    """The scheme of a location, lowercased; BadLocation when it has none."""
    if not isinstance(text, str) or not text:
        raise BadLocation(
            "a location is empty; write s3://bucket/key, nunet://bucket/key, "
            "https://host/path or inline:<base64>"
        )
    match = _SCHEME.match(text)
    if match is None:
        raise BadLocation(
            f"{text!r} has no scheme; write s3://bucket/key, nunet://bucket/key, "
            "https://host/path or inline:<base64>"
        )
    return match.group(1).lower()


def parse_location(text: str) -> Location:
    """Parse and validate `text`; BadLocation naming what is wrong."""
    scheme = scheme_of(text)
    if scheme in BUCKET_SCHEMES:
        return _parse_bucket(text, scheme)
    if scheme in URL_SCHEMES:
        return _parse_url(text, scheme)
    if scheme == INLINE_SCHEME:
        return Location(text, scheme, key=text[len(INLINE_SCHEME) + 1 :])
    raise BadLocation(f"{text!r}: unknown scheme {scheme!r}; the schemes are {', '.join(SCHEMES)}")


def _parse_bucket(text: str, scheme: str) -> Location:
    rest = text[len(scheme) + 1 :]
    if not rest.startswith("//"):
        raise BadLocation(f"{text!r}: write {scheme}://bucket/key")
    bucket, _, key = rest[2:].partition("/")
    if not bucket:
        raise BadLocation(f"{text!r} names no bucket; write {scheme}://bucket/key")
    pattern = _S3_BUCKET if scheme == "s3" else _NUNET_BUCKET
    if not pattern.match(bucket) or ".." in bucket:
        rule = (
            "3-63 lowercase letters, digits, dots and hyphens, starting and ending with a "
            "letter or digit"
            if scheme == "s3"
            else "1-64 letters, digits, hyphens and underscores"
        )
        raise BadLocation(f"{text!r}: bucket {bucket!r} is not a valid name ({rule})")
    check_key(key, text)
    return Location(text, scheme, bucket, key)


def check_key(key: str, text: str) -> None:
    """A key is `/`-separated segments that are neither empty, `.` nor `..`, with no control
    characters: every key can then become a path under a download's directory."""
    if len(key.encode()) > MAX_KEY_BYTES:
        raise BadLocation(f"{text!r}: the key is longer than {MAX_KEY_BYTES} bytes")
    if any(ord(c) < 0x20 or c == "\x7f" for c in key):
        raise BadLocation(f"{text!r}: the key holds a control character")
    segments = key.split("/")
    if segments[-1] == "":
        segments.pop()  # a trailing / makes a prefix
    for segment in segments:
        if segment in ("", ".", ".."):
            what = repr(segment) if segment else "an empty segment (//)"
            raise BadLocation(f"{text!r}: the key has {what} in it; keys are plain relative paths")


def _parse_url(text: str, scheme: str) -> Location:
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise BadLocation(f"{text!r} is not a valid URL: {error}") from None
    if not parts.hostname:
        raise BadLocation(f"{text!r} names no host; write {scheme}://host/path")
    if port == 0:
        raise BadLocation(f"{text!r}: port 0 is not a port")
    if any(ord(c) <= 0x20 or c == "\x7f" for c in text):
        raise BadLocation(f"{text!r}: a URL holds no spaces or control characters (encode them)")
    return Location(text, scheme, parts.netloc, parts.path or "/")


def parse_for(text: str, schemes: tuple[str, ...], served_by: str) -> Location:
    """Parse a location handed to a provider serving `schemes`; BadLocation for any other."""
    scheme = scheme_of(text)
    if scheme not in schemes:
        raise BadLocation(
            f"{shorten(text)!r}: scheme {scheme!r} is not served by {served_by}, which takes "
            + ", ".join(f"{s}:" for s in schemes)
        )
    return parse_location(text)


def shorten(text: str, limit: int = 80) -> str:
    """A location short enough for a message (an inline literal can be a megabyte)."""
    return text if len(text) <= limit else f"{text[: limit - 1]}…"
