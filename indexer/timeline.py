"""How many hits of a query were published per month, or per year for long spans.

The span runs from the first to the last hit, widened to the date filters when
they lie within the same years as the hits, so a year picked on the chart shows
all twelve months. Buckets with no hits are kept: a gap in the news is news.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_MONTHS = 36  # longer spans are counted per year


@dataclass
class Bucket:
    label: str  # "2020-03" or "2020"
    since: str  # the bucket's first and last day, within the date filters: what a click narrows to
    until: str
    count: int


@dataclass
class Timeline:
    unit: str  # "month" or "year"; "" when nothing dated matched
    buckets: list[Bucket] = field(default_factory=list)
    undated: int = 0

    @property
    def total(self) -> int:
        return sum(b.count for b in self.buckets) + self.undated

    @property
    def peak(self) -> int:
        return max((b.count for b in self.buckets), default=0)

    def as_dict(self) -> dict[str, Any]:
        return {"unit": self.unit, "buckets": [asdict(b) for b in self.buckets], "undated": self.undated}


def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _span(dates: list[str], since: str | None, until: str | None) -> tuple[dt.date, dt.date]:
    first, last = _day(min(dates)), _day(max(dates))
    lo = max(_day(since), dt.date(first.year, 1, 1)) if since else first
    hi = min(_day(until), dt.date(last.year, 12, 31)) if until else last
    return lo, hi


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)


def build(dates: Iterable[str | None], since: str | None = None, until: str | None = None) -> Timeline:
    """Count `dates` (YYYY-MM-DD, or None for undated hits) into month or year buckets."""
    all_dates = list(dates)
    dated = [d for d in all_dates if d]
    undated = len(all_dates) - len(dated)
    if not dated:
        return Timeline("", [], undated)
    lo, hi = _span(dated, since, until)
    months = (hi.year - lo.year) * 12 + hi.month - lo.month + 1
    unit = "month" if months <= MAX_MONTHS else "year"
    width = 7 if unit == "month" else 4
    counts = Counter(d[:width] for d in dated)
    buckets = []
    if unit == "month":
        starts = [(lo.year + (lo.month - 1 + i) // 12, (lo.month - 1 + i) % 12 + 1) for i in range(months)]
        spans = [(f"{y:04d}-{m:02d}", dt.date(y, m, 1), _month_end(y, m)) for y, m in starts]
    else:
        spans = [(f"{y:04d}", dt.date(y, 1, 1), dt.date(y, 12, 31)) for y in range(lo.year, hi.year + 1)]
    for label, start, end in spans:
        first = max(start, _day(since)) if since else start
        last = min(end, _day(until)) if until else end
        buckets.append(Bucket(label, first.isoformat(), last.isoformat(), counts.get(label, 0)))
    return Timeline(unit, buckets, undated)
