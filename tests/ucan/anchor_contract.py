"""The behaviour every AnchorStore shares; each implementation's module subclasses this once."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import pytest

from nunet.identity import KeyPair
from nunet.ucan import AnchorError, Anchors, AnchorStore, grant, revoke

from .conftest import HOUR, NOW, key


class AnchorStoreContract(ABC):
    @abstractmethod
    def make_store(self, tmp_path: Path, did: str) -> AnchorStore:
        """A fresh, empty store owned by `did`."""

    @pytest.fixture
    def owner(self) -> KeyPair:
        return key(1)

    @pytest.fixture
    def store(self, tmp_path: Path, owner: KeyPair) -> AnchorStore:
        return self.make_store(tmp_path, owner.did)

    def test_a_new_store_holds_only_its_own_did(self, store: AnchorStore, owner: KeyPair) -> None:
        assert store.snapshot() == Anchors(did=owner.did)

    def test_roots_are_added_once_in_order(self, store: AnchorStore) -> None:
        store.add_root(key(2).did)
        store.add_root(key(3).did)
        store.add_root(key(2).did)
        assert store.snapshot().roots == (key(2).did, key(3).did)

    def test_a_root_must_be_a_did_key(self, store: AnchorStore) -> None:
        with pytest.raises(AnchorError, match="not a did:key"):
            store.add_root("alice")

    def test_require_and_provide_tokens_are_kept(self, store: AnchorStore, owner: KeyPair) -> None:
        required = grant(
            owner, audience=key(2).did, capabilities=["/dms"], expiry=NOW + HOUR, now=NOW
        )
        provided = grant(
            key(2), audience=owner.did, capabilities=["/x"], expiry=NOW + HOUR, now=NOW
        )
        store.add_require(required)
        store.add_provide(provided)
        store.add_provide(provided)
        snapshot = store.snapshot()
        assert snapshot.require == (required,)
        assert snapshot.provide == (provided,)
        assert snapshot.find_token(provided.id) == provided
        assert snapshot.find_token("0" * 64) is None

    def test_revocations_are_kept_and_indexed_by_token_id(
        self, store: AnchorStore, owner: KeyPair
    ) -> None:
        revocation = revoke(owner, "a" * 64, NOW)
        store.add_revocation(revocation)
        store.add_revocation(revocation)
        assert store.snapshot().revocations == (revocation,)
        assert store.snapshot().revokers == {"a" * 64: frozenset({owner.did})}

    def test_anchors_can_be_removed_by_did_or_id(self, store: AnchorStore, owner: KeyPair) -> None:
        required = grant(
            owner, audience=key(2).did, capabilities=["/dms"], expiry=NOW + HOUR, now=NOW
        )
        store.add_root(key(3).did)
        store.add_require(required)
        store.remove(key(3).did)
        store.remove(required.id)
        assert store.snapshot() == Anchors(did=owner.did)
        with pytest.raises(AnchorError, match="no anchor"):
            store.remove(required.id)

    def test_anchors_survive_a_json_round_trip(self, store: AnchorStore, owner: KeyPair) -> None:
        store.add_root(key(3).did)
        store.add_require(
            grant(owner, audience=key(2).did, capabilities=["/dms"], expiry=NOW + HOUR, now=NOW)
        )
        store.add_revocation(revoke(owner, "b" * 64, NOW))
        snapshot = store.snapshot()
        assert Anchors.from_json(snapshot.to_json()) == snapshot
