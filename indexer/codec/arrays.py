"""Reading an open index into numpy arrays: per-document arrays, a term's postings, gram positions.

Whoosh reads one document or one posting at a time through Python objects;
these functions read the same files (whoosh3 3.54.0's formats, pinned: length
columns, the term table's inlined postings or block extents, W3 posting
blocks, `indexer.postings.PackedValues`) a block or a column at a time.
"""

from __future__ import annotations

import io
import mmap
import pickle
import struct
import zlib
from array import array
from zlib import crc32

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, WHOOSH3_HEADER_MAGIC, W3TermInfo, _lenfield
from whoosh.columns import TranslatingColumnReader, VarBytesColumn
from whoosh.filedb.filetables import crc_hash
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
        self._tables: list[TermTable | None] | None = None

    def doc_frequencies(self, fieldname: str, words: list[str]) -> np.ndarray:
        """How many documents hold each of `words` in a field, summed over segments (as Whoosh counts).

        One batch of hash-table probes per segment (`TermTable`) instead of a
        Whoosh lookup per word: did-you-mean weighs hundreds of candidate words.
        """
        out = np.zeros(len(words), dtype=np.int64)
        keys = [w.encode("utf-8") for w in words]
        for (r, _off), table in zip(self.leaves, self.term_tables(), strict=True):
            if table is not None:
                out += table.doc_frequencies(fieldname, keys)
            else:
                out += [r.doc_frequency(fieldname, k) for k in keys]
        return out

    def term_tables(self) -> list[TermTable | None]:
        """Each segment's `TermTable` (None where Whoosh has to look terms up itself), mapped on first use."""
        if self._tables is None:
            self._tables = [TermTable.of(r._terms) for r, _off in self.leaves]
        return self._tables

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
                    values.extend(v.decode("utf-8") for v in raw)
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

    def postings(self, fieldname: str, text, values: bool = False, within: np.ndarray | None = None):
        """(doc numbers, weights, encoded values or None) of a term across every segment.

        With `within` (ascending doc numbers), blocks holding none of them may be left out: what is
        returned is a superset of the term's postings in `within`.
        """
        field = self.searcher.schema[fieldname]
        btext = field.to_bytes(text) if isinstance(text, str) else text
        ids, weights, vals = [], [], []
        for (r, off), table in zip(self.leaves, self.term_tables(), strict=True):
            terms = r._terms
            try:
                info = (table or terms).term_info(fieldname, btext)
            except TermNotFound:
                continue
            if info.is_inlined():
                i, w, v = info.inlined_postings()
                i, w, v = np.array(i, dtype=np.int64), np.array(w, dtype=np.float64), [list(v)]
            else:
                offset, length = info.extent()
                length = length[0] if isinstance(length, tuple) else length  # whoosh3 reads it as a 1-tuple
                local = None if within is None else within[(within >= off) & (within < off + r.doc_count_all())] - off
                i, w, v = read_blocks(terms._postfile, offset, length, values, local)
            ids.append(i + off)  # deleted documents stay: `live` masks them
            weights.append(w)
            if values:
                vals.extend(v)  # chunks, in document order
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0), [] if values else None
        return np.concatenate(ids), np.concatenate(weights), vals if values else None


class TermTable:
    """One segment's term table (whoosh3's on-disk hash of field + term → term info), read from a memory map.

    The same lookup as whoosh's ``HashReader.ranges_for_key`` (crc32 of the key, then
    the slot chain of its table), with ``struct.unpack_from`` on the mapped file instead
    of a seek and a read per slot: did-you-mean weighs hundreds of candidate words,
    and every term of a query is looked up in every segment.
    """

    _POINTER = struct.Struct("!Iq")  # a slot: key hash, position of the key/value record
    _LENGTHS = struct.Struct("!ii")  # a record: key length, value length

    def __init__(self, terms, mapped: mmap.mmap) -> None:
        self._keycoder = terms._keycoder
        self._fields = set(terms._fieldmap)
        self._mapped = mapped
        self._dir = terms._tindex.tables

    @classmethod
    def of(cls, terms) -> TermTable | None:
        """The table of a whoosh3 terms reader, or None when its file cannot be mapped (then Whoosh looks up)."""
        tindex = terms._tindex
        f = getattr(tindex.dbfile, "file", None)
        if tindex.hashfn is not crc_hash or not isinstance(f, io.BufferedReader):
            return None
        try:
            return cls(terms, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
        except (OSError, ValueError):
            return None

    def _find(self, key: bytes) -> tuple[int, int] | None:
        """Where the value (a W3TermInfo) of `key` starts and its length, or None."""
        h = crc32(key)
        start, slots = self._dir[h & 255]
        m = self._mapped
        slot = (h >> 8) % slots if slots else 0
        for _ in range(slots):
            slothash, item = self._POINTER.unpack_from(m, start + slot * self._POINTER.size)
            if not item:
                return None
            if slothash == h:
                keylen, datalen = self._LENGTHS.unpack_from(m, item)
                if keylen == len(key) and m[item + 8 : item + 8 + keylen] == key:
                    return item + 8 + keylen, datalen
            slot = (slot + 1) % slots
        return None

    def term_info(self, fieldname: str, term: bytes) -> W3TermInfo:
        found = self._find(self._keycoder(fieldname, term)) if fieldname in self._fields else None
        if found is None:
            raise TermNotFound(f"No term {fieldname}:{term!r}")
        at, length = found
        return W3TermInfo.from_bytes(self._mapped[at : at + length])

    def doc_frequencies(self, fieldname: str, terms: list[bytes]) -> list[int]:
        if fieldname not in self._fields:
            return [0] * len(terms)
        field, m = self._keycoder(fieldname, b""), self._mapped
        out = []
        for t in terms:
            found = self._find(field + t)  # W3TermInfo: a flags byte, the weight (float), the document frequency
            out.append(0 if found is None else int.from_bytes(m[found[0] + 5 : found[0] + 9], "big"))
        return out


def length_bytes(r, fieldname: str) -> np.ndarray:
    """A segment's stored length bytes of a field, read in one call (Whoosh reads them one document at a time)."""
    count = r.doc_count_all()
    out = np.zeros(count, dtype=np.uint8)
    col = r._perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
    if col is not None:
        n = min(col._count, count)
        out[:n] = np.frombuffer(col._dbfile.get(col._basepos, n), dtype=np.uint8)
    return out


def read_blocks(postfile, offset: int, length: int, values: bool,
                within: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, list]:
    """Every (doc, weight[, values chunk]) of a term's posting blocks, read in one call (W3LeafMatcher's format).

    Whoosh's leaf matcher seeks and reads three times per block and keeps a
    Python object per posting; here the term's whole extent is read at once and
    each block's arrays go straight into numpy. A block whose documents (after the
    previous block's last, up to its own last) include none of `within` is skipped
    undecoded: a phrase of rare and common grams decodes few blocks of the common ones.
    """
    raw = postfile.get(offset, length)
    if raw[:4] != WHOOSH3_HEADER_MAGIC:
        raise CorruptIndexError(f"bad postings block tag at offset {offset}")
    f = io.BytesIO(raw)
    pos, blocks = 4, []  # (posting count, last doc, compressed, data start, data end)
    while pos < length:
        (size,) = unpack_int(raw[pos : pos + 4])
        f.seek(pos + 4)
        n, last, _maxw, comp, _minl, _maxl = pickle.load(f)
        pos = pos + 4 + abs(size)
        blocks.append((n, last, comp, f.tell(), pos))
        if size < 0:
            break
    if within is not None:
        ends = np.searchsorted(within, [b[1] for b in blocks], "right")  # candidates up to each block's last doc
        blocks = [b for b, a, z in zip(blocks, np.concatenate(([0], ends[:-1])), ends, strict=True) if z > a]
    ids, weights, vals = [], [], []
    for n, _last, comp, start, end in blocks:
        data = raw[start:end]
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
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0), vals
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
