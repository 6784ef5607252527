"""Exact phrases over gram fields, matched with sets instead of Whoosh's span machinery.

Whoosh's ``Phrase`` walks every candidate document through ``SpanNear2``:
several Python calls and ``Span`` objects per position, ~0.3 ms per candidate.
A gram phrase is a run of adjacent grams, so a document matches when, for some
position p of the first gram, gram k is at p + k for every k. Here the grams'
postings are read a block at a time (rarest gram first, narrowing the
candidates), each candidate is checked with set lookups, and the scores are
computed once: what Whoosh's ``Phrase`` gives, the sum of the grams' BM25F
scores in the document, times the boost. The result is cached on the query, so
counting the total after collecting the page costs nothing more.

Relies on whoosh3 3.54.0's matchers (pinned): a W3 leaf matcher's block
buffers, and ``ListMatcher`` for inlined postings.
"""

from __future__ import annotations

from whoosh import matching
from whoosh import query as wq
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching import ListMatcher
from whoosh.scoring import WeightLengthScorer

from .schema import _SWAP, GramPositions


def _read_all(m) -> tuple[list[int], list[float], list]:
    """Every (doc, weight, value) of a raw posting matcher, as three lists."""
    if isinstance(m, ListMatcher):
        n = len(m._ids)
        weights = m._weights if m._weights is not None else [1.0] * n
        return list(m._ids), list(weights), list(m._values)
    if not isinstance(m, W3LeafMatcher):
        ids, weights, values = [], [], []
        while m.is_active():
            ids.append(m.id())
            weights.append(m.weight())
            values.append(m.value())
            m.next()
        return ids, weights, values
    ids, weights, values = [], [], []
    while not m._atend:
        m._read_ids()
        m._read_weights()
        m._read_values()
        ids.extend(m._ids)
        weights.extend(m._weights)
        values.extend(m._values)
        m._next_block()
    return ids, weights, values


class GramPhrase(wq.Phrase):
    """``Phrase`` with a faster matcher for fields whose positions count grams."""

    def matcher(self, searcher, context=None):
        fieldname = self.fieldname
        weighting = context.weighting if context is not None else searcher.weighting
        if len(self.words) < 2 or fieldname not in searcher.schema or self.slop != 1:
            return super().matcher(searcher, context)
        field = searcher.schema[fieldname]
        reader = searcher.reader()
        words = [field.to_bytes(w) for w in self.words]
        if any((fieldname, w) not in reader for w in words):
            return matching.NullMatcher()
        scorers = None  # no weighting: only the documents are wanted (counting, filtering)
        if weighting is not None:
            scorers = [weighting.scorer(searcher, fieldname, w) for w in words]
            if not all(isinstance(s, WeightLengthScorer) for s in scorers):
                return super().matcher(searcher, context)
        cache = self.__dict__.setdefault("_found", {})
        key = (id(reader), id(weighting) if weighting is not None else None)
        if key not in cache:
            cache[key] = self._find(reader, fieldname, field.format, words, scorers)
        ids, scores = cache[key]
        if not ids:
            return matching.NullMatcher()
        return _Scored(ids, scores, self.boost)

    def _find(self, reader, fieldname, fmt, words, scorers) -> tuple[list[int], list[float]]:
        n = len(words)
        order = sorted(range(n), key=lambda k: reader.doc_frequency(fieldname, words[k]))
        weights: list[dict[int, float]] = [{}] * n
        values: list[dict[int, bytes]] = [{}] * n
        candidates: set[int] | None = None
        for k in order:
            ids, ws, vs = _read_all(reader.postings(fieldname, words[k]))
            weights[k], values[k] = dict(zip(ids, ws, strict=True)), dict(zip(ids, vs, strict=True))
            candidates = set(ids) if candidates is None else candidates.intersection(ids)
            if not candidates:
                return [], []
        decode = _decoder(fmt)
        out_ids: list[int] = []
        scores: list[float] = []
        for d in sorted(candidates):
            starts = set(decode(values[0][d]))
            for k in range(1, n):
                starts.intersection_update([p - k for p in decode(values[k][d])])
                if not starts:
                    break
            else:
                out_ids.append(d)
                if scorers is not None:
                    length = scorers[0].dfl(d)
                    scores.append(sum(s._score(weights[k][d], length) for k, s in enumerate(scorers)))
        return out_ids, scores


def _decoder(fmt):
    """`fmt.decode_positions`, with a shortcut for GramPositions' one-position values (most grams)."""
    decode = fmt.decode_positions
    if not isinstance(fmt, GramPositions) or _SWAP:
        return decode

    def fast(v: bytes):
        return (v[1] | v[2] << 8,) if len(v) == 3 and v[0] == 72 else decode(v)  # b"H" + one uint16

    return fast


class _Scored(ListMatcher):
    """Matched documents with precomputed scores (none when the search wants no scores)."""

    def __init__(self, ids: list[int], scores: list[float], boost: float, position: int = 0) -> None:
        super().__init__(ids, position=position)
        self._scores = scores
        self._boost = boost

    def copy(self):
        return _Scored(self._ids, self._scores, self._boost, self._i)

    def supports_block_quality(self) -> bool:
        return False

    def score(self) -> float:
        return self._scores[self._i] * self._boost if self._scores else 0.0
