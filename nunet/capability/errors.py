"""The errors the capability model raises: each message names the field path and the fix."""

from __future__ import annotations

from nunet.errors import NunetError


class CapabilityError(NunetError, ValueError):
    """Bad capability or requirement input; the message starts with the field path."""


class RequirementError(CapabilityError):
    """A requirement that is malformed or contradicts itself (it could never be met)."""
