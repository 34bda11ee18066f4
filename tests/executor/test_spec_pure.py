"""The rules every backend checks on an execution spec's outputs (contract_support.check_spec):
each an absolute host directory of its own at an absolute target of its own, no two sharing or
nesting, no output sharing or nesting its target with an input's. Pure: no engine, no VM."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nunet.executor import ExecutionSpec, InvalidSpec, Mount, OutputMount
from nunet.executor.contract_support import check_spec, outputs_bytes


def spec(*outputs: OutputMount, inputs: tuple[Mount, ...] = ()) -> ExecutionSpec:
    return ExecutionSpec(id="job", image="x", inputs=inputs, outputs=outputs)


def refusal(checked: ExecutionSpec) -> str:
    with pytest.raises(InvalidSpec) as raised:
        check_spec(checked, allow_privileged=False)
    return str(raised.value)


def test_outputs_apart_from_each_other_and_from_the_inputs_are_accepted_as_given() -> None:
    given_spec = spec(
        OutputMount(source="/v/results", target="/results"),
        OutputMount(source="/v/results-logs", target="/results-logs"),  # a prefix, not nested
        OutputMount(source="/v/run", target="/logs/run"),
        inputs=(Mount(source="/v/in", target="/logs/in"),),  # a sibling of an output
    )
    assert check_spec(given_spec, allow_privileged=False) == given_spec


@pytest.mark.parametrize(
    ("outputs", "inputs", "said"),
    [
        (
            [("rel/out", "/out")],
            [],
            "outputs[0].source 'rel/out' is not an absolute host path",
        ),
        ([("/v/a", "out")], [], "outputs[0].target 'out' is not an absolute path"),
        (
            [("/v/a", "/out"), ("/v/b", "/out/")],
            [],
            "outputs[1].target '/out/' is the same directory as outputs[0].target '/out'",
        ),
        (
            [("/v/a", "/out/x"), ("/v/b", "/out")],
            [],
            "outputs[1].target '/out' holds outputs[0].target '/out/x'",
        ),
        (
            [("/v/a", "/out"), ("/v/b", "/out/./deep/../x")],
            [],
            "outputs[1].target '/out/./deep/../x' is inside outputs[0].target '/out'",
        ),
        (
            [("/v/a", "/a"), ("/v/b", "/")],
            [],
            "outputs[1].target '/' holds outputs[0].target '/a'",
        ),
        (
            [("/v/a", "/a"), ("/v/a/", "/b")],
            [],
            "outputs[1].source '/v/a/' is the same directory as outputs[0].source '/v/a'",
        ),
        (
            [("/v", "/a"), ("/v/b", "/b")],
            [],
            "outputs[1].source '/v/b' is inside outputs[0].source '/v'",
        ),
        (
            [("/v/a", "/data")],
            ["/data"],
            "outputs[0].target '/data' is the same directory as inputs[0].target '/data'",
        ),
        (
            [("/v/a", "/data/out")],
            ["/x", "/data"],
            "outputs[0].target '/data/out' is inside inputs[1].target '/data'",
        ),
        (
            [("/v/a", "/data")],
            ["/data/in.txt"],
            "outputs[0].target '/data' holds inputs[0].target '/data/in.txt'",
        ),
    ],
)
def test_each_clash_is_refused_naming_both_fields_as_given(
    outputs: list[tuple[str, str]], inputs: list[str], said: str
) -> None:
    checked = spec(
        *(OutputMount(source=s, target=t) for s, t in outputs),
        inputs=tuple(Mount(source="/v/in", target=t) for t in inputs),
    )
    assert said in refusal(checked)


def test_every_problem_is_said_at_once() -> None:
    said = refusal(
        spec(
            OutputMount(source="rel", target="/a"),
            OutputMount(source="/v/b", target="/a"),
            OutputMount(source="/v/c", target="/in/c"),
            inputs=(Mount(source="/v/in", target="/in"),),
        )
    )
    assert "outputs[0].source 'rel'" in said
    assert "outputs[1].target '/a' is the same directory as outputs[0].target '/a'" in said
    assert "outputs[2].target '/in/c' is inside inputs[0].target '/in'" in said


segment = st.sampled_from(["a", "b", "ab", "."])
paths = st.builds(
    lambda parts, slashes, trailing: (
        "/"
        + "/".join(p + "/" * extra for p, extra in zip(parts, slashes, strict=False))
        + ("/" if trailing else "")
    ),
    st.lists(segment, min_size=1, max_size=3),
    st.lists(st.integers(0, 1), min_size=3, max_size=3),
    st.booleans(),
)


def nested_or_same(one: str, other: str) -> bool:
    """The oracle: pathlib's lexical view of the two paths."""
    a, b = PurePosixPath(one), PurePosixPath(other)
    return a == b or a in b.parents or b in a.parents


@given(
    st.lists(st.tuples(paths, paths), min_size=1, max_size=4),
    st.lists(paths, max_size=2),
)
def test_outputs_are_refused_exactly_when_two_directories_share_or_nest(
    outputs: list[tuple[str, str]], inputs: list[str]
) -> None:
    checked = spec(
        *(OutputMount(source="/v" + s, target=t) for s, t in outputs),
        inputs=tuple(Mount(source="/v/in", target=t) for t in inputs),
    )
    clashes = [
        f"outputs[{j}].{field}"
        for field, column in (("source", 0), ("target", 1))
        for j in range(len(outputs))
        for i in range(j)
        if nested_or_same(outputs[j][column], outputs[i][column])
    ] + [
        f"outputs[{i}].target"
        for i, (_, target) in enumerate(outputs)
        for input_target in inputs
        if nested_or_same(target, input_target)
    ]
    if not clashes:
        assert check_spec(checked, allow_privileged=False) == checked
        return
    said = refusal(checked)
    named = re.findall(r"(outputs\[\d+\]\.\w+) '[^']*' (?:is the same|is inside|holds)", said)
    assert sorted(named) == sorted(clashes)


def test_outputs_bytes_is_the_sum_over_every_output_directory(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    (first / "deep").mkdir(parents=True)
    second.mkdir()
    (first / "deep" / "a").write_bytes(b"x" * 10)
    (second / "b").write_bytes(b"y" * 7)
    (second / "link").symlink_to(first / "deep" / "a")
    assert outputs_bytes([str(first), str(second)]) == 17  # the link counts nothing
    assert outputs_bytes([str(tmp_path / "missing")]) == 0
