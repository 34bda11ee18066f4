"""The capability model: what nodes offer, what jobs ask, whether and how well they fit.

Pure code: units at the user boundary, fit checks, device-by-device GPU matching, a partial
order between capabilities and a preference score. Public names are re-exported here.
"""

from nunet.capability.compare import DIMENSIONS, Comparison, Order, combine, compare
from nunet.capability.errors import CapabilityError, RequirementError
from nunet.capability.fit import (
    CONSTRAINTS,
    PRICE_FIELDS,
    Fit,
    Unmet,
    check,
    normalise_architecture,
    same_architecture,
)
from nunet.capability.gpus import assign_gpus, gpu_meets
from nunet.capability.location import LOCATION_FIELDS, describe_location, rule_matches, rule_within
from nunet.capability.model import (
    BENCHMARK_FIELDS,
    GPU_VENDORS,
    Benchmarks,
    Capability,
    CpuInfo,
    Gpu,
    GpuNeed,
    Location,
    LocationRule,
    NetworkInfo,
    Preference,
    Price,
    Requirement,
    Resources,
)
from nunet.capability.parse import (
    capability_from_user,
    location_from_user,
    location_rule_from_user,
    parse_requirement_spec,
    price_from_user,
    requirement_from_user,
    resources_from_user,
    validate_requirement,
)
from nunet.capability.score import (
    PREFERENCE_DIMENSIONS,
    hourly_cost,
    preference_score,
    validate_preference,
)
from nunet.capability.units import (
    UnitError,
    describe_size,
    format_bandwidth,
    format_size,
    parse_bandwidth,
    parse_clock,
    parse_count,
    parse_size,
)

__all__ = [
    "BENCHMARK_FIELDS",
    "CONSTRAINTS",
    "DIMENSIONS",
    "GPU_VENDORS",
    "LOCATION_FIELDS",
    "PREFERENCE_DIMENSIONS",
    "PRICE_FIELDS",
    "Benchmarks",
    "Capability",
    "CapabilityError",
    "Comparison",
    "CpuInfo",
    "Fit",
    "Gpu",
    "GpuNeed",
    "Location",
    "LocationRule",
    "NetworkInfo",
    "Order",
    "Preference",
    "Price",
    "Requirement",
    "RequirementError",
    "Resources",
    "UnitError",
    "Unmet",
    "assign_gpus",
    "capability_from_user",
    "check",
    "combine",
    "compare",
    "describe_location",
    "describe_size",
    "format_bandwidth",
    "format_size",
    "gpu_meets",
    "hourly_cost",
    "location_from_user",
    "location_rule_from_user",
    "normalise_architecture",
    "parse_bandwidth",
    "parse_clock",
    "parse_count",
    "parse_requirement_spec",
    "parse_size",
    "preference_score",
    "price_from_user",
    "requirement_from_user",
    "resources_from_user",
    "rule_matches",
    "rule_within",
    "same_architecture",
    "validate_preference",
    "validate_requirement",
]
