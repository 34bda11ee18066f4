"""The errors the capability index raises; each message says what was wrong and how to fix it."""

from __future__ import annotations

from nunet.errors import NunetError


class CapabilityIndexError(NunetError):
    """Bad input to the capability index."""


class InvalidQuery(CapabilityIndexError, ValueError):
    """A requirement or limit the index cannot answer; the message names the field."""


class InvalidEvent(CapabilityIndexError, ValueError):
    """An event the index cannot apply (no node DID, a timestamp that is not an int)."""
