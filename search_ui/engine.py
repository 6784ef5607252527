"""One Searcher per web process, shared by the request threads under a lock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app

from indexer.config import Config
from indexer.search import Searcher, SearchResult

from .params import SearchParams

EXTENSION = "newssearch"


class Engine:
    """Holds the process's Searcher; it reopens itself when a run has changed the index.

    Whoosh searchers are not documented as thread-safe and waitress serves from a
    thread pool, so every use goes through one lock (searches take milliseconds).
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self._searcher = Searcher(config)
        self._lock = threading.Lock()

    @contextmanager
    def use(self) -> Iterator[Searcher]:
        with self._lock:
            yield self._searcher

    def close(self) -> None:
        with self._lock:
            self._searcher.close()


@contextmanager
def searcher() -> Iterator[Searcher]:
    """The current app's Searcher, held exclusively for the `with` block."""
    with current_app.extensions[EXTENSION].use() as s:
        yield s


def run_search(s: Searcher, p: SearchParams) -> SearchResult:
    """Search with validated parameters; a page past the last one is empty, not the last page again."""
    result = s.search(p.q, **p.engine_kwargs())
    if result.total and p.page > p.pages(result.total):
        result.hits = []
    return result
