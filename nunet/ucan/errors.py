"""Errors raised at the capability boundary: denied invocations, bad tokens, bad anchor files."""

from nunet.errors import NunetError


class CapabilityError(NunetError):
    """Something about a capability token, a revocation or an anchor file is wrong."""


class CapabilityDenied(CapabilityError):
    """An invocation or a delegation is not allowed; the message names what failed."""


class MalformedToken(CapabilityDenied):
    """Bytes or text that do not decode to a well-formed, canonical token or revocation."""


class AnchorError(CapabilityError):
    """An anchor file is missing, unreadable or damaged, or an anchor is not acceptable."""
