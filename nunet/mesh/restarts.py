"""Restart intensity: how often a crashed server is restarted, and when supervision gives up.

A pure policy (time is passed in), so every case is tested without processes or an event loop.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class RestartIntensity:
    """At most `max_restarts` within `window_s`; each restart in a burst waits twice as long."""

    max_restarts: int = 5
    window_s: float = 60.0
    base_delay_s: float = 0.1
    max_delay_s: float = 5.0
    _restarts: deque[float] = field(default_factory=deque, init=False, repr=False)

    def on_exit(self, now: float) -> float | None:
        """Seconds to wait before restarting after a crash at `now`; None: give up."""
        while self._restarts and self._restarts[0] <= now - self.window_s:
            self._restarts.popleft()
        if len(self._restarts) >= self.max_restarts:
            return None
        self._restarts.append(now)
        return float(min(self.max_delay_s, self.base_delay_s * 2 ** (len(self._restarts) - 1)))

    @property
    def recent_restarts(self) -> int:
        return len(self._restarts)
