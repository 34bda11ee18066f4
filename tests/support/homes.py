"""Node home directories for tests: keys made with cheap KDF settings, the user trusted as root."""

from __future__ import annotations

from pathlib import Path

import nacl.pwhash

from nunet.identity import KeyStore
from nunet.ucan import FileAnchorStore, anchor_path

PASSPHRASE = "test-passphrase"


def make_home(home: Path, *, trust_user: bool = True) -> Path:
    """A node home with keys `dms` and `user` (and `user` anchored as root of `dms` if asked)."""
    store = KeyStore(
        home / "keys",
        PASSPHRASE,
        opslimit=nacl.pwhash.argon2id.OPSLIMIT_MIN,
        memlimit=nacl.pwhash.argon2id.MEMLIMIT_MIN,
    )
    node = store.create("dms")
    user = store.create("user")
    anchors = FileAnchorStore.create(anchor_path(home, "dms"), node.did)
    if trust_user:
        anchors.add_root(user.did)
    return home
