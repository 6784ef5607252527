"""The result list as a CSV download: /search.csv takes the same arguments as /search."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, request

from indexer.errors import QueryError
from indexer.export import MAX_ROWS, to_csv

from .engine import searcher
from .params import parse_args

bp = Blueprint("export", __name__)


@bp.get("/search.csv")
def search_csv():
    """Every hit (at most indexer.export.MAX_ROWS) in the page's order; page and limit are ignored.

    The X-Total-Count header says how many articles match, so a client can tell a cut list.
    """
    p = parse_args(request.args)
    if not p.q:
        raise QueryError("an export needs a query", hint="e.g. /search.csv?q=整改")
    with searcher() as s:
        result = s.search(p.q, limit=MAX_ROWS, sort=p.sort, keywords=False, suggest=False, **p.filters())
    response = Response(to_csv(result).encode("utf-8"), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"newssearch.csv\"; filename*=UTF-8''{quote('newssearch-' + p.q[:50] + '.csv')}")
    response.headers["X-Total-Count"] = str(result.total)
    return response
