"""What the peers actor needs from the mesh to add links: one method, implemented by the mesh."""

from __future__ import annotations

from typing import Protocol


class Links(Protocol):
    """The node's mesh links to hubs. `connect` adds a link to the hub at `address` (e.g.
    `tls://hub.example.org:7422`) and raises a NunetError naming what went wrong."""

    async def connect(self, address: str) -> None: ...
