"""Forked worker processes that end with the run that forked them."""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.pool import AsyncResult
from typing import Any

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def cpu_seconds() -> float:
    """CPU seconds of this process and of its ended children (the forked processes a merge waited for)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


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


def can_fork() -> bool:
    """Whether a second process can share the work: fork is there and so is a second core."""
    return "fork" in multiprocessing.get_all_start_methods() and (os.cpu_count() or 1) >= 2


_job: Callable[[], Any] | None = None  # what the forked process runs (it inherits it: nothing is pickled)


@contextmanager
def forked(job: Callable[[], Any]) -> Iterator[AsyncResult]:
    """job() started on a forked process that dies with this one; yields its result to come (ended on leaving).

    The forked process sees what this one held when it forked; its result
    comes back pickled. What it writes must be files no TOC names (a run
    killed at any point leaves nothing else). This one and it must not read
    through one open file (a forked process shares its offset).
    """
    global _job
    _job = job
    gc.freeze()  # a collection in the child would touch (and so copy) every page of the parent's objects
    try:
        pool = multiprocessing.get_context("fork").Pool(1, initializer=die_with_parent, initargs=(os.getpid(),))
    finally:
        _job = None
        gc.unfreeze()
    with pool:
        yield pool.apply_async(_run_job)


def in_two(here: Callable[[], Any], there: Callable[[], Any]) -> tuple[Any, Any]:
    """(here(), there()), `there` run at the same time on a forked process (`forked`)."""
    with forked(there) as later:
        first = here()
        return first, later.get()


def _run_job() -> Any:
    assert _job is not None
    return _job()
