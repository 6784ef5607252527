"""Following a topic on the web: the Atom feed of a search and the timeline chart of its hits."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from flask import Blueprint, Response, request

from indexer.errors import QueryError
from indexer.feed import build_feed
from indexer.search import Searcher
from indexer.timeline import Timeline

from .engine import run_search, searcher
from .params import SearchParams, parse_args

bp = Blueprint("follow", __name__)
FEED_LIMIT = 50  # entries when the feed URL names no limit
ATOM = "application/atom+xml"
# Chart geometry, in SVG user units (the SVG scales to the page width).
WIDTH, HEIGHT, AXIS = 600, 96, 20


def feed_params(p: SearchParams) -> dict[str, object]:
    """What identifies a subscription, in the feed's links and id (the CLI builds the same)."""
    return {"q": p.q, **p.filters(), "new": 1 if p.new else None}


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
    tick: str  # written under the bar ("" for none, so that labels never crowd)
    slot: tuple[float, float]  # x and width of the bar's whole column: what a click or tap hits


def _tick(tl: Timeline, i: int) -> str:
    label, n = tl.buckets[i].label, len(tl.buckets)
    if tl.unit == "year":
        return label if i % -(-n // 12) == 0 else ""
    if n <= 12:
        return label[5:]  # the years are in the caption
    if label.endswith("-01"):
        return label[:4]
    first_january = next((k for k, b in enumerate(tl.buckets) if b.label.endswith("-01")), n)
    return label[:4] if i == 0 and first_january >= 3 else ""  # the first year, unless it would crowd


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
        bars.append(Bar(b.label, b.count, link, round(i * step + step * 0.1, 1), round(top - h, 1),
                        round(step * 0.8, 1), h, _tick(tl, i), (round(i * step, 1), round(step, 1))))
    return bars


def timeline_context(s: Searcher, p: SearchParams) -> dict[str, Any]:
    """What the search page's timeline needs (templates/_follow.html)."""
    tl = s.timeline(p.q, **p.filters())
    return {"timeline": tl, "bars": chart(tl, p), "width": WIDTH, "height": HEIGHT, "axis": AXIS}
