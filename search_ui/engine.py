"""One Searcher per web process, shared by the request threads under a lock."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app

from indexer.config import Config
from indexer.search import Searcher, SearchResult
from indexer.trending import Trending

from .params import SearchParams

EXTENSION = "newssearch"
TRENDING = 20  # terms kept for the home page and /api/trending


class Engine:
    """Holds the process's Searcher; it reopens itself when a run has changed the index.

    Whoosh searchers are not documented as thread-safe and waitress serves from a
    thread pool, so every use goes through one lock (searches take milliseconds).
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self._searcher = Searcher(config)
        self._lock = threading.Lock()
        self._cache: dict[str, Any] = {}
        self._cache_key = ""

    @contextmanager
    def use(self) -> Iterator[Searcher]:
        """The Searcher, held for one request: a query's matches are evaluated once in it."""
        with self._lock, self._searcher.request():
            yield self._searcher

    def _per_run(self, name: str, compute: Callable[[Searcher], Any]) -> Any:
        """compute(searcher), kept until an index run changes the index (home-page figures walk many documents)."""
        with self._lock:
            key = json.dumps(self._searcher.store.state(), sort_keys=True, default=str)
            if key != self._cache_key:
                self._cache, self._cache_key = {}, key
            if name not in self._cache:
                self._cache[name] = compute(self._searcher)
            return self._cache[name]

    def stats(self) -> dict[str, Any]:
        """Index figures for the home page."""
        return self._per_run("stats", Searcher.stats)

    def trending(self) -> Trending:
        """The home page's 热点词 and /api/trending (indexer.trending)."""
        return self._per_run("trending", lambda s: s.trending(TRENDING))

    def close(self) -> None:
        with self._lock:
            self._searcher.close()


@contextmanager
def searcher() -> Iterator[Searcher]:
    """The current app's Searcher, held exclusively for the `with` block."""
    with current_app.extensions[EXTENSION].use() as s:
        yield s


def run_search(s: Searcher, p: SearchParams, **extra: Any) -> SearchResult:
    """Search with validated parameters; a page past the last one is empty, not the last page again.

    `extra` goes to Searcher.search (e.g. suggest=False where nobody reads suggestions).
    """
    result = s.search(p.q, **p.engine_kwargs(), **extra)
    if result.total and p.page > p.pages(result.total):
        result.hits = []
    return result
