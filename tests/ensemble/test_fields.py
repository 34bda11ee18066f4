"""One field broken at a time: each is reported alone, at its path, with the fix."""

from __future__ import annotations

import datetime

import pytest

from tests.ensemble.support import IMAGE, base, drop, problems, put

A = "allocations.a."
CASES = [
    (
        A + "resources",
        {"ram": "4 GB"},
        "allocations.a.resources.ram: '4 GB' is ambiguous (GB is 10^9 bytes to some tools, "
        "2^30 to others); use 4GiB, or write the number of bytes",
    ),
    (
        A + "resources",
        {"ram": "4G"},
        "allocations.a.resources.ram: '4G' is not a size; use a unit like 4GiB",
    ),
    (
        A + "resources",
        {"ram": "1MiB"},
        'allocations.a.resources.ram: "1MiB" is less than 4MiB; ask for at least 4MiB',
    ),
    (
        A + "resources",
        {"ram": 1.5},
        "allocations.a.resources.ram: 1.5 is not a size; use a unit like 512MiB or 4GiB",
    ),
    (
        A + "resources",
        {"cpu": 0},
        "allocations.a.resources.cpu: 0 is out of range; cpu (cores) must be greater than 0",
    ),
    (
        A + "resources",
        {"cpu": 2000},
        "allocations.a.resources.cpu: 2000 cores is more than 1024; ask for fewer",
    ),
    (
        A + "resources",
        {"cpu": "two"},
        'allocations.a.resources.cpu: "two" is not a number; write cpu (cores) as a number',
    ),
    (
        A + "resources",
        {"cpu": True},
        "allocations.a.resources.cpu: true is not a number; write cpu (cores) as a number",
    ),
    (
        A + "resources",
        {"disk": "-1GiB"},
        "allocations.a.resources.disk: '-1GiB' is not a size; write it like 4GiB",
    ),
    (
        A + "resources",
        {"gpus": [{"vram": "24GB"}]},
        "allocations.a.resources.gpus[0].vram: '24GB' is ambiguous",
    ),
    (
        A + "resources",
        {"gpus": {"vram": "24GB"}},
        "allocations.a.resources.gpus.vram: '24GB' is ambiguous",
    ),
    (
        A + "resources",
        {"gpus": [{"vendor": "nvidai"}]},
        "allocations.a.resources.gpus[0].vendor: 'nvidai' is not a GPU vendor; use one of nvidia, amd, intel, other",
    ),
    (
        A + "resources",
        {"gpus": "two"},
        'allocations.a.resources.gpus: "two" is not GPUs; write a count (2) or a list like [{vram: 24GiB}]',
    ),
    (
        A + "resources",
        {"rams": "1GiB"},
        "allocations.a.resources.rams: unknown key 'rams'; did you mean 'ram'?",
    ),
    (
        A + "resources",
        [1],
        "allocations.a.resources: a list is not a mapping; write it like {cpu: 1, ram: 512MiB, disk: 1GiB}",
    ),
    (A + "type", "job", "allocations.a.type: 'job' is not a type; use one of task, service"),
    (
        A + "executor",
        "dokcer",
        "allocations.a.executor: 'dokcer' is not an executor; use one of docker, firecracker, qemu; did you mean 'docker'?",
    ),
    (
        A + "execution",
        {"image": "Bad Image"},
        "allocations.a.execution.image: 'Bad Image' is not a repository name",
    ),
    (
        A + "execution",
        {"image": "busybox@sha256:12"},
        "allocations.a.execution.image: the digest 'sha256:12' is not sha256",
    ),
    (
        A + "execution",
        {"command": ["x"]},
        "allocations.a.execution.image: missing; name the OCI image to run, like busybox:1",
    ),
    (
        A + "execution",
        {"image": IMAGE, "command": ""},
        "allocations.a.execution.command: is empty; give a command or leave the key out",
    ),
    (
        A + "execution",
        {"image": IMAGE, "command": ["echo", 3]},
        "allocations.a.execution.command[1]: 3 is not text; quote it: '3'",
    ),
    (
        A + "execution",
        {"image": IMAGE, "env": {"1X": "a"}},
        "allocations.a.execution.env.1X: '1X' is not a variable name; use letters, digits and _",
    ),
    (
        A + "execution",
        {"image": IMAGE, "env": {"X": 1}},
        "allocations.a.execution.env.X: 1 is not text; quote it: '1'",
    ),
    (
        A + "execution",
        {"image": IMAGE, "env": {"X": True}},
        "allocations.a.execution.env.X: true is not text; quote it: 'true'",
    ),
    (
        A + "execution",
        {"image": IMAGE, "working_dir": "data"},
        "allocations.a.execution.working_dir: 'data' is not an absolute path; write it like /data",
    ),
    (
        A + "execution",
        {"image": IMAGE, "entrypoint": "sh"},
        'allocations.a.execution.entrypoint: "sh" is not a list; write it like [/bin/sh, -c]',
    ),
    (
        A + "execution",
        {"image": IMAGE, "cmd": ["x"]},
        "allocations.a.execution.cmd: unknown key 'cmd'",
    ),
    (
        A + "execution",
        "busybox",
        'allocations.a.execution: "busybox" is not a mapping; write it like {image: busybox:1, command: [echo, hi]}',
    ),
    (
        A + "timeouts",
        {"start": 30},
        "allocations.a.timeouts.start: 30 is not a duration; write 30s",
    ),
    (
        A + "timeouts",
        {"start": "0s"},
        "allocations.a.timeouts.start: must be longer than 0s; give a duration like 30s",
    ),
    (
        A + "timeouts",
        {"run": "5 minutes"},
        "allocations.a.timeouts.run: '5 minutes' is not a duration; write it like 30s",
    ),
    (
        A + "timeouts",
        {"run": "5m1h"},
        "allocations.a.timeouts.run: '5m1h' repeats or misorders its units",
    ),
    (
        A + "timeouts",
        {"stop": "1s"},
        "allocations.a.timeouts.stop: unknown key 'stop'; known keys: run, start",
    ),
    (
        A + "restart",
        "sometimes",
        "allocations.a.restart: 'sometimes' is not a restart; use one of never, on-failure, always",
    ),
    (
        A + "dns_name",
        "Web_1",
        "allocations.a.dns_name: 'Web_1' is not a DNS label; use lowercase letters",
    ),
    (A + "dns_name", "web-", "allocations.a.dns_name: 'web-' is not a DNS label"),
    (A + "keys", ["AAAA"], "allocations.a.keys[0]: is not an SSH public key; paste the whole line"),
    (A + "provision", "apk add x", 'allocations.a.provision: "apk add x" is not a list'),
    (A + "depends_on", ["B"], "allocations.a.depends_on[0]: 'B' is not an allocation name"),
    (
        A + "privileged",
        "yes",
        'allocations.a.privileged: "yes" is not true or false; write true or false',
    ),
    (
        A + "inputs",
        [{"source": "bucket/key", "target": "/in"}],
        "allocations.a.inputs[0].source: 'bucket/key' has no scheme; write s3://bucket/key",
    ),
    (
        A + "inputs",
        [{"source": "s3://data/k", "target": "in"}],
        "allocations.a.inputs[0].target: 'in' is not an absolute path; write it like /in",
    ),
    (
        A + "inputs",
        [{"source": "s3://data/k", "target": "/in", "checksum": "md5"}],
        "allocations.a.inputs[0].checksum: 'md5' is not a checksum; write sha256:<hex>",
    ),
    (
        A + "inputs",
        [{"source": "s3://data/k"}],
        "allocations.a.inputs[0].target: missing; give source, target",
    ),
    (
        A + "inputs",
        [{"source": "s3://data/k", "target": "/in", "sum": "x"}],
        "allocations.a.inputs[0].sum: unknown key 'sum'",
    ),
    (
        A + "outputs",
        [{"path": "/out", "destination": "nunet://r", "on_failure": "no"}],
        'allocations.a.outputs[0].on_failure: "no" is not true or false',
    ),
    (
        A + "outputs",
        [{"path": "/out", "destination": "x"}],
        "allocations.a.outputs[0].destination: 'x' has no scheme",
    ),
    (
        A + "outputs",
        [{"path": "/out", "destination": "https://example.org/up"}],
        "allocations.a.outputs[0].destination: 'https://example.org/up' cannot take uploads; "
        "send outputs to s3://bucket/prefix/ or nunet://bucket/prefix/",
    ),
    (
        A + "outputs",
        [{"path": "/", "destination": "nunet://results/"}],
        "allocations.a.outputs[0].path: data cannot be mounted over / itself",
    ),
    (
        A + "inputs",
        [{"source": "s3://b/k", "target": "/in"}],
        "allocations.a.inputs[0].source: 's3://b/k': bucket 'b' is not a valid name",
    ),
    (
        A + "inputs",
        [{"source": "nunet://data/../etc", "target": "/in"}],
        "allocations.a.inputs[0].source: 'nunet://data/../etc': the key has '..' in it",
    ),
    (
        A + "inputs",
        [{"source": "s3://data/set/", "target": "/in", "checksum": "sha256:ab"}],
        "allocations.a.inputs[0].checksum: a checksum is of one object, and s3://data/set/ is a "
        "prefix",
    ),
    (
        A + "inputs",
        [{"source": "s3://data/k", "target": "/in/../etc"}],
        "allocations.a.inputs[0].target: '/in/../etc' is not a plain path",
    ),
    (
        A + "inputs",
        [{"source": "s3://data/k", "target": "/in"}, {"source": "s3://data/j", "target": "/in/j"}],
        "allocations.a.inputs[1].target: /in/j overlaps /in (inputs[0].target)",
    ),
    (
        A + "healthcheck",
        {"interval": "1s"},
        "allocations.a.healthcheck.exec: missing; give the command that says healthy",
    ),
    (
        A + "healthcheck",
        {"exec": "true", "retries": 0},
        "allocations.a.healthcheck.retries: 0 is out of range; retries is 1 to 1000",
    ),
    (
        A + "healthcheck",
        {"exec": "true", "interval": "0s"},
        "allocations.a.healthcheck.interval: must be longer than 0s",
    ),
    (
        A + "healthcheck",
        {"exec": "true", "timeout": 5},
        "allocations.a.healthcheck.timeout: 5 is not a duration; write 5s",
    ),
    (
        A + "healthcheck",
        {"exec": "true", "period": "1s"},
        "allocations.a.healthcheck.period: unknown key 'period'",
    ),
    (
        "nodes.n1.ports",
        [{"public": 0, "private": 80, "allocation": "a"}],
        "nodes.n1.ports[0].public: 0 is out of range; a port is 1 to 65535",
    ),
    (
        "nodes.n1.ports",
        [{"public": 80, "allocation": "a"}],
        "nodes.n1.ports[0].private: missing; give public, private, allocation",
    ),
    (
        "nodes.n1.location",
        {"accept": ["Europe"]},
        "nodes.n1.location.accept[0]: 'Europe' is not a continent code; use one of AF",
    ),
    ("nodes.n1.location", {"allow": ["EU"]}, "nodes.n1.location.allow: unknown key 'allow'"),
    (
        "nodes.n1.peer",
        "z6Mk",
        "nodes.n1.peer: 'z6Mk' is not a DID; write the peer's DID, like did:key:z6Mk...",
    ),
    ("nodes.n1.redundancy", -1, "nodes.n1.redundancy: -1 is out of range; redundancy is 0 to 64"),
    ("nodes.n1.require", "arch=x86_64,gpux=1", "nodes.n1.require: gpux: unknown key"),
    ("nodes.n1.require", {"cpus": 2}, "nodes.n1.require.cpus: unknown field; did you mean cpu?"),
    (
        "nodes.n1.allocations",
        [],
        "nodes.n1.allocations: is empty; a node hosts at least one allocation",
    ),
    ("nodes.n1.hosts", ["a"], "nodes.n1.hosts: unknown key 'hosts'"),
    (
        "edges",
        [{"between": ["n1"]}],
        "edges[0].between: names 1 nodes; an edge joins exactly two, like [n1, n2]",
    ),
    (
        "edges",
        [{"between": ["n1", "n1"]}],
        "edges[0]: constrains nothing; give rtt (at most) or bandwidth (at least)",
    ),
    ("edges", [{"rtt": "1ms"}], "edges[0].between: missing; name the two nodes, like [n1, n2]"),
    (
        "edges",
        [{"between": ["n1", "n1"], "bandwidth": "fast"}],
        "edges[0].bandwidth: 'fast' is not a bandwidth",
    ),
    ("edges", {"between": ["n1", "n1"]}, "edges: a mapping is not a list"),
    (
        "supervisor",
        {"strategy": "one_for_one", "children": ["a"]},
        "supervisor.strategy: 'one_for_one' is not a strategy; use one of one-for-one, all-for-one, rest-for-one; "
        "did you mean 'one-for-one'?",
    ),
    (
        "supervisor",
        {"children": []},
        "supervisor.children: is empty; a supervisor supervises at least one child",
    ),
    (
        "supervisor",
        {"strategy": "all-for-one"},
        "supervisor.children: missing; list what this supervisor restarts",
    ),
    (
        "supervisor",
        {"children": [{"supervisor": {"children": ["a"]}, "ensemble": "x"}]},
        "supervisor.children[0]: give exactly one of allocation, supervisor, ensemble",
    ),
    (
        "supervisor",
        {"intensity": {"restarts": 3, "period": 60}, "children": ["a"]},
        "supervisor.intensity.period: 60 is not a duration; write 60s",
    ),
    (
        "supervisor",
        {"intensity": {"restarts": -1}, "children": ["a"]},
        "supervisor.intensity.restarts: -1 is out of range",
    ),
    (
        "contract",
        {"budget": 0},
        "contract.budget: 0 is out of range; budget must be greater than 0",
    ),
    (
        "contract",
        {"max_price": {"cpu": -1}},
        "contract.max_price.cpu: -1 must be a finite number ≥ 0",
    ),
    (
        "contract",
        {"currency": "NTX", "max_price": {"cpu": 1, "currency": "USD"}},
        "contract.max_price.currency: USD differs from the contract's NTX; use one currency",
    ),
    ("contract", {"currency": "?"}, "contract.currency: '?' is not a currency code"),
    ("contract", {"payment_interval": "0s"}, "contract.payment_interval: must be longer than 0s"),
    ("contract", {"grace_period": 60}, "contract.grace_period: 60 is not a duration; write 60s"),
    (
        "contract",
        {"termination": {"notice": 60}},
        "contract.termination.notice: 60 is not a duration; write 60s",
    ),
    ("contract", {"deposit": 1}, "contract.deposit: unknown key 'deposit'"),
    (
        "name",
        "Web Stack",
        "name: 'Web Stack' is not an ensemble name; use lowercase letters, digits and '-', starting with a letter or digit, like 'web-stack'",
    ),
    ("labels", {"a": 1}, "labels.a: 1 is not text; quote it: '1'"),
    (
        "metadata",
        {"when": datetime.date(2024, 1, 1)},
        "metadata.when: 2024-01-01 is not JSON data; quote it: '2024-01-01'",
    ),
    ("metadata", {"x": float("nan")}, "metadata.x: nan is not a JSON number; quote it"),
    (
        "version",
        "nunet/v2",
        "version: 'nunet/v2' is not a known version; write nunet/v1 (native) or V1 (NuNet DMS)",
    ),
    ("allocs", {}, "allocs: unknown key 'allocs'; did you mean 'allocations'?"),
]


@pytest.mark.parametrize(
    ("path", "value", "expected"), CASES, ids=[f"{p}={v!r}"[:60] for p, v, _ in CASES]
)
def test_one_bad_field_is_the_one_problem_reported(path: str, value: object, expected: str) -> None:
    found = problems(put(base(), path, value))
    assert len(found) == 1, found
    assert found[0].startswith(expected), found[0]


def test_the_minimal_document_is_valid() -> None:
    assert problems(base()) == []


def test_every_problem_of_a_document_is_reported_at_once() -> None:
    doc = put(base(), "allocations.a.resources", {"ram": "4G", "cpu": -1, "disk": "x"})
    doc = put(doc, "allocations.a.timeouts", {"run": 30})
    doc = put(doc, "nodes.n1.peer", "nobody")
    found = [line.partition(":")[0] for line in problems(doc)]
    assert found == [
        "allocations.a.resources.cpu",
        "allocations.a.resources.ram",
        "allocations.a.resources.disk",
        "allocations.a.timeouts.run",
        "nodes.n1.peer",
    ]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("version", "version: missing; start the document with version: nunet/v1"),
        (
            "nodes",
            "nodes: missing; place each allocation on a node, like {n1: {allocations: [web]}}",
        ),
        ("allocations", "allocations: missing; an ensemble needs at least one allocation"),
    ],
)
def test_a_missing_required_key_is_named(key: str, expected: str) -> None:
    found = problems(drop(base(), key))
    assert found[0] == expected
    if key != "allocations":
        assert len(found) == 1, found


def test_an_allocation_without_execution_says_what_to_add() -> None:
    doc = put(base(), "allocations.a", {"type": "task"})
    assert problems(doc) == [
        "allocations.a.execution: missing; say what to run, like {image: busybox:1}"
    ]


def test_empty_allocations_and_nodes_are_refused() -> None:
    found = problems(put(put(base(), "allocations", {}), "nodes", {}))
    assert found == [
        "allocations: is empty; an ensemble needs at least one allocation",
        "nodes: is empty; place each allocation on a node, like {n1: {allocations: [web]}}",
    ]


def test_bad_names_are_refused_with_a_suggestion() -> None:
    doc = put(base(), "allocations", {"Web_1": {"execution": {"image": IMAGE}}})
    doc = put(doc, "nodes", {"N 1": {"allocations": ["Web_1"]}})
    assert problems(doc) == [
        "allocations.Web_1: 'Web_1' is not an allocation name; use lowercase letters, digits "
        "and '-', starting with a letter or digit, like 'web-1'",
        "nodes.N 1: 'N 1' is not a node name; use lowercase letters, digits and '-', starting "
        "with a letter or digit, like 'n-1'",
    ]


@pytest.mark.parametrize("doc", [[1], None, "text", 3])
def test_a_document_that_is_not_a_mapping_is_one_problem(doc: object) -> None:
    found = problems(doc)
    assert len(found) == 1
    assert found[0].startswith("(document): ")
    assert found[0].endswith("is not a mapping; write it like {version: nunet/v1, ...}")


def test_a_key_that_is_not_text_is_named() -> None:
    doc: dict[object, object] = dict(base())
    doc[1] = 2
    assert problems(doc) == ["1: the key 1 is not text; quote it: '1'"]


def test_strings_hold_commands_run_by_sh() -> None:
    from nunet.ensemble import load_ensemble

    ensemble = load_ensemble(put(base(), "allocations.a.execution.command", "echo hi && ls"))
    assert ensemble.allocations["a"].execution.command == ("sh", "-c", "echo hi && ls")
