"""Child processes that cannot outlive their parent: Linux's PR_SET_PDEATHSIG, set after fork."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` making the kernel send `sig` to the child when its parent dies.

    libc is resolved here, in the parent, so the forked child only makes two system calls. The
    signal is tied to the forking *thread*: spawn from the thread that lives as long as the child
    should (the event-loop thread). SIGTERM by default, so the child can shut down cleanly.
    On other systems: None (then the parent's own stop is the only guarantee).
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died between fork and prctl
            os._exit(1)

    return preexec
