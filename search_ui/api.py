"""The JSON API: the shapes of ``newssearch query --json`` and ``show --json``; errors are JSON too."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from .engine import EXTENSION, run_search, searcher
from .params import parse_args

bp = Blueprint("api", __name__, url_prefix="/api")
PRIVATE = ("digest", "file")  # bookkeeping, and the server's file paths
MAX_SUGGEST_CHARS = 40


@bp.get("/search")
def search():
    """?q=&page=&limit=&sort=&since=&until=&source=&new=&scope= → query, total, page, hits, facets, timeline."""
    p = parse_args(request.args)
    with searcher() as s:
        result = run_search(s, p)
        facets = s.facets(p.q, **p.filters())
        timeline = s.timeline(p.q, **p.filters())
    return jsonify({**result.as_dict(), "facets": facets, "timeline": timeline.as_dict()})


@bp.get("/trending")
def trending():
    """热点词 → since, until (the newest 30 days), baseline_since, baseline_until, articles, baseline_articles, terms.

    Each term: term (as written), articles, baseline (article counts), share, baseline_share, score; best first.
    """
    return jsonify(current_app.extensions[EXTENSION].trending().as_dict())


@bp.get("/suggest")
def suggest():
    """?q= → {"query", "suggestions"}: up to 10 index words that the text begins, by Chinese, pinyin or initials."""
    q = request.args.get("q", "")
    if not q.strip() or len(q) > MAX_SUGGEST_CHARS:
        return jsonify({"query": q, "suggestions": []})
    with searcher() as s:
        return jsonify({"query": q, "suggestions": s.complete(q)})


@bp.get("/article/<id:article_id>")
def article(article_id: str):
    with searcher() as s:
        art = s.article(article_id)
    return jsonify({k: v for k, v in art.items() if k not in PRIVATE})
