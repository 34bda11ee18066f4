"""`nunet translate FILE`: a Kubernetes, Nomad or compose definition as a nunet/v1 ensemble."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn

import click
import yaml

from nunet.translate import SOURCES, Source, TranslateError, translate


@click.command("translate")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option(
    "--from",
    "source",
    type=click.Choice(SOURCES),
    default=None,
    help="What FILE is (default: detected from its content).",
)
@click.option(
    "--out",
    "-o",
    "out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the ensemble here (.json: JSON, else YAML) instead of printing it.",
)
def translate_command(file: Path, source: str | None, out: Path | None) -> None:
    """Translate FILE (Kubernetes YAML, a Nomad HCL/JSON job or a compose file, `-` for stdin)
    into a nunet/v1 ensemble. Everything the ensemble cannot express is listed on stderr as
    `dropped: <path>: <what> (<why>)`. Exit status 2 when FILE cannot be read or translated."""
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"{file}: cannot read it: {exc}")
    chosen: Source | None = next((s for s in SOURCES if s == source), None)
    # compose names a project after its directory when the file does not name it
    project = Path.cwd().name if str(file) == "-" else file.resolve().parent.name
    try:
        result = translate(text, chosen, name=project)
    except TranslateError as exc:
        _fail(f"{file}: {exc}")
    if out is None:
        click.echo(yaml.safe_dump(result.document, sort_keys=False).rstrip())
    else:
        rendered = (
            json.dumps(result.document, indent=2) + "\n"
            if out.suffix == ".json"
            else yaml.safe_dump(result.document, sort_keys=False)
        )
        try:
            out.write_text(rendered, encoding="utf-8")
        except OSError as exc:
            _fail(f"{out}: cannot write it: {exc}")
    for dropped in result.dropped:
        click.echo(f"dropped: {dropped}", err=True)
    if out is not None:
        allocations = len(result.document["allocations"])
        click.echo(
            f"wrote {out}: {allocations} allocation(s) from {result.source}, "
            f"{len(result.dropped)} item(s) dropped",
            err=True,
        )


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(2)
