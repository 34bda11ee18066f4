"""Restart intensity as a pure policy: backoff within a burst, give up past the limit, recover."""

from __future__ import annotations

from nunet.mesh.restarts import RestartIntensity


def test_each_restart_in_a_burst_waits_twice_as_long_up_to_the_cap() -> None:
    policy = RestartIntensity(max_restarts=10, window_s=60, base_delay_s=0.1, max_delay_s=0.5)
    delays = [policy.on_exit(now) for now in range(6)]
    assert delays == [0.1, 0.2, 0.4, 0.5, 0.5, 0.5]


def test_more_crashes_than_allowed_within_the_window_give_up() -> None:
    policy = RestartIntensity(max_restarts=3, window_s=10)
    assert all(policy.on_exit(t) is not None for t in (0.0, 1.0, 2.0))
    assert policy.on_exit(3.0) is None
    assert policy.recent_restarts == 3


def test_crashes_older_than_the_window_are_forgotten() -> None:
    policy = RestartIntensity(max_restarts=2, window_s=10, base_delay_s=0.1)
    assert policy.on_exit(0.0) == 0.1
    assert policy.on_exit(5.0) == 0.2
    assert policy.on_exit(10.0) == 0.2  # the crash at 0 left the window
    assert policy.on_exit(20.5) == 0.1  # a quiet spell starts a new burst
