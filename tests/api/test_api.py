"""The local API in process: endpoints, error shapes, and refusal of non-local clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from nunet.actor.events import EnvelopeDelivered
from nunet.api import create_app, is_local_client
from nunet.node import Node
from tests.support.actors import events_of, wait_for_event
from tests.support.homes import PASSPHRASE, make_home


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    async with await Node.open(make_home(tmp_path), PASSPHRASE) as running:
        yield running


TOKEN = "test-token"


def client(
    node: Node, peer: tuple[str, int] = ("127.0.0.1", 5000), token: str | None = TOKEN
) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(node, token=TOKEN), client=peer)
    headers = {"authorization": f"Bearer {token}"} if token else None
    return httpx.AsyncClient(transport=transport, base_url="http://nunet", headers=headers)


async def test_health_names_the_node_and_its_log_head(node: Node) -> None:
    async with client(node) as http:
        answer = (await http.get("/api/v1/health")).json()
    assert answer["status"] == "ok"
    assert answer["did"] == node.did
    assert answer["log"]["head"] >= 1


async def test_invoke_send_and_broadcast(node: Node) -> None:
    async with client(node) as http:
        reply = await http.post("/api/v1/actor/invoke", json={"behavior": "/public/status"})
        assert reply.status_code == 200
        assert reply.json()["result"]["did"] == node.did
        sent = await http.post("/api/v1/actor/send", json={"behavior": "/public/hello"})
        assert sent.status_code == 202
        cast = await http.post(
            "/api/v1/actor/broadcast",
            json={"topic": "nunet.demo", "behavior": "/public/hello", "payload": {"x": 1}},
        )
        assert cast.status_code == 202


@pytest.mark.parametrize(
    ("body", "status", "code", "needle"),
    [
        ({"behavior": "/dms/nothing/here"}, 404, "unknown-behavior", "/dms/nothing/here"),
        ({"behavior": "no-slash"}, 400, "invalid-request", "behavior"),
        ({"behavior": "/public/status", "timeout": 0}, 400, "invalid-request", "timeout"),
        ({"behavior": "/public/status", "surprise": 1}, 400, "invalid-request", "surprise"),
        (
            {"behavior": "/dms/node/logger/config", "payload": {"level": 3}},
            400,
            "invalid-payload",
            "level",
        ),
        (
            {"behavior": "/public/status", "to": {"did": "x", "actor": "ghost", "node": "nowhere"}},
            502,
            "peer-unreachable",
            "nowhere",
        ),
    ],
)
async def test_bad_requests_get_a_named_error(
    node: Node, body: dict[str, object], status: int, code: str, needle: str
) -> None:
    async with client(node) as http:
        reply = await http.post("/api/v1/actor/invoke", json=body)
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error["code"] == code
    assert needle in error["message"]


async def test_malformed_json_is_a_clear_400(node: Node) -> None:
    async with client(node) as http:
        reply = await http.post(
            "/api/v1/actor/invoke",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
    assert reply.status_code == 400
    assert reply.json()["error"]["code"] == "invalid-request"


@pytest.mark.parametrize("peer", [("192.0.2.7", 40000), ("10.0.0.1", 1), ("2001:db8::1", 2)])
async def test_non_local_clients_are_refused_before_any_route(
    node: Node, peer: tuple[str, int]
) -> None:
    async with client(node, peer) as http:
        reply = await http.post("/api/v1/actor/invoke", json={"behavior": "/public/status"})
    assert reply.status_code == 403
    assert peer[0] in reply.json()["error"]["message"]
    # Nothing reached the node: once a later marker call is logged, no /public/status was.
    await node.invoke_as_user("/public/hello")
    await wait_for_event(
        node.log, EnvelopeDelivered, lambda e: e.envelope.behavior == "/public/hello"
    )
    delivered = await events_of(node.log, EnvelopeDelivered)
    assert [e for e in delivered if e.envelope.behavior == "/public/status"] == []


@pytest.mark.parametrize("token", [None, "wrong-token", TOKEN + "x"])
async def test_loopback_tcp_clients_need_the_api_token(node: Node, token: str | None) -> None:
    async with client(node, token=token) as http:
        reply = await http.get("/api/v1/health")
    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "unauthenticated"
    assert "api.json" in reply.json()["error"]["message"]


async def test_unix_socket_clients_need_no_token(node: Node) -> None:
    # A Unix-socket peer has no address; the socket file's mode (0600) is its guard.
    transport = httpx.ASGITransport(app=create_app(node, token=TOKEN), client=("", 0))
    async with httpx.AsyncClient(transport=transport, base_url="http://nunet") as http:
        assert (await http.get("/api/v1/health")).status_code == 200


def test_local_client_rule() -> None:
    assert is_local_client(("127.0.0.1", 1))
    assert is_local_client(("127.8.9.10", 1))
    assert is_local_client(("::1", 1))
    assert is_local_client(None)  # Unix socket peers have no address
    assert not is_local_client(("192.168.1.2", 1))
    assert not is_local_client(("not-an-ip", 1))


async def test_a_traceparent_header_follows_the_call_into_the_log(node: Node) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    async with client(node) as http:
        reply = await http.post(
            "/api/v1/actor/invoke",
            json={"behavior": "/public/hello"},
            headers={"traceparent": traceparent},
        )
        assert reply.json()["trace"] == traceparent
        fresh = (await http.post("/api/v1/actor/invoke", json={"behavior": "/public/hello"})).json()
    assert fresh["trace"] != traceparent  # a call without one starts its own trace
    _, delivered = await wait_for_event(
        node.log, EnvelopeDelivered, lambda e: e.envelope.trace == traceparent
    )
    assert delivered.envelope.behavior == "/public/hello"


async def test_a_malformed_traceparent_is_a_clear_400(node: Node) -> None:
    async with client(node) as http:
        reply = await http.post(
            "/api/v1/actor/invoke",
            json={"behavior": "/public/hello"},
            headers={"traceparent": "not-a-trace"},
        )
    assert reply.status_code == 400
    assert "traceparent" in reply.json()["error"]["message"]
