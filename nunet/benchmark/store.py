"""The latest benchmark report, kept in the node's document store."""

from __future__ import annotations

import msgspec

from nunet.benchmark.errors import StoredReportInvalid
from nunet.benchmark.report import BenchmarkReport
from nunet.db import DocumentStore

COLLECTION = "benchmark"
LATEST = "latest"


class BenchmarkStore:
    def __init__(self, store: DocumentStore) -> None:
        self._store = store

    async def save(self, report: BenchmarkReport) -> None:
        """Replace the latest report with `report`."""
        await self._store.put(COLLECTION, LATEST, msgspec.to_builtins(report))

    async def latest(self) -> BenchmarkReport | None:
        """The latest report saved; None before the first run."""
        document = await self._store.get(COLLECTION, LATEST)
        if document is None:
            return None
        try:
            return msgspec.convert(document, BenchmarkReport)
        except msgspec.ValidationError as exc:
            raise StoredReportInvalid(
                f"the stored benchmark report ({COLLECTION}/{LATEST}) is not valid: {exc};"
                " run `nunet benchmark` to measure again"
            ) from None
