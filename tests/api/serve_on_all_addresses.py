"""Test helper: a node whose API listens on every address of its (network namespace's) host.

The node's configuration refuses a non-loopback api.host, so this serves the app directly, to
prove that the LocalAccess middleware itself turns away a client with a real non-loopback
address. Prints `ready <port>` and serves until stdin closes.

    python tests/api/serve_on_all_addresses.py HOME
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from nunet.api import ApiServer, create_app
from nunet.node import Node
from tests.support.homes import PASSPHRASE, make_home

TOKEN = "netns-test-token"


async def main(home: Path) -> None:
    async with await Node.open(make_home(home), PASSPHRASE) as node:
        server = ApiServer(
            create_app(node, token=TOKEN),
            host="0.0.0.0",
            port=0,
            socket_path=None,
            info_path=home / "api.json",
            token=TOKEN,
        )
        url = await server.start()
        print("ready", url.rsplit(":", 1)[1], flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)
        await server.stop()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
