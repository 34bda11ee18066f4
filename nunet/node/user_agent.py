"""The local user's agent: the actor through which the local API speaks for the user's identity."""

from __future__ import annotations

from nunet.actor import Actor

USER_ACTOR_ID = "user"


class UserAgent(Actor):
    """Holds no behaviors of its own; it signs and sends for the local user and takes the replies."""

    kind = "user"
