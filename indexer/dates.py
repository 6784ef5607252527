"""Date filters as people type them: ``2021``, ``2021-03`` or ``2021-03-08``, real calendar dates only.

The CLI and the web both pass their ``since``/``until`` through :func:`date_range`, so one
rule decides what is a date; a partial date covers its whole year or month.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

from .errors import QueryError

_FORM = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")


def bound(value: str, name: str, end: bool = False) -> str:
    """`value` as YYYY-MM-DD: the first day it covers, or the last with `end`."""
    m = _FORM.fullmatch(value.strip())
    try:
        if not m:
            raise ValueError
        year, month, day = int(m[1]), int(m[2] or (12 if end else 1)), m[3]
        last = calendar.monthrange(year, month)[1] if 1 <= month <= 12 else 0
        return dt.date(year, month, int(day) if day else (last if end else 1)).isoformat()
    except ValueError:
        raise QueryError(f"{name} is not a date: {value!r}", hint="use YYYY, YYYY-MM or YYYY-MM-DD",
                         code="param.date", name=name, value=value) from None


def date_range(since: str | None, until: str | None) -> tuple[str | None, str | None]:
    """Validated (since, until) as full dates; an empty range is an error, not zero hits."""
    lo = bound(since, "since") if since and since.strip() else None
    hi = bound(until, "until", end=True) if until and until.strip() else None
    if lo and hi and lo > hi:
        raise QueryError(f"the date range is empty: since {lo} is after until {hi}", hint="swap the two dates",
                         code="param.dates", since=lo, until=hi)
    return lo, hi
