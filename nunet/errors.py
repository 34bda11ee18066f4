"""The root of every nunet domain error: a message a user can act on."""


class NunetError(Exception):
    """Base class of every error nunet raises on purpose."""
