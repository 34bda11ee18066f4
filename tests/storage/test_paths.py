"""Safe paths: nothing relative ever leads out of its volume, whether by `..`, an absolute path or
a symlink; uploads never send what lies outside their source."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nunet.storage import (
    BadLocation,
    StorageError,
    TooLarge,
    check_upload_size,
    files_to_upload,
    safe_join,
)
from nunet.storage.paths import relative_key

segment = st.sampled_from(["a", "b", "..", ".", "", "c d", "link-out", "link-in", "...", "~"])
relative_paths = st.lists(segment, max_size=8).map("/".join)


@pytest.fixture
def volume(tmp_path: Path) -> Path:
    root = tmp_path / "volume"
    (root / "a" / "b").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (root / "link-out").symlink_to(tmp_path / "outside")
    (root / "a" / "link-in").symlink_to(root / "a" / "b")
    return root


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(relative=relative_paths)
def test_a_relative_path_never_escapes_its_volume(volume: Path, relative: str) -> None:
    try:
        joined = safe_join(volume, relative)
    except BadLocation as error:
        refused = str(error)
    else:
        assert joined.is_relative_to(volume.resolve())
        assert os.path.realpath(joined) == str(joined)
        return
    assert repr(relative) in refused


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(relative=relative_paths)
def test_an_absolute_path_is_always_refused(volume: Path, relative: str) -> None:
    with pytest.raises(BadLocation, match="absolute"):
        safe_join(volume, "/" + relative)


@pytest.mark.parametrize(
    ("relative", "said"),
    [
        ("../x", "escapes the volume"),
        ("a/../../x", "escapes the volume"),
        ("..", "escapes the volume"),
        ("/etc/passwd", "absolute"),
        ("link-out/secret", "through a symlink"),
        ("a/b/../../link-out", "through a symlink"),
        ("nul\x00byte", "NUL"),
    ],
)
def test_escapes_are_refused_saying_how(volume: Path, relative: str, said: str) -> None:
    with pytest.raises(BadLocation) as raised:
        safe_join(volume, relative, what="output")
    assert said in str(raised.value)
    assert str(raised.value).startswith("output ")


@pytest.mark.parametrize(
    ("relative", "inside"),
    [
        ("", "."),
        (".", "."),
        ("a/b/c.txt", "a/b/c.txt"),
        ("a/../a/b", "a/b"),
        ("a/link-in/f", "a/b/f"),
    ],
)
def test_paths_that_stay_inside_resolve_there(volume: Path, relative: str, inside: str) -> None:
    assert safe_join(volume, relative) == (volume / inside).resolve()


def test_a_directory_upload_sends_each_file_in_key_order(tmp_path: Path) -> None:
    (tmp_path / "src" / "z").mkdir(parents=True)
    (tmp_path / "src" / "b.txt").write_bytes(b"bb")
    (tmp_path / "src" / "z" / "a.txt").write_bytes(b"a")
    (tmp_path / "src" / "a-link").symlink_to(tmp_path / "src" / "b.txt")
    items = files_to_upload(tmp_path / "src", "s3://abc/out")
    assert [(i.location, i.size) for i in items] == [
        ("s3://abc/out/a-link", 2),
        ("s3://abc/out/b.txt", 2),
        ("s3://abc/out/z/a.txt", 1),
    ]
    assert check_upload_size(items, "s3://abc/out", None) == 5


def test_a_file_upload_goes_to_its_location_or_under_a_prefix(tmp_path: Path) -> None:
    (tmp_path / "f.bin").write_bytes(b"123")
    (item,) = files_to_upload(tmp_path / "f.bin", "s3://abc/k")
    assert (item.location, item.size) == ("s3://abc/k", 3)
    (item,) = files_to_upload(tmp_path / "f.bin", "s3://abc/dir/")
    assert item.location == "s3://abc/dir/f.bin"


def test_an_upload_refuses_a_symlink_leading_out_of_its_source(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "secret").write_text("host file")
    (tmp_path / "src" / "leak").symlink_to(tmp_path / "secret")
    with pytest.raises(BadLocation) as raised:
        files_to_upload(tmp_path / "src", "s3://abc/out/")
    assert "leak" in str(raised.value)
    assert "symlink" in str(raised.value)


def test_an_upload_of_nothing_there_names_it(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as raised:
        files_to_upload(tmp_path / "missing", "s3://abc/k")
    assert str(tmp_path / "missing") in str(raised.value)


def test_an_upload_over_its_limit_is_refused_before_sending(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 10)
    with pytest.raises(TooLarge, match="10 bytes, over the limit of 9"):
        check_upload_size(files_to_upload(tmp_path / "f", "s3://abc/k"), "s3://abc/k", 9)


def test_relative_keys_under_a_prefix() -> None:
    assert relative_key("s3://abc/p/", "s3://abc/p/x/y") == "x/y"
    with pytest.raises(BadLocation):
        relative_key("s3://abc/p/", "s3://abc/q/x")
