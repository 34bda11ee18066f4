"""The user boundary: every accepted form, round trips, and errors that name the field path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from nunet.capability import (
    CapabilityError,
    Gpu,
    GpuNeed,
    Location,
    LocationRule,
    Preference,
    Price,
    Requirement,
    RequirementError,
    Resources,
    capability_from_user,
    describe_location,
    format_size,
    location_from_user,
    location_rule_from_user,
    parse_requirement_spec,
    price_from_user,
    requirement_from_user,
    resources_from_user,
    validate_requirement,
)
from tests.capability.strategies import GIB, RULES, requirements

FULL_SPEC = (
    "cpu=2,ram=4GiB,disk=20GiB,gpu.vram=24GiB,gpu.count=2,gpu.vendor=nvidia,arch=x86_64,os=linux,"
    "executor=docker,storage=s3,label.tier=gold,bench.cpu_multi=1000,price.gpu=2.5,"
    "price.currency=NTX,location=EU/DE,reject-location=EU/FR,peer=did:key:a,reject-peer=did:key:b,"
    "prefer.price=2,prefer.cpu_multi=1,executor=qemu,prefer.label.tier=gold=3,bandwidth=1Gbit/s,"
    "ports=2"
)


def test_the_cli_spec_sets_every_field_of_a_requirement() -> None:
    need = GpuNeed(vram=24 * GIB, vendor="nvidia")
    assert parse_requirement_spec(FULL_SPEC) == Requirement(
        cpu=2,
        ram=4 * GIB,
        disk=20 * GIB,
        gpus=(need, need),
        architectures=("x86_64",),
        os=("linux",),
        executors=("docker", "qemu"),
        storage=("s3",),
        bandwidth=10**9,
        public_ports=2,
        labels={"tier": "gold"},
        benchmarks={"cpu_multi": 1000.0},
        max_price=Price(currency="NTX", gpu=2.5),
        accept_locations=(LocationRule(continent="EU", country="DE"),),
        reject_locations=(LocationRule(continent="EU", country="FR"),),
        accept_peers=("did:key:a",),
        reject_peers=("did:key:b",),
        prefer=(
            Preference(dimension="price", weight=2),
            Preference(dimension="cpu_multi", weight=1),
            Preference(dimension="label.tier=gold", weight=3),
        ),
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", Requirement()),
        (" cpu = 0.5 , , ", Requirement(cpu=0.5)),
        ("gpu.model=A100", Requirement(gpus=(GpuNeed(model="A100"),))),
        ("gpu.count=0,gpu.vram=8GiB", Requirement()),
        ("gpu.compute_capability=8.6", Requirement(gpus=(GpuNeed(compute_capability="8.6"),))),
        ("cpu=2,cpu=2", Requirement(cpu=2)),
        ("label.a=1,label.a=1", Requirement(labels={"a": "1"})),
        ("location=AS13335", Requirement(accept_locations=(LocationRule(asn=13335),))),
        (
            "prefer.executor=docker=0.5",
            Requirement(prefer=(Preference(dimension="executor=docker", weight=0.5),)),
        ),
        (
            "prefer.location.asn=AS3320=1",
            Requirement(prefer=(Preference(dimension="location.asn=AS3320"),)),
        ),
        ("peer=did:key:a,peer=did:key:b", Requirement(accept_peers=("did:key:a", "did:key:b"))),
    ],
)
def test_spec_forms(spec: str, expected: Requirement) -> None:
    assert parse_requirement_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "path", "says"),
    [
        ("ram=4G", "ram: ", "use a unit like 4GiB"),
        ("gpu.vram=24 G", "gpu.vram: ", "use a unit like 24GiB"),
        ("ram=4Gb", "ram: ", "bandwidth unit (bits)"),
        ("bandwidth=1GB", "bandwidth: ", "not a bandwidth"),
        ("cpu=2,cpu=3", "cpu: ", "given twice"),
        ("label.tier=gold,label.tier=silver", "label.tier: ", "given twice"),
        ("prefer.price=1,prefer.price=2", "prefer.price: ", "given twice"),
        ("cpus=2", "cpus: ", "did you mean cpu?"),
        ("gpu.colour=red", "gpu.colour: ", "unknown field"),
        ("price.cpux=1", "price.cpux: ", "unknown field"),
        ("price.currency=$$", "price.currency: ", "not a currency code"),
        ("ram", "ram: ", "no value"),
        ("ram=", "ram: ", "no value"),
        ("prefer.executor=docker", "prefer.executor: ", "not a number"),
        ("prefer.bogus=1", "requirement.prefer[0].dimension: ", "not a preference"),
        ("prefer.price=0", "prefer.price: ", "must be > 0"),
        ("prefer.price=5000", "prefer.price: ", "≤ 1000"),
        ("gpu.vendor=nvida", "gpu.vendor: ", "not a GPU vendor"),
        ("gpu.count=1.5", "gpu.count: ", "not a whole number"),
        ("gpu.count=100000", "gpu.count: ", "at most 256"),
        ("gpu.compute_capability=ampere", "gpu.compute_capability: ", "major.minor"),
        ("bench.speed=1", "requirement.benchmarks.speed: ", "not a benchmark"),
        ("location=Europe", "location: ", "not a continent code"),
        ("location=EU/Germany", "location: ", "not a country code"),
        ("location=EU/DE/Berlin/Mitte", "location: ", "has 4 parts"),
        ("location=EU/DE,reject-location=EU", "requirement.accept_locations[0]: ", "lies inside"),
        ("reject-location=*", "requirement.reject_locations[0]: ", "rejects every location"),
        (
            "peer=did:x,reject-peer=did:x",
            "requirement.accept_peers: ",
            "both accepted and rejected",
        ),
        ("ports=-1", "ports: ", "≥ 0"),
    ],
)
def test_a_bad_spec_names_the_key_at_fault(spec: str, path: str, says: str) -> None:
    with pytest.raises(CapabilityError) as caught:
        parse_requirement_spec(spec)
    assert str(caught.value).startswith(path)
    assert says in str(caught.value)


def test_contradictions_in_a_spec_are_requirement_errors() -> None:
    for spec in ("cpu=1,cpu=2", "label.a=x,label.a=y", "location=EU/DE,reject-location=EU"):
        with pytest.raises(RequirementError):
            parse_requirement_spec(spec)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, Requirement()),
        (
            {"cpu": "0.5", "ram": "512MiB", "disk": 1024},
            Requirement(cpu=0.5, ram=512 << 20, disk=1024),
        ),
        ({"gpus": 2}, Requirement(gpus=(GpuNeed(), GpuNeed()))),
        ({"gpus": {"count": 2, "vram": "24GiB"}}, Requirement(gpus=(GpuNeed(vram=24 * GIB),) * 2)),
        (
            {
                "gpus": [
                    {"vram": "80GiB", "vendor": "NVIDIA"},
                    {"model": "T4", "compute_capability": 7.5},
                ]
            },
            Requirement(
                gpus=(
                    GpuNeed(vram=80 * GIB, vendor="nvidia"),
                    GpuNeed(model="T4", compute_capability="7.5"),
                )
            ),
        ),
        (
            {"gpus": [{"count": 2, "compute_capability": 8}]},
            Requirement(gpus=(GpuNeed(compute_capability="8.0"),) * 2),
        ),
        (
            {"executors": "docker", "os": ["linux"]},
            Requirement(executors=("docker",), os=("linux",)),
        ),
        (
            {"bandwidth": "100Mbit/s", "public_ports": 1},
            Requirement(bandwidth=10**8, public_ports=1),
        ),
        ({"labels": {"tier": "gold", "gen": 3}}, Requirement(labels={"tier": "gold", "gen": "3"})),
        ({"benchmarks": {"gpu_flops": "1e13"}}, Requirement(benchmarks={"gpu_flops": 1e13})),
        (
            {"max_price": "gpu=2,currency=usdc"},
            Requirement(max_price=Price(currency="USDC", gpu=2)),
        ),
        ({"max_price": {"cpu": 0.1}}, Requirement(max_price=Price(cpu=0.1))),
        (
            {"prefer": {"price": 2, "executor=docker": 1}},
            Requirement(
                prefer=(
                    Preference(dimension="price", weight=2),
                    Preference(dimension="executor=docker"),
                )
            ),
        ),
        (
            {"prefer": ["price", {"dimension": "cpu", "weight": 0.5}]},
            Requirement(
                prefer=(Preference(dimension="price"), Preference(dimension="cpu", weight=0.5))
            ),
        ),
        ({"prefer": "price"}, Requirement(prefer=(Preference(dimension="price"),))),
        (
            {
                "accept_locations": [
                    "EU",
                    "EU/DE",
                    "EU/DE/Berlin",
                    "AS13335",
                    {"country": "fr", "asn": "AS3215"},
                ],
                "reject_locations": "NA/US/New York AS7922",
            },
            Requirement(
                accept_locations=(
                    LocationRule(continent="EU"),
                    LocationRule(continent="EU", country="DE"),
                    LocationRule(continent="EU", country="DE", city="Berlin"),
                    LocationRule(asn=13335),
                    LocationRule(country="FR", asn=3215),
                ),
                reject_locations=(
                    LocationRule(continent="NA", country="US", city="New York", asn=7922),
                ),
            ),
        ),
        (
            {"accept_peers": "did:key:a", "reject_peers": ["did:key:b"]},
            Requirement(accept_peers=("did:key:a",), reject_peers=("did:key:b",)),
        ),
    ],
)
def test_requirement_forms(data: dict[str, Any], expected: Requirement) -> None:
    assert requirement_from_user(data) == expected


@pytest.mark.parametrize(
    ("data", "path", "says"),
    [
        ([], "requirement: ", "expected a mapping"),
        ({"cpus": 2}, "requirement.cpus: ", "did you mean cpu?"),
        ({1: 2}, "requirement: ", "key 1 is not text"),
        ({"cpu": "two"}, "requirement.cpu: ", "not a number"),
        ({"ram": "4G"}, "requirement.ram: ", "use a unit like 4GiB"),
        (
            {"gpus": [{"vram": "24GiB"}, {"vram": "24 G"}]},
            "requirement.gpus[1].vram: ",
            "'24 G' is not a size; use a unit like 24GiB",
        ),
        (
            {"gpus": [{"vram": "24GiB"}, {"vendor": "nvida"}]},
            "requirement.gpus[1].vendor: ",
            "not a GPU vendor",
        ),
        ({"gpus": [{"ram": 1}]}, "requirement.gpus[0].ram: ", "unknown field"),
        ({"gpus": "two"}, "requirement.gpus: ", "expected a GPU count"),
        ({"gpus": {"count": -1}}, "requirement.gpus.count: ", "≥ 0"),
        (
            {"gpus": [{"compute_capability": "8.x"}]},
            "requirement.gpus[0].compute_capability: ",
            "major.minor",
        ),
        ({"executors": ["docker", 3]}, "requirement.executors[1]: ", "expected text"),
        ({"executors": ["docker", " "]}, "requirement.executors[1]: ", "empty name"),
        ({"executors": ["x" * 300]}, "requirement.executors[0]: ", "length <= 256"),
        ({"os": {"linux": True}}, "requirement.os: ", "expected a name or list of names"),
        ({"bandwidth": "1GB/s"}, "requirement.bandwidth: ", "not a bandwidth"),
        ({"public_ports": 1.5}, "requirement.public_ports: ", "not a whole number"),
        ({"labels": ["tier"]}, "requirement.labels: ", "expected a mapping"),
        ({"labels": {"tier": None}}, "requirement.labels.tier: ", "expected text"),
        ({"labels": {"tier": "x" * 300}}, "requirement.labels.tier: ", "1-256 characters"),
        (
            {"benchmarks": {"cpu_multi": "fast"}},
            "requirement.benchmarks.cpu_multi: ",
            "not a number",
        ),
        ({"benchmarks": {"speed": 1}}, "requirement.benchmarks.speed: ", "not a benchmark"),
        (
            {"benchmarks": {"network_rtt": 1}},
            "requirement.benchmarks.network_rtt: ",
            "prefer a low network_rtt",
        ),
        ({"max_price": "gpu"}, "requirement.max_price: ", "not key=value"),
        ({"max_price": {"gpu": -1}}, "requirement.max_price.gpu: ", "≥ 0"),
        ({"max_price": {"currency": 5}}, "requirement.max_price.currency: ", "expected text"),
        ({"max_price": {"tip": 5}}, "requirement.max_price.tip: ", "unknown field"),
        (
            {"accept_locations": ["EU", "Mars"]},
            "requirement.accept_locations[1]: ",
            "not a continent code",
        ),
        (
            {"accept_locations": [{"planet": "Mars"}]},
            "requirement.accept_locations[0].planet: ",
            "unknown field",
        ),
        (
            {"accept_locations": [{"asn": "ASx"}]},
            "requirement.accept_locations[0].asn: ",
            "not a number",
        ),
        ({"accept_locations": [""]}, "requirement.accept_locations[0]: ", "empty location"),
        ({"accept_locations": 3}, "requirement.accept_locations: ", "expected a list of locations"),
        (
            {"accept_locations": ["EU/DE"], "reject_locations": ["EU"]},
            "requirement.accept_locations[0]: ",
            "EU/DE lies inside the rejected EU",
        ),
        (
            {"accept_locations": ["EU/DE/Berlin AS3320"], "reject_locations": [{"asn": 3320}]},
            "requirement.accept_locations[0]: ",
            "lies inside",
        ),
        (
            {"accept_peers": ["did:x"], "reject_peers": ["did:x"]},
            "requirement.accept_peers: ",
            "both accepted and rejected",
        ),
        (
            {"prefer": {"bogus": 1}},
            "requirement.prefer[0].dimension: ",
            "'bogus' is not a preference",
        ),
        ({"prefer": {"label.tier": 1}}, "requirement.prefer[0].dimension: ", "not a preference"),
        (
            {"prefer": {"location.planet=Mars": 1}},
            "requirement.prefer[0].dimension: ",
            "not a preference",
        ),
        ({"prefer": {"price": 0}}, "requirement.prefer.price: ", "must be > 0"),
        ({"prefer": [{"weight": 2}]}, "requirement.prefer[0].dimension: ", "missing"),
        (
            {"prefer": [{"dimension": "price", "weight": "heavy"}]},
            "requirement.prefer[0].weight: ",
            "not a number",
        ),
        ({"prefer": [3]}, "requirement.prefer[0]: ", "expected {dimension: price, weight: 2}"),
    ],
)
def test_a_bad_requirement_names_the_field_path(data: object, path: str, says: str) -> None:
    with pytest.raises(CapabilityError) as caught:
        requirement_from_user(data)
    message = str(caught.value)
    assert message.startswith(path), message
    assert says in message
    assert "$" not in message  # msgspec's own path notation never leaks
    assert "`" not in message


def test_the_field_prefix_is_the_callers() -> None:
    with pytest.raises(CapabilityError, match=r"^ensemble\.allocations\.web\.resources\.ram: "):
        requirement_from_user({"ram": "4G"}, field="ensemble.allocations.web.resources")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
field_names = st.sampled_from([*msgspec.structs.asdict(Requirement()), "cpus", "gpu"])


@given(st.dictionaries(field_names, json_values, max_size=4))
def test_any_input_is_either_a_requirement_or_a_capability_error(data: dict[str, object]) -> None:
    outcome: object
    try:
        outcome = requirement_from_user(data)
    except CapabilityError as error:
        outcome = error
    if isinstance(outcome, Requirement):
        validate_requirement(outcome)
    else:
        assert str(outcome).startswith("requirement")


def _to_user(requirement: Requirement) -> dict[str, object]:
    """The requirement as a person would write it, sizes in their unit spelling."""
    data: dict[str, Any] = msgspec.to_builtins(requirement)
    data["ram"], data["disk"] = format_size(requirement.ram), format_size(requirement.disk)
    data["gpus"] = [{**need, "vram": format_size(need["vram"])} for need in data["gpus"]]
    data["accept_locations"] = [describe_location(r) for r in requirement.accept_locations]
    data["reject_locations"] = [describe_location(r) for r in requirement.reject_locations]
    return {key: value for key, value in data.items() if value is not None}


def _canonical(requirement: Requirement) -> Requirement:
    """What parsing makes of a rule's spelling: codes upper case."""

    def rule(r: LocationRule) -> LocationRule:
        return msgspec.structs.replace(r, continent=r.continent.upper(), country=r.country.upper())

    return msgspec.structs.replace(
        requirement,
        accept_locations=tuple(map(rule, requirement.accept_locations)),
        reject_locations=tuple(map(rule, requirement.reject_locations)),
    )


@given(requirements)
def test_a_valid_requirement_survives_the_round_trip_through_user_form(
    requirement: Requirement,
) -> None:
    try:
        validate_requirement(requirement)
    except RequirementError:
        return  # a contradiction the generator made: tested on its own below
    assert requirement_from_user(_to_user(requirement)) == _canonical(requirement)


def _inside(accepted: LocationRule, rejected: LocationRule) -> bool:
    return all(
        getattr(rejected, f) in ("", 0)
        or str(getattr(accepted, f)).casefold() == str(getattr(rejected, f)).casefold()
        for f in ("continent", "country", "city", "asn")
    )


@given(requirements)
def test_validation_refuses_exactly_the_contradictory_locations_and_peers(
    requirement: Requirement,
) -> None:
    contradictory = any(p in requirement.reject_peers for p in requirement.accept_peers) or any(
        _inside(a, r) for r in requirement.reject_locations for a in requirement.accept_locations
    )
    if contradictory:
        with pytest.raises(RequirementError):
            validate_requirement(requirement)
    else:
        validate_requirement(requirement)


@pytest.mark.parametrize("rule", RULES)
def test_a_location_rule_survives_its_own_spelling(rule: LocationRule) -> None:
    assert location_rule_from_user(describe_location(rule)) == msgspec.structs.replace(
        rule, continent=rule.continent.upper(), country=rule.country.upper()
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("EU", Location(continent="EU")),
        ("eu/de", Location(continent="EU", country="DE")),
        ("EU/DE/Berlin", Location(continent="EU", country="DE", city="Berlin")),
        ("AS13335", Location(asn=13335)),
        ("as/jp", Location(continent="AS", country="JP")),  # Asia, not an AS number
        ("*/DE", Location(country="DE")),
        (
            "NA/US/New York AS7922",
            Location(continent="NA", country="US", city="New York", asn=7922),
        ),
        ("EU/DE/AS3320", Location(continent="EU", country="DE", asn=3320)),
        ({"continent": "eu", "asn": 3320}, Location(continent="EU", asn=3320)),
        ({}, Location()),
    ],
)
def test_location_forms(text: object, expected: Location) -> None:
    assert location_from_user(text) == expected


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ("Europe", "not a continent code"),
        ("EU/DEU", "not a country code"),
        (3, "expected a location"),
        ("  ", "empty location"),
        ({"asn": -1}, "≥ 0"),
    ],
)
def test_a_bad_location_names_the_field(data: object, says: str) -> None:
    with pytest.raises(CapabilityError, match=r"^onboard\.location"):
        location_from_user(data, field="onboard.location")
    with pytest.raises(CapabilityError) as caught:
        location_from_user(data, field="onboard.location")
    assert says in str(caught.value)


@given(
    st.builds(
        Price,
        currency=st.sampled_from(["NTX", "USDC", "ETH"]),
        cpu=st.floats(0, 100),
        ram=st.floats(0, 100),
        disk=st.floats(0, 100),
        gpu=st.floats(0, 100),
        per_job=st.floats(0, 100),
    )
)
def test_a_price_survives_its_text_form(price: Price) -> None:
    text = ",".join(
        f"{k}={v!r}" if isinstance(v, float) else f"{k}={v}"
        for k, v in msgspec.structs.asdict(price).items()
    )
    assert price_from_user(text) == price
    assert price_from_user(msgspec.to_builtins(price)) == price


def test_resources_and_their_gpus_from_user_data() -> None:
    resources = resources_from_user(
        {
            "cpu": 4,
            "ram": "16GiB",
            "disk": "100GB",
            "gpus": [
                {
                    "index": 0,
                    "vendor": "NVIDIA",
                    "model": "A100",
                    "vram": "80GiB",
                    "compute_capability": 8.0,
                    "uuid": "GPU-1",
                }
            ],
        }
    )
    assert resources == Resources(
        cpu=4,
        ram=16 * GIB,
        disk=100 * 10**9,
        gpus=(
            Gpu(
                index=0,
                vendor="nvidia",
                model="A100",
                vram=80 * GIB,
                compute_capability="8.0",
                uuid="GPU-1",
            ),
        ),
    )


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"ram": "16G"}, "onboard.ram: "),
        ({"cpu": -2}, "onboard.cpu: "),
        ({"memory": 1}, "onboard.memory: "),
        ({"gpus": [{"index": 0, "vram": "80G"}]}, "onboard.gpus[0].vram: "),
        ({"gpus": [{"index": -1}]}, "onboard.gpus[0].index: "),
        ({"gpus": [{"vendor": "3dfx"}]}, "onboard.gpus[0].vendor: "),
        ({"gpus": [{"model": 5}]}, "onboard.gpus[0].model: "),
        ({"gpus": [{"vram": 1}]}, "onboard.gpus[0]: "),  # index missing: msgspec's error, rewritten
        ({"gpus": {"index": 0}}, "onboard.gpus: "),
        ("4 cores", "onboard: "),
    ],
)
def test_bad_resources_name_the_field_path(data: object, path: str) -> None:
    with pytest.raises(CapabilityError) as caught:
        resources_from_user(data, field="onboard")
    assert str(caught.value).startswith(path), str(caught.value)
    assert "$" not in str(caught.value)


def test_a_whole_capability_from_user_data() -> None:
    capability = capability_from_user(
        {
            "resources": {"cpu": 8, "ram": "32GiB"},
            "cpu": {"architecture": "x86_64", "cores": 8, "clock_mhz": "3.2GHz"},
            "executors": ["docker"],
            "network": {"public_ports": [8080], "bandwidth": "1Gbit/s"},
            "location": "EU/DE/Berlin AS3320",
            "price": "cpu=0.1,currency=NTX",
            "labels": {"tier": "gold"},
            "benchmarks": {"cpu_multi": 1000},
        }
    )
    assert capability.cpu.clock_mhz == 3200
    assert capability.network.bandwidth == 10**9
    assert capability.location == Location(continent="EU", country="DE", city="Berlin", asn=3320)
    assert capability.benchmarks.cpu_multi == 1000
    for data, path in [
        ({}, "capability.resources: "),
        (
            {"resources": {}, "network": {"public_ports": [0]}},
            "capability.network.public_ports[0]: ",
        ),
        ({"resources": {}, "benchmarks": {"speed": 1}}, "capability.benchmarks: "),
        ({"resources": {}, "cpu": {"clock_mhz": "3G"}}, "capability.cpu.clock_mhz: "),
    ]:
        with pytest.raises(CapabilityError) as caught:
            capability_from_user(data)
        assert str(caught.value).startswith(path), str(caught.value)


GUIDE = Path(__file__).resolve().parents[2] / "docs" / "capability-model.md"


def test_the_user_guides_yaml_example_is_a_valid_requirement() -> None:
    example = GUIDE.read_text().split("```yaml")[1].split("```")[0]
    requirement = requirement_from_user(yaml.safe_load(example.replace("...", "abc")))
    assert requirement.gpus[0] == GpuNeed(vram=80 * GIB, vendor="nvidia", compute_capability="8.0")
    assert requirement.reject_locations[1] == LocationRule(asn=13335)


def test_the_user_guides_spec_examples_parse() -> None:
    specs = [
        line.split(" -r ")[1]
        for line in GUIDE.read_text().splitlines()
        if line.startswith("nunet search -r ")
    ]
    assert len(specs) >= 4
    for spec in specs:
        parse_requirement_spec(spec)
