"""NATS-style names: node addresses (one subject token) and topics (dot-separated tokens).

Rules, the same as NATS subjects restricted to printable ASCII so that every name is valid on
every transport:
- a token is one or more characters from '!' to '~' except '.', '*' and '>';
- an address is exactly one token (a node DID such as ``did:key:z6Mk...`` is one);
- a topic is tokens joined by '.'; a topic that is published to has no wildcards;
- a subscription pattern may use ``*`` as a whole token (matches exactly one token) and ``>`` as
  the whole last token (matches one or more trailing tokens).
"""

import re

from nunet.network.errors import InvalidAddress, InvalidTopic

MAX_NAME_LENGTH = 255
"""Longest address or topic accepted, in characters."""

# One or more of '!'..'~' except '.', '*', '>' (a regex: this runs for every message sent).
_TOKEN = re.compile(r"[!-)+-\-/-=?-~]+")


def _is_token(token: str) -> bool:
    return _TOKEN.fullmatch(token) is not None


def validate_address(address: str) -> str:
    """Return `address` unchanged if it is one subject token; else raise InvalidAddress."""
    if not isinstance(address, str) or not address:
        raise InvalidAddress(f"a node address is a non-empty string, not {address!r}")
    if len(address) > MAX_NAME_LENGTH:
        raise InvalidAddress(f"a node address has at most {MAX_NAME_LENGTH} characters")
    if not _is_token(address):
        raise InvalidAddress(
            f"{address!r} is not a node address: "
            "use printable ASCII without spaces, '.', '*' or '>'"
        )
    return address


def _tokens(topic: str, what: str) -> list[str]:
    if not isinstance(topic, str) or not topic:
        raise InvalidTopic(f"a {what} is a non-empty string, not {topic!r}")
    if len(topic) > MAX_NAME_LENGTH:
        raise InvalidTopic(f"a {what} has at most {MAX_NAME_LENGTH} characters")
    return topic.split(".")


def validate_topic(topic: str) -> str:
    """Return `topic` unchanged if it can be published to (no wildcards); else InvalidTopic."""
    for token in _tokens(topic, "topic"):
        if token in ("*", ">"):
            raise InvalidTopic(f"{topic!r}: wildcards ('*', '>') are for subscribing only")
        if not _is_token(token):
            raise InvalidTopic(
                f"{topic!r}: {token!r} is not a topic token "
                "(tokens are non-empty printable ASCII without spaces, '*' or '>')"
            )
    return topic


def validate_pattern(pattern: str) -> str:
    """Return `pattern` unchanged if it can be subscribed to; else raise InvalidTopic."""
    tokens = _tokens(pattern, "subscription pattern")
    for index, token in enumerate(tokens):
        if token == "*":
            continue
        if token == ">":
            if index != len(tokens) - 1:
                raise InvalidTopic(f"{pattern!r}: '>' may only be the last token")
            continue
        if not _is_token(token):
            raise InvalidTopic(
                f"{pattern!r}: {token!r} is not a topic token "
                "(tokens are non-empty printable ASCII; '*' and '>' only as whole tokens)"
            )
    return pattern


def is_wildcard(pattern: str) -> bool:
    """Whether a (valid) pattern matches more than one topic."""
    return any(token in ("*", ">") for token in pattern.split("."))


def topic_matches(pattern: str, topic: str) -> bool:
    """Whether a (valid) subscription pattern matches a (valid, literal) topic."""
    wanted = pattern.split(".")
    given = topic.split(".")
    for index, token in enumerate(wanted):
        if token == ">":
            return len(given) > index
        if index >= len(given) or (token != "*" and token != given[index]):
            return False
    return len(given) == len(wanted)
