"""Errors raised at the identity boundary (keys, DIDs, key files)."""

from nunet.errors import NunetError


class IdentityError(NunetError):
    """Something about a key, a DID or a key file is wrong."""


class InvalidDID(IdentityError):
    """A string is not a did:key this node understands."""


class WrongPassphrase(IdentityError):
    """The passphrase does not open the key file."""


class KeyNotFound(IdentityError):
    """No key of that name exists in the key store."""


class KeyExists(IdentityError):
    """A key of that name already exists; it is never overwritten."""


class InvalidSignature(IdentityError):
    """A signature does not verify against the claimed public key."""
