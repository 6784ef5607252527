"""A query evaluated once over one snapshot, shared by a request's hits, facets, timeline and 相关搜索.

The query's words become one Whoosh query tree, evaluated once over every
document (mask and BM25F scores, `indexer.evaluate`). The filters (dates,
publishing unit, new since the last run) are masks of their own, applied per
use: the results page's year facet, which leaves the dates out, reuses the same
evaluation, and a filter never changes a score.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from whoosh import query as wq

from . import regional, synonyms
from .config import Config
from .dates import date_range
from .normalize import normalize
from .query import Parsed, atom_query, gram_phrase, parse
from .ranges import ColumnRange
from .snapshot import Snapshot


@dataclass(frozen=True)
class Filters:
    """What narrows a query's hits without changing their scores."""

    since: str | None = None
    until: str | None = None
    source: str | None = None
    new: bool = False  # only what the latest index run added or changed

    def without_dates(self) -> Filters:
        return replace(self, since=None, until=None)


def filter_query(snap: Snapshot, filters: Filters) -> wq.Query | None:
    """The filters as one query tree (None when there are none); bad dates raise QueryError."""
    parts: list[wq.Query] = [wq.NumericRange("added", snap.last_change(), None)] if filters.new else []
    since, until = date_range(filters.since, filters.until)
    if since or until:
        parts.append(ColumnRange("date", since or "0000", until or "9999"))
    source = normalize(filters.source or "").strip()
    if source:
        parts.append(gram_phrase("source_g", source))
    return wq.And(parts) if parts else None


def compile_query(snap: Snapshot, config: Config, text: str, scope: str = "all") -> tuple[Parsed, wq.Query]:
    """The parsed query and its tree (negated clauses as ``AndNot``)."""
    parsed = regional.for_config(config).apply(synonyms.for_config(config).apply(parse(text).scoped(scope)))
    if parsed.also and snap.table.missing("script").any():  # an index from before the script column
        seek = [atom_query(replace(a, script=None)) for c in parsed.clauses for a in c.atoms if a.script]
        seen = np.zeros(snap.table.n, dtype=bool)
        seen[snap.evaluator.run(wq.Or(seek), scored=False).docs] = True
        regional.fill_scripts(snap.table, snap.searcher, seen)
    built = [(c, [atom_query(a) for a in c.atoms]) for c in parsed.clauses]
    positive = [wq.Or(qs) if len(qs) > 1 else qs[0] for c, qs in built if not c.negated]
    q: wq.Query = wq.And(positive) if len(positive) > 1 else positive[0]
    negative = [q2 for c, qs in built if c.negated for q2 in qs]
    if negative:
        q = wq.AndNot(q, wq.Or(negative))
    return parsed, q


class Matches:
    """Every document a query matches in one snapshot, with its scores; filtered per use."""

    def __init__(self, snap: Snapshot, config: Config, text: str, scope: str = "all") -> None:
        self.snap = snap
        self.text = text
        self.parsed, self.query = compile_query(snap, config, text, scope)
        found = snap.evaluator.run(self.query, scored=True)
        shown = snap.shown[found.docs]
        self._docs, self._scores = found.docs[shown], found.scores[shown]
        self._filtered: dict[Filters, np.ndarray] = {}

    def docs(self, filters: Filters = Filters()) -> np.ndarray:
        """Doc numbers of the hits that pass `filters` (reposts left out), ascending."""
        if filters not in self._filtered:
            flt = filter_query(self.snap, filters)
            self._filtered[filters] = (self._docs if flt is None else
                                       self.snap.evaluator.run(flt, scored=False, within=self._docs).docs)
        return self._filtered[filters]

    def scores(self, docs: np.ndarray) -> np.ndarray:
        """The scores of hits `docs` (ascending, from `docs()`)."""
        if docs is self._docs:  # every hit (no filter): the page is cut from all of them
            return self._scores
        return self._scores[np.searchsorted(self._docs, docs)]
