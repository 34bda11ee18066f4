"""Waiting until a change of interest (subscribe, unsubscribe) has crossed the leaf links.

NATS servers pass subscription interest along leaf links asynchronously; a publication reaching
a server that does not know the interest yet is dropped, and a request gets "no responders".
Interest and messages travel the same links in order, so a request sent after a change and
answered from another server proves the change reached every server on that path. In a
hub-and-spoke mesh the hub passes the change on to every leaf before it forwards the request, so
one answer from any other server shows the change known swarm-wide (or on its last hop there).

So each transport keeps a few addresses of transports on other servers, learned by a census
when it starts (every started transport answers on the census subject, and learns who asked),
and after each change of interest asks one of them, at its inbox, whether it is there.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscriptionHandle
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from nunet.network.errors import TransportError
from nunet.network.nats_topics import unsubscribe_quietly
from nunet.network.nats_wire import CENSUS_SUBJECT, Kind, inbox_subject, message_headers
from nunet.network.subjects import validate_address

_log = logging.getLogger("nunet.network.nats")

NO_RESPONDERS = "503"
FLUSH_TIMEOUT = 5
MAX_SERVER_ID = 128
MAX_KNOWN_PEERS = 16
"""Remote transports remembered: enough that one is still there when the barrier asks."""
PROBE_ATTEMPTS = 3


def server_id(client: Client) -> str:
    """The id of the server `client` is connected to now (changes when it restarts)."""
    # nats-py keeps the server's INFO private; server_id is unique per server process.
    info = getattr(client, "_server_info", None) or {}
    return str(info.get("server_id") or client.connected_url or "unknown")


@dataclass(slots=True)
class _Census:
    """One census: done on an answer from another server, or proof that there is none."""

    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    expect_remote: bool = False

    def finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def settle_then_flush(client: Client) -> None:
    """A flush that really follows what this connection queued before it.

    nats-py (2.16) writes a flush's PING straight to the socket, while SUB, UNSUB and PUB wait
    in its pending buffer until its flusher task runs: the PONG can then come back before the
    server has seen a SUB queued just before, and a publication from another connection misses
    the new subscription. One turn of the loop lets the flusher (woken when the SUB was queued)
    write the buffer first, so the PING follows it on the wire.
    """
    await asyncio.sleep(0)
    await client.flush(timeout=FLUSH_TIMEOUT)


class InterestBarrier:
    """Takes part in the census for its transport and waits for interest changes to propagate.

    `settle` bounds how long a starting transport looks for transports on other servers when
    nobody has told it of any; `limit` bounds each wait for an answer from one it knows of.
    A barrier that gets no answer logs it and returns: the change still happens, later.
    """

    def __init__(self, client: Client, address: str, *, settle: float, limit: float) -> None:
        self._client = client
        self._address = address
        self._settle = settle
        self._limit = limit
        self._server = server_id(client)
        self._remote: dict[str, str] = {}  # address of a transport on another server -> server
        self._census: _Census | None = None
        self._reply_subject = client.new_inbox()
        self._answers: NatsSubscriptionHandle | None = None
        self._responder: NatsSubscriptionHandle | None = None

    @property
    def remote_peers(self) -> frozenset[str]:
        """Addresses of transports on other servers that this one knows of."""
        return frozenset(self._remote)

    async def open(self) -> None:
        """Subscribe to census answers (before the first `wait`)."""
        self._answers = await self._client.subscribe(self._reply_subject, cb=self._on_answer)

    async def answer_census(self) -> None:
        """Start answering other transports' census (after the first `wait`, so that the first
        transport hears "no responders" rather than itself)."""
        self._responder = await self._client.subscribe(CENSUS_SUBJECT, cb=self._on_census)

    def server_changed(self) -> None:
        """After a reconnect: the transport may now be on another (or a restarted) server."""
        self._server = server_id(self._client)

    async def wait(self, *, first: bool = False) -> None:
        """Return once the interest changes this connection made are known to its server and,
        where transports on other servers are known, to one of them (see the module docstring).
        `first` (at start) also takes a census to learn of such transports."""
        await settle_then_flush(self._client)
        if first:
            await self._take_census()
            return
        for _ in range(PROBE_ATTEMPTS):
            if not self._remote:
                return
            peer = next(iter(self._remote))
            try:
                await self._client.request(
                    inbox_subject(peer),
                    b"",
                    timeout=self._limit,
                    headers=message_headers(self._address, Kind.PROBE),
                )
                return
            except NoRespondersError:
                del self._remote[peer]  # gone; ask another
            except NatsTimeoutError:
                _log.warning(
                    "%s: %s did not answer a probe within %s s", self._address, peer, self._limit
                )
                del self._remote[peer]
        _log.warning(
            "%s: no transport on another server confirmed an interest change; "
            "it may reach other servers late",
            self._address,
        )

    async def close(self) -> None:
        for handle in (self._responder, self._answers):
            if handle is not None:
                await unsubscribe_quietly(handle)
        self._responder = self._answers = None

    async def _take_census(self) -> None:
        census = self._census = _Census()
        try:
            await self._client.publish(CENSUS_SUBJECT, self._identity(), reply=self._reply_subject)
            try:
                await asyncio.wait_for(asyncio.shield(census.done), self._settle)
                return
            except TimeoutError:
                if not census.expect_remote:
                    return  # nobody here knows of another server: none is there to tell
            try:
                await asyncio.wait_for(asyncio.shield(census.done), self._limit)
            except TimeoutError:
                _log.warning(
                    "%s: no transport on another server answered the census within %s s",
                    self._address,
                    self._limit,
                )
        finally:
            self._census = None
            census.done.cancel()

    def _identity(self) -> bytes:
        return f"{self._server} {self._address}".encode()

    def _learn(self, text: str) -> tuple[str, str] | None:
        """Parse "<server> <address> ..." and remember the address if it is on another server."""
        server, _, rest = text.partition(" ")
        try:
            address = validate_address(rest.split(" ", 1)[0])
        except TransportError:
            return None
        if not server or len(server) > MAX_SERVER_ID:
            return None
        if server != self._server and address != self._address:
            self._remote.pop(address, None)
            self._remote[address] = server
            while len(self._remote) > MAX_KNOWN_PEERS:
                del self._remote[next(iter(self._remote))]
        return server, address

    async def _on_census(self, msg: Msg) -> None:
        asker = self._learn(msg.data.decode("ascii", "replace"))
        if asker is None or not msg.reply:
            return
        knows_remote = "1" if set(self._remote) - {asker[1]} else "0"
        answer = f"{self._server} {self._address} {knows_remote}".encode()
        await self._client.publish(msg.reply, answer)

    async def _on_answer(self, msg: Msg) -> None:
        census = self._census
        if msg.headers and msg.headers.get("Status") == NO_RESPONDERS:
            if census is not None:
                census.finish()  # no other transport anywhere
            return
        text = msg.data.decode("ascii", "replace")
        answerer = self._learn(text)
        if answerer is None or census is None:
            return  # a late answer still taught us of a transport
        if answerer[0] != self._server:
            census.finish()
        elif text.endswith(" 1"):
            census.expect_remote = True
        elif not self._remote:
            census.finish()  # a transport on our server has heard of no other server
