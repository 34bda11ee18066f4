"""Key pairs stored encrypted at rest: argon2id derives a key from the passphrase, XSalsa20-Poly1305 seals the seed.

One JSON file per key under `<home>/keys/<name>.json`, mode 0600. The DID is stored in clear so
that listing keys needs no passphrase; opening one does.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils

from nunet.identity.errors import IdentityError, KeyExists, KeyNotFound, WrongPassphrase
from nunet.identity.keys import KeyPair

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_FORMAT = "nunet-key/1"


class KeyStore:
    """Named Ed25519 keys in a directory, each sealed under one passphrase."""

    def __init__(
        self,
        directory: Path,
        passphrase: str,
        *,
        opslimit: int = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE,
        memlimit: int = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE,
    ) -> None:
        self._dir = directory
        self._passphrase = passphrase.encode()
        self._opslimit = opslimit
        self._memlimit = memlimit

    def names(self) -> list[str]:
        if not self._dir.is_dir():
            return []
        return sorted(p.stem for p in self._dir.glob("*.json"))

    def did(self, name: str) -> str:
        did = self._read(name)["did"]
        if not isinstance(did, str):
            raise IdentityError(f"key file {self._path(name)} has no DID")
        return did

    def create(self, name: str) -> KeyPair:
        path = self._path(name)
        if path.exists():
            raise KeyExists(f"a key named {name!r} already exists at {path}; it is never replaced")
        return self.store(name, KeyPair.generate())

    def store(self, name: str, key: KeyPair) -> KeyPair:
        path = self._path(name)
        salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
        box = nacl.secret.SecretBox(self._derive(salt, self._opslimit, self._memlimit))
        document = {
            "format": _FORMAT,
            "did": key.did,
            "kdf": {
                "name": "argon2id",
                "salt": salt.hex(),
                "opslimit": self._opslimit,
                "memlimit": self._memlimit,
            },
            "sealed_seed": box.encrypt(key.seed).hex(),
        }
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(document, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            tmp.unlink()
            raise KeyExists(f"a key named {name!r} already exists at {path}; it is never replaced")
        os.replace(tmp, path)
        return key

    def load(self, name: str) -> KeyPair:
        document = self._read(name)
        try:
            kdf = document["kdf"]
            salt = bytes.fromhex(kdf["salt"])
            sealed = bytes.fromhex(document["sealed_seed"])
            key = self._derive(salt, int(kdf["opslimit"]), int(kdf["memlimit"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise IdentityError(f"key file {self._path(name)} is damaged: {exc}") from None
        try:
            seed = nacl.secret.SecretBox(key).decrypt(sealed)
        except nacl.exceptions.CryptoError:
            raise WrongPassphrase(
                f"the passphrase does not open key {name!r}"
                " (check NUNET_PASSPHRASE or --passphrase-file)"
            ) from None
        pair = KeyPair.from_seed(seed)
        if pair.did != document.get("did"):
            raise IdentityError(f"key file {self._path(name)}: stored DID does not match the key")
        return pair

    def ensure(self, name: str) -> KeyPair:
        """Open the key, creating it first if it does not exist."""
        if self._path(name).exists():
            return self.load(name)
        return self.create(name)

    def _derive(self, salt: bytes, opslimit: int, memlimit: int) -> bytes:
        return nacl.pwhash.argon2id.kdf(
            nacl.secret.SecretBox.KEY_SIZE,
            self._passphrase,
            salt,
            opslimit=opslimit,
            memlimit=memlimit,
        )

    def _path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise IdentityError(
                f"{name!r} is not a key name: use letters, digits, '.', '_' or '-' (max 64)"
            )
        return self._dir / f"{name}.json"

    def _read(self, name: str) -> dict[str, Any]:
        path = self._path(name)
        try:
            document = json.loads(path.read_text())
        except FileNotFoundError:
            raise KeyNotFound(
                f"no key named {name!r} in {self._dir} (create it: nunet key new {name})"
            ) from None
        except (OSError, ValueError) as exc:
            raise IdentityError(f"key file {path} cannot be read: {exc}") from None
        if not isinstance(document, dict) or document.get("format") != _FORMAT:
            raise IdentityError(f"key file {path} is not a {_FORMAT} key file")
        return document
