"""The `nunet` command line: one module per command group, composed here."""

from __future__ import annotations

from pathlib import Path

import click

from nunet.cli.context import OUTPUT_FORMATS, CliContext, NunetGroup, default_home


@click.group(cls=NunetGroup)
@click.option(
    "--home",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Node home directory (default: $NUNET_HOME or ~/.nunet).",
)
@click.option(
    "--passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="File holding the key-store passphrase (default: $NUNET_PASSPHRASE).",
)
@click.option("--output", "-o", type=click.Choice(OUTPUT_FORMATS), default="table")
@click.version_option(package_name="nunet")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, passphrase_file: Path | None, output: str) -> None:
    """nunet: a Device Management Service node and its tools."""
    ctx.obj = CliContext(home or default_home(), passphrase_file, output)


def main() -> None:
    cli(prog_name="nunet")


def _register() -> None:
    from nunet.cli.commands import ALL

    for command in ALL:
        cli.add_command(command)


_register()
