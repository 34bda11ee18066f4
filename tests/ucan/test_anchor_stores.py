"""The anchor-store contract run against both stores, plus what only the file store promises."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from nunet.ucan import (
    AnchorError,
    Anchors,
    AnchorStore,
    FileAnchorStore,
    MemoryAnchorStore,
    anchor_path,
)

from .anchor_contract import AnchorStoreContract
from .conftest import key


class TestMemoryAnchorStore(AnchorStoreContract):
    def make_store(self, tmp_path: Path, did: str) -> AnchorStore:
        return MemoryAnchorStore(did)


class TestFileAnchorStore(AnchorStoreContract):
    def make_store(self, tmp_path: Path, did: str) -> AnchorStore:
        return FileAnchorStore.create(tmp_path / "cap" / "dms.json", did)


def test_the_anchor_file_is_private_and_no_temp_files_remain(tmp_path: Path) -> None:
    path = tmp_path / "cap" / "dms.json"
    store = FileAnchorStore.create(path, key(1).did)
    store.add_root(key(2).did)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == [".dms.json.lock", "dms.json"]


def test_an_existing_anchor_file_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "dms.json"
    FileAnchorStore.create(path, key(1).did).add_root(key(2).did)
    with pytest.raises(AnchorError, match="never replaced"):
        FileAnchorStore.create(path, key(3).did)
    assert FileAnchorStore(path).snapshot().roots == (key(2).did,)


def test_two_stores_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    path = tmp_path / "dms.json"
    first = FileAnchorStore.create(path, key(1).did)
    second = FileAnchorStore(path)
    first.add_root(key(2).did)
    second.add_root(key(3).did)
    assert first.snapshot().roots == (key(2).did, key(3).did)


def test_a_missing_anchor_file_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(AnchorError, match="nunet cap new dms"):
        FileAnchorStore(tmp_path / "dms.json")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot be read"),
        ("[]", "not a nunet-cap/1"),
        ('{"format": "nunet-cap/1"}', "missing 'did'"),
        ('{"format": "nunet-cap/1", "did": "x"}', "not a did:key"),
        ('{"format": "nunet-cap/1", "did": "DID", "roots": "x"}', "'roots' must be a list"),
        ('{"format": "nunet-cap/1", "did": "DID", "require": ["zz"]}', r"require\[0\]"),
        ('{"format": "nunet-cap/1", "did": "DID", "revocations": ["AAAA"]}', r"revocations\[0\]"),
    ],
)
def test_a_damaged_anchor_file_is_an_anchor_error_naming_the_entry(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "dms.json"
    path.write_text(content.replace("DID", key(1).did))
    with pytest.raises(AnchorError, match=message):
        FileAnchorStore(path)
    assert path.read_text() == content.replace("DID", key(1).did)


def test_context_names_are_checked(tmp_path: Path) -> None:
    assert anchor_path(tmp_path, "dms") == tmp_path / "cap" / "dms.json"
    for bad in ("", "../etc", "a/b", "dms\n"):
        with pytest.raises(AnchorError, match="not a context name"):
            anchor_path(tmp_path, bad)


def test_the_file_is_json_a_person_can_read(tmp_path: Path) -> None:
    path = tmp_path / "dms.json"
    FileAnchorStore.create(path, key(1).did).add_root(key(2).did)
    document = json.loads(path.read_text())
    assert document["roots"] == [key(2).did]
    assert Anchors.from_json(document).did == key(1).did
