"""What a search returns: hits with snippets, and a page of them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .normalize import normalize
from .query import words_of
from .snippet import fragments, to_html


@dataclass
class Hit:
    id: str
    title: str
    date: str | None
    source: str | None
    url: str | None
    score: float
    snippet: str
    fragments: list = field(default_factory=list, repr=False)  # the snippet as (text, is a match) pieces
    keywords: list[str] = field(default_factory=list)  # indexer.keywords, as written in the article
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    added: int | None = None  # unix time of the index run that wrote it

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("fragments")
        return d


@dataclass
class SearchResult:
    query: str
    total: int
    page: int
    hits: list[Hit]
    seconds: float
    terms: list[str]
    suggestions: list[str] = field(default_factory=list)  # did you mean (indexer.suggest), best first
    pages: int = 1  # pages of this size that hold the hits (at most MAX_PAGE)
    also: list[str] = field(default_factory=list)  # regional wording also searched (indexer.regional): 計程車

    def as_dict(self) -> dict[str, Any]:
        return {"query": self.query, "total": self.total, "page": self.page, "pages": self.pages,
                "hits": [h.as_dict() for h in self.hits], "suggestions": self.suggestions, "also_searched": self.also}


def make_hit(stored: dict, score: float | None, terms: list[str]) -> Hit:
    """A hit from an article's stored fields, with a snippet marking `terms`."""
    frags = fragments(stored.get("body") or stored.get("title") or "", terms)
    return Hit(
        id=stored["id"],
        title=stored.get("title", ""),
        date=stored.get("date") or None,
        source=stored.get("source") or None,
        url=stored.get("url") or None,
        score=round(float(score or 0.0), 4),
        snippet=to_html(frags),
        fragments=frags,
        added=stored.get("added"),
    )


def words_for_display(text: str) -> list[str]:
    """How an unquoted query is segmented (shown to users when a search misses)."""
    return words_of(normalize(text))
