"""Errors raised at the transport boundary: bad names, unreachable peers, timeouts, closing."""

from nunet.errors import NunetError


class TransportError(NunetError):
    """Something about moving bytes between nodes went wrong."""


class InvalidAddress(TransportError):
    """A node address is not one subject token (non-empty printable ASCII, no '.', '*', '>')."""


class InvalidTopic(TransportError):
    """A topic is not dot-separated tokens, or uses wildcards where they are not allowed."""


class MessageTooLarge(TransportError):
    """A payload is larger than the transport's max_payload."""


class PeerUnreachable(TransportError):
    """No started transport answers at that address (never started, closed, or gone)."""


class RequestTimeout(TransportError):
    """The peer did not reply to a request within its timeout."""


class RequestFailed(TransportError):
    """The peer received the request but produced no reply: its handler raised, returned None,
    or returned a reply larger than max_payload."""


class TransportClosed(TransportError):
    """The transport was closed; it sends, receives and replies no more."""


class TransportNotStarted(TransportError):
    """The transport must be started (given its inbox handler) before it is used."""


class AddressInUse(TransportError):
    """Another started transport on the same medium already has that address."""
