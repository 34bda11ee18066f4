"""`load_ensemble(dump_ensemble(e)) == e` for generated documents of every shape, and the dump
always validates against the JSON Schema."""

from __future__ import annotations

from typing import Any

import jsonschema
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nunet.ensemble import dump_ensemble, ensemble_json_schema, load_ensemble, parse_ensemble_text

NAMES = st.from_regex(r"\A[a-z][a-z0-9-]{0,8}\Z")
SIZES = st.one_of(
    st.integers(min_value=4 << 20, max_value=1 << 40),
    st.integers(min_value=4, max_value=4096).map(lambda n: f"{n}MiB"),
    st.sampled_from(["1.5GiB", "4GiB", "512MiB", "1TiB"]),
)
DURATIONS = st.one_of(
    st.sampled_from(["1s", "250ms", "1h30m", "2m", "1d"]),
    st.integers(min_value=1, max_value=100000).map(lambda n: f"{n}s"),
)
WORDS = st.text(alphabet="abcdefgh xyz-_./", min_size=1, max_size=12).filter(
    lambda s: s.strip() != ""
)
VALIDATOR = jsonschema.Draft202012Validator(ensemble_json_schema())


@st.composite
def allocation(draw: st.DrawFn, earlier: list[str]) -> dict[str, Any]:
    kind = draw(st.sampled_from(["task", "service"]))
    doc: dict[str, Any] = {
        "type": kind,
        "execution": {
            "image": draw(
                st.sampled_from(
                    ["busybox:1", "nunet-test/busybox:1", "reg.example:5000/a/b@sha256:" + "a" * 64]
                )
            )
        },
    }
    if draw(st.booleans()):
        doc["execution"]["command"] = draw(
            st.one_of(WORDS, st.lists(WORDS, min_size=1, max_size=3))
        )
    if draw(st.booleans()):
        doc["execution"]["env"] = draw(
            st.dictionaries(
                st.from_regex(r"\A[A-Z_][A-Z0-9_]{0,5}\Z"), st.text(max_size=5), max_size=3
            )
        )
    if draw(st.booleans()):
        doc["execution"]["entrypoint"] = draw(st.lists(WORDS, min_size=1, max_size=2))
    if draw(st.booleans()):
        doc["execution"]["working_dir"] = "/" + draw(NAMES)
    if draw(st.booleans()):
        doc["executor"] = draw(st.sampled_from(["docker", "qemu", "firecracker"]))
    if draw(st.booleans()):
        doc["resources"] = {
            "cpu": draw(st.floats(min_value=0.01, max_value=64, allow_nan=False)),
            "ram": draw(SIZES),
            "disk": draw(st.one_of(SIZES, st.just(0))),
            "gpus": draw(
                st.one_of(
                    st.integers(0, 3),
                    st.lists(
                        st.fixed_dictionaries(
                            {"vram": SIZES},
                            optional={"vendor": st.sampled_from(["nvidia", "amd"]), "model": WORDS},
                        ),
                        max_size=2,
                    ),
                )
            ),
        }
    if kind == "service" and draw(st.booleans()):
        doc["healthcheck"] = {
            "exec": draw(WORDS),
            "interval": draw(DURATIONS),
            "retries": draw(st.integers(1, 9)),
            "start_period": draw(st.one_of(DURATIONS, st.just("0s"))),
        }
    restarts = ["never", "on-failure"] + (["always"] if kind == "service" else [])
    if draw(st.booleans()):
        doc["restart"] = draw(st.sampled_from(restarts))
    if draw(st.booleans()):
        doc["timeouts"] = {
            "start": draw(DURATIONS),
            "run": draw(st.one_of(DURATIONS, st.just("0s"))),
        }
    if earlier and draw(st.booleans()):
        doc["depends_on"] = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=3))
    if draw(st.booleans()):
        doc["inputs"] = [
            {
                "source": "s3://bucket/" + draw(NAMES),
                "target": "/in/" + draw(NAMES),
                "checksum": "sha256:" + "0" * 64,
            }
        ]
        doc["outputs"] = [
            {
                "path": "/out",
                "destination": "nunet://r/" + draw(NAMES),
                "on_failure": draw(st.booleans()),
            }
        ]
    if draw(st.booleans()):
        doc["keys"] = ["ssh-ed25519 AAAA" + draw(NAMES)]
        doc["provision"] = draw(st.lists(WORDS, max_size=2))
    if draw(st.booleans()):
        doc["privileged"] = draw(st.booleans())
    return doc


@st.composite
def ensemble(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    names = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    allocations = {name: draw(allocation(names[:i])) for i, name in enumerate(names)}
    node_count = draw(st.integers(1, len(names)))
    nodes: dict[str, Any] = {f"n{i}": {"allocations": []} for i in range(node_count)}
    for i, name in enumerate(names):
        nodes[f"n{i % node_count}"]["allocations"].append(name)
    if draw(st.booleans()):
        first = nodes["n0"]["allocations"][0]
        nodes["n0"]["ports"] = [{"public": 8000 + depth, "private": 80, "allocation": first}]
        nodes["n0"]["location"] = {
            "accept": [draw(st.sampled_from(["EU", "EU/DE", "NA/US/Boston AS7922"]))],
            "reject": ["AS/CN"],
        }
        nodes["n0"]["require"] = draw(
            st.sampled_from(["arch=x86_64", {"labels": {"zone": "a"}, "bandwidth": "1Gbit/s"}])
        )
        nodes["n0"]["redundancy"] = draw(st.integers(0, 3))
        nodes["n0"]["peer"] = "did:key:z6Mk" + draw(NAMES)
    doc: dict[str, Any] = {"allocations": allocations, "nodes": nodes}
    if node_count > 1 and draw(st.booleans()):
        doc["edges"] = [
            {
                "between": ["n0", "n1"],
                "rtt": draw(DURATIONS),
                "bandwidth": draw(st.sampled_from(["10Mbit/s", 1500, "1Gbps"])),
            }
        ]
    subs: dict[str, Any] = {}
    if depth < 2 and draw(st.booleans()):
        subs = {"sub": draw(ensemble(depth + 1))}
        doc["ensembles"] = subs
    if draw(st.booleans()):
        children: list[Any] = list(names) + [{"ensemble": s} for s in subs]
        split = draw(st.integers(0, len(children)))
        inner = children[split:]
        outer = children[:split]
        if inner:
            outer.append(
                {
                    "supervisor": {
                        "strategy": draw(st.sampled_from(["all-for-one", "rest-for-one"])),
                        "children": inner,
                    }
                }
            )
        doc["supervisor"] = {
            "strategy": "one-for-one",
            "intensity": {"restarts": draw(st.integers(0, 9)), "period": draw(DURATIONS)},
            "children": outer,
        }
    if depth == 0:
        doc["version"] = "nunet/v1"
        doc["name"] = draw(NAMES)
        if draw(st.booleans()):
            doc["labels"] = {"team": draw(NAMES)}
            doc["metadata"] = {"any": [1, "two", {"three": None}], "f": 1.5}
        if draw(st.booleans()):
            doc["contract"] = {
                "currency": "NTX",
                "max_price": {"cpu": 0.5, "gpu": 2},
                "budget": draw(st.floats(0.1, 1000)),
                "payment_interval": draw(DURATIONS),
                "grace_period": "1m",
                "termination": {"notice": "30s"},
            }
    return doc


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ensemble())
def test_load_of_dump_is_the_same_ensemble(doc: dict[str, Any]) -> None:
    VALIDATOR.validate(doc)
    loaded = load_ensemble(doc)
    dumped = dump_ensemble(loaded)
    VALIDATOR.validate(dumped)
    assert load_ensemble(dumped) == loaded
    assert dump_ensemble(load_ensemble(dumped)) == dumped


@settings(max_examples=20, deadline=None)
@given(ensemble())
def test_the_dump_survives_yaml_text(doc: dict[str, Any]) -> None:
    loaded = load_ensemble(doc)
    text = yaml.safe_dump(dump_ensemble(loaded), sort_keys=False)
    assert parse_ensemble_text(text) == loaded
