"""What every CLI command shares: where the node's home is, how to get the passphrase, how to print."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import yaml

from nunet.errors import NunetError
from nunet.identity import KeyStore

if TYPE_CHECKING:
    from nunet.api import ApiClient

OUTPUT_FORMATS = ("json", "yaml", "table")


class NunetGroup(click.Group):
    """Turns domain errors into one clear line on stderr and exit status 1, never a traceback.

    Every command group uses it, so the rule holds however a group is invoked.
    """

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except NunetError as exc:
            raise click.ClickException(str(exc)) from None


@dataclass(frozen=True)
class CliContext:
    """Options given before the subcommand: `nunet --home H --passphrase-file F <cmd>`."""

    home: Path
    passphrase_file: Path | None
    output: str

    def passphrase(self) -> str:
        """NUNET_PASSPHRASE, then --passphrase-file, then a prompt on a terminal; else a clear error."""
        if self.passphrase_file is not None:
            try:
                return self.passphrase_file.read_text().rstrip("\r\n")
            except OSError as exc:
                raise click.UsageError(f"--passphrase-file {self.passphrase_file}: {exc}") from None
        env = os.environ.get("NUNET_PASSPHRASE")
        if env is not None:
            return env
        if sys.stdin.isatty():
            return str(click.prompt("passphrase", hide_input=True))
        raise click.UsageError(
            "a passphrase is needed: set NUNET_PASSPHRASE or pass --passphrase-file"
        )

    def keystore(self) -> KeyStore:
        return KeyStore(self.home / "keys", self.passphrase())

    def public_keystore(self) -> KeyStore:
        """A key store for reading public facts (names, DIDs); it cannot open keys."""
        return KeyStore(self.home / "keys", "")


def default_home() -> Path:
    return Path(os.environ.get("NUNET_HOME") or Path.home() / ".nunet")


def emit(ctx: CliContext, value: Any) -> None:
    """Print a result in the chosen output format."""
    if ctx.output == "json":
        click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))
    elif ctx.output == "yaml":
        click.echo(yaml.safe_dump(_plain(value), sort_keys=True).rstrip())
    else:
        click.echo(render_table(value))


def render_table(value: Any) -> str:
    """A plain-text table for lists of flat mappings; key/value lines for one mapping."""
    if isinstance(value, dict):
        width = max((len(str(k)) for k in value), default=0)
        return "\n".join(f"{k!s:<{width}}  {_cell(v)}" for k, v in value.items())
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        columns = list(dict.fromkeys(k for row in value for k in row))
        rows = [[_cell(row.get(c, "")) for c in columns] for row in value]
        widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
        lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
        return "\n".join(line.rstrip() for line in lines)
    if isinstance(value, list):
        return "\n".join(_cell(v) for v in value)
    return _cell(value)


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


pass_context = click.make_pass_decorator(CliContext)

SELF_BEHAVIOR = "/dms/node/peers/self"


def local_actor(client: ApiClient, actor_id: str) -> dict[str, str]:
    """The handle of the node's actor `actor_id`, from the node's own answer to who it is."""
    me = client.invoke(SELF_BEHAVIOR)
    return {"did": me["did"], "actor": actor_id, "node": me["address"]}


F = TypeVar("F", bound=Callable[..., Any])


def output_option(command: F) -> F:
    """`--output/-o` on a command itself (`nunet actor cmd X -o json`), overriding the global one.

    Goes between `@pass_context` and the function.
    """

    @functools.wraps(command)
    def with_output(ctx: CliContext, *args: Any, output: str | None, **kwargs: Any) -> Any:
        if output is not None:
            ctx = dataclasses.replace(ctx, output=output)
        return command(ctx, *args, **kwargs)

    option = click.option(
        "--output",
        "-o",
        "output",
        type=click.Choice(OUTPUT_FORMATS),
        default=None,
        help="Output format (overrides the global --output).",
    )
    return option(with_output)  # type: ignore[return-value]
