"""Search parameters from a web request: validated once, shared by the pages and the JSON API."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from indexer.errors import QueryError
from indexer.query import MAX_QUERY_CHARS
from indexer.search import MAX_PAGE

MAX_LIMIT = 100
DEFAULT_LIMIT = 10
SORTS = ("relevance", "date")
# Longest value each parameter may have, checked before anything else is done with it: a long
# source= costs the engine time under its lock, and every value may be echoed in the page.
MAX_CHARS = {"q": MAX_QUERY_CHARS, "source": 100, "since": 20, "until": 20, "page": 10, "limit": 10, "sort": 20,
             "new": 10}


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

    def engine_kwargs(self) -> dict[str, Any]:
        return {"limit": self.limit, "page": self.page, "sort": self.sort, **self.filters()}

    def filters(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "source": self.source, "new": self.new}

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
        raise QueryError(f"{name} must be a whole number, not {raw!r}", hint=f"use {low}…{high}") from None
    if not low <= value <= high:
        raise QueryError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _date(args: Mapping[str, str], name: str) -> str | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        if len(raw) != 10:
            raise ValueError
        return dt.date.fromisoformat(raw).isoformat()
    except ValueError:
        raise QueryError(f"{name} must be a date like 2014-09-10, not {raw!r}") from None


def _flag(args: Mapping[str, str], name: str) -> bool:
    raw = (args.get(name) or "").strip().lower()
    if raw not in ("", "0", "1", "true", "false", "on", "off", "yes", "no"):
        raise QueryError(f"{name} must be 1 or 0, not {raw!r}")
    return raw in ("1", "true", "on", "yes")


def check_lengths(args: Mapping[str, str]) -> None:
    """QueryError (a 400) when a parameter is longer than MAX_CHARS allows; its value is not repeated."""
    for name, cap in MAX_CHARS.items():
        n = len(args.get(name) or "")
        if n > cap:
            raise QueryError(f"{name} is too long ({n} characters, at most {cap})")


def query_text(args: Mapping[str, str]) -> str:
    """The q parameter, stripped, or "" when it is longer than any query may be (for pages that only echo it)."""
    q = (args.get("q") or "").strip()
    return q if len(q) <= MAX_CHARS["q"] else ""


def parse_args(args: Mapping[str, str]) -> SearchParams:
    """Validate request arguments; raises QueryError (a 400) for anything out of range."""
    check_lengths(args)
    sort = (args.get("sort") or "relevance").strip()
    if sort not in SORTS:
        raise QueryError(f"sort must be relevance or date, not {sort!r}")
    since, until = _date(args, "since"), _date(args, "until")
    if since and until and since > until:
        raise QueryError(f"the date range is empty: since {since} is after until {until}")
    return SearchParams(
        q=(args.get("q") or "").strip(),
        page=_int(args, "page", 1, 1, MAX_PAGE),
        limit=_int(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        sort=sort,
        since=since,
        until=until,
        source=(args.get("source") or "").strip() or None,
        new=_flag(args, "new"),
    )
