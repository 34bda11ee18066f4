"""Ensembles: the job definition (allocations, nodes, edges, nested supervisor trees and
sub-ensembles), read from the native `nunet/v1` dialect or NuNet DMS's `V1` into one frozen
model, validated with every problem named, flattened for the orchestrator.

Public names are re-exported here; the modules behind them are private.
"""

from nunet.ensemble.dump import dump_ensemble
from nunet.ensemble.durations import DurationError, format_duration, parse_duration
from nunet.ensemble.errors import EnsembleError, Problem
from nunet.ensemble.flat import FlatAllocation, FlatEnsemble, flatten
from nunet.ensemble.load import load_ensemble, parse_ensemble_text, read_ensemble
from nunet.ensemble.model import (
    EXECUTORS,
    Allocation,
    AllocationResources,
    AllocationType,
    Child,
    ContractTerms,
    DataInput,
    DataOutput,
    Edge,
    Ensemble,
    Execution,
    HealthCheck,
    Intensity,
    NodeSpec,
    PortMap,
    Restart,
    Strategy,
    SupervisorSpec,
    Timeouts,
)
from nunet.ensemble.reader import NATIVE_VERSION
from nunet.ensemble.schema import ensemble_json_schema
from nunet.ensemble.v1 import V1_VERSION

__all__ = [
    "EXECUTORS",
    "NATIVE_VERSION",
    "V1_VERSION",
    "Allocation",
    "AllocationResources",
    "AllocationType",
    "Child",
    "ContractTerms",
    "DataInput",
    "DataOutput",
    "DurationError",
    "Edge",
    "Ensemble",
    "EnsembleError",
    "Execution",
    "FlatAllocation",
    "FlatEnsemble",
    "HealthCheck",
    "Intensity",
    "NodeSpec",
    "PortMap",
    "Problem",
    "Restart",
    "Strategy",
    "SupervisorSpec",
    "Timeouts",
    "dump_ensemble",
    "ensemble_json_schema",
    "flatten",
    "format_duration",
    "load_ensemble",
    "parse_duration",
    "parse_ensemble_text",
    "read_ensemble",
]
