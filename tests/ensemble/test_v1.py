"""NuNet DMS's V1 dialect: it loads into the same model as its native translation, its plain
numbers have one documented meaning each, and its problems are named as V1 spells them."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from nunet.ensemble import load_ensemble, read_ensemble
from tests.ensemble.support import EXAMPLES, IMAGE, problems


def v1() -> dict[str, Any]:
    return {
        "version": "V1",
        "allocations": {
            "alloc1": {
                "executor": "docker",
                "type": "service",
                "resources": {
                    "cpu": {"cores": 2},
                    "ram": {"size": 2},
                    "disk": {"size": 0.5},
                    "gpus": [],
                },
                "execution": {
                    "type": "docker",
                    "image": IMAGE,
                    "cmd": ["httpd", "-f"],
                    "entrypoint": ["/bin/sh", "-c"],
                    "environment": ["A=1", "B=x=y"],
                    "working_directory": "/srv",
                },
                "dnsname": "front",
                "healthcheck": {
                    "type": "command",
                    "exec": ["true"],
                    "interval": 10,
                    "timeout": 2,
                    "retries": 5,
                },
            },
            "alloc2": {
                "executor": "docker",
                "type": "task",
                "execution": {"type": "docker", "image": IMAGE},
            },
        },
        "nodes": {
            "node1": {
                "allocations": ["alloc1"],
                "ports": [{"public": 8080, "private": 80, "allocation": "alloc1"}],
                "location": {"accept": ["EU"], "reject": ["EU/FR"]},
                "peer": "did:key:z6MkPeer",
            },
            "node2": {"allocations": ["alloc2"]},
        },
        "edges": [{"peers": ["node1", "node2"], "rtt": 100, "bw": 10}],
        "supervisor": {"strategy": "AllForOne", "allocations": ["alloc1", "alloc2"]},
    }


NATIVE: dict[str, Any] = {
    "version": "nunet/v1",
    "allocations": {
        "alloc1": {
            "type": "service",
            "resources": {"cpu": 2, "ram": "2GiB", "disk": "512MiB"},
            "execution": {
                "image": IMAGE,
                "command": ["httpd", "-f"],
                "entrypoint": ["/bin/sh", "-c"],
                "env": {"A": "1", "B": "x=y"},
                "working_dir": "/srv",
            },
            "dns_name": "front",
            "healthcheck": {"exec": ["true"], "interval": "10s", "timeout": "2s", "retries": 5},
        },
        "alloc2": {"execution": {"image": IMAGE}},
    },
    "nodes": {
        "node1": {
            "allocations": ["alloc1"],
            "ports": [{"public": 8080, "private": 80, "allocation": "alloc1"}],
            "location": {"accept": ["EU"], "reject": ["EU/FR"]},
            "peer": "did:key:z6MkPeer",
        },
        "node2": {"allocations": ["alloc2"]},
    },
    "edges": [{"between": ["node1", "node2"], "rtt": "100ms", "bandwidth": "10Mbit/s"}],
    "supervisor": {"strategy": "all-for-one", "children": ["alloc1", "alloc2"]},
}


def test_a_v1_document_loads_equal_to_its_native_translation() -> None:
    assert load_ensemble(v1()) == load_ensemble(NATIVE)


def test_v1_plain_numbers_mean_gib_milliseconds_and_mbits() -> None:
    ensemble = load_ensemble(v1())
    resources = ensemble.allocations["alloc1"].resources
    assert (resources.cpu, resources.ram, resources.disk) == (2.0, 2 << 30, 512 << 20)
    edge = ensemble.edges[0]
    assert (edge.between, edge.rtt, edge.bandwidth) == (("node1", "node2"), 0.1, 10_000_000)
    assert ensemble.allocations["alloc1"].healthcheck is not None
    assert ensemble.allocations["alloc1"].healthcheck.interval == 10.0


def test_v1_strings_with_units_are_read_as_native() -> None:
    doc = v1()
    doc["allocations"]["alloc1"]["resources"]["ram"] = {"size": "1536MiB"}
    doc["edges"][0].update(rtt="2s", bw="1Gbit/s")
    ensemble = load_ensemble(doc)
    assert ensemble.allocations["alloc1"].resources.ram == 1536 << 20
    assert (ensemble.edges[0].rtt, ensemble.edges[0].bandwidth) == (2.0, 10**9)


def test_v1_gpu_vram_numbers_are_gib() -> None:
    doc = v1()
    doc["allocations"]["alloc1"]["resources"]["gpus"] = [{"vram": 24, "vendor": "nvidia"}]
    gpus = load_ensemble(doc).allocations["alloc1"].resources.gpus
    assert [(g.vram, g.vendor) for g in gpus] == [(24 << 30, "nvidia")]


def test_v1_named_keys_and_scripts_are_resolved() -> None:
    doc = v1()
    doc["keys"] = {"ops": "ssh-ed25519 AAAAkey ops@host"}
    doc["scripts"] = {"init": "echo ready"}
    doc["allocations"]["alloc1"].update(keys=["ops"], provision=["init", "echo literal"])
    allocation = load_ensemble(doc).allocations["alloc1"]
    assert allocation.keys == ("ssh-ed25519 AAAAkey ops@host",)
    assert allocation.provision == ("echo ready", "echo literal")


def test_the_execution_type_names_the_executor_when_the_allocation_does_not() -> None:
    doc = v1()
    del doc["allocations"]["alloc2"]["executor"]
    doc["allocations"]["alloc2"]["execution"]["type"] = "firecracker"
    assert load_ensemble(doc).allocations["alloc2"].executor == "firecracker"


def test_the_example_v1_file_loads() -> None:
    ensemble = read_ensemble(EXAMPLES / "nunet-v1.yaml")
    assert set(ensemble.allocations) == {"alloc1", "alloc2"}
    assert ensemble.allocations["alloc1"].resources.ram == 1 << 30
    assert ensemble.allocations["alloc2"].resources.ram == 512 << 20


V1_PROBLEMS = [
    (
        lambda d: d["allocations"]["alloc1"]["execution"].update(environment=["NOEQ"]),
        "allocations.alloc1.execution.environment[0]: 'NOEQ' has no '='; write NAME=value",
    ),
    (
        lambda d: d["allocations"]["alloc1"]["healthcheck"].update(type="http"),
        'allocations.alloc1.healthcheck.type: "http" checks are not run here; use type: command',
    ),
    (
        lambda d: d["allocations"]["alloc1"]["healthcheck"].update(cmd=["x"]),
        "allocations.alloc1.healthcheck: gives exec and cmd; give the command once",
    ),
    (
        lambda d: d["allocations"]["alloc2"].update(resources={"cpu": {"core": 1, "cores": 1}}),
        "allocations.alloc2.resources.cpu.core: unknown key 'core'; did you mean 'cores'?",
    ),
    (
        lambda d: d["allocations"]["alloc2"]["execution"].update(type="qemu"),
        'allocations.alloc2.execution.type: "qemu" differs from executor "docker"; give one executor',
    ),
    (
        lambda d: d["nodes"]["node1"].update(prt=1),
        "nodes.node1.prt: unknown key 'prt'; did you mean 'ports'?",
    ),
    (
        lambda d: d["allocations"]["alloc1"]["resources"].update(ram={"size": "2 GB"}),
        "allocations.alloc1.resources.ram.size: '2 GB' is ambiguous",
    ),
    (
        lambda d: d["allocations"]["alloc1"]["resources"].update(ram={"amount": 2, "size": 2}),
        "allocations.alloc1.resources.ram.amount: unknown key 'amount'",
    ),
    (
        lambda d: d["allocations"]["alloc1"].update(dnsname="A_"),
        "allocations.alloc1.dnsname: 'A_' is not a DNS label",
    ),
    (
        lambda d: d["allocations"]["alloc1"]["execution"].update(cmd=5),
        "allocations.alloc1.execution.cmd: 5 is not a list",
    ),
    (
        lambda d: d["allocations"]["alloc1"]["execution"].update(working_directory="srv"),
        "allocations.alloc1.execution.working_directory: 'srv' is not an absolute path",
    ),
    (lambda d: d["edges"][0].update(bw="fast"), "edges[0].bw: 'fast' is not a bandwidth"),
    (lambda d: d["edges"][0].update(peers=["node1"]), "edges[0].peers: names 1 nodes"),
    (
        lambda d: d["supervisor"].update(strategy="OneForAll"),
        "supervisor.strategy: 'OneForAll' is not a strategy; use one of one-for-one",
    ),
    (
        lambda d: d["supervisor"].update(allocations=["alloc1"]),
        "supervisor: allocation 'alloc2' is in no supervisor",
    ),
    (
        lambda d: d["supervisor"].update(
            allocations=["alloc1", {"supervisor": {"allocations": ["alloc2", "alloc1"]}}]
        ),
        "supervisor.allocations[1].supervisor.allocations[1]: allocation 'alloc1' is already supervised",
    ),
    (lambda d: d.update(ensembles={}), "ensembles: unknown key 'ensembles'"),
]


@pytest.mark.parametrize(("change", "expected"), V1_PROBLEMS, ids=[e[:50] for _, e in V1_PROBLEMS])
def test_v1_problems_are_named_as_v1_spells_the_field(change: Any, expected: str) -> None:
    doc = copy.deepcopy(v1())
    change(doc)
    found = problems(doc)
    assert len(found) == 1, found
    assert found[0].startswith(expected), found[0]


def test_the_v1_version_must_be_the_string_v1() -> None:
    doc = v1()
    doc["version"] = "v1"
    assert problems(doc) == [
        "version: 'v1' is not a known version; write nunet/v1 (native) or V1 (NuNet DMS)"
    ]


def test_v1_yaml_text_with_a_quoted_version_loads() -> None:
    text = yaml.safe_dump(v1())
    assert "version: V1" in text
    assert load_ensemble(yaml.safe_load(text)) == load_ensemble(NATIVE)
