"""Evaluating a query over the whole index at once, with numpy arrays instead of Whoosh's matchers.

Whoosh scores a query by walking a tree of matchers one document at a time:
several Python calls per document per node, so a common word (台南 is in 11,000
of 12,000 articles) over four fields took ~100 ms before a page could be cut.
Here every node of the same query tree (``Term``, ``GramPhrase``, ``Or``,
``And``, ``AndMaybe``, ``AndNot``, the date and time ranges) becomes a boolean
mask and a score vector over all documents: a term's postings are read a block
at a time into arrays (`indexer.codec.arrays`), BM25F is computed in one vector expression with the
same formula, statistics and stored length bytes as Whoosh's ``BM25F``, and a
gram phrase is matched by intersecting (document, position − k) keys of its
grams, and its open edges (a letter/digit run or a lone Han character where the
article's gram may be longer) by the positions of the grams that start or end
that way, never by reading stored text. The results equal Whoosh's, which tests
check node by node.

The arrays are read by `indexer.codec.arrays`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from whoosh import query as wq
from whoosh.scoring import BM25F

from .codec.arrays import DocTable, positions
from .phrase import GramPhrase
from .ranges import ColumnRange

_B, _K1 = BM25F().B, BM25F().K1


@dataclass
class Found:
    """Documents matching a (sub)query, and their scores (0 where not matched)."""

    mask: np.ndarray  # bool, one per document number
    scores: np.ndarray  # float64


class Evaluator:
    """Turns the query trees of `indexer.search` into `Found` arrays over one searcher's documents."""

    def __init__(self, table: DocTable) -> None:
        self.t = table
        self.s = table.searcher

    def _none(self) -> Found:
        return Found(np.zeros(self.t.n, dtype=bool), np.zeros(self.t.n))

    def run(self, q: wq.Query, scored: bool = True) -> Found:
        t = self.t
        if isinstance(q, GramPhrase):
            return self._phrase(q, scored)
        if isinstance(q, wq.Term):
            return self._term(q.fieldname, q.text, q.boost, scored)
        if isinstance(q, wq.AndMaybe):
            a, b = self.run(q.a, scored), self.run(q.b, scored)
            return Found(a.mask, a.scores + np.where(a.mask & b.mask, b.scores, 0.0) if scored else a.scores)
        if isinstance(q, wq.AndNot):
            a, b = self.run(q.a, scored), self.run(q.b, False)
            return Found(a.mask & ~b.mask, a.scores)
        if isinstance(q, (wq.And, wq.Or)):
            parts = [self.run(sub, scored) for sub in q.subqueries]
            if not parts:
                return self._none()
            mask = parts[0].mask.copy()
            for p in parts[1:]:
                mask = (mask & p.mask) if isinstance(q, wq.And) else (mask | p.mask)
            scores = sum((p.scores for p in parts[1:]), parts[0].scores) if scored else parts[0].scores
            return Found(mask, scores * q.boost if scored and q.boost != 1 else scores)
        if isinstance(q, (ColumnRange, wq.NumericRange)):  # a date (text) or index time (number) column
            values = t.column(q.fieldname)
            mask = np.ones(t.n, dtype=bool)
            if q.start is not None:
                mask &= (values > q.start) if q.startexcl else (values >= q.start)
            if q.end is not None:
                mask &= (values < q.end) if q.endexcl else (values <= q.end)
            return Found(mask, np.where(mask, q.boost, 0.0))
        if isinstance(q, wq.Prefix):
            return self._prefix(q)
        if q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
            return self._none()
        raise TypeError(f"cannot evaluate {type(q).__name__}")

    def _bm25(self, fieldname: str, text, ids: np.ndarray, weights: np.ndarray) -> np.ndarray:
        idf = self.s.idf(fieldname, text)
        avgfl = self.s.avg_field_length(fieldname) or 1
        fl = self.t.lengths(fieldname)[ids]
        return idf * ((weights * (_K1 + 1)) / (weights + _K1 * ((1 - _B) + _B * fl / avgfl)))

    def _term(self, fieldname: str, text, boost: float, scored: bool) -> Found:
        if fieldname not in self.s.schema:
            return self._none()
        ids, weights, _ = self.t.postings(fieldname, text)
        found = self._none()
        found.mask[ids] = True
        if scored and len(ids):
            found.scores[ids] = self._bm25(fieldname, text, ids, weights) * boost
        return found

    def _prefix(self, q: wq.Prefix) -> Found:
        """Every term starting with the prefix; each match weighs the boost (Whoosh's constant score)."""
        found = self._none()
        if q.fieldname not in self.s.schema:
            return found
        for text in self.s.reader().expand_prefix(q.fieldname, q.text):
            ids, _, _ = self.t.postings(q.fieldname, text)
            found.mask[ids] = True
        found.scores[found.mask] = q.boost
        return found

    def _phrase(self, q: GramPhrase, scored: bool) -> Found:
        """Documents where gram k of the phrase is at position p + k for some p, for every k."""
        words = list(q.words)
        if len(words) < 2 and not (q.head or q.tail):
            return self._term(q.fieldname, words[0], q.boost, scored) if words else self._none()
        if q.fieldname not in self.s.schema:
            return self._none()
        found = self._none()
        lists, docs = self._phrase_postings(q.fieldname, words)
        if not len(docs):
            return found
        cand = np.zeros(self.t.n, dtype=bool)
        cand[docs] = True
        if q.implied_by and q.implied_by[0] in self.s.schema:
            sure = self.t.postings(*q.implied_by)[0]
            found.mask[sure[cand[sure]]] = True
            cand[sure] = False  # their positions need no check
        if cand.any():
            starts = self._adjacent(lists, cand)
            if q.head and len(starts):
                starts = _common(starts, self._edge(q.fieldname, starts, 1, suffix=q.head))
            if q.tail and len(starts):
                starts = _common(starts, self._edge(q.fieldname, starts, -len(words), prefix=q.tail))
            found.mask[starts >> 32] = True
        matched = np.flatnonzero(found.mask)
        if scored:
            total = np.zeros(len(matched))
            for w, (ids, weights, _) in zip(words, lists, strict=True):
                at = np.searchsorted(ids, matched)
                total += self._bm25(q.fieldname, w, matched, weights[at])
            found.scores[matched] = total * q.boost
        return found

    def _edge(self, fieldname: str, starts: np.ndarray, shift: int, prefix: str = "", suffix: str = "") -> np.ndarray:
        """The (document, start) keys that an edge gram (`DocTable.edge_positions`) allows: its position + `shift`."""
        docs, pos = self.t.edge_positions(fieldname, np.unique(starts >> 32), prefix, suffix)
        ok = pos + shift >= 0
        return np.unique((docs[ok] << 32) | (pos[ok] + shift))

    @staticmethod
    def _adjacent(lists: list, cand: np.ndarray) -> np.ndarray:
        """(document << 32 | p) for the documents of mask `cand` where gram k of the phrase is at p + k."""
        starts = None
        for k, (ids, _, chunks) in enumerate(lists):
            at, pos = positions(ids, chunks)
            ok = (pos >= k) & cand[at]
            keys = (at[ok] << 32) | (pos[ok] - k)  # ascending: postings are in document and position order
            starts = keys if starts is None else _common(starts, keys)
            if not len(starts):
                break
        return starts

    def _phrase_postings(self, fieldname: str, words: list[str]) -> tuple[list, np.ndarray]:
        """Each gram's postings with positions, and the documents holding every gram (none if one is missing).

        Rarest gram first: each later list is read only in the blocks that hold documents
        still in the running (`DocTable.postings`' `within`), so a phrase with one rare gram
        decodes little of its common ones.
        """
        order = np.argsort(self.t.doc_frequencies(fieldname, words), kind="stable")
        lists: list = [None] * len(words)
        docs = None
        for k in map(int, order):
            lists[k] = self.t.postings(fieldname, words[k], values=True, within=docs)
            ids = lists[k][0]
            docs = ids if docs is None else _common(docs, ids)
            if not len(docs):
                break
        return lists, docs


def _common(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The values in both of two ascending arrays of distinct values (no sorting, unlike np.intersect1d)."""
    if not len(a) or not len(b):
        return a[:0]
    at = np.minimum(np.searchsorted(b, a), len(b) - 1)
    return a[b[at] == a]


def top(docs: np.ndarray, key: np.ndarray, k: int) -> np.ndarray:
    """The `k` documents of `docs` with the highest `key` (one value per document in `docs`), best first.

    Ties go to the lower document number, so pages never overlap.
    """
    if k < len(docs):
        cut = np.partition(-key, k - 1)[k - 1]
        keep = -key <= cut
        docs, key = docs[keep], key[keep]
    return docs[np.lexsort((docs, -key))][:k]
