"""The hub side of the mesh benchmarks, as its own process (nodes are processes in production):
a hub node with a public echo behavior, and a raw nats-py echo responder on the same server.

Prints one JSON line (DID, leaf URL, client URL, token) when ready; stops on SIGTERM or when
its standard input closes.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import nats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _mesh_common import ECHO_ACTOR, RAW_SUBJECT, Echo, node_config

from nunet.node import Node
from tests.support.homes import PASSPHRASE, make_home


async def main(directory: Path, port: int, replication: bool) -> None:
    hub = await Node.open(
        make_home(directory / "hub"),
        PASSPHRASE,
        node_config(directory / "swarm.key", replication, {"hub": {"port": port}}),
    )
    server = hub.mesh.server
    assert server is not None
    await hub.system.spawn(Echo(), ECHO_ACTOR)
    raw = await nats.connect(server.client_url, token=hub.mesh.token)

    async def respond(msg: nats.aio.msg.Msg) -> None:
        await msg.respond(msg.data)

    await raw.subscribe(RAW_SUBJECT, cb=respond)
    await raw.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_reader(sys.stdin.fileno(), stop.set)  # the benchmark went away
    ready = {
        "did": hub.did,
        "leaf_url": server.leaf_url,
        "client_url": server.client_url,
        "token": hub.mesh.token,
    }
    print(json.dumps(ready), flush=True)
    await stop.wait()
    await raw.close()
    await hub.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"))
