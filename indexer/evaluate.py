"""Evaluating a query over the whole index at once, with numpy arrays instead of Whoosh's matchers.

Whoosh scores a query by walking a tree of matchers one document at a time:
several Python calls per document per node, so a common word (台南 is in 11,000
of 12,000 articles) over four fields took ~100 ms before a page could be cut.
Here every node of the same query tree (``Term``, ``GramPhrase``, ``Or``,
``And``, ``AndMaybe``, ``AndNot``, the date and time ranges) becomes a boolean
mask and a score vector over all documents: a term's postings are read a block
at a time into arrays, BM25F is computed in one vector expression with the
same formula, statistics and stored length bytes as Whoosh's ``BM25F``, and a
gram phrase is matched by intersecting (document, position − k) keys of its
grams. The results equal Whoosh's, which tests check node by node.

Relies on whoosh3 3.54.0's on-disk formats (pinned): the term info of a segment's
term table (inlined postings or the extent of its blocks) and W3 posting blocks.
"""

from __future__ import annotations

import io
import pickle
import zlib
from array import array
from dataclasses import dataclass

import numpy as np
from whoosh import query as wq
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, WHOOSH3_HEADER_MAGIC, _lenfield
from whoosh.columns import TranslatingColumnReader, VarBytesColumn
from whoosh.reading import CorruptIndexError, TermNotFound
from whoosh.scoring import BM25F
from whoosh.system import unpack_int
from whoosh.util.numeric import byte_to_length

from .phrase import GramPhrase
from .postings import PackedValues
from .ranges import ColumnRange
from .schema import GramPositions

_LENGTHS = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)
_B, _K1 = BM25F().B, BM25F().K1
_DTYPES = {"B": np.uint8, "H": np.uint16, "I": np.uint32}


@dataclass
class Found:
    """Documents matching a (sub)query, and their scores (0 where not matched)."""

    mask: np.ndarray  # bool, one per document number
    scores: np.ndarray  # float64


class DocTable:
    """Per-document arrays of one open searcher: live documents, field lengths, dates, index times."""

    def __init__(self, searcher) -> None:
        self.searcher = searcher
        reader = searcher.reader()
        self.n = reader.doc_count_all()
        self.leaves = [(r, off) for r, off in reader.leaf_readers() if r.doc_count_all()]  # not EmptyReader
        self.live = np.ones(self.n, dtype=bool)
        for r, off in self.leaves:
            deleted = r.deleted_docs_set if hasattr(r, "deleted_docs_set") else ()
            if deleted:
                self.live[np.fromiter(deleted, dtype=np.int64) + off] = False
        self._lengths: dict[str, np.ndarray] = {}
        self._columns: dict[str, np.ndarray] = {}

    def lengths(self, fieldname: str) -> np.ndarray:
        """Each document's field length as Whoosh scores it (decoded from the stored length byte)."""
        if fieldname not in self._lengths:
            out = np.zeros(self.n, dtype=np.uint8)
            for r, off in self.leaves:
                out[off : off + r.doc_count_all()] = _length_bytes(r, fieldname)
            self._lengths[fieldname] = _LENGTHS[out]
        return self._lengths[fieldname]

    def column(self, fieldname: str) -> np.ndarray:
        """A sortable column's values for every document: strings ("" for none) or integers."""
        if fieldname not in self._columns:
            values: list = []
            for r, _off in self.leaves:
                count = r.doc_count_all()
                if not r.has_column(fieldname):
                    values.extend([None] * count)
                    continue
                col = r.column_reader(fieldname)
                raw = col.raw_column() if isinstance(col, TranslatingColumnReader) else None
                if raw is not None and isinstance(raw, VarBytesColumn.Reader):  # bytes, read without translating
                    values.extend(v.decode("utf-8") for v in raw)
                else:
                    values.extend(col[d] for d in range(count))
            if values and all(isinstance(v, int) for v in values):
                self._columns[fieldname] = np.array(values, dtype=np.int64)
            else:
                self._columns[fieldname] = np.array([v or "" for v in values], dtype=str)
        return self._columns[fieldname]

    def rank(self, fieldname: str) -> np.ndarray:
        """Each document's place in the sorted order of a column's values (equal values, equal ranks)."""
        key = f"rank:{fieldname}"
        if key not in self._columns:
            self._columns[key] = np.unique(self.column(fieldname), return_inverse=True)[1].astype(np.float64)
        return self._columns[key]

    def none(self) -> Found:
        return Found(np.zeros(self.n, dtype=bool), np.zeros(self.n))


def _length_bytes(r, fieldname: str) -> np.ndarray:
    """A segment's stored length bytes of a field, read in one call (Whoosh reads them one document at a time)."""
    count = r.doc_count_all()
    out = np.zeros(count, dtype=np.uint8)
    col = r._perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
    if col is not None:
        n = min(col._count, count)
        out[:n] = np.frombuffer(col._dbfile.get(col._basepos, n), dtype=np.uint8)
    return out


class Evaluator:
    """Turns the query trees of `indexer.search` into `Found` arrays over one searcher's documents."""

    def __init__(self, table: DocTable) -> None:
        self.t = table
        self.s = table.searcher

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
                return t.none()
            mask = parts[0].mask.copy()
            for p in parts[1:]:
                mask = (mask & p.mask) if isinstance(q, wq.And) else (mask | p.mask)
            scores = sum((p.scores for p in parts[1:]), parts[0].scores) if scored else parts[0].scores
            return Found(mask, scores * q.boost if scored and q.boost != 1 else scores)
        if isinstance(q, ColumnRange):
            values = t.column(q.fieldname)
            mask = np.ones(t.n, dtype=bool)
            if q.start is not None:
                mask &= (values > q.start) if q.startexcl else (values >= q.start)
            if q.end is not None:
                mask &= (values < q.end) if q.endexcl else (values <= q.end)
            return Found(mask, np.where(mask, q.boost, 0.0))
        if isinstance(q, wq.NumericRange):
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
            return t.none()
        raise TypeError(f"cannot evaluate {type(q).__name__}")

    def _postings(self, fieldname: str, text, values: bool = False):
        """(doc numbers, weights, encoded values or None) of a term across every segment."""
        field = self.s.schema[fieldname]
        btext = field.to_bytes(text) if isinstance(text, str) else text
        ids, weights, vals = [], [], []
        for r, off in self.t.leaves:
            terms = r._terms
            try:
                info = terms.term_info(fieldname, btext)
            except TermNotFound:
                continue
            if info.is_inlined():
                i, w, v = info.inlined_postings()
                i, w, v = np.array(i, dtype=np.int64), np.array(w, dtype=np.float64), [list(v)]
            else:
                offset, length = info.extent()
                length = length[0] if isinstance(length, tuple) else length  # whoosh3 reads it as a 1-tuple
                i, w, v = _read_blocks(terms._postfile, offset, length, values)
            ids.append(i + off)  # deleted documents stay: `live` masks them
            weights.append(w)
            if values:
                vals.extend(v)  # chunks, in document order
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0), [] if values else None
        return np.concatenate(ids), np.concatenate(weights), vals if values else None

    def _bm25(self, fieldname: str, text, ids: np.ndarray, weights: np.ndarray) -> np.ndarray:
        idf = self.s.idf(fieldname, text)
        avgfl = self.s.avg_field_length(fieldname) or 1
        fl = self.t.lengths(fieldname)[ids]
        return idf * ((weights * (_K1 + 1)) / (weights + _K1 * ((1 - _B) + _B * fl / avgfl)))

    def _term(self, fieldname: str, text, boost: float, scored: bool) -> Found:
        if fieldname not in self.s.schema:
            return self.t.none()
        ids, weights, _ = self._postings(fieldname, text)
        found = self.t.none()
        found.mask[ids] = True
        if scored and len(ids):
            found.scores[ids] = self._bm25(fieldname, text, ids, weights) * boost
        return found

    def _prefix(self, q: wq.Prefix) -> Found:
        """Every term starting with the prefix; each match weighs the boost (Whoosh's constant score)."""
        found = self.t.none()
        if q.fieldname not in self.s.schema:
            return found
        for text in self.s.reader().expand_prefix(q.fieldname, q.text):
            ids, _, _ = self._postings(q.fieldname, text)
            found.mask[ids] = True
        found.scores[found.mask] = q.boost
        return found

    def _phrase(self, q: GramPhrase, scored: bool) -> Found:
        """Documents where gram k of the phrase is at position p + k for some p, for every k."""
        words = list(q.words)
        if len(words) < 2:
            return self._term(q.fieldname, words[0], q.boost, scored) if words else self.t.none()
        if q.fieldname not in self.s.schema:
            return self.t.none()
        lists = [self._postings(q.fieldname, w, values=True) for w in words]
        count = np.zeros(self.t.n, dtype=np.int32)
        for ids, _, _ in lists:
            count[ids] += 1
        cand = count == len(lists)
        found = self.t.none()
        if not cand.any():
            return found
        starts = None
        for k, (ids, _, chunks) in enumerate(lists):
            docs, pos = _positions(ids, chunks)
            ok = (pos >= k) & cand[docs]
            keys = (docs[ok] << 32) | (pos[ok] - k)  # ascending: postings are in document and position order
            starts = keys if starts is None else _common(starts, keys)
            if not len(starts):
                return found
        found.mask[starts >> 32] = True
        matched = np.flatnonzero(found.mask)
        if scored:
            total = np.zeros(len(matched))
            for w, (ids, weights, _) in zip(words, lists, strict=True):
                at = np.searchsorted(ids, matched)
                total += self._bm25(q.fieldname, w, matched, weights[at])
            found.scores[matched] = total * q.boost
        return found


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


def _read_blocks(postfile, offset: int, length: int, values: bool) -> tuple[np.ndarray, np.ndarray, list]:
    """Every (doc, weight[, values chunk]) of a term's posting blocks, read in one call (W3LeafMatcher's format).

    Whoosh's leaf matcher seeks and reads three times per block and keeps a
    Python object per posting; here the term's whole extent is read at once and
    each block's arrays go straight into numpy.
    """
    raw = postfile.get(offset, length)
    if raw[:4] != WHOOSH3_HEADER_MAGIC:
        raise CorruptIndexError(f"bad postings block tag at offset {offset}")
    f = io.BytesIO(raw)
    pos, ids, weights, vals = 4, [], [], []
    while pos < length:
        (size,) = unpack_int(raw[pos : pos + 4])
        f.seek(pos + 4)
        n, _last, _maxw, comp, _minl, _maxl = pickle.load(f)
        end = pos + 4 + abs(size)
        data = raw[f.tell() : end]
        d_ids, d_weights, d_values = pickle.loads(zlib.decompress(data) if comp else data)
        if isinstance(d_ids, array):  # indexer.postings: deltas as an array
            ids.append(np.cumsum(np.frombuffer(d_ids, dtype=_DTYPES[d_ids.typecode]), dtype=np.int64))
        else:
            ids.append(np.cumsum(np.array(d_ids, dtype=np.int64)))
        if d_weights is None:
            weights.append(np.ones(n))
        elif isinstance(d_weights, float):
            weights.append(np.full(n, d_weights))
        elif isinstance(d_weights, array):
            weights.append(np.frombuffer(d_weights, dtype=np.float32).astype(np.float64))
        else:
            weights.append(np.array(d_weights, dtype=np.float64))
        if values:
            vals.append(d_values)
        pos = end
        if size < 0:
            break
    return np.concatenate(ids), np.concatenate(weights), vals


def _positions(docs: np.ndarray, chunks: list) -> tuple[np.ndarray, np.ndarray]:
    """(document, position) pairs of `indexer.schema.GramPositions` values (a typecode byte + an array)."""
    lens, bufs = [], []
    for chunk in chunks:
        if isinstance(chunk, PackedValues):
            ends = np.frombuffer(chunk.ends, dtype=np.uint32).astype(np.int64)
            lens.append(np.diff(ends, prepend=0))
            bufs.append(chunk.data)
        else:
            lens.append(np.fromiter(map(len, chunk), dtype=np.int64, count=len(chunk)))
            bufs.append(b"".join(chunk))
    if not bufs:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lens_a = np.concatenate(lens)
    buf = np.frombuffer(b"".join(bufs), dtype=np.uint8)
    heads = np.cumsum(lens_a) - lens_a
    if np.all(buf[heads] == ord("H")):
        body = np.ones(len(buf), dtype=bool)
        body[heads] = False
        pos = buf[body].view("<u2").astype(np.int64)
        counts = (lens_a - 1) // 2
    else:
        decode = GramPositions().decode_positions
        decoded = [decode(v) for chunk in chunks for v in chunk]
        pos = np.fromiter((p for ps in decoded for p in ps), dtype=np.int64)
        counts = np.array([len(ps) for ps in decoded], dtype=np.int64)
    return np.repeat(docs, counts), pos
