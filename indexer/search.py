"""Searching the index: ranked, filtered, paged results with snippets.

Queries are built as Whoosh query trees (`indexer.query.atom_query`) and evaluated over all
documents at once by `indexer.evaluate`; only the page of hits reads stored fields.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from functools import wraps
from typing import Any, TypeVar

import numpy as np
from whoosh import query as wq
from whoosh.scoring import BM25F

from . import keywords as kw
from . import regional, synonyms, tally, vocab
from . import suggest as sg
from . import trending as trends
from .arrays import DocTable
from .config import Config
from .dates import date_range
from .errors import ArticleNotFound, IndexCorrupt, NewssearchError, QueryError
from .evaluate import Evaluator, top
from .hits import Hit, SearchResult, make_hit
from .normalize import normalize, scrub
from .query import Parsed, atom_query, gram_phrase, parse, verify
from .ranges import ColumnRange
from .store import DAMAGE, IndexDir, analyzer_version
from .timeline import Timeline, build

__all__ = ["MAX_PAGE", "SORTS", "Hit", "SearchResult", "Searcher"]

MAX_PAGE = 1000
SORTS = ("relevance", "date", "date-asc")  # date: newest first; date-asc: oldest first (undated last in both)
ATTEMPTS = 3  # reads of an index that changed underneath are retried on a fresh open
REFINE_FROM = 30  # 相关搜索 look at the keywords of this many top hits
F = TypeVar("F", bound=Callable[..., Any])


def _damage_is_corrupt(fn: F) -> F:
    """Whoosh reading a damaged segment raises what no query can cause: report it as IndexCorrupt.

    Whoosh opens column files lazily, and a run that commits (merging segments)
    or swaps generations deletes files of the state we were reading: when the
    index changed under a failed read, the read is done again on the new state.
    """

    @wraps(fn)
    def run(self, *args, **kwargs):
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return fn(self, *args, **kwargs)
            except NewssearchError:
                raise
            except Exception as exc:
                if attempt == ATTEMPTS:
                    if not isinstance(exc, (*DAMAGE, OSError)):  # reading only: an OSError is a bad offset or disk
                        raise
                    raise IndexCorrupt(
                        f"the index at {self.config.index} is damaged: {type(exc).__name__}: {exc}"
                    ) from exc
                # Reopen from scratch: the read may have raced a commit or a swap. A real
                # fault fails the same way again and is reported above.
                self.close()
                self._gen = None
                time.sleep(0.05 * attempt)

    return run  # type: ignore[return-value]


class Searcher:
    """A long-lived reader of one index; reopens itself when a run has changed the index."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store = IndexDir(config.index)
        self._ix = None
        self._searcher = None
        self._gen = None
        self.state: dict[str, Any] = {}
        self._table: DocTable | None = None
        self._eval: Evaluator | None = None
        self._hidden = np.zeros(0, dtype=bool)  # reposts: all but the first of each group
        self._groups: dict[int, list[int]] = {}
        self._analyzer = ""
        self._vocab: tuple[tuple, vocab.Vocabulary] | None = None  # (generation, file stamp), the words

    def _current(self):
        state = self.store.state()
        try:
            if self._searcher is not None and state.get("generation") == self._gen:
                fresh = self._searcher
                if not fresh.up_to_date():
                    # Not refresh(): whoosh3 reuses the reader of a segment whose id is unchanged, with
                    # the old commit's deletions, so updated and removed articles would stay visible.
                    fresh = self._ix.searcher(weighting=BM25F())
                    self._searcher.close()
                self.state = state
            else:
                if self._searcher is not None:
                    self._searcher.close()
                self._ix, self.state = self.store.open()
                self._gen = self.state.get("generation")
                self._analyzer = analyzer_version(self.config, self.state)
                fresh = self._ix.searcher(weighting=BM25F())
            if fresh is not self._searcher:
                self._table = DocTable(fresh)
                self._eval = Evaluator(self._table)
                self._hidden, self._groups = tally.repost_groups(self._table, fresh.reader())
                self._searcher = fresh
        except NewssearchError:
            raise
        except Exception as exc:  # opening segments: Whoosh raises many kinds on damaged files
            if self.store.state().get("generation") != state.get("generation"):
                return self._current()  # a rebuild went live and deleted the generation we were opening
            raise IndexCorrupt(f"cannot open index {self.config.index}: {type(exc).__name__}: {exc}") from exc
        return self._searcher

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

    @_damage_is_corrupt
    def stale_analyzer(self) -> bool:
        """True when the index was built with another analyzer or user dictionary."""
        self._current()
        return self.state.get("analyzer") != self._analyzer

    def _filters(self, since: str | None, until: str | None, source: str | None, new: bool) -> wq.Query | None:
        parts: list[wq.Query] = [wq.NumericRange("added", self._last_change(), None)] if new else []
        since, until = date_range(since, until)
        if since or until:
            parts.append(ColumnRange("date", since or "0000", until or "9999"))
        if source and normalize(source).strip():
            parts.append(gram_phrase("source_g", normalize(source).strip())[0])
        return wq.And(parts) if parts else None

    def _exact_docs(self, s, parsed: Parsed) -> np.ndarray:
        """Mask of the documents matching the query exactly, checking phrase candidates against the text."""
        result: np.ndarray | None = None
        excluded = np.zeros(self._table.n, dtype=bool)
        for clause in parsed.clauses:
            docs = np.zeros(self._table.n, dtype=bool)
            for atom in clause.atoms:
                q, check = atom_query(atom)
                found = self._eval.run(q, scored=False).mask & self._table.live
                if check:
                    for d in np.flatnonzero(found):
                        found[d] = verify(atom, s.stored_fields(int(d)))
                docs |= found
            if clause.negated:
                excluded |= docs
            else:
                result = docs if result is None else result & docs
        return result & ~excluded

    def _last_change(self) -> int:
        """When the latest index run that added or changed articles started: what counts as new."""
        if "last_change_started" in self.state:
            return self.state["last_change_started"]
        return max(self._searcher.reader().column_reader("added"), default=0)  # index from before it was kept

    def _compile(self, s, text: str, since, until, source, new=False,
                 scope: str = "all") -> tuple[wq.Query, np.ndarray | None, Parsed]:
        """The query tree for `text` plus filters, and the exact doc mask when phrases need checking."""
        parsed = regional.for_config(self.config).apply(synonyms.for_config(self.config).apply(
            parse(text).scoped(scope)))
        if parsed.also and self._table.missing("script").any():  # an index from before the script column
            seek = [atom_query(replace(a, script=None))[0] for c in parsed.clauses for a in c.atoms if a.script]
            regional.fill_scripts(self._table, s, self._eval.run(wq.Or(seek), scored=False).mask)
        built = [(c, [atom_query(a) for a in c.atoms]) for c in parsed.clauses]
        positive = [wq.Or([q for q, _ in qs]) if len(qs) > 1 else qs[0][0] for c, qs in built if not c.negated]
        q: wq.Query = wq.And(positive) if len(positive) > 1 else positive[0]
        negative = [q2 for c, qs in built if c.negated for q2, _ in qs]
        needs_check = any(v for _, qs in built for _, v in qs)
        flt = self._filters(since, until, source, new)
        allowed = self._exact_docs(s, parsed) if needs_check else None
        if negative and not needs_check:
            q = wq.AndNot(q, wq.Or(negative))
        if flt is not None:
            q = wq.And([q, flt])
        return q, allowed, parsed

    def _matches(self, q: wq.Query, allowed: np.ndarray | None, scored: bool) -> tuple[np.ndarray, np.ndarray]:
        """Doc numbers of every hit (reposts left out) and every document's score."""
        found = self._eval.run(q, scored=scored)
        keep = found.mask & self._table.live & ~self._hidden
        if allowed is not None:
            keep &= allowed
        return np.flatnonzero(keep), found.scores

    @_damage_is_corrupt
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
        text, source = scrub(text), source and scrub(source)
        if sort not in SORTS:
            raise QueryError(f"unknown sort {sort!r}", hint="use " + ", ".join(SORTS), code="param.sort")
        if limit < 0 or page < 1 or page > MAX_PAGE:
            raise QueryError("limit must be ≥ 0 and page between 1 and 1000", code="param.paging")
        s = self._current()
        q, allowed, parsed = self._compile(s, text, since, until, source, new, scope)
        relevance = sort == "relevance"
        docs, scores = self._matches(q, allowed, scored=relevance)
        size = limit or max(1, len(docs))
        # Every match is scored before the page is cut: Whoosh's top-N pruning lost true top hits
        # (bench/relevance.py); over arrays that costs little.
        shown = top(docs, scores[docs] if relevance else self._date_key(docs, sort), page * size)[(page - 1) * size :]
        terms = parsed.highlight_terms()
        stops = synonyms.for_config(self.config).stopwords
        hits = []
        for d in map(int, shown):
            stored = s.stored_fields(d)
            hit = make_hit(stored, scores[d] if relevance else None, terms)
            hit.duplicates = [self._brief(g) for g in self._groups.get(d, []) if g != d]
            hit.keywords = kw.keywords(s, stored, stopwords=stops) if keywords else []
            hits.append(hit)
        result = SearchResult(text, len(docs), page, hits, time.perf_counter() - start, terms,
                              pages=min(MAX_PAGE, -(-len(docs) // size)), also=parsed.also)
        if suggest and page == 1 and len(docs) < sg.FEW:
            result.suggestions = self.suggest(text, len(docs), since=since, until=until, source=source, scope=scope)
        return result

    def _date_key(self, docs: np.ndarray, sort: str) -> np.ndarray:
        """What `top` ranks `docs` by for a date sort: newer first, or older first; undated last either way."""
        rank = self._table.rank("date")[docs]
        if sort == "date":
            return rank  # "" ranks lowest
        return np.where(self._table.column("date")[docs] == "", -np.inf, -rank)

    @_damage_is_corrupt
    def _matching(self, text: str, since, until, source, new: bool, scope: str = "all",
                  scored: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The doc numbers of every hit of a query (reposts left out) and every document's score."""
        s = self._current()
        q, allowed, _ = self._compile(s, scrub(text), since, until, source and scrub(source), new, scope)
        return self._matches(q, allowed, scored=scored)

    def facets(
        self, text: str, since: str | None = None, until: str | None = None, source: str | None = None,
        new: bool = False, scope: str = "all",
    ) -> dict[str, dict[str, int]]:
        """Hits per source and per year for a query (most frequent first)."""
        docs, _ = self._matching(text, since, until, source, new, scope)
        return tally.facets(self._table, docs)

    def timeline(
        self, text: str, since: str | None = None, until: str | None = None, source: str | None = None,
        new: bool = False, scope: str = "all",
    ) -> Timeline:
        """Hits per month (per year for spans over three years), empty months included."""
        docs, _ = self._matching(text, since, until, source, new, scope)
        dates = self._table.column("date")[docs] if len(docs) else []
        return build((str(d) or None for d in dates), since, until)

    @_damage_is_corrupt
    def refinements(
        self, text: str, n: int = 8, since: str | None = None, until: str | None = None, source: str | None = None,
        new: bool = False, scope: str = "all",
    ) -> list[str]:
        """相关搜索: up to `n` words that co-occur with the query among the keywords of its top hits, as written.

        A word counts once per hit and must be in two of them; words of the query, and words inside
        or around them, are left out (they would narrow nothing). Most frequent first.
        """
        docs, scores = self._matching(text, since, until, source, new, scope, scored=True)
        s = self._current()
        asked = parse(scrub(text)).highlight_terms()
        stops = synonyms.for_config(self.config).stopwords
        counts: Counter[str] = Counter()
        written: dict[str, str] = {}
        for d in map(int, top(docs, scores[docs], REFINE_FROM)):
            for word, as_written, _ in kw.scored(s, s.stored_fields(d), stops)[: kw.SHOWN]:
                if not any(word in t or t in word for t in asked):
                    counts[word] += 1
                    written.setdefault(word, as_written)
        return [written[w] for w, c in sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))[:n] if c >= 2]

    @_damage_is_corrupt
    def trending(self, n: int = 20) -> trends.Trending:
        """热点词: the `n` keywords whose share of articles rose most in the newest days (indexer.trending)."""
        s = self._current()
        docs = np.flatnonzero(self._table.live & ~self._hidden)
        stops = synonyms.for_config(self.config).stopwords

        def words(d: int) -> list[tuple[str, str]]:  # the keywords a hit shows, not every stored candidate
            return [(w, as_written) for w, as_written, _ in kw.scored(s, s.stored_fields(d), stops)[: kw.SHOWN]]

        return trends.trending(docs, self._table.column("date")[docs], self._table.column("source")[docs], words, n)

    def _brief(self, docnum: int) -> dict[str, Any]:
        f = self._searcher.stored_fields(docnum)
        return {k: f.get(k) or None for k in ("id", "url", "source", "date")}

    @_damage_is_corrupt
    def article(self, article_id: str) -> dict[str, Any]:
        s = self._current()
        doc = s.document(id=article_id)
        if doc is None:
            raise ArticleNotFound(f"no article with id {article_id!r}")
        art = {k: (v or None) if k in ("date", "source", "url", "reporter") else v for k, v in doc.items()
               if k != "keywords"}
        art["keywords"] = kw.keywords(s, doc, n=10, stopwords=synonyms.for_config(self.config).stopwords)
        return art

    def suggest(
        self, text: str, total: int | None = None, since: str | None = None, until: str | None = None,
        source: str | None = None, scope: str = "all",
    ) -> list[str]:
        """Did you mean: better queries for `text` if it finds fewer than indexer.suggest.FEW articles."""

        def count(q: str) -> int:
            return self.search(q, limit=1, since=since, until=until, source=source, keywords=False,
                               suggest=False, scope=scope).total

        s = self._current()
        return sg.suggest(s.reader(), text, count(text) if total is None else total, count)

    @_damage_is_corrupt
    def complete(self, text: str, n: int = vocab.MAX_SUGGESTIONS) -> list[str]:
        """Index words to offer while `text` is typed: by Chinese prefix, pinyin or initials (indexer.vocab)."""
        s = self._current()
        path = vocab.path_for(self.store.path, self._gen or "")
        try:
            st = path.stat()
            stamp: tuple = (self._gen, st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = (self._gen, s.reader().doc_count_all(), None)
        if self._vocab is None or self._vocab[0] != stamp:
            words = vocab.Vocabulary.load(path) if stamp[2] is not None else None
            self._vocab = (stamp, words or vocab.Vocabulary(vocab.collect(s.reader())))  # older indexes: built here
        words = self._vocab[1].suggest(text, n)
        return [sg.in_script_of(text, w) for w in words]

    @_damage_is_corrupt
    def related(self, article_id: str, n: int = 5) -> list[Hit]:
        """More like this: the `n` articles sharing most of the key terms of `article_id` (reposts left out)."""
        s = self._current()
        docnum = s.document_number(id=article_id)
        if docnum is None:
            raise ArticleNotFound(f"no article with id {article_id!r}")
        stops = synonyms.for_config(self.config).stopwords
        q, words = kw.related_query(s, s.stored_fields(docnum), stopwords=stops)
        if q is None:
            return []
        docs, scores = self._matches(q, None, scored=True)
        docs = docs[np.isin(docs, self._groups.get(docnum, [docnum]), invert=True)]
        hits = []
        for d in map(int, top(docs, scores[docs], n)):
            stored = s.stored_fields(d)
            hits.append(make_hit(stored, scores[d], words))
            hits[-1].keywords = kw.keywords(s, stored, stopwords=stops)
        return hits

    @_damage_is_corrupt
    def stats(self) -> dict[str, Any]:
        s = self._current()
        return {
            "index": str(self.config.index),
            "articles": s.reader().doc_count(),
            **tally.overview(self._table),
            "size_bytes": self.store.size_bytes(),
            "segments": [{"articles": r.doc_count(), "deleted": r.doc_count_all() - r.doc_count()}
                         for r, _off in self._table.leaves],
            "deleted": s.reader().doc_count_all() - s.reader().doc_count(),
            "analyzer": self.state.get("analyzer"),
            "analyzer_current": self._analyzer,
            "roots": self.state.get("roots", []),
            "last_run": self.state.get("last_run"),
            "data_files": self.config.data_files(),
        }
