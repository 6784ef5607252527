"""The Flask application: pages for people, JSON for programs, one Searcher per process.

Development: ``flask --app search_ui run``. Production: ``newssearch serve`` (waitress).
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Flask, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException
from werkzeug.routing import PathConverter
from werkzeug.wrappers import Response

from indexer.config import Config
from indexer.errors import ArticleNotFound, IndexCorrupt, IndexNotFound, NewssearchError, QueryError

from .engine import EXTENSION, Engine
from .messages import for_error, message
from .params import MAX_CHARS, query_text

STATUS = {QueryError: 400, ArticleNotFound: 404, IndexNotFound: 503, IndexCorrupt: 503}

SECURITY_HEADERS = {
    # Script only from our own static files (the search-box suggestions, which the pages work without);
    # nothing inline, so nothing injected could run.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class SafeJSON(DefaultJSONProvider):
    """JSON whose strings never hold a literal <, > or &: a query echoed back cannot read as markup anywhere."""

    def dumps(self, obj, **kwargs) -> str:
        text = super().dumps(obj, **kwargs)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


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
    app.json = SafeJSON(app)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.url_map.converters["id"] = IdConverter
    app.url_map.merge_slashes = False  # an id may be a URL: https://…
    app.extensions[EXTENSION] = Engine(config or Config.load())

    from .advanced import bp as advanced_bp
    from .api import bp as api_bp
    from .export import bp as export_bp
    from .follow import bp as follow_bp
    from .pages import bp as pages_bp

    app.register_blueprint(pages_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(follow_bp)
    app.register_blueprint(export_bp)
    app.register_blueprint(advanced_bp)

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
        return _error(status, exc.code, *for_error(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        return _error(status, f"http.{status}", *message(f"http.{status}"))

    return app


def _error(status: int, code: str, text: str, hint: str = ""):
    """The error as JSON under /api/, else as a page that keeps the query and its filters for another try."""
    if request.path.startswith("/api/"):
        return jsonify(error=text, hint=hint or None, code=code, status=status), status
    q = query_text(request.args)
    kept = {k: v for k in ("source", "since", "until", "sort", "new")  # nothing over its cap is echoed
            if len(v := request.args.get(k, "").strip()) <= MAX_CHARS[k]}
    page = render_template("error.html", status=status, message=text, hint=hint, q=q, kept=kept)
    return page, status
