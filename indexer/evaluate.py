"""Evaluating a query over the whole index at once, with numpy arrays instead of Whoosh's matchers.

Whoosh scores a query by walking a tree of matchers one document at a time:
several Python calls per document per node, so a common word (台南 is in 11,000
of 12,000 articles) over four fields took ~100 ms before a page could be cut.
Here every node of the same query tree (``Term``, ``GramPhrase``, ``Or``,
``And``, ``AndMaybe``, ``AndNot``, the date and time ranges) becomes a boolean
mask and a score vector: a term's postings are read a block at a time into
arrays (`indexer.codec.arrays`), BM25F is computed in one vector expression with the
same formula, statistics and stored length bytes as Whoosh's ``BM25F``, and a
gram phrase is matched by intersecting (document, position − k) keys of its
grams, and its open edges (a letter/digit run or a lone Han character where the
article's gram may be longer) by the positions of the grams that start or end
that way, never by reading stored text. The results equal Whoosh's, which tests
check node by node.

The masks and score vectors are over a *universe* of documents, not all of them:
the documents of the leaves that bound the matches (an ``Or`` is bounded by all
its parts, an ``And`` by its part with the fewest documents, ``AndNot`` and
``AndMaybe`` by their first part). Those leaves are read first; the others are
read only in the posting blocks that hold universe documents. Every node computes
the same numbers for a universe document as over all documents, so results are
the same; a query of a few thousand documents no longer costs a dozen passes over
arrays of a million. A universe of more than 1/`DENSE` of the index is every
document (the arrays are then cheaper than finding each leaf's documents in it).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
from whoosh import query as wq
from whoosh.scoring import BM25F

from .codec.arrays import DocTable, Lookups, common, locate, positions
from .normalize import is_han
from .phrase import GramPhrase
from .postings import PackedValues
from .ranges import ColumnRange

_B, _K1 = BM25F().B, BM25F().K1
DENSE = 16
UNSURE = 64
_LEAVES = (wq.Term, GramPhrase, wq.Prefix)
_RANGES = (ColumnRange, wq.NumericRange)


@dataclass
class Found:
    """The documents matching a query (ascending) and their scores (zero when not scored)."""

    docs: np.ndarray  # int64 document numbers
    scores: np.ndarray  # float64, one per document of `docs`


class Evaluator:
    """Turns the query trees of `indexer.search` into `Found` over one searcher's documents."""

    def __init__(self, table: DocTable) -> None:
        self.t = table
        self.norms: dict[str, np.ndarray] = {}  # field -> each document's BM25F length normalisation

    def run(self, q: wq.Query, scored: bool = True, within: np.ndarray | None = None) -> Found:
        """The documents `q` matches (only those of ascending `within` when given), with their scores."""
        return _Run(self.t, scored, self.norms).found(q, within)


class _Run:
    """One evaluation: the leaves' matches, read once, and the tree evaluated over the universe."""

    def __init__(self, table: DocTable, scored: bool, norms: dict[str, np.ndarray]) -> None:
        self.t, self.s, self.scored, self.norms = table, table.searcher, scored, norms
        self.leaves: dict[tuple[int, bool], tuple] = {}  # (id(leaf), scored) -> its docs, their scores
        self.universe: np.ndarray | None = None  # ascending documents the arrays are over (None: every one)
        self.whole: dict[tuple, tuple] = {}  # (field, term) -> its postings read whole (docs, weights)
        self.dfs: dict[tuple, np.ndarray] = {}  # (field, words) -> their document frequencies
        self.lookups: Lookups = {}  # terms' values in each segment, looked up once per evaluation

    def found(self, q: wq.Query, within: np.ndarray | None) -> Found:
        only = within
        if within is None:
            bound = self._bound(q)
            docs = None if bound is None else [self._leaf(leaf)[0] for leaf in bound]
            if docs is not None and max(map(len, docs), default=0) * DENSE <= self.t.n:  # else too many anyway
                within = _union(docs, self.t.n)
        if within is not None and len(within) * DENSE <= self.t.n:
            self.universe = within
        mask, scores = self._node(q)
        if self.universe is not None:
            return Found(self.universe[mask], scores[mask])
        if only is not None:  # a large `within`: the arrays are over every document, then cut
            mask &= _mask(only, self.t.n)
        return Found(np.flatnonzero(mask), scores[mask])

    def _bound(self, q: wq.Query) -> list | None:
        """The leaves whose documents hold every match of `q` (None: any document may match)."""
        if isinstance(q, _LEAVES):
            return [q]
        if isinstance(q, (wq.AndMaybe, wq.AndNot)):
            return self._bound(q.a)
        if isinstance(q, wq.And) and q.subqueries:
            bounds = [b for b in map(self._bound, q.subqueries) if b is not None]
            return min(bounds, key=self._estimate) if bounds else None
        if isinstance(q, wq.Or):
            bounds = list(map(self._bound, q.subqueries))
            return None if any(b is None for b in bounds) else [leaf for b in bounds for leaf in b]
        if isinstance(q, wq.And) or q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
            return []
        return None

    def _estimate(self, leaves: list) -> float:
        """About how many documents the leaves hold: document frequencies (deleted documents count too)."""
        total = 0.0
        for q in leaves:
            if isinstance(q, wq.Prefix):
                total += self.t.n
            elif q.fieldname in self.s.schema:
                words = list(q.words) if isinstance(q, GramPhrase) else [q.text]
                total += float(self._doc_frequencies(q.fieldname, words).min()) if words else 0
        return total

    def _doc_frequencies(self, fieldname: str, words: list) -> np.ndarray:
        """`DocTable.doc_frequencies`, looked up once per evaluation (nested ``And`` nodes estimate the same
        leaves again, and a phrase orders its grams by them): a lookup per segment each time."""
        key = (fieldname, tuple(words))
        if key not in self.dfs:
            self.dfs[key] = self.t.doc_frequencies(fieldname, words, self.lookups)
        return self.dfs[key]

    def _place(self, docs: np.ndarray, scores: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """A leaf's ascending documents and scores as a mask and scores over the universe."""
        u = self.universe
        if u is None:
            mask, out = np.zeros(self.t.n, dtype=bool), np.zeros(self.t.n)
            mask[docs] = True
            if scores is not None:
                out[docs] = scores
            return mask, out
        if not len(docs):
            return np.zeros(len(u), dtype=bool), np.zeros(len(u))
        at = np.minimum(np.searchsorted(docs, u), len(docs) - 1)
        mask = docs[at] == u
        return mask, (np.where(mask, scores[at], 0.0) if scores is not None else np.zeros(len(u)))

    def _node(self, q: wq.Query) -> tuple[np.ndarray, np.ndarray]:
        """(mask, scores) of a query node over the universe; scores are summed as Whoosh sums them."""
        if isinstance(q, _LEAVES):
            return self._place(*self._leaf(q))
        if isinstance(q, wq.AndMaybe):
            (am, a), (bm, b) = self._node(q.a), self._node(q.b)
            return am, (a + np.where(am & bm, b, 0.0) if self.scored else a)
        if isinstance(q, wq.AndNot):
            am, a = self._node(q.a)
            scored, self.scored = self.scored, False
            try:
                bm, _b = self._node(q.b)
            finally:
                self.scored = scored
            return am & ~bm, a
        if isinstance(q, (wq.And, wq.Or)):
            return self._combine(q)
        if isinstance(q, _RANGES):  # a date (text) or index time (number) column
            values = self.t.column(q.fieldname)
            values = values if self.universe is None else values[self.universe]
            mask = np.ones(len(values), dtype=bool)
            if q.start is not None:
                mask &= (values > q.start) if q.startexcl else (values >= q.start)
            if q.end is not None:
                mask &= (values < q.end) if q.endexcl else (values <= q.end)
            return mask, np.where(mask, q.boost, 0.0)
        if q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
            return self._place(np.zeros(0, dtype=np.int64), None)
        raise TypeError(f"cannot evaluate {type(q).__name__}")

    def _combine(self, q: wq.And | wq.Or) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(q, wq.Or) and self.scored and self.universe is None and q.subqueries:
            return self._or_dense(q)
        parts = [self._node(sub) for sub in q.subqueries]
        if not parts:
            return self._place(np.zeros(0, dtype=np.int64), None)
        mask = parts[0][0].copy()
        for m, _s in parts[1:]:
            mask = (mask & m) if isinstance(q, wq.And) else (mask | m)
        if not self.scored:
            return mask, parts[0][1]
        scores = sum((s for _m, s in parts[1:]), parts[0][1])
        return mask, scores * q.boost if q.boost != 1 else scores

    def _or_dense(self, q: wq.Or) -> tuple[np.ndarray, np.ndarray]:
        """`_combine` of an ``Or`` over every document: each leaf's scores added where its documents are (no
        mask and score array per leaf: 16 MB at a million). The same sums in the same order, so the same
        numbers: a part adds 0.0 where it does not match."""
        mask, scores = np.zeros(self.t.n, dtype=bool), np.zeros(self.t.n)
        for sub in q.subqueries:
            if isinstance(sub, _LEAVES):
                docs, got = self._leaf(sub)
                mask[docs] = True
                if got is not None:
                    scores[docs] += got
            else:
                m, got = self._node(sub)
                mask |= m
                scores += got
        return mask, scores * q.boost if q.boost != 1 else scores

    def _leaf(self, q: wq.Query) -> tuple[np.ndarray, np.ndarray | None]:
        """A leaf's ascending documents (a superset outside the universe) and their scores (None: unscored)."""
        key = (id(q), self.scored)
        if key not in self.leaves:
            if q.fieldname not in self.s.schema:
                got = (np.zeros(0, dtype=np.int64), None)
            elif isinstance(q, GramPhrase):
                got = self._phrase(q)
            elif isinstance(q, wq.Term):
                got = self._term(q.fieldname, q.text, q.boost)
            else:
                got = self._prefix(q)
            self.leaves[key] = got
        return self.leaves[key]

    def _bm25(self, fieldname: str, text, ids: np.ndarray, weights: np.ndarray) -> np.ndarray:
        if fieldname not in self.norms:  # the same numbers per document for every term of the field
            avgfl = self.s.avg_field_length(fieldname) or 1
            self.norms[fieldname] = _K1 * ((1 - _B) + _B * self.t.lengths(fieldname) / avgfl)
        idf = self.s.idf(fieldname, text)
        return idf * ((weights * (_K1 + 1)) / (weights + self.norms[fieldname][ids]))

    def _postings(self, fieldname: str, text, within: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """A term's documents and weights (`DocTable.postings`); read whole once per evaluation (a Han
        word is a term of the word field and the word its gram phrase is implied by)."""
        if (fieldname, text) in self.whole:
            return self.whole[fieldname, text]
        ids, weights, _ = self.t.postings(fieldname, text, within=within, lookups=self.lookups)
        if within is None:
            self.whole[fieldname, text] = ids, weights
        return ids, weights

    def _term(self, fieldname: str, text, boost: float) -> tuple[np.ndarray, np.ndarray | None]:
        ids, weights = self._postings(fieldname, text, self.universe)
        if not self.scored or not len(ids):
            return ids, None
        return ids, self._bm25(fieldname, text, ids, weights) * boost

    def _prefix(self, q: wq.Prefix) -> tuple[np.ndarray, np.ndarray | None]:
        """Every term starting with the prefix; each match weighs the boost (Whoosh's constant score)."""
        mask = np.zeros(self.t.n, dtype=bool)
        for text in self.s.reader().expand_prefix(q.fieldname, q.text):
            mask[self.t.postings(q.fieldname, text, within=self.universe, lookups=self.lookups)[0]] = True
        docs = np.flatnonzero(mask)
        return docs, np.full(len(docs), float(q.boost)) if self.scored else None

    def _phrase(self, q: GramPhrase) -> tuple[np.ndarray, np.ndarray | None]:
        """Documents where gram k of the phrase is at position p + k for some p, for every k."""
        words = list(q.words)
        if len(words) < 2 and not (q.head or q.tail):
            return self._term(q.fieldname, words[0], q.boost) if words else (np.zeros(0, dtype=np.int64), None)
        later = self._mostly_implied(q, words)
        checked = _checked(words)
        lists, docs = self._phrase_postings(q.fieldname, words, () if later else checked)
        if not len(docs):
            return docs, None
        found = np.zeros(self.t.n, dtype=bool)
        cand = np.zeros(self.t.n, dtype=bool)
        cand[docs] = True
        if q.implied_by and q.implied_by[0] in self.s.schema:
            sure = self._postings(*q.implied_by, within=docs)[0]
            found[sure[cand[sure]]] = True
            cand[sure] = False  # their positions need no check
        if cand.any():
            within = np.flatnonzero(cand)
            placed = {k: self.t.postings(q.fieldname, words[k], values=True, within=within, lookups=self.lookups)
                      if later else lists[k] for k in checked}
            starts = self._adjacent(placed, cand)
            if q.head and len(starts):
                starts = self._edge(q.fieldname, starts, 1, suffix=q.head)
            if q.tail and len(starts):
                starts = self._edge(q.fieldname, starts, -len(words), prefix=q.tail, before=words[-1])
            found[starts >> 32] = True
        matched = np.flatnonzero(found)
        if not self.scored:
            return matched, None
        total = np.zeros(len(matched))
        for w, (ids, weights, _) in zip(words, lists, strict=True):
            total += self._bm25(q.fieldname, w, matched, weights[locate(ids, matched, self.t.n)])
        return matched, total * q.boost

    def _mostly_implied(self, q: GramPhrase, words: list[str]) -> bool:
        """Whether the word implying the phrase leaves at most 1/`UNSURE` of its rarest gram's documents unsure.

        Then the grams are read first without positions (less inflating, `DocTable.postings`) for
        the scores, and again with positions only in the blocks of the documents the word leaves
        unsure: 新闻联播 is a word in all but one of the 321,787 articles holding its three grams.
        (黄伟哲 leaves 11,777 of 301,794 unsure, in nearly every block: read once, with positions.)
        """
        if not q.implied_by or q.implied_by[0] not in self.s.schema:
            return False
        implied = self._doc_frequencies(q.implied_by[0], [q.implied_by[1]])[0]
        rarest = self._doc_frequencies(q.fieldname, words).min()
        return (rarest - implied) * UNSURE <= rarest

    def _edge(self, fieldname: str, starts: np.ndarray, shift: int, prefix: str = "", suffix: str = "",
              before: str = "") -> np.ndarray:
        """The keys of `starts` (document << 32 | p) with an edge gram (`DocTable.edge_keys`) at p − `shift`."""
        at = (starts & 0xFFFFFFFF) - shift
        ok = at >= 0
        return self.t.edge_keys(fieldname, ((starts >> 32) << 32 | at)[ok], prefix, suffix, before) + shift

    @staticmethod
    def _adjacent(placed: dict[int, tuple], cand: np.ndarray) -> np.ndarray:
        """(document << 32 | p) for the documents of mask `cand` where gram k of the phrase is at p + k, for
        every gram k of `placed` (k -> its postings with positions; `_checked`).

        The grams with the fewest position bytes go first, and each later gram's positions are
        decoded only in the documents still in the running (台南市政府: 1.2 MB of 市政's positions
        first, then 5 MB of 台南's only where 市政 and 政府 follow each other).
        """
        starts, alive = None, cand
        for k in sorted(placed, key=lambda k: _value_bytes(placed[k][2])):
            ids, _, chunks = placed[k]
            at, pos = positions(ids, chunks, alive[ids])
            ok = pos >= k
            keys = (at[ok] << 32) | (pos[ok] - k)  # ascending: postings are in document and position order
            starts = keys if starts is None else common(starts, keys)
            if not len(starts):
                break
            alive = _mask(starts >> 32, len(cand))
        return starts

    def _phrase_postings(self, fieldname: str, words: list[str], values: Collection[int]) -> tuple[list, np.ndarray]:
        """Each gram's postings (with positions for the grams numbered in `values`), and the documents holding
        every gram (none if one is missing).

        Rarest gram first: each later list is read only in the blocks that hold documents
        still in the running (`DocTable.postings`' `within`), so a phrase with one rare gram
        decodes little of its common ones. Within a universe, only its documents are in the running.
        """
        order = np.argsort(self._doc_frequencies(fieldname, words), kind="stable")
        lists: list = [None] * len(words)
        docs = self.universe
        for k in map(int, order):
            lists[k] = self.t.postings(fieldname, words[k], values=k in values, within=docs, lookups=self.lookups)
            ids = lists[k][0]
            docs = ids if docs is None else common(docs, ids)
            if not len(docs):
                break
        return lists, docs


def _checked(words: list[str]) -> list[int]:
    """Which grams of a phrase need their positions checked: not a Han bigram between two checked ones.

    In 台南市政府 (台南 南市 市政 政府), 台南 at p and 市政 at p + 2 mean that 南 and 市 are the Han
    characters at p + 1 and p + 2, so the gram at p + 1 is 南市 (a Han run's characters each start a bigram of
    the next, `indexer.analysis.gram_tokens`): its positions, 1.3 M in a million articles, are not read.
    """
    out: list[int] = []
    for k, w in enumerate(words):
        if (out and out[-1] == k - 1 and k + 1 < len(words)
                and all(len(g) == 2 and is_han(g[0]) and is_han(g[1]) for g in words[k - 1 : k + 2])
                and words[k - 1][1] == w[0] and w[1] == words[k + 1][0]):
            continue
        out.append(k)
    return out


def _union(lists: list[np.ndarray], n: int) -> np.ndarray:
    """The ascending distinct documents of several ascending arrays of documents below `n`."""
    if sum(map(len, lists)) * DENSE <= n:
        return np.unique(np.concatenate([np.zeros(0, dtype=np.int64), *lists]))
    return np.flatnonzero(_mask(np.concatenate(lists), n))


def _value_bytes(chunks: list) -> int:
    """How many bytes of positions a gram's values chunks hold (`positions` decodes them)."""
    return sum(len(c.data) if isinstance(c, PackedValues) else sum(map(len, c)) for c in chunks)


def _mask(docs: np.ndarray, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[docs] = True
    return mask


def top(docs: np.ndarray, key: np.ndarray, k: int) -> np.ndarray:
    """The `k` documents of `docs` with the highest `key` (one value per document in `docs`), best first.

    Ties go to the lower document number, so pages never overlap.
    """
    if k < len(docs):
        cut = np.partition(-key, k - 1)[k - 1]
        keep = -key <= cut
        docs, key = docs[keep], key[keep]
    return docs[np.lexsort((docs, -key))][:k]
