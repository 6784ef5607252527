"""Searching the index: ranked, filtered, paged results with snippets.

A `Searcher` keeps the current `indexer.snapshot.Snapshot` of the index and answers from it: a
query is compiled and evaluated over all documents at once (`indexer.matches`), once per request
however many of hits, facets, timeline and 相关搜索 a page shows; only the page of hits reads
stored fields.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

import numpy as np

from . import counts, synonyms, vocab
from . import keywords as kw
from . import suggest as sg
from . import trending as trends
from .config import Config
from .errors import ArticleNotFound, IndexCorrupt, NewssearchError, QueryError
from .evaluate import top
from .matches import Filters, Matches
from .normalize import scrub
from .query import parse
from .results import Hit, SearchResult, make_hit
from .sizes import index_sizes
from .snapshot import Snapshot, is_damage
from .store import IndexDir
from .timeline import Timeline, build

__all__ = ["MAX_PAGE", "SORTS", "Hit", "SearchResult", "Searcher"]

MAX_PAGE = 1000
SORTS = ("relevance", "date", "date-asc")  # date: newest first; date-asc: oldest first (undated last in both)
ATTEMPTS = 3  # reads of an index that changed underneath are retried on a fresh snapshot
REFINE_FROM = 30  # 相关搜索 look at the keywords of this many top hits
F = TypeVar("F", bound=Callable[..., Any])


def _reading(fn: F) -> F:
    """Run `fn` on the current snapshot; a damaged or vanished index file is retried, then IndexCorrupt.

    Whoosh opens column files lazily, and a run that commits (merging segments)
    or swaps generations deletes files of the state we were reading: when a read
    fails, it is done again on a fresh snapshot. A real fault fails the same way
    again and is reported as IndexCorrupt; an exception from our own code (not
    from reading index files, `indexer.snapshot.is_damage`) is a bug and is raised as it is.
    """

    @wraps(fn)
    def run(self: Searcher, *args, **kwargs):
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return fn(self, *args, **kwargs)
            except NewssearchError:
                raise
            except Exception as exc:
                if not is_damage(exc):
                    raise
                self.close()
                if attempt == ATTEMPTS:
                    raise IndexCorrupt(
                        f"the index at {self.config.index} is damaged: {type(exc).__name__}: {exc}"
                    ) from exc
                time.sleep(0.05 * attempt)

    return run  # type: ignore[return-value]


class Searcher:
    """A long-lived reader of one index; it opens a new snapshot when a run has changed the index.

    Public methods read one snapshot each. Within ``with searcher.request():`` a query's
    matches are evaluated once and shared by `search`, `facets`, `timeline` and `refinements`
    (`evaluations` counts the evaluations).
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store = IndexDir(config.index)
        self._snap: Snapshot | None = None
        self._shared: dict[tuple[str, str], Matches] | None = None  # within request(): (text, scope) -> matches
        self._vocab: tuple[tuple, vocab.Vocabulary] | None = None  # (generation, file stamp), the words
        self.evaluations = 0  # queries evaluated over the whole index (Matches built)

    def snapshot(self) -> Snapshot:
        """The snapshot of the index as it is now (opened anew only when a run has changed it)."""
        state = self.store.state()
        if self._snap is not None and self._snap.current(state):
            return self._snap
        snap = Snapshot.open(self.config, self.store, state, self._snap)
        self.close()
        self._snap = snap
        return snap

    def close(self) -> None:
        if self._snap is not None:
            self._snap.close()
            self._snap = None
        if self._shared is not None:
            self._shared.clear()

    @contextmanager
    def request(self) -> Iterator[Searcher]:
        """Share each query's matches among the calls in the block (one web page, one CLI command)."""
        self._shared = {}
        try:
            yield self
        finally:
            self._shared = None

    def matches(self, text: str, scope: str = "all") -> Matches:
        """Every hit of `text` in the current snapshot (reposts left out), with scores; shared within request()."""
        snap = self.snapshot()
        key = (scrub(text), scope)
        if self._shared is not None and key in self._shared and self._shared[key].snap is snap:
            return self._shared[key]
        m = Matches(snap, self.config, key[0], scope)
        self.evaluations += 1
        if self._shared is not None:
            self._shared[key] = m
        return m

    @_reading
    def stale_analyzer(self) -> bool:
        """True when the index was built with another analyzer or user dictionary."""
        snap = self.snapshot()
        return snap.state.get("analyzer") != snap.analyzer

    @_reading
    def search(
        self,
        text: str,
        limit: int = 10,
        page: int = 1,
        sort: str = "relevance",
        since: str | None = None,
        until: str | None = None,
        source: str | None = None,
        new: bool = False,
        keywords: bool = True,
        suggest: bool = True,
        scope: str = "all",
    ) -> SearchResult:
        """Run a query; `limit=0` returns every hit on one page; `new` keeps what the latest run changed.

        `scope="title"` looks for the words that name no field in titles only (as ``title:`` does).
        """
        start = time.perf_counter()
        if sort not in SORTS:
            raise QueryError(f"unknown sort {sort!r}", hint="use " + ", ".join(SORTS), code="param.sort")
        if limit < 0 or page < 1 or page > MAX_PAGE:
            raise QueryError("limit must be ≥ 0 and page between 1 and 1000", code="param.paging")
        m = self.matches(text, scope)
        docs = m.docs(_filters(since, until, source, new))
        size = limit or max(1, len(docs))
        relevance = sort == "relevance"
        # Every match is ranked before the page is cut: Whoosh's top-N pruning lost true top hits
        # (bench/relevance.py); over arrays that costs little.
        key = m.scores(docs) if relevance else _date_key(m.snap, docs, sort)
        shown = top(docs, key, page * size)[(page - 1) * size :]
        terms = m.parsed.highlight_terms()
        hits = self._hits(m.snap, shown, m.scores(shown) if relevance else None, terms, keywords)
        result = SearchResult(m.text, len(docs), page, hits, time.perf_counter() - start, terms,
                              pages=min(MAX_PAGE, -(-len(docs) // size)), also=m.parsed.also)
        if suggest and page == 1 and len(docs) < sg.FEW:
            result.suggestions = self.suggest(m.text, len(docs), since=since, until=until, source=source, scope=scope)
        return result

    def _hits(self, snap: Snapshot, docs: np.ndarray, scores: np.ndarray | None, terms: list[str],
              keywords: bool) -> list[Hit]:
        """The page's hits (`scores`: one per document of `docs`), read from the stored fields, with their
        reposts and (if asked) keywords."""
        stops = synonyms.for_config(self.config).stopwords
        hits = []
        for k, d in enumerate(map(int, docs)):
            stored = snap.searcher.stored_fields(d)
            hit = make_hit(stored, scores[k] if scores is not None else None, terms)
            hit.duplicates = [_brief(snap, g) for g in snap.groups.get(d, []) if g != d]
            hit.keywords = kw.keywords(snap.table, stored, stopwords=stops) if keywords else []
            hits.append(hit)
        return hits

    @_reading
    def facets(
        self, text: str, since: str | None = None, until: str | None = None, source: str | None = None,
        new: bool = False, scope: str = "all",
    ) -> dict[str, dict[str, int]]:
        """Hits per source and per year for a query (most frequent first)."""
        m = self.matches(text, scope)
        return counts.facets(m.snap.table, m.docs(_filters(since, until, source, new)))

    @_reading
    def timeline(
        self, text: str, since: str | None = None, until: str | None = None, source: str | None = None,
        new: bool = False, scope: str = "all",
    ) -> Timeline:
        """Hits per month (per year for spans over three years), empty months included."""
        m = self.matches(text, scope)
        docs = m.docs(_filters(since, until, source, new))
        dates = m.snap.table.column("date")[docs] if len(docs) else []
        return build((str(d) or None for d in dates), since, until)

    @_reading
    def refinements(
        self, text: str, n: int = 8, since: str | None = None, until: str | None = None, source: str | None = None,
        new: bool = False, scope: str = "all",
    ) -> list[str]:
        """相关搜索: up to `n` words that co-occur with the query among the keywords of its top hits, as written.

        A word counts once per hit and must be in two of them; words of the query, and words inside
        or around them, are left out (they would narrow nothing). Most frequent first.
        """
        m = self.matches(text, scope)
        docs = m.docs(_filters(since, until, source, new))
        s = m.snap.searcher
        asked = parse(scrub(text)).highlight_terms()
        stops = synonyms.for_config(self.config).stopwords
        hits_with: Counter[str] = Counter()
        written: dict[str, str] = {}
        for d in map(int, top(docs, m.scores(docs), REFINE_FROM)):
            for word, as_written, _ in kw.scored(m.snap.table, s.stored_fields(d), stops)[: kw.SHOWN]:
                if not any(word in t or t in word for t in asked):
                    hits_with[word] += 1
                    written.setdefault(word, as_written)
        return [written[w] for w, c in sorted(hits_with.items(), key=lambda wc: (-wc[1], wc[0]))[:n] if c >= 2]

    @_reading
    def trending(self, n: int = 20) -> trends.Trending:
        """热点词: the `n` keywords whose share of articles rose most in the newest days (indexer.trending)."""
        snap = self.snapshot()
        s, table = snap.searcher, snap.table
        docs = np.flatnonzero(snap.shown)
        stops = synonyms.for_config(self.config).stopwords

        def words(d: int) -> list[tuple[str, str]]:  # the keywords a hit shows, not every stored candidate
            return [(w, as_written) for w, as_written, _ in kw.scored(table, s.stored_fields(d), stops)[: kw.SHOWN]]

        return trends.trending(docs, table.column("date")[docs], table.column("source")[docs], words, n)

    @_reading
    def article(self, article_id: str) -> dict[str, Any]:
        snap = self.snapshot()
        doc = snap.searcher.document(id=article_id)
        if doc is None:
            raise ArticleNotFound(f"no article with id {article_id!r}")
        art = {k: (v or None) if k in ("date", "source", "url", "reporter") else v for k, v in doc.items()
               if k != "keywords"}
        art["keywords"] = kw.keywords(snap.table, doc, n=10, stopwords=synonyms.for_config(self.config).stopwords)
        return art

    def suggest(
        self, text: str, total: int | None = None, since: str | None = None, until: str | None = None,
        source: str | None = None, scope: str = "all",
    ) -> list[str]:
        """Did you mean: better queries for `text` if it finds fewer than indexer.suggest.FEW articles."""

        filters = _filters(since, until, source, False)

        def count(q: str) -> int:
            return len(self.matches(q, scope).docs(filters))

        return sg.suggest(self.snapshot().table, text, count(text) if total is None else total, count)

    @_reading
    def complete(self, text: str, n: int = vocab.MAX_SUGGESTIONS) -> list[str]:
        """Index words to offer while `text` is typed: by Chinese prefix, pinyin or initials (indexer.vocab)."""
        snap = self.snapshot()
        reader = snap.searcher.reader()
        path = vocab.path_for(self.store.path, snap.generation)
        try:
            st = path.stat()
            stamp: tuple = (snap.generation, st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = (snap.generation, reader.doc_count_all(), None)
        if self._vocab is None or self._vocab[0] != stamp:
            words = vocab.Vocabulary.load(path) if stamp[2] is not None else None
            self._vocab = (stamp, words or vocab.Vocabulary(vocab.collect(reader)))  # older indexes: built here
        words = self._vocab[1].suggest(text, n)
        return [sg.in_script_of(text, w) for w in words]

    @_reading
    def related(self, article_id: str, n: int = 5) -> list[Hit]:
        """More like this: the `n` articles sharing most of the key terms of `article_id` (reposts left out)."""
        snap = self.snapshot()
        s = snap.searcher
        docnum = s.document_number(id=article_id)
        if docnum is None:
            raise ArticleNotFound(f"no article with id {article_id!r}")
        stops = synonyms.for_config(self.config).stopwords
        q, words = kw.related_query(snap.table, s.stored_fields(docnum), stopwords=stops)
        if q is None:
            return []
        found = snap.evaluator.run(q, scored=True)
        keep = snap.shown[found.docs] & np.isin(found.docs, snap.groups.get(docnum, [docnum]), invert=True)
        docs, scores = found.docs[keep], found.scores[keep]
        hits = []
        for d in map(int, top(docs, scores, n)):
            stored = s.stored_fields(d)
            hits.append(make_hit(stored, scores[np.searchsorted(docs, d)], words))
            hits[-1].keywords = kw.keywords(snap.table, stored, stopwords=stops)
        return hits

    @_reading
    def stats(self, sizes: bool = False) -> dict[str, Any]:
        """Counts and state of the index; with `sizes`, what its bytes are spent on (`indexer.sizes`)."""
        snap = self.snapshot()
        reader = snap.searcher.reader()
        extra = {"sizes": index_sizes(self.store.path, [r for r, _off in snap.table.leaves])} if sizes else {}
        return {
            "index": str(self.config.index),
            "articles": reader.doc_count(),
            **counts.overview(snap.table),
            "size_bytes": self.store.size_bytes(),
            "segments": [{"articles": r.doc_count(), "deleted": r.doc_count_all() - r.doc_count()}
                         for r, _off in snap.table.leaves],
            "deleted": reader.doc_count_all() - reader.doc_count(),
            "analyzer": snap.state.get("analyzer"),
            "analyzer_current": snap.analyzer,
            "roots": snap.state.get("roots", []),
            "last_run": snap.state.get("last_run"),
            "data_files": self.config.data_files(),
            **extra,
        }


def _filters(since: str | None, until: str | None, source: str | None, new: bool) -> Filters:
    return Filters(since, until, source and scrub(source), new)


def _date_key(snap: Snapshot, docs: np.ndarray, sort: str) -> np.ndarray:
    """What `top` ranks `docs` by for a date sort: newer first, or older first; undated last either way."""
    rank = snap.table.rank("date")[docs]
    if sort == "date":
        return rank  # "" ranks lowest
    return np.where(snap.table.column("date")[docs] == "", -np.inf, -rank)


def _brief(snap: Snapshot, docnum: int) -> dict[str, Any]:
    f = snap.searcher.stored_fields(docnum)
    return {k: f.get(k) or None for k in ("id", "url", "source", "date")}
