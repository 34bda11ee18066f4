"""The Docker executor's pure parts: stream frames, image references, registry credentials, the
container a spec becomes, and the capped log book."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nunet.executor import ExecutionSpec, InvalidSpec, Limits, Mount, OutputMount
from nunet.executor.contract_support import LogBook, check_spec
from nunet.executor.docker.container import (
    OUTPUTS_LABEL,
    container_config,
    cpu_and_memory,
    outputs_of,
    timestamp,
)
from nunet.executor.docker.frames import MAX_LINE, FrameDecoder, LineSplitter
from nunet.executor.docker.reference import RegistryAuth, auth_header, parse_reference

frames = st.lists(st.tuples(st.sampled_from([1, 2]), st.binary(max_size=300)), max_size=20)


@given(frames, st.lists(st.integers(min_value=1, max_value=50), max_size=40))
def test_frames_cut_anywhere_decode_to_the_same_payloads(
    sent: list[tuple[int, bytes]], cuts: list[int]
) -> None:
    wire = b"".join(struct.pack(">BxxxI", kind, len(data)) + data for kind, data in sent)
    decoder, got = FrameDecoder(), {"stdout": b"", "stderr": b""}
    position = 0
    for cut in [*cuts, len(wire)]:
        for stream, payload in decoder.feed(wire[position : position + cut]):
            got[stream] += payload
        position += cut
    for stream, payload in decoder.feed(wire[position:]):
        got[stream] += payload
    assert got["stdout"] == b"".join(d for k, d in sent if k == 1)
    assert got["stderr"] == b"".join(d for k, d in sent if k == 2)


@given(st.lists(st.binary(max_size=40).filter(lambda b: b"\n" not in b), max_size=30), st.data())
def test_lines_split_across_pieces_come_back_whole(lines: list[bytes], data: st.DataObject) -> None:
    text = b"".join(line + b"\n" for line in lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=10)))
    splitter, got = LineSplitter(), []
    for start, end in zip([0, *cuts], [*cuts, len(text)], strict=True):
        got += splitter.feed(text[start:end])
    assert got + splitter.flush() == lines


def test_a_line_without_newlines_is_cut_at_the_maximum_line() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"x" * (MAX_LINE * 2 + 5)) == [b"x" * MAX_LINE] * 2
    assert splitter.flush() == [b"xxxxx"]


@pytest.mark.parametrize(
    ("reference", "registry", "name", "tag", "digest"),
    [
        ("busybox", "docker.io", "busybox", "latest", ""),
        ("nunet-test/busybox:1", "docker.io", "nunet-test/busybox", "1", ""),
        ("localhost:5000/a/b:v2", "localhost:5000", "localhost:5000/a/b", "v2", ""),
        (
            "reg.example.com/app@sha256:" + "a" * 64,
            "reg.example.com",
            "reg.example.com/app",
            "",
            "sha256:" + "a" * 64,
        ),
    ],
)
def test_image_references_are_split_into_registry_name_tag_and_digest(
    reference: str, registry: str, name: str, tag: str, digest: str
) -> None:
    parsed = parse_reference(reference)
    assert (parsed.registry, parsed.name, parsed.tag, parsed.digest) == (
        registry,
        name,
        tag,
        digest,
    )


@pytest.mark.parametrize(
    ("reference", "says"),
    [
        ("Busybox", "not a repository name"),
        ("busybox@sha256:short", "not sha256: and 64 hex digits"),
        ("busybox:bad tag!", "not a tag"),
    ],
)
def test_malformed_references_are_refused_saying_why(reference: str, says: str) -> None:
    with pytest.raises(InvalidSpec, match=says):
        parse_reference(reference)


def test_registry_credentials_become_the_engine_auth_header() -> None:
    header = auth_header(RegistryAuth(username="ann", password="s3cret"), "reg.example.com")
    assert json.loads(base64.urlsafe_b64decode(header)) == {
        "username": "ann",
        "password": "s3cret",
        "serveraddress": "reg.example.com",
    }
    token = auth_header(RegistryAuth(identity_token="tok"), "reg.example.com")
    assert json.loads(base64.urlsafe_b64decode(token)) == {
        "identitytoken": "tok",
        "serveraddress": "reg.example.com",
    }


def test_a_spec_becomes_a_labelled_pinned_container_with_read_only_inputs_and_rw_outputs() -> None:
    spec = ExecutionSpec(
        id="job-1",
        image="nunet-test/busybox:1",
        command=("echo", "hi"),
        entrypoint=("sh", "-c"),
        env={"A": "1"},
        working_dir="/work",
        inputs=(Mount(source="/data/in", target="/in"),),
        outputs=(
            OutputMount(source="/data/out", target="/outputs"),
            OutputMount(source="/data/logs", target="/logs/run"),
        ),
        limits=Limits(cpu=2.5, memory=1 << 30, gpus=(1,)),
    )
    config = container_config(spec, "sha256:abc", "did:key:node")
    host = config["HostConfig"]
    assert config["Image"] == "sha256:abc"
    assert (config["Entrypoint"], config["Cmd"]) == (["sh", "-c"], ["echo", "hi"])
    assert (config["Env"], config["WorkingDir"]) == (["A=1"], "/work")
    assert host["Binds"] == ["/data/in:/in:ro", "/data/out:/outputs:rw", "/data/logs:/logs/run:rw"]
    assert (host["CpuQuota"], host["CpuPeriod"]) == (250_000, 100_000)
    assert host["DeviceRequests"] == [
        {"Driver": "nvidia", "DeviceIDs": ["1"], "Capabilities": [["gpu"]]}
    ]
    assert host["LogConfig"]["Type"] == "none"
    assert config["Labels"]["nunet.node"] == "did:key:node"
    assert config["Labels"]["nunet.execution"] == "job-1"
    assert outputs_of(config["Labels"]) == spec.outputs  # what recover() measures


def test_a_container_without_a_readable_outputs_label_has_no_outputs() -> None:
    assert outputs_of({}) == ()
    assert outputs_of({OUTPUTS_LABEL: "not json"}) == ()
    assert outputs_of({OUTPUTS_LABEL: '[{"source": "/x"}]'}) == ()  # no target: not an output


def test_stats_and_engine_times_are_read_as_seconds_and_bytes() -> None:
    stats = {
        "cpu_stats": {"cpu_usage": {"total_usage": 1_500_000_000}},
        "memory_stats": {"max_usage": 4096, "usage": 1024},
    }
    assert cpu_and_memory(stats) == (1.5, 4096)
    assert cpu_and_memory({}) == (0.0, 0)
    assert timestamp("1970-01-01T00:00:01.250000000Z") == 1.25
    assert timestamp("0001-01-01T00:00:00Z") is None


def test_check_spec_names_every_problem() -> None:
    spec = ExecutionSpec(
        id="j",
        image="x",
        env={"": "v"},
        outputs=(OutputMount(source="rel", target="out"),),
        privileged=True,
    )
    with pytest.raises(InvalidSpec) as raised:
        check_spec(spec, allow_privileged=False)
    for field in (
        "env name ''",
        "outputs[0].source 'rel'",
        "outputs[0].target 'out'",
        "privileged",
    ):
        assert field in str(raised.value)


async def test_the_log_book_keeps_whole_lines_up_to_its_limit_and_counts_the_rest(
    tmp_path: Path,
) -> None:
    book = LogBook(tmp_path / "x.log", limit=10)
    book.append("stdout", [b"abcd", b"efgh", b"i"], at=1.0)  # 5 + 5 fit; "i" does not
    book.append("stderr", [b"j"], at=2.0)  # after the first drop everything is dropped
    book.close()
    lines = [line async for line in book.read()]
    assert [(line.stream, line.text, line.at) for line in lines] == [
        ("stdout", "abcd", 1.0),
        ("stdout", "efgh", 1.0),
    ]
    assert (book.kept, book.dropped) == (10, 4)
    reopened = LogBook(tmp_path / "x.log", limit=10)
    assert reopened.kept == 10
    reopened.close()
