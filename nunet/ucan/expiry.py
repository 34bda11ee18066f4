"""Reading an expiry as people write it: a duration from now (`30m`, `1h`, `2d`) or an ISO time."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from nunet.ucan.errors import CapabilityError

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_expiry(text: str, now: float) -> float:
    """The absolute expiry `text` names; raise CapabilityError with the accepted forms."""
    text = text.strip()
    match = _DURATION.fullmatch(text)
    if match:
        amount = int(match.group(1)) * _SECONDS[match.group(2)]
        if amount <= 0:
            raise CapabilityError(f"expiry {text!r} is not in the future")
        return now + amount
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CapabilityError(
            f"expiry {text!r} is neither a duration (30m, 1h, 2d, 1w) nor an ISO 8601 time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
