"""The swarm key: the one shared secret that makes a set of nodes a private swarm.

Every secret of the swarm is derived from it with HKDF (leaf and route passwords, the seed of the
swarm's CA key), so distributing this one file is all it takes to admit a node.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from nunet.mesh.errors import SwarmKeyError

KEY_SIZE = 32
HEADER = "nunet-swarm-key/v1"
"""First line of a key file; the version names the format and the derivations below."""

SWARM_KEY_FILE = "swarm.key"
"""Where a node looks for its swarm key, relative to its home."""

_HKDF_SALT = b"nunet swarm key v1"
_PUBLIC_SWARM_SECRET = hashlib.sha256(b"nunet open public swarm v1").digest()


@dataclass(frozen=True)
class Credentials:
    """A user and password one server presents to another (safe in URLs and config files)."""

    user: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(user={self.user!r}, password=<hidden>)"


@dataclass(frozen=True)
class SwarmKey:
    """32 secret bytes shared by the members of one swarm."""

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_SIZE:
            raise SwarmKeyError(f"a swarm key is {KEY_SIZE} bytes, not {len(self.secret)}")

    def __repr__(self) -> str:
        return f"SwarmKey(fingerprint={self.fingerprint!r})"

    @classmethod
    def generate(cls) -> SwarmKey:
        return cls(secrets.token_bytes(KEY_SIZE))

    @classmethod
    def public(cls) -> SwarmKey:
        """The well-known key of the open public swarm, used when a node has no key of its own.

        Everyone knows it (it is sha256 of b"nunet open public swarm v1"), so an open swarm
        authenticates nothing: anyone can derive its CA, issue certificates and join, read or
        inject; its TLS only keeps out passive eavesdroppers who do not bother to derive it.
        """
        return cls(_PUBLIC_SWARM_SECRET)

    @property
    def is_public(self) -> bool:
        return self.secret == _PUBLIC_SWARM_SECRET

    @property
    def fingerprint(self) -> str:
        """A short id of the key, safe to print and log: it reveals nothing about the secret."""
        return self.derive(b"fingerprint", 8).hex()

    @property
    def leaf_credentials(self) -> Credentials:
        """What a member presents on a hub's leaf port, besides its certificate."""
        return self._credentials(b"leaf")

    @property
    def route_credentials(self) -> Credentials:
        """What hubs present to each other on cluster routes, besides their certificates."""
        return self._credentials(b"route")

    @property
    def ca_seed(self) -> bytes:
        """32 bytes seeding the swarm CA's private key (see nunet.mesh.tls)."""
        return self.derive(b"ca-key-seed", 32)

    def derive(self, label: bytes, length: int) -> bytes:
        """HKDF-SHA256 of the key for one purpose; distinct labels give independent secrets."""
        hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=_HKDF_SALT, info=label)
        return hkdf.derive(self.secret)

    def _credentials(self, purpose: bytes) -> Credentials:
        user = "swarm-" + self.derive(purpose + b"-user", 6).hex()
        raw = self.derive(purpose + b"-password", 32)
        return Credentials(user, base64.urlsafe_b64encode(raw).rstrip(b"=").decode())

    def encode(self) -> str:
        return f"{HEADER}\n{base64.b64encode(self.secret).decode()}\n"

    def write(self, path: Path) -> None:
        """Create `path` with mode 0600; never overwrite an existing key (it may be in use)."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise SwarmKeyError(
                f"{path} already exists: a swarm key is never overwritten "
                "(every member holds a copy); remove it yourself or choose another --out"
            ) from None
        except OSError as exc:
            raise SwarmKeyError(f"cannot create {path}: {exc.strerror}") from None
        with os.fdopen(fd, "w") as out:
            out.write(self.encode())

    @classmethod
    def load(cls, path: Path) -> SwarmKey:
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            raise SwarmKeyError(
                f"{path} does not exist: create a key with `nunet swarm key new` "
                "or copy the swarm's key file there"
            ) from None
        except OSError as exc:
            raise SwarmKeyError(f"cannot read {path}: {exc.strerror}") from None
        return cls.decode(text, source=str(path))

    @classmethod
    def load_or_public(cls, path: Path) -> SwarmKey:
        """The key at `path`, or the open public swarm's key when there is no such file."""
        if not path.exists():
            return cls.public()
        return cls.load(path)

    @classmethod
    def decode(cls, data: bytes, *, source: str = "swarm key") -> SwarmKey:
        try:
            lines = data.decode("ascii").split()
        except UnicodeDecodeError:
            raise SwarmKeyError(f"{source} is not a swarm key: it is not ASCII text") from None
        if not lines or lines[0] != HEADER:
            found = repr(lines[0][:40]) if lines else "an empty file"
            raise SwarmKeyError(
                f"{source} is not a swarm key: its first line must be {HEADER!r}, found {found}"
            )
        if len(lines) != 2:
            raise SwarmKeyError(
                f"{source} is malformed: expected the header and one base64 line, "
                f"found {len(lines) - 1} line(s) after the header"
            )
        try:
            secret = base64.b64decode(lines[1], validate=True)
        except binascii.Error:
            raise SwarmKeyError(
                f"{source} is malformed: its key line is not valid base64"
            ) from None
        if len(secret) != KEY_SIZE:
            raise SwarmKeyError(
                f"{source} is malformed: the key is {len(secret)} bytes, a swarm key is {KEY_SIZE}"
            )
        return cls(secret)
