"""Following a topic on the web: the Atom feed of a search and the timeline chart of its hits."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from flask import Blueprint, Response, request

from indexer.errors import QueryError
from indexer.search import Searcher
from indexer.timeline import Timeline

from .engine import run_search, searcher
from .feed import build_feed
from .params import SearchParams, parse_args

bp = Blueprint("follow", __name__)
FEED_LIMIT = 50  # entries when the feed URL names no limit
ATOM = "application/atom+xml"
# Chart geometry, in SVG user units (the SVG scales to the page width): bars above the axis, two rows of
# labels below it (months, then years), PAD on each side so that centred labels at the ends are not cut.
WIDTH, HEIGHT, AXIS, PAD = 600, 150, 60, 24
# At most this many labels in a row: 16-unit text on a desktop, 26-unit text on a phone (style.css), where the
# chart is ~340 px wide and 26 units are ~15 px. Strides divide 12 so that month labels keep to the calendar.
MAX_TICKS = {"wide": 12, "narrow": 5}
STRIDES = (1, 2, 3, 4, 6, 12)
YEAR_ROOM = 64  # units a year label needs beside the next one (four digits at 26 units)


def feed_params(p: SearchParams) -> dict[str, object]:
    """What identifies a subscription, in the feed's links and id (the CLI builds the same)."""
    return {"q": p.q, **p.filters(), "new": 1 if p.new else None, "scope": None if p.scope == "all" else p.scope}


@bp.get("/feed")
def feed():
    """The Atom feed of /search with the same parameters, newest first."""
    p = parse_args(request.args)
    if not p.q:
        raise QueryError("a feed needs a query", hint="e.g. /feed?q=整改", code="feed.no_query")
    p = replace(p, sort="date", limit=p.limit if request.args.get("limit") else FEED_LIMIT)
    with searcher() as s:
        result = run_search(s, p, suggest=False, keywords=False)
    return Response(build_feed(result, request.url_root, feed_params(p)), mimetype=ATOM)


@dataclass
class Bar:
    label: str
    count: int
    link: dict[str, object] | None  # search arguments that narrow to this bar; None when it is empty
    x: float
    y: float
    width: float
    height: float
    ticks: dict[str, str]  # label under the bar on a wide and a narrow screen ("" for none: labels never crowd)
    year: str  # second row of a monthly chart: the year, at its first bar and at each January
    slot: tuple[float, float]  # x and width of the bar's whole column: what a click or tap hits

    @property
    def centre(self) -> float:
        return round(self.slot[0] + self.slot[1] / 2, 1)


def _stride(n: int, most: int) -> int:
    return next((k for k in STRIDES if n / k <= most), -(-n // most))


def _tick(tl: Timeline, i: int, most: int) -> str:
    """Bar `i`'s label when a row holds at most `most` labels: every k-th year, or months on the calendar's k-th."""
    label, n = tl.buckets[i].label, len(tl.buckets)
    k = _stride(n, most)
    if tl.unit == "year":
        return label if (int(label) - int(tl.buckets[0].label)) % k == 0 else ""
    month = int(label[5:])
    return f"{month}月" if (month - 1) % k == 0 else ""


def _year(tl: Timeline, i: int) -> str:
    """The year under a monthly chart's first bar (unless the next January is too close) and under each January."""
    if tl.unit != "month":
        return ""
    label, n = tl.buckets[i].label, len(tl.buckets)
    if label.endswith("-01"):
        return label[:4]
    first_january = next((k for k, b in enumerate(tl.buckets) if b.label.endswith("-01")), n)
    return label[:4] if i == 0 and first_january * WIDTH / n >= YEAR_ROOM else ""


def chart(tl: Timeline, p: SearchParams) -> list[Bar]:
    """Bars for the timeline's inline SVG (nothing for fewer than two); the tallest fills the chart."""
    n = len(tl.buckets)
    if n < 2:
        return []
    step, top = WIDTH / n, HEIGHT - AXIS
    bars = []
    for i, b in enumerate(tl.buckets):
        h = round(max(b.count / tl.peak * (top - 4), 1.5), 1) if b.count else 0
        link = p.link(since=b.since, until=b.until) if b.count else None
        ticks = {size: _tick(tl, i, most) for size, most in MAX_TICKS.items()}
        bars.append(Bar(b.label, b.count, link, round(i * step + step * 0.1, 1), round(top - h, 1),
                        round(step * 0.8, 1), h, ticks, _year(tl, i), (round(i * step, 1), round(step, 1))))
    return bars


def timeline_context(s: Searcher, p: SearchParams) -> dict[str, Any]:
    """What the search page's timeline needs (templates/_follow.html)."""
    tl = s.timeline(p.q, **p.filters())
    return {"timeline": tl, "bars": chart(tl, p), "width": WIDTH, "height": HEIGHT, "axis": AXIS, "pad": PAD}
