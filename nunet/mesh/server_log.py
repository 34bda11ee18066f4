"""Reading nats-server's log: a pure classifier turning the lines that matter into typed signals.

Written against the lines nats-server 2.15.1 prints (see tests/mesh/test_server_log.py for the
real samples); a line it does not recognise yields None and is only kept in the log file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(r"^\[\d+\] \S+ \S+ \[(?P<level>[A-Z]{3})\] (?P<message>.*)$")
_CONNECTION = re.compile(r"^(?P<address>\S+) - (?P<kind>lid|rid|cid|gid):\d+ - (?P<text>.*)$")
_IN_USE = re.compile(r":(?P<port>\d+): bind: address already in use")
_DIAL_FAILED = re.compile(
    r'^Error trying to connect as leafnode to remote server "(?P<remote>[^"]+)" '
    r"\(attempt \d+\): (?P<detail>.*)$"
)
_CLOSED = re.compile(
    r"^(?:Leafnode|Route) connection closed: (?P<reason>.*?)(?: - Remote: (?P<remote>.*))?$"
)
_LINKS = {"lid": "leaf", "rid": "route"}
_LISTEN_ROLES = (
    ("monitor port", "monitor"),
    ("leafnode port", "leafnode"),
    ("router port", "cluster"),
    ("Error listening on port", "client"),
)


@dataclass(frozen=True)
class ServerReady:
    """The server listens on every port it was given."""


@dataclass(frozen=True)
class ListenFailed:
    role: str  # client, monitor, leafnode, cluster
    port: int
    detail: str


@dataclass(frozen=True)
class Fatal:
    detail: str


@dataclass(frozen=True)
class LinkRejected:
    """A server-to-server connection failed its TLS handshake or its authorization."""

    link: str  # leaf or route
    address: str  # ip:port of the other end
    cause: str  # tls-certificate, tls-handshake, authorization
    detail: str


@dataclass(frozen=True)
class LinkClosed:
    link: str
    address: str
    reason: str
    remote: str | None  # the other server's name, when the link had been established


@dataclass(frozen=True)
class RemoteDialFailed:
    remote: str  # host:port of a leaf remote
    detail: str


@dataclass(frozen=True)
class ReloadDone:
    pass


@dataclass(frozen=True)
class ReloadFailed:
    detail: str


LogSignal = (
    ServerReady
    | ListenFailed
    | Fatal
    | LinkRejected
    | LinkClosed
    | RemoteDialFailed
    | ReloadDone
    | ReloadFailed
)


def classify(line: str) -> LogSignal | None:
    """The signal one log line carries, or None."""
    match = _LINE.match(line.rstrip("\r\n"))
    if match is None:
        return None
    level, message = match["level"], match["message"]
    if level == "FTL":
        return _fatal(message)
    connection = _CONNECTION.match(message)
    if connection is not None:
        return _on_connection(connection["kind"], connection["address"], connection["text"])
    if message == "Server is ready":
        return ServerReady()
    if message.startswith("Reloaded server configuration"):
        return ReloadDone()
    if message.startswith("Failed to reload server configuration: "):
        return ReloadFailed(message.partition(": ")[2])
    dial = _DIAL_FAILED.match(message)
    if dial is not None:
        return RemoteDialFailed(dial["remote"], dial["detail"])
    return None


def _fatal(message: str) -> LogSignal:
    in_use = _IN_USE.search(message)
    if in_use is not None:
        for marker, role in _LISTEN_ROLES:
            if marker in message:
                return ListenFailed(role, int(in_use["port"]), message)
    return Fatal(message)


def _on_connection(kind: str, address: str, text: str) -> LogSignal | None:
    link = _LINKS.get(kind)
    if link is None:
        return None
    handshake = f"TLS {'leafnode' if link == 'leaf' else 'route'} handshake error: "
    if text.startswith(handshake):
        detail = text[len(handshake) :]
        return LinkRejected(link, address, tls_cause(detail), detail)
    if text.startswith("authentication error") or "Authorization Violation" in text:
        return LinkRejected(link, address, "authorization", text)
    closed = _CLOSED.match(text)
    if closed is not None:
        return LinkClosed(link, address, closed["reason"], closed["remote"])
    return None


def tls_cause(detail: str) -> str:
    """tls-certificate when the peers' certificates did not verify; tls-handshake otherwise."""
    if "certificate" in detail or "x509" in detail:
        return "tls-certificate"
    return "tls-handshake"
