"""Behavior paths and the capabilities that cover them: prefixes by whole path segment.

`/dms` covers `/dms` and `/dms/node/peers/list` but not `/dmsx`; `/` covers everything.
Behaviors under `/public` need no capability at all.
"""

from __future__ import annotations

import re

from nunet.ucan.errors import CapabilityError

PUBLIC = "/public"
_SEGMENT = re.compile(r"^[A-Za-z0-9_.:*~@+-]+$")
_TOPIC = re.compile(r"^\S{1,256}$")


def is_public(behavior: str) -> bool:
    """True when `behavior` is `/public` or lies under it: such calls need no capability."""
    return covers(PUBLIC, behavior)


def covers(capability: str, behavior: str) -> bool:
    """True when `capability` is `behavior` or one of its ancestors, segment by segment."""
    if capability == "/":
        return True
    return behavior == capability or behavior.startswith(capability + "/")


def check_path(path: str) -> str:
    """Return `path` if it is a well-formed behavior path; raise CapabilityError naming the flaw."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise CapabilityError(f"{path!r} is not a behavior path: it must start with '/'")
    if path == "/":
        return path
    if len(path) > 512:
        raise CapabilityError(f"behavior path {path[:40]!r}... is longer than 512 characters")
    for segment in path[1:].split("/"):
        if not _SEGMENT.fullmatch(segment):
            raise CapabilityError(
                f"{path!r} is not a behavior path: segment {segment!r} is empty or has"
                " characters outside letters, digits and _.:*~@+-"
            )
    return path


def check_topic(topic: str) -> str:
    """Return `topic` if it is a usable broadcast topic name (1-256 non-space characters)."""
    if not isinstance(topic, str) or not _TOPIC.fullmatch(topic):
        raise CapabilityError(f"{topic!r} is not a topic: use 1-256 non-space characters")
    return topic


def narrower(child: str, parents: tuple[str, ...] | list[str]) -> bool:
    """True when some capability in `parents` covers the capability `child`."""
    return any(covers(parent, child) for parent in parents)
