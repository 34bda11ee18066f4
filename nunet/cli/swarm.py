"""`nunet swarm`: the private swarm's key (creating it, showing its fingerprint)."""

from __future__ import annotations

from pathlib import Path

import click

from nunet.cli.context import CliContext, NunetGroup, emit, pass_context
from nunet.mesh import SWARM_KEY_FILE, SwarmKey

_OUT = click.Path(dir_okay=False, path_type=Path)


@click.group("swarm", cls=NunetGroup)
def swarm() -> None:
    """The private swarm this node belongs to (without a key: the open public swarm)."""


@swarm.group("key", cls=NunetGroup)
def swarm_key() -> None:
    """The swarm key: every node holding the same key file is a member of the same swarm."""


@swarm_key.command("new")
@click.option(
    "--out", type=_OUT, default=None, help="Where to write it [default: <home>/swarm.key]."
)
@pass_context
def swarm_key_new(ctx: CliContext, out: Path | None) -> None:
    """Create a new swarm key (mode 0600; never overwrites). Copy it to every member."""
    path = out or ctx.home / SWARM_KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    key = SwarmKey.generate()
    key.write(path)
    emit(ctx, {"path": str(path), "fingerprint": key.fingerprint})


@swarm_key.command("show")
@click.option("--path", "path", type=_OUT, default=None, help="[default: <home>/swarm.key].")
@pass_context
def swarm_key_show(ctx: CliContext, path: Path | None) -> None:
    """Print the key's fingerprint (safe to share: compare it to check two nodes match)."""
    default = ctx.home / SWARM_KEY_FILE
    if path is None and not default.exists():
        public = SwarmKey.public()
        emit(ctx, {"path": None, "fingerprint": public.fingerprint, "swarm": "open public"})
        return
    path = path or default
    key = SwarmKey.load(path)
    emit(ctx, {"path": str(path), "fingerprint": key.fingerprint, "swarm": "private"})
