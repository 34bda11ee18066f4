"""The behavior paths of the onboarding actor, and its actor id (light: the CLI imports them)."""

ONBOARDING_ACTOR_ID = "onboarding"
ONBOARD_BEHAVIOR = "/dms/node/onboarding/onboard"
OFFBOARD_BEHAVIOR = "/dms/node/onboarding/offboard"
STATUS_BEHAVIOR = "/dms/node/onboarding/status"
HARDWARE_BEHAVIOR = "/dms/node/hardware"
ALLOCATE_BEHAVIOR = "/dms/node/resources/allocate"
RELEASE_BEHAVIOR = "/dms/node/resources/release"
CAPABILITY_BEHAVIOR = "/dms/node/capability"
BENCHMARK_BEHAVIOR = "/dms/node/benchmark/run"

MAX_BENCHMARK_SECONDS = 240.0  # a run fits in one API call (300 s at most)
