"""The presence announcement a node publishes every heartbeat, as it travels in the payload."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

import msgspec

PRESENCE_TOPIC = "nunet.presence"
PRESENCE_BEHAVIOR = "/public/peers/presence"
PING_BEHAVIOR = "/public/peers/ping"


class Presence(msgspec.Struct, frozen=True, kw_only=True):
    """ "I am here": who announces (`did`, and the `actor` on `node` that answers pings), where
    else it can be reached (`addresses`, by name), how often it announces, and its position in its
    own sequence of announcements.

    `incarnation` is the announcing actor's start time (ns since the epoch) and `counter` counts
    its announcements from 0, so (incarnation, counter) orders every presence of one DID: a
    higher incarnation is a restart, a gap in the counter is lost heartbeats.
    """

    did: str
    node: str
    actor: str
    addresses: dict[str, str]
    heartbeat_seconds: float
    version: str
    incarnation: int
    counter: int

    @property
    def position(self) -> tuple[int, int]:
        return (self.incarnation, self.counter)


def named_addresses(addresses: Mapping[str, str] | Sequence[str]) -> dict[str, str]:
    """Addresses by name. A mapping is kept as is; a sequence of URLs is named by scheme
    (`nats://…` → `nats`), a repeated scheme getting `-2`, `-3`, … in order."""
    if isinstance(addresses, str):
        raise TypeError("addresses must be a mapping or a sequence of URLs, not one string")
    if isinstance(addresses, Mapping):
        return {str(name): str(url) for name, url in addresses.items()}
    named: dict[str, str] = {}
    for url in addresses:
        scheme = urlsplit(url).scheme or "address"
        name, n = scheme, 1
        while name in named:
            n += 1
            name = f"{scheme}-{n}"
        named[name] = url
    return named
