"""The Flask application: pages for people, JSON for programs, one Searcher per process.

Development: ``flask --app search_ui run``. Production: ``newssearch serve`` (waitress).
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import PathConverter
from werkzeug.wrappers import Response

from indexer.config import Config
from indexer.errors import ArticleNotFound, IndexCorrupt, IndexNotFound, NewssearchError, QueryError

from .engine import EXTENSION, Engine
from .params import query_text

STATUS = {QueryError: 400, ArticleNotFound: 404, IndexNotFound: 503, IndexCorrupt: 503}

SECURITY_HEADERS = {
    # No script at all: the pages work without it, and nothing injected could run.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class IdConverter(PathConverter):
    """Article ids are file paths, URLs or file#line: any text, slashes included.

    Slashes stay readable in links, except where a browser or server would
    rewrite the path (a leading, doubled or trailing slash, a "." or ".."
    segment); then the whole id is percent-encoded. '?', '#' and '%' always are.
    """

    regex = ".+"
    part_isolating = False

    def to_url(self, value: str) -> str:
        if any(seg in ("", ".", "..") for seg in value.split("/")):
            return quote(value, safe="")
        return quote(value, safe="/:@!$&'()*+,;=")


def create_app(config: Config | None = None) -> Flask:
    """Build the app for `config` (default: Config.load(), i.e. NEWSSEARCH_INDEX or data/index)."""
    app = Flask(__name__)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.url_map.converters["id"] = IdConverter
    app.url_map.merge_slashes = False  # an id may be a URL: https://…
    app.extensions[EXTENSION] = Engine(config or Config.load())

    from .api import bp as api_bp
    from .follow import bp as follow_bp
    from .pages import bp as pages_bp

    app.register_blueprint(pages_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(follow_bp)

    @app.after_request
    def secure(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.errorhandler(NewssearchError)
    def engine_error(exc: NewssearchError):
        status = next((c for t, c in STATUS.items() if isinstance(exc, t)), 500)
        if status >= 500:  # the operator's log says why, not only the visitor's page
            app.logger.error("%s %s: %s: %s", request.method, request.path, type(exc).__name__, exc)
        return _error(status, str(exc), exc.hint)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return _error(exc.code or 500, exc.description or exc.name)

    return app


def _error(status: int, message: str, hint: str = ""):
    if request.path.startswith("/api/"):
        return jsonify(error=message, hint=hint or None, status=status), status
    q = query_text(request.args)
    page = render_template("error.html", status=status, message=message, hint=hint, q=q)
    return page, status
