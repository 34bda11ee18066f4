"""Child processes that cannot outlive their parent: Linux's PR_SET_PDEATHSIG, set after fork."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """A `preexec_fn`: the kernel sends `sig` to the child when the thread that forked it ends.

    Fork from the thread that lives as long as the child should (the event-loop thread), since
    the signal is tied to that thread, not to the process. A no-op where prctl is unavailable.
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return
    libc = ctypes.CDLL(name, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    # The parent may have died between fork and prctl; then nobody would ever signal us.
    if os.getppid() == 1:
        os.kill(os.getpid(), sig)
