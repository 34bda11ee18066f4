"""The server's HTTP monitoring endpoints (/healthz, /varz, /leafz), read over asyncio streams."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any

from nunet.mesh.errors import MeshError

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_S = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


class MonitorUnavailable(MeshError):
    """The server's monitoring port did not answer (it is starting, stopping or hung)."""


@dataclass(frozen=True)
class LeafLink:
    """One established leaf connection, as /leafz reports it."""

    name: str  # the other server's name
    address: str  # ip:port of the other end
    account: str
    rtt_s: float | None


async def get_json(host: str, port: int, path: str, timeout: float = 2.0) -> tuple[int, Any]:
    """(HTTP status, decoded JSON body) of GET `path`; MonitorUnavailable if it cannot be had."""
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
                await writer.drain()
                response = await reader.read()  # HTTP/1.0: the server closes after the body
            finally:
                writer.close()
        head, _, body = response.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        return status, json.loads(body)
    except (OSError, TimeoutError, ValueError, IndexError) as exc:
        raise MonitorUnavailable(f"http://{host}:{port}{path} did not answer: {exc!r}") from None


async def healthz(host: str, port: int) -> str | None:
    """None when the server is healthy, else what /healthz says is wrong."""
    status, body = await get_json(host, port, "/healthz")
    if status == 200:
        return None
    return str(body.get("error") or body) if isinstance(body, dict) else str(body)


async def leaf_links(host: str, port: int) -> list[LeafLink]:
    _, body = await get_json(host, port, "/leafz")
    return [
        LeafLink(
            name=str(leaf.get("name", "")),
            address=_address(str(leaf.get("ip", "")), int(leaf.get("port", 0))),
            account=str(leaf.get("account", "")),
            rtt_s=parse_go_duration(leaf.get("rtt")),
        )
        for leaf in body.get("leafs") or []
    ]


def parse_go_duration(text: object) -> float | None:
    """Seconds in a Go duration string ("316µs", "1m2.5s"); None if it is not one."""
    if not isinstance(text, str) or not text:
        return None
    parts = _DURATION_PART.findall(text)
    if "".join(number + unit for number, unit in parts) != text:
        return None
    return round(sum(float(number) * _UNIT_S[unit] for number, unit in parts), 9)


def _address(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
