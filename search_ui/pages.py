"""The HTML pages: home, results, article, and the OpenSearch description."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from markupsafe import Markup

from indexer.errors import QueryError
from indexer.export import MAX_ROWS
from indexer.normalize import is_han, normalize
from indexer.query import lex, parse
from indexer.results import words_for_display
from indexer.search import Searcher
from indexer.snippet import highlight_html

from .engine import EXTENSION, run_search, searcher
from .follow import timeline_context
from .params import SearchParams, parse_args, query_text

bp = Blueprint("pages", __name__)
RELATED = 5
REFINEMENTS = 8  # 相关搜索 under the results
TRENDING_SHOWN = 12  # 热点词 on the home page
TEXT_COOKIE = "textsize"
TEXT_SIZES = ("large", "normal")


@bp.get("/")
def home():
    q = query_text(request.args)
    if q:
        return redirect(url_for(".search", q=q))
    engine = current_app.extensions[EXTENSION]
    trend = engine.trending()
    return render_template("home.html", stats=engine.stats(), trend=trend, trending=trend.terms[:TRENDING_SHOWN],
                           export_cap=MAX_ROWS)


@bp.get("/search")
def search():
    p = parse_args(request.args)
    within = request.args.get("within", "").strip()
    if within:  # 在结果中搜索: the words join the query; every filter stays
        return redirect(url_for(".search", **p.link(q=f"{p.q} {within}".strip())))
    if not p.q:
        return redirect(url_for(".home"))
    with searcher() as s:
        result = run_search(s, p)
        by_source = s.facets(p.q, p.since, p.until, new=p.new, scope=p.scope)
        unfiltered = not (p.since or p.until or p.source)
        by_year = by_source["year"] if unfiltered else s.facets(p.q, source=p.source, new=p.new, scope=p.scope)["year"]
        tries = [] if result.total else other_searches(s, p, result.suggestions)
        refine = s.refinements(p.q, n=REFINEMENTS, **p.filters()) if result.total else []
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
        reading=understood(result.query),
        tries=tries,
        refine=refine,
        presets=p.presets(dt.date.today()),
        advanced=request.args.get("from") == "advanced",
        **follow,
    )


@bp.get("/display")
def display():
    """适老化 large text, without script: a link sets a cookie for a year and goes back where it came from."""
    size = request.args.get("size", "")
    if size not in TEXT_SIZES:
        raise QueryError(f"size must be {' or '.join(TEXT_SIZES)}, not {size!r}")
    back = request.args.get("next", "")
    # Only this site's pages: browsers read "//host", "/\\host" and "/<tab>/host" as another site.
    if not back.startswith("/") or back.startswith("//") or "\\" in back or not back.isprintable():
        back = url_for(".home")
    response = redirect(back, code=303)
    if size == "large":
        response.set_cookie(TEXT_COOKIE, "large", max_age=365 * 86400, samesite="Lax", httponly=True)
    else:
        response.delete_cookie(TEXT_COOKIE, samesite="Lax", httponly=True)
    return response


MAX_NEXT = 2000  # characters of the current address the 大字版 link carries back


@bp.app_context_processor
def text_size() -> dict[str, Any]:
    """Every page knows whether large text is on, and the links that switch it."""
    here = request.full_path.rstrip("?") if request.path != url_for("pages.display") else url_for("pages.home")
    if len(here) > MAX_NEXT:  # an oversized request is not echoed back in every page's link
        here = request.path
    return {"large_text": request.cookies.get(TEXT_COOKIE) == "large",
            "text_size_link": lambda size: url_for("pages.display", size=size, next=here)}


@bp.get("/article/<id:article_id>")
def article(article_id: str):
    q = query_text(request.args)
    with searcher() as s:
        art = s.article(article_id)
        rel = s.related(art["id"], n=RELATED)
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


@bp.app_template_filter("script")
def script(text: str | None) -> str:
    """The lang tag for Chinese text: zh-Hant when it has a Traditional form, else zh-Hans (the page's)."""
    text = text or ""
    return "zh-Hant" if any(is_han(a) and a != b for a, b in zip(text, normalize(text), strict=True)) else "zh-Hans"


@bp.app_template_filter("unqueried")
def unqueried(words: list[str], terms: list[str], n: int = 5) -> list[str]:
    """The first `n` keywords that are not what was searched for (every hit has those)."""
    return [w for w in words if normalize(w) not in terms][:n]


@bp.get("/opensearch.xml")
def opensearch():
    return Response(render_template("opensearch.xml"), mimetype="application/opensearchdescription+xml")


def highlight_terms(q: str) -> list[str]:
    """What to mark in an article reached from a search; nothing when the query is unreadable."""
    try:
        return parse(q).highlight_terms() if q else []
    except QueryError:
        return []


def looser_query(q: str) -> str | None:
    """A query that finds more: phrases unquoted, else the last term dropped."""
    tokens = lex(q)
    if any(t.kind == "phrase" for t in tokens):
        return " ".join(t.value if t.kind == "phrase" and not (t.negated or t.field) else t.source(q)
                        for t in tokens if t.kind != "phrase" or t.value.strip()) or None
    if len(tokens) > 1:
        kept = tokens[:-1]
        while kept and kept[-1].kind in ("or", "and", "not"):
            kept.pop()
        return " ".join(t.source(q) for t in kept) or None
    words = words_for_display(tokens[0].value) if tokens and tokens[0].kind == "term" else []
    return " ".join(words[:-1]) if len(words) > 1 else None


def understood(q: str) -> list[dict[str, Any]]:
    """How the query was read, for people: per term its alternatives, each a phrase or the words that must occur."""
    try:
        parsed = parse(q)
    except QueryError:
        return []
    return [
        {"negated": c.negated,
         "alts": [{"field": a.fields[0] if len(a.fields) == 1 else None,
                   "words": [a.text] if a.phrase else words_for_display(a.text), "phrase": a.phrase}
                  for a in c.atoms]}
        for c in parsed.clauses
    ]


def other_searches(s: Searcher, p: SearchParams, suggested: list[str]) -> list[tuple[str, dict[str, Any], int]]:
    """Searches to try after a miss, as (label, link arguments, hits), only those that find something.

    The engine's did-you-mean list is shown on its own; a looser query it already offers is not repeated.
    """
    tries: list[tuple[str, dict[str, Any], int]] = []
    loose = looser_query(p.q)
    candidates = [(f"放宽条件：{loose}", p.link(q=loose))] if loose and loose not in suggested else []
    if p.source or p.since or p.until or p.new:
        candidates.append(("去掉筛选条件，搜索同样的词", p.link(source=None, since=None, until=None, new=False)))
    for label, args in candidates:
        try:
            total = s.search(args["q"], limit=1, new=bool(args.get("new")), suggest=False, keywords=False,
                             scope=args.get("scope", "all"),
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
