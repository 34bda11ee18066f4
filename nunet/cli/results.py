"""`nunet deployments results`: where a deployment's outputs were published, and fetching them.

The orchestrating node says what each allocation published (every object, its size and
checksum). `--download DIR` fetches those objects here, with the stores this node's config and
its running mesh give (`<home>/config.yaml`, `<home>/mesh.json`), each verified against the
checksum its provider recorded, into `DIR/<allocation>/<output path>/<relative key>`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from nunet.node import NodeLayout, load_config
from nunet.node.storage import swarm_domain
from nunet.storage import Checksum, Storage, StorageError, safe_join
from nunet.storage.opening import open_storage


def result_rows(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per published output, for the table."""
    rows = []
    for name, published in answer["allocations"].items():
        for output in published["outputs"]:
            objects = output["objects"]
            rows.append(
                {
                    "allocation": name,
                    "run": published["run"],
                    "path": output["path"],
                    "destination": output["destination"],
                    "objects": len(objects),
                    "bytes": sum(o["size"] for o in objects),
                    "error": output["error"],
                }
            )
    return rows


def download_plan(answer: dict[str, Any], directory: Path) -> list[tuple[str, Path, str]]:
    """(location, local file, checksum) of every published object; a key that would land
    outside `directory` is refused (BadLocation), as is an allocation name doing so."""
    plan = []
    for name, published in answer["allocations"].items():
        for output in published["outputs"]:
            destination = output["destination"]
            prefix = destination if destination.endswith("/") else destination + "/"
            base = f"{name}/{output['path'].strip('/')}"
            for stored in output["objects"]:
                location = stored["location"]
                relative = location[len(prefix) :] if location.startswith(prefix) else ""
                relative = relative or location.rsplit("/", 1)[-1]
                target = safe_join(directory, f"{base}/{relative}", what="downloaded object")
                plan.append((location, target, stored["checksum"]))
    return plan


async def download(home: Path, plan: list[tuple[str, Path, str]]) -> int:
    """Fetch every object of `plan`; the bytes fetched."""
    layout = NodeLayout(home)
    config = load_config(layout.config)
    needs_swarm = any(location.startswith("nunet:") for location, _, _ in plan)
    storage: Storage = await open_storage(
        config.storage,
        mesh_access=layout.mesh_access if needs_swarm else None,
        swarm_domain=swarm_domain(config),
    )
    total = 0
    async with storage:
        for location, target, checksum in plan:
            await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
            moved = await storage.download(
                location, target, checksum=Checksum.parse(checksum) if checksum else None
            )
            total += moved.size
            click.echo(f"{location} -> {target} ({moved.size} bytes)")
    return total


def download_results(home: Path, answer: dict[str, Any], directory: Path) -> None:
    for row in result_rows(answer):
        if row["error"]:
            click.echo(f"not published, so not downloaded: {row['error']}", err=True)
    try:
        plan = download_plan(answer, directory)
        total = asyncio.run(download(home, plan))
    except StorageError as exc:
        raise click.ClickException(f"downloading the results: {exc}") from None
    click.echo(f"{len(plan)} object(s), {total} bytes in {directory}")
