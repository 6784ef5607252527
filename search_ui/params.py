"""Search parameters from a web request: validated once, shared by the pages and the JSON API."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from indexer.dates import date_range
from indexer.errors import QueryError
from indexer.query import MAX_QUERY_CHARS, SCOPES
from indexer.search import MAX_PAGE, SORTS

MAX_LIMIT = 100
DEFAULT_LIMIT = 10
# 时间范围 presets: (label, days back from today); the link sets `since` to that day and clears `until`.
DATE_PRESETS = (("近一周", 7), ("近一月", 30), ("近一年", 365))
# Longest value each parameter may have, checked before anything else is done with it: a long
# source= costs the engine time under its lock, and every value may be echoed in the page.
MAX_CHARS = {"q": MAX_QUERY_CHARS, "source": 100, "since": 20, "until": 20, "page": 10, "limit": 10, "sort": 20,
             "new": 10, "scope": 10}


@dataclass(frozen=True)
class SearchParams:
    q: str = ""
    page: int = 1
    limit: int = DEFAULT_LIMIT
    sort: str = "relevance"
    since: str | None = None
    until: str | None = None
    source: str | None = None
    new: bool = False  # only what the latest index run added or changed
    scope: str = "all"  # "title": words that name no field are looked for in titles only

    def engine_kwargs(self) -> dict[str, Any]:
        return {"limit": self.limit, "page": self.page, "sort": self.sort, **self.filters()}

    def filters(self) -> dict[str, Any]:
        """What narrows the hits (the Searcher's keyword arguments): kept when the query changes."""
        return {"since": self.since, "until": self.until, "source": self.source, "new": self.new, "scope": self.scope}

    def kept(self) -> dict[str, Any]:
        """Link arguments to carry into a new query typed in the box: the filters and the sort, not the page."""
        return {k: v for k, v in self.link().items() if k not in ("q", "page")}

    def presets(self, today: dt.date) -> list[tuple[str, dict[str, Any], bool]]:
        """The date presets as (label, link arguments, whether it is the current filter)."""
        out = []
        for label, days in DATE_PRESETS:
            since = (today - dt.timedelta(days=days)).isoformat()
            out.append((label, self.link(since=since, until=None), self.since == since and not self.until))
        return out

    def link(self, **changes: Any) -> dict[str, Any]:
        """Query-string arguments for a link to these parameters with `changes`, defaults left out.

        Any change other than the page goes back to page 1.
        """
        if "page" not in changes:
            changes["page"] = 1
        p = replace(self, **changes)
        defaults = SearchParams()
        return {k: int(v) if isinstance(v, bool) else v
                for k, v in asdict(p).items() if v not in (None, "") and v != getattr(defaults, k)}

    def year(self) -> str | None:
        """The year the date filters select, when they select exactly one whole year."""
        if self.since and self.until and self.since[:4] == self.until[:4]:
            if self.since[5:] == "01-01" and self.until[5:] == "12-31":
                return self.since[:4]
        return None

    def pages(self, total: int) -> int:
        return min(MAX_PAGE, max(1, math.ceil(total / self.limit)))


def _int(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(f"{name} must be a whole number, not {raw!r}", hint=f"use {low}…{high}", code="param.int",
                         name=name, value=raw, low=low, high=high) from None
    if not low <= value <= high:
        raise QueryError(f"{name} must be between {low} and {high}, not {value}", code="param.range", name=name,
                         value=value, low=low, high=high)
    return value


def _flag(args: Mapping[str, str], name: str) -> bool:
    raw = (args.get(name) or "").strip().lower()
    if raw not in ("", "0", "1", "true", "false", "on", "off", "yes", "no"):
        raise QueryError(f"{name} must be 1 or 0, not {raw!r}", code="param.flag", name=name, value=raw)
    return raw in ("1", "true", "on", "yes")


def check_lengths(args: Mapping[str, str]) -> None:
    """QueryError (a 400) when a parameter is longer than MAX_CHARS allows; its value is not repeated."""
    for name, cap in MAX_CHARS.items():
        n = len(args.get(name) or "")
        if n > cap:
            raise QueryError(f"{name} is too long ({n} characters, at most {cap})", code="param.too_long",
                             name=name, chars=n, limit=cap)


def query_text(args: Mapping[str, str]) -> str:
    """The q parameter, stripped, or "" when it is longer than any query may be (for pages that only echo it)."""
    q = (args.get("q") or "").strip()
    return q if len(q) <= MAX_CHARS["q"] else ""


def parse_args(args: Mapping[str, str]) -> SearchParams:
    """Validate request arguments; raises QueryError (a 400) for anything out of range."""
    check_lengths(args)
    sort = (args.get("sort") or "relevance").strip()
    if sort not in SORTS:
        raise QueryError(f"sort must be {', '.join(SORTS)}, not {sort!r}", code="param.sort")
    scope = (args.get("scope") or "all").strip()
    if scope not in SCOPES:
        raise QueryError(f"scope must be {' or '.join(SCOPES)}, not {scope!r}", code="param.scope")
    since, until = date_range(args.get("since"), args.get("until"))
    return SearchParams(
        q=(args.get("q") or "").strip(),
        page=_int(args, "page", 1, 1, MAX_PAGE),
        limit=_int(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        sort=sort,
        since=since,
        until=until,
        source=(args.get("source") or "").strip() or None,
        new=_flag(args, "new"),
        scope=scope,
    )
