"""The log classifier, on lines nats-server 2.15.1 really printed (captured from real runs)."""

from __future__ import annotations

import pytest

from nunet.mesh.server_log import (
    Fatal,
    LinkClosed,
    LinkRejected,
    ListenFailed,
    LogSignal,
    ReloadDone,
    ReloadFailed,
    RemoteDialFailed,
    ServerReady,
    classify,
)

P = "[31724] 2026/11/25 09:11:25.579911"

CASES: list[tuple[str, LogSignal | None]] = [
    (f"{P} [INF] Server is ready", ServerReady()),
    (
        f'{P} [FTL] Error listening on port: 127.0.0.1:37627, "listen tcp 127.0.0.1:37627: '
        'bind: address already in use"',
        ListenFailed("client", 37627, ""),
    ),
    (
        f"{P} [FTL] Can't start monitoring: can't listen to the monitor port: listen tcp "
        "127.0.0.1:37628: bind: address already in use",
        ListenFailed("monitor", 37628, ""),
    ),
    (
        f"{P} [FTL] Error listening on leafnode port: 37629 - listen tcp 127.0.0.1:37629: "
        "bind: address already in use",
        ListenFailed("leafnode", 37629, ""),
    ),
    (
        f"{P} [FTL] Error listening on router port: 37630 - listen tcp 127.0.0.1:37630: "
        "bind: address already in use",
        ListenFailed("cluster", 37630, ""),
    ),
    (f"{P} [FTL] some other fatal thing", Fatal("some other fatal thing")),
    (
        f"{P} [ERR] 127.0.0.1:58028 - lid:6 - TLS leafnode handshake error: remote error: tls: "
        "bad certificate",
        LinkRejected("leaf", "127.0.0.1:58028", "tls-certificate", ""),
    ),
    (
        f"{P} [ERR] 127.0.0.1:17422 - lid:5 - TLS leafnode handshake error: tls: failed to "
        "verify certificate: x509: certificate signed by unknown authority",
        LinkRejected("leaf", "127.0.0.1:17422", "tls-certificate", ""),
    ),
    (
        f"{P} [ERR] 127.0.0.1:5000 - lid:9 - TLS leafnode handshake error: tls: first record "
        "does not look like a TLS handshake",
        LinkRejected("leaf", "127.0.0.1:5000", "tls-handshake", ""),
    ),
    (
        f'{P} [ERR] 127.0.0.1:38746 - lid:5 - authentication error - User "u"',
        LinkRejected("leaf", "127.0.0.1:38746", "authorization", ""),
    ),
    (
        f"{P} [ERR] 127.0.0.1:17422 - lid:5 - Leafnode Error 'Authorization Violation'",
        LinkRejected("leaf", "127.0.0.1:17422", "authorization", ""),
    ),
    (
        f"{P} [ERR] 10.0.0.2:6222 - rid:3 - TLS route handshake error: remote error: tls: "
        "bad certificate",
        LinkRejected("route", "10.0.0.2:6222", "tls-certificate", ""),
    ),
    (
        f"{P} [INF] 127.0.0.1:58014 - lid:5 - Leafnode connection closed: Client Closed - "
        "Remote: member",
        LinkClosed("leaf", "127.0.0.1:58014", "Client Closed", "member"),
    ),
    (
        f"{P} [INF] 127.0.0.1:58028 - lid:6 - Leafnode connection closed: TLS Handshake Failure",
        LinkClosed("leaf", "127.0.0.1:58028", "TLS Handshake Failure", None),
    ),
    (
        f'{P} [ERR] Error trying to connect as leafnode to remote server "127.0.0.1:17999" '
        "(attempt 1): dial tcp 127.0.0.1:17999: connect: connection refused",
        RemoteDialFailed(
            "127.0.0.1:17999", "dial tcp 127.0.0.1:17999: connect: connection refused"
        ),
    ),
    (f"{P} [INF] Reloaded server configuration (sha256:01411c74)", ReloadDone()),
    (
        f"{P} [ERR] Failed to reload server configuration: config reload not supported for "
        "JetStreamDomain: old=a, new=b",
        ReloadFailed("config reload not supported for JetStreamDomain: old=a, new=b"),
    ),
    (f"{P} [INF] 127.0.0.1:58014 - lid:5 - Leafnode connection created ", None),
    (f"{P} [INF] 127.0.0.1:40000 - cid:7 - Client connection closed: Client Closed", None),
    (f"{P} [INF] Listening for client connections on 127.0.0.1:34689", None),
    ("not a log line at all", None),
]


@pytest.mark.parametrize(("line", "expected"), CASES)
def test_each_line_yields_its_signal(line: str, expected: LogSignal | None) -> None:
    found = classify(line)
    if isinstance(expected, ListenFailed | LinkRejected):
        # the detail is the raw message; compare everything else
        assert type(found) is type(expected)
        assert found is not None
        assert found.__dict__ | {"detail": ""} == expected.__dict__
        assert found.detail  # type: ignore[union-attr]
    else:
        assert found == expected
