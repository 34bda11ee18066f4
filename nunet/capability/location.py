"""Location rules: which locations a rule matches, and whether one rule lies inside another."""

from __future__ import annotations

from nunet.capability.model import Location, LocationRule

LOCATION_FIELDS = ("continent", "country", "city", "asn")


def rule_matches(rule: LocationRule, location: Location) -> bool:
    """Every non-empty field of the rule equals the location's (case-insensitive; asn 0: any).

    An unknown (empty) field of the location matches no non-empty field of a rule, so an
    accept rule never admits an unknown location and a reject rule never refuses one.
    """
    return all(
        _empty(want) or _norm(want) == _norm(getattr(location, name))
        for name, want in _fields(rule)
    )


def rule_within(inner: LocationRule, outer: LocationRule) -> bool:
    """Whether every location `inner` matches is matched by `outer` too."""
    return all(
        _empty(want) or (not _empty(have) and _norm(want) == _norm(have))
        for (name, want), (_, have) in zip(_fields(outer), _fields(inner), strict=True)
    )


def describe_location(where: Location | LocationRule) -> str:
    """`EU/DE/Berlin AS3320`, `*/DE`, `anywhere`: the spelling `location_from_user` accepts."""
    parts = [where.continent or "*", where.country or "*", where.city or "*"]
    while parts and parts[-1] == "*":
        parts.pop()
    text = "/".join(parts)
    if where.asn:
        text = f"{text} AS{where.asn}" if text else f"AS{where.asn}"
    return text or "anywhere"


def _fields(where: Location | LocationRule) -> list[tuple[str, str | int]]:
    return [(name, getattr(where, name)) for name in LOCATION_FIELDS]


def _empty(value: str | int) -> bool:
    return value in ("", 0)


def _norm(value: str | int) -> str:
    return str(value).casefold()
