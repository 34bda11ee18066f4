"""Money as integers: amounts are micro-units of the contract's currency (1 NTX = 1_000_000).

Cumulative amounts are compared, summed and signed; floats would drift between two parties
that compute the same charge, integers do not.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

import msgspec

MICRO = 1_000_000
MAX_AMOUNT = 2**63 - 1

Amount = Annotated[int, msgspec.Meta(ge=0, le=MAX_AMOUNT)]
"""A non-negative amount in micro-units."""


def to_micro(value: float | str | Decimal) -> int:
    """`value` units as micro-units, rounded half-even; ValueError naming the value when it is
    not a finite, non-negative number."""
    try:
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount (a non-negative number)") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"{value!r} is not an amount (a non-negative number)")
    micro = int((number * MICRO).to_integral_value())
    if micro > MAX_AMOUNT:
        raise ValueError(f"{value!r} is too large an amount")
    return micro


def format_amount(micro: int, currency: str = "") -> str:
    """`1234567` -> `1.234567 NTX` (trailing zeros kept to six places, so columns align)."""
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(micro), MICRO)
    text = f"{sign}{whole}.{frac:06d}"
    return f"{text} {currency}" if currency else text
