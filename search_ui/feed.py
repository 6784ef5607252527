"""Atom 1.0 feeds of a search, so a reader can subscribe to a query.

Entry ids are ``urn:uuid:`` names derived from the article id (never from the
Whoosh document number), so a reindex or a rebuild does not make a feed reader
show an article twice. A feed's id is derived from the query and its filters.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Mapping
from urllib.parse import quote, urlencode

from feedgen.feed import FeedGenerator

from indexer.results import Hit, SearchResult

GENERATOR = "newssearch"
TITLE = "政务新闻搜索"  # feeds are read in Chinese feed readers: the titles are the web UI's words
FILTER_LABELS = {"since": "起始", "until": "截至", "source": "发布单位"}
# Not the page, limit or sort: the same subscription whatever page it was found on.
IDENTITY = ("q", "since", "until", "source", "new", "scope")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def entry_id(article_id: str) -> str:
    """A stable, opaque Atom id for an article."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'newssearch:article:' + article_id)}"


def feed_id(params: Mapping[str, object]) -> str:
    key = urlencode(sorted((k, str(v)) for k, v in params.items() if k in IDENTITY and v not in (None, "")))
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'newssearch:feed?' + key)}"


def article_link(base_url: str, article_id: str, q: str = "") -> str:
    """The web page of an article, with the query's words highlighted."""
    link = f"{base_url.rstrip('/')}/article/{quote(article_id, safe='')}"
    return f"{link}?{urlencode({'q': q})}" if q else link


def _text(value: str) -> str:
    """Drop the characters XML 1.0 cannot carry (article text may hold control characters)."""
    return _NOT_XML.sub("", value)


def _when(hit: Hit) -> dt.datetime:
    """Publication day at 00:00 UTC; an undated article counts from the run that indexed it."""
    if hit.date:
        return dt.datetime.fromisoformat(hit.date).replace(tzinfo=dt.UTC)
    return dt.datetime.fromtimestamp(hit.added or 0, dt.UTC)


def build_feed(
    result: SearchResult,
    base_url: str,
    params: Mapping[str, object],
    article_url: Callable[[str], str] | None = None,
) -> bytes:
    """The Atom document for `result`, the hits of the search `params` (q, since, until, source, new, …).

    `base_url` is where the web UI is served; `article_url` overrides how an article id becomes a link.
    """
    base = base_url.rstrip("/")
    args = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    link = article_url or (lambda aid: article_link(base, aid, result.query))
    fg = FeedGenerator()
    fg.id(feed_id(params))
    filters = [f"{label} {params[k]}" for k, label in FILTER_LABELS.items() if params.get(k)]
    fg.title(_text(f"{TITLE}：{result.query}" + (f"（{'，'.join(filters)}）" if filters else "")))
    fg.subtitle(f"共 {result.total:,} 篇相关文章，最新的在前")
    fg.author({"name": GENERATOR})
    fg.generator(GENERATOR)
    fg.link(href=f"{base}/feed?{args}", rel="self", type="application/atom+xml")
    fg.link(href=f"{base}/search?{args}", rel="alternate", type="text/html")
    times = [_when(h) for h in result.hits]
    fg.updated(max(times, default=dt.datetime.now(dt.UTC)))
    for hit, when in zip(result.hits, times, strict=True):
        fe = fg.add_entry(order="append")
        fe.id(entry_id(hit.id))
        fe.title(_text(hit.title) or hit.id)
        # One link only: feedgen 1.0.0 drops the rel and type of entry links, so any second one
        # would be a second "alternate" (the article page links to the original anyway).
        fe.link(href=link(hit.id), rel="alternate")
        fe.published(when)
        fe.updated(when)
        if hit.source:
            fe.author({"name": _text(hit.source)})
        fe.summary(_text(hit.snippet), type="html")
    return fg.atom_str(pretty=True)
