"""Volumes: created under their root, locked read-only (on disk, so it survives a restart),
measured, mounted, deleted locked or not; bad names and escaping paths refused."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from nunet.executor.spec import Mount
from nunet.storage import BadLocation, VolumeController, VolumeError
from tests.storage.contract import names_in


def write_bits(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode) & 0o222


async def test_a_volume_is_created_empty_and_writable(tmp_path: Path) -> None:
    volumes = VolumeController(tmp_path / "volumes")
    volume = await volumes.create("alloc-1.input")
    assert volume.path == tmp_path / "volumes" / "alloc-1.input"
    assert volume.path.is_dir()
    assert list(volume.path.iterdir()) == []
    assert not volume.read_only
    assert await volumes.names() == ("alloc-1.input",)
    with pytest.raises(VolumeError, match="exists already"):
        await volumes.create("alloc-1.input")


@pytest.mark.parametrize("name", ["", "../up", "a/b", ".hidden", "x" * 129, "sp ace"])
async def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(VolumeError, match="is not a volume name"):
        await VolumeController(tmp_path).create(name)
    assert names_in(tmp_path) == []


async def test_lock_clears_every_write_bit_and_a_new_controller_sees_it(tmp_path: Path) -> None:
    volumes = VolumeController(tmp_path)
    volume = await volumes.create("in")
    (volume.path / "sub").mkdir()
    (volume.path / "sub" / "data.csv").write_text("a,b\n")
    (volume.path / "top.txt").write_text("t")
    (volume.path / "link").symlink_to(tmp_path)  # never followed: the root keeps its bits
    locked = await volumes.lock("in")
    assert locked.read_only
    for path in (
        volume.path,
        volume.path / "sub",
        volume.path / "sub" / "data.csv",
        volume.path / "top.txt",
    ):
        assert write_bits(path) == 0, path
    assert write_bits(tmp_path) != 0
    assert (await VolumeController(tmp_path).get("in")).read_only
    assert locked.mount("/data/in") == Mount(
        source=str(volume.path), target="/data/in", read_only=True
    )
    unlocked = await volumes.unlock("in")
    assert not unlocked.read_only
    assert write_bits(volume.path / "sub" / "data.csv") == stat.S_IWUSR


async def test_size_counts_regular_files_only(tmp_path: Path) -> None:
    volumes = VolumeController(tmp_path / "v")
    volume = await volumes.create("out")
    (volume.path / "a").write_bytes(b"x" * 1000)
    (volume.path / "d").mkdir()
    (volume.path / "d" / "b").write_bytes(b"y" * 24)
    (tmp_path / "big").write_bytes(b"z" * 5000)
    (volume.path / "link").symlink_to(tmp_path / "big")
    assert await volumes.size("out") == 1024


async def test_delete_removes_a_locked_volume_and_a_missing_one_is_no_error(
    tmp_path: Path,
) -> None:
    volumes = VolumeController(tmp_path)
    volume = await volumes.create("gone")
    (volume.path / "d").mkdir()
    (volume.path / "d" / "f").write_text("x")
    await volumes.lock("gone")
    await volumes.delete("gone")
    assert not volume.path.exists()
    await volumes.delete("gone")
    with pytest.raises(VolumeError, match="no volume 'gone'"):
        await volumes.size("gone")


async def test_paths_inside_a_volume_cannot_escape_it(tmp_path: Path) -> None:
    volumes = VolumeController(tmp_path)
    volume = await volumes.create("out")
    assert volumes.inside(volume, "results/a.txt") == volume.path.resolve() / "results" / "a.txt"
    with pytest.raises(BadLocation, match="volume 'out'"):
        volumes.inside(volume, "../in/secret")


async def test_a_mount_target_must_be_absolute(tmp_path: Path) -> None:
    volume = await VolumeController(tmp_path).create("v")
    with pytest.raises(VolumeError, match="not absolute"):
        volume.mount("data")
