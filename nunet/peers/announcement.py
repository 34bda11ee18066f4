"""The presence announcement a node publishes every heartbeat, as it travels in the payload."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated
from urllib.parse import urlsplit

import msgspec

PRESENCE_TOPIC = "nunet.presence"
PRESENCE_BEHAVIOR = "/public/peers/presence"
PING_BEHAVIOR = "/public/peers/ping"

# Bounds on what one peer can make this node keep: the table holds up to max_peers presences.
MAX_ADDRESSES = 16
_Short = Annotated[str, msgspec.Meta(max_length=256)]
_Url = Annotated[str, msgspec.Meta(max_length=1024)]
_Name = Annotated[str, msgspec.Meta(max_length=64)]
_Count = Annotated[int, msgspec.Meta(ge=0)]


class Presence(msgspec.Struct, frozen=True, kw_only=True):
    """ "I am here": who announces (`did`, and the `actor` on `node` that answers pings), where
    else it can be reached (`addresses`, by name), how often it announces, and its position in its
    own sequence of announcements.

    `incarnation` is the announcing actor's start time (ns since the epoch) and `counter` counts
    its announcements from 0, so (incarnation, counter) orders every presence of one DID: a
    higher incarnation is a restart, a gap in the counter is lost heartbeats.
    """

    did: _Short
    node: _Short
    actor: _Short
    addresses: Annotated[dict[_Name, _Url], msgspec.Meta(max_length=MAX_ADDRESSES)]
    heartbeat_seconds: Annotated[float, msgspec.Meta(gt=0)]
    version: Annotated[str, msgspec.Meta(max_length=64)]
    incarnation: _Count
    counter: _Count

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
