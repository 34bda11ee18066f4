"""Keys, DIDs and the encrypted key store."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import nacl.pwhash
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nunet.identity import (
    IdentityError,
    InvalidDID,
    InvalidSignature,
    KeyExists,
    KeyNotFound,
    KeyPair,
    KeyStore,
    WrongPassphrase,
    did_from_public_key,
    public_key_from_did,
    verify_signature,
)
from nunet.identity.did import b58decode, b58encode

FAST = {
    "opslimit": nacl.pwhash.argon2id.OPSLIMIT_MIN,
    "memlimit": nacl.pwhash.argon2id.MEMLIMIT_MIN,
}


def test_did_key_round_trips_the_public_key() -> None:
    key = KeyPair.generate()
    assert key.did.startswith("did:key:z6Mk")  # the well-known prefix of Ed25519 did:keys
    assert public_key_from_did(key.did) == key.public_key
    assert did_from_public_key(key.public_key) == key.did


def test_known_did_key_vector_decodes() -> None:
    # From the did:key method specification's Ed25519 examples.
    did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    assert len(public_key_from_did(did)) == 32
    assert did_from_public_key(public_key_from_did(did)) == did


@pytest.mark.parametrize(
    "bad",
    ["", "did:web:example.com", "did:key:x123", "did:key:z0OIl", "did:key:z6Mk", 42],
)
def test_malformed_dids_are_refused_by_name(bad: object) -> None:
    with pytest.raises(InvalidDID):
        public_key_from_did(bad)  # type: ignore[arg-type]


@given(st.binary(max_size=64))
def test_base58_round_trips_any_bytes(data: bytes) -> None:
    assert b58decode(b58encode(data)) == data


def test_signature_verifies_and_tampering_is_detected() -> None:
    key = KeyPair.generate()
    signature = key.sign(b"message")
    verify_signature(key.did, b"message", signature)
    with pytest.raises(InvalidSignature):
        verify_signature(key.did, b"messagE", signature)
    with pytest.raises(InvalidSignature):
        verify_signature(KeyPair.generate().did, b"message", signature)
    with pytest.raises(InvalidSignature):
        verify_signature(key.did, b"message", signature[:-1])


def test_keystore_seals_keys_and_reopens_them(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys", "correct horse", **FAST)
    created = store.create("dms")
    path = tmp_path / "keys" / "dms.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert created.seed.hex() not in path.read_text()
    assert document["did"] == created.did
    reopened = KeyStore(tmp_path / "keys", "correct horse").load("dms")
    assert reopened.seed == created.seed
    assert store.names() == ["dms"]
    assert KeyStore(tmp_path / "keys", "").did("dms") == created.did


def test_wrong_passphrase_is_named_and_keeps_the_key(tmp_path: Path) -> None:
    KeyStore(tmp_path, "right", **FAST).create("dms")
    before = (tmp_path / "dms.json").read_bytes()
    with pytest.raises(WrongPassphrase, match="NUNET_PASSPHRASE"):
        KeyStore(tmp_path, "wrong").load("dms")
    assert (tmp_path / "dms.json").read_bytes() == before


def test_existing_key_is_never_replaced(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, "p", **FAST)
    first = store.create("dms")
    with pytest.raises(KeyExists):
        store.create("dms")
    assert store.load("dms").did == first.did
    assert store.ensure("dms").did == first.did


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "x" * 65])
def test_bad_key_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(IdentityError, match="not a key name"):
        KeyStore(tmp_path, "p", **FAST).create(name)


def test_missing_and_damaged_key_files_give_clear_errors(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, "p", **FAST)
    with pytest.raises(KeyNotFound, match="nunet key new ghost"):
        store.load("ghost")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(IdentityError, match="cannot be read"):
        store.load("junk")
    store.create("dms")
    document = json.loads((tmp_path / "dms.json").read_text())
    document["sealed_seed"] = "zz"
    (tmp_path / "dms.json").write_text(json.dumps(document))
    with pytest.raises(IdentityError, match="damaged"):
        store.load("dms")
