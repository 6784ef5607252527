"""A place where tests park an index run to kill it (tests/test_cron.py, tests/test_merge.py)."""

from __future__ import annotations

import os
import sys
import time


def pause_for_tests(stage: str) -> None:
    """NEWSSEARCH_TEST_PAUSE_AT=<stage> parks a run at read, batch, toc, merge, merged, state or swap (to kill it).

    ``batch`` is after each batch's segments are written, before the next batch (and the TOC).

    ``merge`` is inside the commit, before each merged segment is written;
    ``merged`` after they are written, before the TOC that makes them live.
    """
    if os.environ.get("NEWSSEARCH_TEST_PAUSE_AT") == stage:
        print(f"newssearch: paused at {stage}", file=sys.stderr, flush=True)
        time.sleep(float(os.environ.get("NEWSSEARCH_TEST_PAUSE_SECONDS", "600")))
