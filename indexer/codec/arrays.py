"""Reading an open index into numpy arrays: per-document arrays, a term's postings, gram positions.

Whoosh reads one document or one posting at a time through Python objects;
these functions read the same files (whoosh3 3.54.0's formats, pinned: length
columns, the term table's inlined postings or block extents, W3 posting
blocks, `indexer.postings.PackedValues`) a block or a column at a time.
"""

from __future__ import annotations

import io
import pickle
import zlib
from array import array

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, WHOOSH3_HEADER_MAGIC, _lenfield
from whoosh.columns import TranslatingColumnReader, VarBytesColumn
from whoosh.reading import CorruptIndexError, TermNotFound
from whoosh.system import unpack_int
from whoosh.util.numeric import byte_to_length

from ..postings import PackedValues
from ..schema import GramPositions

_LENGTHS = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)
_DTYPES = {"B": np.uint8, "H": np.uint16, "I": np.uint32}


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
                out[off : off + r.doc_count_all()] = length_bytes(r, fieldname)
            self._lengths[fieldname] = _LENGTHS[out]
        return self._lengths[fieldname]

    def column(self, fieldname: str) -> np.ndarray:
        """A sortable column's values for every document: strings ("" for none) or integers."""
        if fieldname not in self._columns:
            values: list = []
            for r, _off in self.leaves:
                count = r.doc_count_all()
                if fieldname not in r.schema or not r.has_column(fieldname):  # older indexes lack newer columns
                    values.extend([None] * count)
                    continue
                col = r.column_reader(fieldname)
                raw = col.raw_column() if isinstance(col, TranslatingColumnReader) else None
                if raw is not None and isinstance(raw, VarBytesColumn.Reader):  # bytes, read without translating
                    values.extend(var_bytes_column(raw))
                else:
                    values.extend(col[d] for d in range(count))
            if values and all(isinstance(v, int) for v in values):
                self._columns[fieldname] = np.array(values, dtype=np.int64)
            else:
                self._columns[fieldname] = np.array([v or "" for v in values], dtype=str)
        return self._columns[fieldname]

    def missing(self, fieldname: str) -> np.ndarray:
        """Mask of the live documents with no value in a text column (a column older indexes lack)."""
        return (self.column(fieldname) == "") & self.live

    def fill_column(self, fieldname: str, derive, docs: np.ndarray) -> None:
        """Fill a text column's empty values for the documents of mask `docs` with `derive(docnum)`."""
        col = self.column(fieldname)
        missing = np.flatnonzero(self.missing(fieldname) & docs)
        if len(missing):
            filled = col.astype(object)
            for d in map(int, missing):
                filled[d] = derive(d)
            self._columns[fieldname] = np.array([v or "" for v in filled], dtype=str)

    def rank(self, fieldname: str) -> np.ndarray:
        """Each document's place in the sorted order of a column's values (equal values, equal ranks)."""
        key = f"rank:{fieldname}"
        if key not in self._columns:
            self._columns[key] = np.unique(self.column(fieldname), return_inverse=True)[1].astype(np.float64)
        return self._columns[key]

    def postings(self, fieldname: str, text, values: bool = False):
        """(doc numbers, weights, encoded values or None) of a term across every segment."""
        field = self.searcher.schema[fieldname]
        btext = field.to_bytes(text) if isinstance(text, str) else text
        ids, weights, vals = [], [], []
        for r, off in self.leaves:
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
                i, w, v = read_blocks(terms._postfile, offset, length, values)
            ids.append(i + off)  # deleted documents stay: `live` masks them
            weights.append(w)
            if values:
                vals.extend(v)  # chunks, in document order
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0), [] if values else None
        return np.concatenate(ids), np.concatenate(weights), vals if values else None


def var_bytes_column(raw: VarBytesColumn.Reader) -> list[str]:
    """Every value of a bytes column as text, read in one call (Whoosh seeks and reads once per value:
    7 µs a document, seconds at a million)."""
    lengths = raw._lengths
    if not len(lengths):
        return []
    blob = raw._dbfile.get(raw._basepos, sum(lengths))
    ends = np.cumsum(np.frombuffer(lengths, dtype=lengths.typecode) if isinstance(lengths, array)
                     else np.array(lengths), dtype=np.int64).tolist()
    if blob.isascii():  # ids, digests, dates, keys: byte offsets are character offsets
        text = blob.decode("ascii")
        return [text[a:b] for a, b in zip([0, *ends], ends, strict=False)]
    return [blob[a:b].decode("utf-8") for a, b in zip([0, *ends], ends, strict=False)]


def length_bytes(r, fieldname: str) -> np.ndarray:
    """A segment's stored length bytes of a field, read in one call (Whoosh reads them one document at a time)."""
    count = r.doc_count_all()
    out = np.zeros(count, dtype=np.uint8)
    col = r._perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
    if col is not None:
        n = min(col._count, count)
        out[:n] = np.frombuffer(col._dbfile.get(col._basepos, n), dtype=np.uint8)
    return out


def read_blocks(postfile, offset: int, length: int, values: bool) -> tuple[np.ndarray, np.ndarray, list]:
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


def positions(docs: np.ndarray, chunks: list) -> tuple[np.ndarray, np.ndarray]:
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
