"""Searching the index: ranked, filtered, paged results with snippets."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import wraps
from typing import Any, TypeVar

from whoosh import query as wq
from whoosh.scoring import BM25F
from whoosh.searching import ResultsPage

from . import keywords as kw
from . import suggest as sg
from . import synonyms
from .config import Config
from .errors import ArticleNotFound, IndexCorrupt, NewssearchError, QueryError
from .normalize import normalize, scrub
from .query import Atom, Parsed, gram_phrase, parse, words_of
from .ranges import ColumnRange
from .snippet import segments, to_html
from .store import DAMAGE, IndexDir, analyzer_version
from .timeline import Timeline, build

MAX_PAGE = 1000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WORD_FIELDS = {"title": "title", "body": "body"}
_GRAM_FIELDS = {"title": "title_g", "body": "body_g", "source": "source_g"}
RUN_BOOST = 4.0  # the query as a contiguous run: 2.0 -> 4.0 raised P@10 of unspaced queries 0.977 -> 0.999


@dataclass
class Hit:
    id: str
    title: str
    date: str | None
    source: str | None
    url: str | None
    score: float
    snippet: str
    segments: list = field(default_factory=list, repr=False)
    keywords: list[str] = field(default_factory=list)  # indexer.keywords, as written in the article
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    added: int | None = None  # unix time of the index run that wrote it

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("segments")
        return d


@dataclass
class SearchResult:
    query: str
    total: int
    page: int
    hits: list[Hit]
    seconds: float
    terms: list[str]
    suggestions: list[str] = field(default_factory=list)  # did you mean (indexer.suggest), best first

    def as_dict(self) -> dict[str, Any]:
        return {"query": self.query, "total": self.total, "page": self.page, "hits": [h.as_dict() for h in self.hits],
                "suggestions": self.suggestions}


def _atom_query(atom: Atom) -> tuple[wq.Query, bool]:
    """Whoosh query for one atom, and whether its candidates need checking against the text."""
    grams = [_GRAM_FIELDS[f] for f in atom.fields]
    words = [_WORD_FIELDS[f] for f in atom.fields if f in _WORD_FIELDS]
    if atom.phrase:
        parts = [gram_phrase(g, atom.text) for g in grams]
        return wq.Or([q for q, _ in parts]), any(v for _, v in parts)
    required = []
    for w in words_of(atom.text):
        alts = [wq.Term(f, w) for f in words] + [gram_phrase(g, w)[0] for g in grams]
        required.append(wq.Or(alts))
    q: wq.Query = wq.And(required) if len(required) > 1 else required[0]
    runs = [r for r in re.split(r"\W+", atom.text) if len(r) > 2]
    boosts = [gram_phrase(g, r, boost=RUN_BOOST)[0] for r in runs for g in grams if len(words_of(r)) > 1]
    if boosts:
        q = wq.AndMaybe(q, wq.Or(boosts))
    return q, False


def _verify(atom: Atom, stored: dict) -> bool:
    return any(atom.text in normalize(stored.get(f) or "") for f in atom.fields)


F = TypeVar("F", bound=Callable[..., Any])


def _damage_is_corrupt(fn: F) -> F:
    """Whoosh reading a damaged segment raises what no query can cause: report it as IndexCorrupt.

    Whoosh opens column files lazily, and a run that commits (merging segments)
    or swaps generations deletes files of the state we were reading: when the
    index changed under a failed read, the read is done again on the new state.
    """

    @wraps(fn)
    def run(self, *args, **kwargs):
        for attempt in range(3):
            try:
                return fn(self, *args, **kwargs)
            except NewssearchError:
                raise
            except Exception as exc:
                if attempt < 2:
                    # Reopen from scratch: the read may have raced a commit or a swap. A real
                    # fault fails the same way again and is reported below.
                    self.close()
                    self._gen = None
                    time.sleep(0.05 * (attempt + 1))
                    continue
                if not isinstance(exc, (*DAMAGE, OSError)):  # reading only: an OSError is a bad offset or a bad disk
                    raise
                raise IndexCorrupt(
                    f"the index at {self.config.index} is damaged: {type(exc).__name__}: {exc}"
                ) from exc
        raise AssertionError("unreachable")

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
        self._mask: set[int] = set()
        self._groups: dict[int, list[int]] = {}
        self._analyzer = ""

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
        except NewssearchError:
            raise
        except Exception as exc:  # opening segments: Whoosh raises many kinds on damaged files
            if self.store.state().get("generation") != state.get("generation"):
                return self._current()  # a rebuild went live and deleted the generation we were opening
            raise IndexCorrupt(f"cannot open index {self.config.index}: {type(exc).__name__}: {exc}") from exc
        if fresh is not self._searcher:
            self._searcher = fresh
            self._find_duplicates()
        return self._searcher

    def _find_duplicates(self) -> None:
        """Group reposts of one article; all but the earliest (then smallest id) are masked."""
        r = self._searcher.reader()
        groups: dict[str, list[int]] = {}
        if r.doc_count():
            keys = r.column_reader("dupkey")
            for d in r.all_doc_ids():
                groups.setdefault(keys[d], []).append(d)
        # An index with no articles (a first run that read only bad files) has no columns at all.
        dates, ids = (r.column_reader("date"), r.column_reader("id")) if groups else ({}, {})
        self._groups = {}
        self._mask = set()
        for members in groups.values():
            if len(members) > 1:
                members.sort(key=lambda d: (dates[d] or "9999", ids[d]))
                self._mask.update(members[1:])
                for d in members:
                    self._groups[d] = members

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
        for name, value in (("since", since), ("until", until)):
            if value and not _DATE.match(value):
                raise QueryError(f"--{name} wants a date like 2014-09-10, not {value!r}")
        if since or until:
            parts.append(ColumnRange("date", since or "0000", until or "9999"))
        if source and normalize(source).strip():
            parts.append(gram_phrase("source_g", normalize(source).strip())[0])
        return wq.And(parts) if parts else None

    def _exact_docs(self, s, parsed: Parsed) -> set[int]:
        """Doc numbers matching the query exactly, checking phrase candidates against the text."""
        result: set[int] | None = None
        excluded: set[int] = set()
        for clause in parsed.clauses:
            docs: set[int] = set()
            for atom in clause.atoms:
                q, verify = _atom_query(atom)
                found = set(s.docs_for_query(q))
                if verify:
                    found = {d for d in found if _verify(atom, s.stored_fields(d))}
                docs |= found
            if clause.negated:
                excluded |= docs
            else:
                result = docs if result is None else result & docs
        return (result or set()) - excluded

    def _last_change(self) -> int:
        """When the latest index run that added or changed articles started: what counts as new."""
        if "last_change_started" in self.state:
            return self.state["last_change_started"]
        return max(self._searcher.reader().column_reader("added"), default=0)  # index from before it was kept

    def _compile(self, s, text: str, since, until, source, new=False) -> tuple[wq.Query, set[int] | None, Parsed]:
        """The Whoosh query for `text` plus filters, and the exact doc set when phrases need checking."""
        parsed = synonyms.for_config(self.config).apply(parse(text))
        built = [(c, [_atom_query(a) for a in c.atoms]) for c in parsed.clauses]
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
    ) -> SearchResult:
        """Run a query; `limit=0` returns every hit on one page; `new` keeps what the latest run changed."""
        start = time.perf_counter()
        text, source = scrub(text), source and scrub(source)
        if sort not in ("relevance", "date"):
            raise QueryError(f"unknown sort {sort!r}", hint="use relevance or date")
        if limit < 0 or page < 1 or page > MAX_PAGE:
            raise QueryError("limit must be ≥ 0 and page between 1 and 1000")
        s = self._current()
        q, allowed, parsed = self._compile(s, text, since, until, source, new)
        kwargs: dict[str, Any] = {"filter": allowed} if allowed is not None else {}
        if self._mask:
            kwargs["mask"] = self._mask
        if sort == "date":
            kwargs.update(sortedby="date", reverse=True)
        size = limit or max(1, s.doc_count())
        # Score every match, then page: Whoosh's top-N collector mis-scores phrase matchers (the
        # contiguous-run boost) and preloaded ORs and loses the best hits (bench/relevance.py).
        results = ResultsPage(s.search(q, limit=None, **kwargs), page, size)
        terms = parsed.highlight_terms()
        hits = [_hit(r.fields(), r.score if sort == "relevance" else None, terms) for r in results]
        stops = synonyms.for_config(self.config).stopwords
        for h, r in zip(hits, results, strict=True):
            h.duplicates = [self._brief(d) for d in self._groups.get(r.docnum, []) if d != r.docnum]
            h.keywords = kw.keywords(s, r.fields(), stopwords=stops) if keywords else []
        result = SearchResult(text, results.total, page, hits, time.perf_counter() - start, terms)
        if suggest and page == 1 and results.total < sg.FEW:
            result.suggestions = self.suggest(text, results.total, since=since, until=until, source=source)
        return result

    @_damage_is_corrupt
    def _matching(self, text: str, since, until, source, new: bool) -> tuple[Any, set[int]]:
        """The searcher and the doc numbers of every hit of a query, reposts left out."""
        s = self._current()
        q, allowed, _ = self._compile(s, text, since, until, source, new)
        docs = set(s.docs_for_query(q)) - self._mask
        if allowed is not None:
            docs &= allowed
        return s, docs

    def facets(
        self, text: str, since: str | None = None, until: str | None = None, source: str | None = None,
        new: bool = False,
    ) -> dict[str, dict[str, int]]:
        """Hits per source and per year for a query (most frequent first)."""
        s, docs = self._matching(text, since, until, source, new)
        r = s.reader()
        by_source: dict[str, int] = {}
        by_year: dict[str, int] = {}
        if docs:
            col_s, col_d = r.column_reader("source"), r.column_reader("date")
            for d in docs:
                if col_s[d]:
                    by_source[col_s[d]] = by_source.get(col_s[d], 0) + 1
                if col_d[d]:
                    by_year[col_d[d][:4]] = by_year.get(col_d[d][:4], 0) + 1
        return {
            "source": dict(sorted(by_source.items(), key=lambda kv: (-kv[1], kv[0]))),
            "year": dict(sorted(by_year.items(), reverse=True)),
        }

    @_damage_is_corrupt
    def timeline(
        self, text: str, since: str | None = None, until: str | None = None, source: str | None = None,
        new: bool = False,
    ) -> Timeline:
        """Hits per month (per year for spans over three years), empty months included."""
        s, docs = self._matching(text, since, until, source, new)
        dates = s.reader().column_reader("date") if docs else {}
        return build((dates[d] or None for d in docs), since, until)

    def _brief(self, docnum: int) -> dict[str, Any]:
        f = self._searcher.stored_fields(docnum)
        return {k: f.get(k) or None for k in ("id", "url", "source", "date")}

    @_damage_is_corrupt
    def article(self, article_id: str) -> dict[str, Any]:
        s = self._current()
        doc = s.document(id=article_id)
        if doc is None:
            raise ArticleNotFound(f"no article with id {article_id!r}")
        art = {k: (v or None) if k in ("date", "source", "url", "reporter") else v for k, v in doc.items()}
        art["keywords"] = kw.keywords(s, doc, n=10, stopwords=synonyms.for_config(self.config).stopwords)
        return art

    def suggest(
        self, text: str, total: int | None = None, since: str | None = None, until: str | None = None,
        source: str | None = None,
    ) -> list[str]:
        """Did you mean: better queries for `text` if it finds fewer than indexer.suggest.FEW articles."""

        def count(q: str) -> int:
            return self.search(q, limit=1, since=since, until=until, source=source, keywords=False,
                               suggest=False).total

        s = self._current()
        return sg.suggest(s.reader(), text, count(text) if total is None else total, count)

    def related(self, article_id: str, n: int = 5) -> list[Hit]:
        """More like this: the `n` articles sharing most of the key terms of `article_id` (reposts left out)."""
        s = self._current()
        docnum = s.document_number(id=article_id)
        if docnum is None:
            raise ArticleNotFound(f"no article with id {article_id!r}")
        stops = synonyms.for_config(self.config).stopwords
        mask = self._mask | set(self._groups.get(docnum, []))
        hits = []
        for d, score, terms in kw.related(s, docnum, n, mask=mask, stopwords=stops):
            hits.append(_hit(s.stored_fields(d), score, terms))
            hits[-1].keywords = kw.keywords(s, s.stored_fields(d), stopwords=stops)
        return hits

    @_damage_is_corrupt
    def stats(self) -> dict[str, Any]:
        s = self._current()
        r = s.reader()
        sources: dict[str, int] = {}
        dates = []
        if r.doc_count():
            col_s, col_d = r.column_reader("source"), r.column_reader("date")
            for d in r.all_doc_ids():
                src = col_s[d] or "(none)"
                sources[src] = sources.get(src, 0) + 1
                if col_d[d]:
                    dates.append(col_d[d])
        return {
            "index": str(self.config.index),
            "articles": r.doc_count(),
            "sources": dict(sorted(sources.items(), key=lambda kv: -kv[1])),
            "first_date": min(dates) if dates else None,
            "last_date": max(dates) if dates else None,
            "size_bytes": self.store.size_bytes(),
            "analyzer": self.state.get("analyzer"),
            "analyzer_current": self._analyzer,
            "roots": self.state.get("roots", []),
            "last_run": self.state.get("last_run"),
        }


def _hit(stored: dict, score: float | None, terms: list[str]) -> Hit:
    segs = segments(stored.get("body") or stored.get("title") or "", terms)
    return Hit(
        id=stored["id"],
        title=stored.get("title", ""),
        date=stored.get("date") or None,
        source=stored.get("source") or None,
        url=stored.get("url") or None,
        score=round(float(score or 0.0), 4),
        snippet=to_html(segs),
        segments=segs,
        added=stored.get("added"),
    )


def words_for_display(text: str) -> list[str]:
    """How an unquoted query is segmented (shown to users when a search misses)."""
    return words_of(normalize(text))
