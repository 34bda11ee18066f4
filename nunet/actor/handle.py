"""Where an actor lives: the identity that signs for it, its id, and its node's address."""

from __future__ import annotations

import msgspec


class Handle(msgspec.Struct, frozen=True, array_like=True):
    """Address of an actor: `did` signs for it, `actor` names it on `node` (the node's transport address)."""

    did: str
    actor: str
    node: str

    def __str__(self) -> str:
        return f"{self.actor}@{self.node}"


BROADCAST = Handle("", "", "")
