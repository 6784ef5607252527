"""The HTML pages: home, results, article, and the OpenSearch description."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from markupsafe import Markup

from indexer.errors import QueryError
from indexer.query import parse
from indexer.search import Hit, Searcher, words_for_display
from indexer.snippet import highlight_html

from .engine import EXTENSION, run_search, searcher
from .follow import timeline_context
from .params import SearchParams, parse_args

bp = Blueprint("pages", __name__)
RELATED = 5


@bp.get("/")
def home():
    q = request.args.get("q", "").strip()
    if q:
        return redirect(url_for(".search", q=q))
    return render_template("home.html", stats=current_app.extensions[EXTENSION].stats())


@bp.get("/search")
def search():
    p = parse_args(request.args)
    if not p.q:
        return redirect(url_for(".home"))
    with searcher() as s:
        result = run_search(s, p)
        by_source = s.facets(p.q, p.since, p.until, new=p.new)
        unfiltered = not (p.since or p.until or p.source)
        by_year = by_source["year"] if unfiltered else s.facets(p.q, source=p.source, new=p.new)["year"]
        tries = [] if result.total else suggestions(s, p)
        follow = timeline_context(s, p)
    return render_template(
        "search.html",
        p=p,
        q=p.q,
        result=result,
        first=(p.page - 1) * p.limit + 1,
        pages=p.pages(result.total),
        sources=by_source["source"],
        years=by_year,
        words=words_for_display(p.q.replace('"', " ")),
        tries=tries,
        **follow,
    )


@bp.get("/article/<id:article_id>")
def article(article_id: str):
    q = request.args.get("q", "").strip()
    with searcher() as s:
        art = s.article(article_id)
        rel = related(s, art)
    return render_template(
        "article.html",
        art=art,
        q=q,
        terms=highlight_terms(q),
        paragraphs=[par for par in (art.get("body") or "").split("\n") if par.strip()],
        original=web_link(art.get("url")),
        indexed=dt.datetime.fromtimestamp(art["added"]).strftime("%Y-%m-%d %H:%M") if art.get("added") else None,
        related=rel,
    )


@bp.app_template_filter("highlight")
def highlight(text: str | None, terms: list[str]) -> Markup:
    """`text` escaped, with `terms` in <mark>: the only markup that article text can carry."""
    return Markup(highlight_html(text or "", terms))


@bp.get("/opensearch.xml")
def opensearch():
    return Response(render_template("opensearch.xml"), mimetype="application/opensearchdescription+xml")


def related(s: Searcher, art: dict[str, Any], limit: int = RELATED) -> list[Hit]:
    """A few other articles on the same subject: for now, any of the title's words, ranked."""
    words = words_for_display(art["title"])[:8]
    if not words:
        return []
    hits = s.search(" OR ".join(words), limit=limit + 1).hits
    return [h for h in hits if h.id != art["id"]][:limit]


def highlight_terms(q: str) -> list[str]:
    """What to mark in an article reached from a search; nothing when the query is unreadable."""
    try:
        return parse(q).highlight_terms() if q else []
    except QueryError:
        return []


def looser_query(q: str) -> str | None:
    """A query that finds more: phrases unquoted, else the last word dropped."""
    if '"' in q:
        return " ".join(q.replace('"', " ").split())
    tokens = q.split()
    if len(tokens) > 1:
        return " ".join(tokens[:-2] if tokens[-2] == "OR" else tokens[:-1])
    words = words_for_display(q)
    return " ".join(words[:-1]) if len(words) > 1 else None


def suggestions(s: Searcher, p: SearchParams) -> list[tuple[str, dict[str, Any], int]]:
    """Searches to try after a miss, as (label, link arguments, hits), only those that find something."""
    tries: list[tuple[str, dict[str, Any], int]] = []
    loose = looser_query(p.q)
    candidates = [(f"a looser query: {loose}", p.link(q=loose))] if loose else []
    if p.source or p.since or p.until or p.new:
        candidates.append(("the same words without filters", p.link(source=None, since=None, until=None, new=False)))
    for label, args in candidates:
        try:
            total = s.search(args["q"], limit=1, new=bool(args.get("new")),
                             **{k: args.get(k) for k in ("since", "until", "source")}).total
        except QueryError:
            continue
        if total:
            tries.append((label, args, total))
    return tries


def web_link(url: str | None) -> str | None:
    """The article's original address, only if it is a web address (never javascript: or data:)."""
    try:
        ok = bool(url) and urlsplit(url.strip()).scheme.lower() in ("http", "https")
    except ValueError:  # e.g. a malformed IPv6 host
        ok = False
    return url.strip() if ok and url else None
