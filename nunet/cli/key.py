"""`nunet key`: the node's and user's Ed25519 keys, sealed under the passphrase."""

from __future__ import annotations

import click

from nunet.cli.context import CliContext, NunetGroup, emit, pass_context


@click.group("key", cls=NunetGroup)
def key() -> None:
    """Create and inspect keys (stored encrypted under <home>/keys)."""


@key.command("new")
@click.argument("name")
@pass_context
def key_new(ctx: CliContext, name: str) -> None:
    """Create a new key NAME and print its DID."""
    pair = ctx.keystore().create(name)
    emit(ctx, {"name": name, "did": pair.did})


@key.command("list")
@pass_context
def key_list(ctx: CliContext) -> None:
    """List keys and their DIDs (no passphrase needed)."""
    store = ctx.public_keystore()
    emit(ctx, [{"name": name, "did": store.did(name)} for name in store.names()])


@key.command("did")
@click.argument("name")
@pass_context
def key_did(ctx: CliContext, name: str) -> None:
    """Print the DID of key NAME."""
    click.echo(ctx.public_keystore().did(name))


@key.command("export-public")
@click.argument("name")
@pass_context
def key_export_public(ctx: CliContext, name: str) -> None:
    """Print the public half of key NAME (DID and raw public key); opens the key to prove it."""
    pair = ctx.keystore().load(name)
    emit(
        ctx, {"name": name, "did": pair.did, "public_key": pair.public_key.hex(), "type": "Ed25519"}
    )
