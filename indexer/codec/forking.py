"""Forked worker processes that end with the run that forked them."""

from __future__ import annotations

import os
import signal

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> None:
    """Make this forked worker die when the run that forked it does (kill -9 included).

    Linux's PR_SET_PDEATHSIG sends SIGKILL when the parent ends; where it is missing,
    workers still end when they next talk to the pool. If the parent is already
    gone (it died between fork and here), exit now.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)
