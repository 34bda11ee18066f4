"""Why a benchmark run could not start, or a stored report could not be read."""

from __future__ import annotations

from nunet.errors import NunetError


class BenchmarkError(NunetError):
    """A benchmark run was asked for with arguments it cannot honour."""


class BenchmarkPartFailed(BenchmarkError):
    """One part (a worker process, the CUDA driver) failed; the run notes it and goes on."""


class StoredReportInvalid(BenchmarkError):
    """The stored benchmark report does not decode as a BenchmarkReport."""
