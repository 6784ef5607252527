"""``newssearch serve``: the web UI and JSON API on waitress, a production WSGI server."""

from __future__ import annotations

import sys

import click

from indexer.config import Config
from indexer.errors import NewssearchError

from .options import index_option


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for all).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on; 0 picks a free one (the address is printed).")
@click.option("--threads", type=click.IntRange(1), default=4, show_default=True, help="Worker threads.")
@index_option
def serve(host: str, port: int, threads: int, index_dir: str | None) -> None:
    """Serve the search pages and the JSON API until interrupted.

    The index is reopened whenever an index run has changed it; no restart needed.
    """
    from waitress import create_server

    from .engine import EXTENSION
    from .web import create_app

    config = Config.load(index_dir)
    app = create_app(config)
    try:
        count = app.extensions[EXTENSION].stats()["articles"]
        click.echo(f"newssearch: {count} articles in {config.index}", err=True)
    except NewssearchError as exc:
        click.echo(f"warning: {exc}" + (f"\nhint: {exc.hint}" if exc.hint else ""), err=True)
    # Every request is a GET: refuse bodies over 64 KB (waitress would spool up to 1 GB) and headers over 64 KB.
    try:
        server = create_server(app, host=host, port=port, threads=threads, ident="newssearch",
                               max_request_body_size=1 << 16, max_request_header_size=1 << 16)
    except OSError as exc:  # port in use, no permission, no such address
        click.echo(f"newssearch: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    click.echo(f"newssearch: serving on http://{host}:{server.effective_port}/  (Ctrl-C to stop)", err=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
