"""`nunet init`, `nunet run`, `nunet wait-ready`: set up and run a node."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import time
from pathlib import Path

import click
import msgspec

from nunet.api import ApiError, find_api
from nunet.cli.context import CliContext, emit, pass_context
from nunet.node import Node, NodeConfig, NodeLayout, init_home, load_config


@click.command("init")
@pass_context
def init(ctx: CliContext) -> None:
    """Create the node key and the local user key (if missing) and trust the user on this node."""
    config = load_config(NodeLayout(ctx.home).config)
    identity = init_home(ctx.home, ctx.keystore(), config)
    emit(ctx, {"home": str(ctx.home), "node_did": identity.node_did, "user_did": identity.user_did})


@click.command("run")
@click.option("--api-port", type=click.IntRange(0, 65535), default=None, help="Override api.port.")
@pass_context
def run(ctx: CliContext, api_port: int | None) -> None:
    """Start the node: log, store, actors, and the local API (until SIGINT or SIGTERM)."""
    config = load_config(NodeLayout(ctx.home).config)
    if api_port is not None:
        config = msgspec.structs.replace(
            config, api=msgspec.structs.replace(config.api, port=api_port)
        )
    asyncio.run(_run(ctx.home, ctx.passphrase(), config))


async def _run(home: Path, passphrase: str, config: NodeConfig) -> None:
    from nunet.api import ApiServer, create_app  # the server side only where a node runs

    node = await Node.open(home, passphrase, config)
    layout = node.layout
    token = secrets.token_urlsafe(32)  # loopback TCP clients must present it; see nunet.api
    server = ApiServer(
        create_app(node, token=token),
        host=config.api.host,
        port=config.api.port,
        socket_path=layout.api_socket if config.api.socket else None,
        info_path=layout.api_info,
        token=token,
    )
    try:
        url = await server.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        click.echo(
            json.dumps(
                {
                    "event": "node.ready",
                    "did": node.did,
                    "api": url,
                    "socket": str(layout.api_socket),
                }
            ),
            err=False,
        )
        stopping = asyncio.create_task(stop.wait())
        failing = asyncio.create_task(node.failed.wait())
        await asyncio.wait({stopping, failing}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        failing.cancel()
        if node.failed.is_set():
            raise click.ClickException(
                "the node cannot go on (its root supervisor or its NATS server gave up); "
                "see the log (nunet events tail)"
            )
    finally:
        await server.stop()
        await node.close()


@click.command("wait-ready")
@click.option("--timeout", type=float, default=30.0, show_default=True)
@click.option("--api", "api", default=None, help="API URL or Unix socket path.")
@pass_context
def wait_ready(ctx: CliContext, timeout: float, api: str | None) -> None:
    """Wait until the node's API answers its health check (for scripts)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with find_api(ctx.home, api) as client:
                emit(ctx, client.health())
                return
        except ApiError as exc:
            last = exc
        time.sleep(0.1)
    raise click.ClickException(f"the node did not become ready within {timeout:g}s: {last}")
