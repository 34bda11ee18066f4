"""Where an orchestrating node keeps what ended allocations left: their log lines, one JSON
array `[at, stream, text]` per line in `<results>/<deployment>/<allocation>.log.jsonl`, written
by the orchestrator before teardown and read by `nunet deployments logs` afterwards."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec


def results_file(results_dir: Path, deployment: str, allocation: str) -> Path:
    return results_dir / deployment / f"{allocation}.log.jsonl"


async def write_log_lines(path: Path, entries: list[Any]) -> None:
    await asyncio.to_thread(_write, path, entries)


async def read_log_lines(path: Path) -> list[Any]:
    """The lines kept, oldest first; none when nothing was kept."""
    return await asyncio.to_thread(_read, path)


def _write(path: Path, entries: list[Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        for entry in entries:
            out.write(msgspec.json.encode(entry) + b"\n")


def _read(path: Path) -> list[Any]:
    if not path.exists():
        return []
    decoder = msgspec.json.Decoder()
    return [decoder.decode(line) for line in path.read_bytes().splitlines() if line.strip()]
