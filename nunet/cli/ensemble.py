"""`nunet validate FILE...`: check ensemble files without a running node; every problem of
every file is printed, and the exit status is 2 when any file is invalid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from nunet.cli.context import CliContext, emit, output_option, pass_context
from nunet.ensemble import EnsembleError, flatten, read_ensemble

INVALID = 2


def check_file(path: Path) -> dict[str, Any]:
    """One file's verdict: ok with its counts, or its problems."""
    try:
        ensemble = read_ensemble(path)
    except EnsembleError as error:
        problems = [{"path": p.path, "message": p.message} for p in error.problems]
        return {"file": str(path), "ok": False, "problems": problems}
    flat = flatten(ensemble)
    return {
        "file": str(path),
        "ok": True,
        "name": ensemble.name,
        "allocations": len(flat.allocations),
        "nodes": len(flat.nodes),
        "start_order": flat.start_order(),
        "problems": [],
    }


@click.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@pass_context
@output_option
def validate(ctx: CliContext, files: tuple[Path, ...]) -> None:
    """Check ensemble FILES (native nunet/v1 or NuNet DMS V1); no node is needed."""
    verdicts = [check_file(path) for path in files]
    if ctx.output != "table":
        emit(ctx, verdicts)
    else:
        for verdict in verdicts:
            if verdict["ok"]:
                click.echo(
                    f"ok: {verdict['file']}: {verdict['allocations']} allocations on "
                    f"{verdict['nodes']} nodes"
                )
                continue
            count = len(verdict["problems"])
            click.echo(f"invalid: {verdict['file']}: {count} problem{'s' * (count != 1)}")
            for problem in verdict["problems"]:
                click.echo(f"  {problem['path']}: {problem['message']}")
    if not all(verdict["ok"] for verdict in verdicts):
        raise SystemExit(INVALID)
