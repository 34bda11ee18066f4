"""The swarm key file format, its errors, and what is derived from it."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from nunet.mesh import SwarmKey, SwarmKeyError
from nunet.mesh.swarmkey import HEADER


def test_a_written_key_loads_back_identical_with_mode_0600(tmp_path: Path) -> None:
    key = SwarmKey.generate()
    path = tmp_path / "swarm.key"
    key.write(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().splitlines()[0] == HEADER
    assert SwarmKey.load(path) == key


def test_writing_never_overwrites_an_existing_key(tmp_path: Path) -> None:
    path = tmp_path / "swarm.key"
    first = SwarmKey.generate()
    first.write(path)
    with pytest.raises(SwarmKeyError, match="already exists"):
        SwarmKey.generate().write(path)
    assert SwarmKey.load(path) == first


def test_two_generated_keys_differ() -> None:
    assert SwarmKey.generate() != SwarmKey.generate()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "first line must be 'nunet-swarm-key/v1', found an empty file"),
        (b"nunet-swarm-key/v2\nAAAA\n", "first line must be 'nunet-swarm-key/v1'"),
        (b"\xff\xfe garbage", "not ASCII text"),
        (f"{HEADER}\n".encode(), "found 0 line(s) after the header"),
        (f"{HEADER}\nAAAA\nAAAA\n".encode(), "found 2 line(s) after the header"),
        (f"{HEADER}\nnot*base64!\n".encode(), "not valid base64"),
        (f"{HEADER}\n{base64.b64encode(bytes(16)).decode()}\n".encode(), "the key is 16 bytes"),
    ],
    ids=["empty", "wrong-header", "binary", "no-key", "two-keys", "bad-base64", "short"],
)
def test_a_malformed_file_is_refused_naming_the_file_and_the_problem(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    with pytest.raises(SwarmKeyError) as caught:
        SwarmKey.load(path)
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)


def test_a_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    path = tmp_path / "none.key"
    with pytest.raises(SwarmKeyError, match="nunet swarm key new") as caught:
        SwarmKey.load(path)
    assert str(path) in str(caught.value)


def test_without_a_key_file_a_node_is_in_the_open_public_swarm(tmp_path: Path) -> None:
    key = SwarmKey.load_or_public(tmp_path / "swarm.key")
    assert key == SwarmKey.public()
    assert key.is_public
    assert not SwarmKey.generate().is_public
    (tmp_path / "swarm.key").write_text("garbage")
    with pytest.raises(SwarmKeyError):  # a broken key is an error, never a silent open swarm
        SwarmKey.load_or_public(tmp_path / "swarm.key")


def test_derived_secrets_are_stable_distinct_and_per_key() -> None:
    key = SwarmKey(bytes(range(32)))
    same = SwarmKey(bytes(range(32)))
    other = SwarmKey.generate()
    assert key.fingerprint == same.fingerprint
    assert key.leaf_credentials == same.leaf_credentials
    assert key.ca_seed == same.ca_seed
    assert key.fingerprint != other.fingerprint
    assert key.leaf_credentials != other.leaf_credentials
    assert key.leaf_credentials != key.route_credentials
    assert len({key.ca_seed, key.derive(b"fingerprint", 32), key.secret}) == 3


def test_the_key_never_shows_in_its_repr_or_fingerprint() -> None:
    key = SwarmKey.generate()
    shown = repr(key) + repr(key.leaf_credentials) + key.fingerprint
    assert key.secret.hex() not in shown
    assert base64.b64encode(key.secret).decode() not in shown
    assert key.leaf_credentials.password not in shown
    assert len(key.fingerprint) == 16


def test_credentials_need_no_escaping_in_urls_or_config() -> None:
    credentials = SwarmKey.generate().leaf_credentials
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
    assert set(credentials.user) <= allowed
    assert set(credentials.password) <= allowed
    assert len(credentials.password) >= 43  # 256 bits
