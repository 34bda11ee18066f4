"""Errors of peer discovery, each naming what is wrong."""

from nunet.errors import NunetError


class UnknownPeer(NunetError):
    """A DID this node has not heard a presence from (or has evicted from its table)."""
