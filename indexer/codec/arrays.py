"""Reading an open index into numpy arrays: per-document arrays, a term's postings, gram positions.

Whoosh reads one document or one posting at a time through Python objects;
these functions read the same files (whoosh3 3.54.0's formats, pinned: length
columns, the term table's inlined postings or block extents, W3 posting
blocks, `indexer.postings.PackedValues`) a block or a column at a time. The
term table (whoosh3's ordered hash file) is read from a memory map (`TermTable`):
looked up by hash, or walked in key order for a phrase's open edges.
"""

from __future__ import annotations

import io
import mmap
import pickle
import struct
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from zlib import crc32

import numpy as np
from isal.isal_zlib import decompress
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, WHOOSH3_HEADER_MAGIC, W3TermInfo, _lenfield
from whoosh.columns import TranslatingColumnReader, VarBytesColumn
from whoosh.filedb.filetables import crc_hash
from whoosh.reading import CorruptIndexError, TermNotFound
from whoosh.system import unpack_int
from whoosh.util.numeric import byte_to_length

from ..normalize import is_han
from ..postings import PackedValues
from ..schema import GramPositions
from . import records

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
        self._alnum: dict[tuple[int, str], list] = {}  # (segment, gram field) -> its letter/digit grams

    def doc_frequencies(self, fieldname: str, words: list[str]) -> np.ndarray:
        """How many documents hold each of `words` in a field, summed over segments (as Whoosh counts).

        One batch of hash-table probes per segment (`TermTable`) instead of a
        Whoosh lookup per word: did-you-mean weighs hundreds of candidate words.
        """
        out = np.zeros(len(words), dtype=np.int64)
        keys = [w.encode("utf-8") for w in words]
        for (r, _off), table in zip(self.leaves, self.term_tables(), strict=True):
            found = table.doc_frequencies(fieldname, keys) if table else [r.doc_frequency(fieldname, k) for k in keys]
            out += np.array(found, dtype=np.int64)
        return out

    def edge_keys(self, fieldname: str, need: np.ndarray, prefix: str = "", suffix: str = "") -> np.ndarray:
        """The keys of `need` (document << 32 | position, ascending) where a gram starting with `prefix`, or a
        letter/digit gram ending with `suffix`, is: a phrase's open edges (`indexer.phrase.GramPhrase`)."""
        out = [np.zeros(0, dtype=np.int64)]
        docs = need >> 32
        for k, ((r, off), table) in enumerate(zip(self.leaves, self.term_tables(), strict=True)):
            lo, hi = np.searchsorted(docs, (off, off + r.doc_count_all()))
            if lo < hi:
                grams = self._edge_grams(k, table, fieldname, prefix, suffix)
                out.append(_resolve(r, grams, need[lo:hi] - (off << 32)) + (off << 32))
        return np.concatenate(out)

    def _edge_grams(self, k: int, table: TermTable | None, fieldname: str, prefix: str, suffix: str) -> Grams:
        """Segment k's grams starting with `prefix`, or its letter/digit grams ending with `suffix`."""
        r = self.leaves[k][0]
        if prefix:
            lo = prefix.encode("utf-8")
            if table is not None:
                return table.grams(fieldname, lo, lo + b"\xff")
            return Grams.of([info for _t, info in _field_items(r, None, fieldname, lo, lo + b"\xff")])
        key = (k, fieldname)
        if key not in self._alnum:  # letter/digit grams sort before the Han range or after it
            ranges = ((b"", "\u3400".encode()), ("\ua000".encode(), None))
            self._alnum[key] = [(t, info) for lo, hi in ranges for t, info in _field_items(r, table, fieldname, lo, hi)
                                if _alnum(t.decode("utf-8"))]
        end = suffix.encode("utf-8")
        return Grams.of([info for t, info in self._alnum[key] if t.endswith(end)])

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

    def values(self, fieldname: str) -> list:
        """A sortable column's values for every document as a list (None where a segment lacks the column):
        what `column` holds, without the numpy array (an index run's few lookups need none)."""
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
        return values

    def column(self, fieldname: str) -> np.ndarray:
        """A sortable column's values for every document: strings ("" for none) or integers."""
        if fieldname not in self._columns:
            values = self.values(fieldname)
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
            local = None if within is None else _local(within, off, r.doc_count_all())
            if local is not None and not len(local):
                continue  # a segment without documents of `within`
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
    and every term of a query is looked up in every segment. Newer segments have one
    table of record positions instead of Whoosh's (`indexer.postings._write_hashes`),
    probed the same way; Whoosh's reader finds their terms through here
    (`indexer.codec.records.TermsReader`).
    """

    _POINTER = struct.Struct("!Iq")  # a slot: key hash, position of the key/value record
    _LENGTHS = struct.Struct("!ii")  # a record: key length, value length

    def __init__(self, terms, mapped: mmap.mmap) -> None:
        self._keycoder = terms._keycoder
        self._fields = set(terms._fieldmap)
        self._mapped = mapped
        tindex = terms._tindex
        self._dir = tindex.tables
        self._end = tindex.endofdata
        self._sorted = np.frombuffer(mapped, dtype=np.dtype(tindex.extras["indextype"]).newbyteorder(">"),
                                     count=tindex.indexlen, offset=tindex.indexbase)  # record positions, key order
        self._bytes = np.frombuffer(mapped, dtype=np.uint8)
        self._slots = records.slot_table(tindex, mapped)  # newer segments' table of record positions, or None

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

    def find(self, key: bytes) -> tuple[int, int] | None:
        """Where the value of `key` starts and its length, or None."""
        if self._slots is not None:
            return records.find_slot(self._slots, self._mapped, key)
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
        found = self.find(self._keycoder(fieldname, term)) if fieldname in self._fields else None
        if found is None:
            raise TermNotFound(f"No term {fieldname}:{term!r}")
        at, length = found
        return records.term_info(self._mapped[at : at + length])

    def items(self, fieldname: str, lo: bytes, hi: bytes | None) -> Iterator[tuple[bytes, W3TermInfo]]:
        """(term, term info) of a field's terms from `lo` up to `hi` (excluded; None: the field's last), in order."""
        at, value, datalen = self._range(fieldname, lo, hi)
        m, skip = self._mapped, len(self._keycoder(fieldname, b"")) + 8
        for a, v, d in zip(at.tolist(), value.tolist(), datalen.tolist(), strict=True):
            yield m[a + skip : v], records.term_info(m[v : v + d])

    def frequencies(self, fieldname: str) -> tuple[list[bytes], np.ndarray]:
        """Every term of a field and its document frequency, in key order (no term info decoded)."""
        at, value, _datalen = self._range(fieldname, b"", None)
        m, skip = self._mapped, len(self._keycoder(fieldname, b"")) + 8
        terms = [m[a + skip : v] for a, v in zip(at.tolist(), value.tolist(), strict=True)]
        return terms, records.doc_frequencies(self._bytes, value)

    def grams(self, fieldname: str, lo: bytes, hi: bytes) -> Grams:
        """The terms of a field from `lo` up to `hi` as `Grams`: document ranges read with numpy, each
        term info decoded only when asked for (a prefix such as 个 has ~1,300 grams in every segment)."""
        _at, value, datalen = self._range(fieldname, lo, hi)
        m = self._mapped

        def info(i: int) -> W3TermInfo:
            return records.term_info(m[value[i] : value[i] + datalen[i]])

        return Grams(*records.doc_ranges(self._bytes, value), info)

    def _range(self, fieldname: str, lo: bytes, hi: bytes | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where the records of a field's terms from `lo` up to `hi` (None: the field's last) start, where their
        values start, and the values' lengths: from the key-order index, read with numpy."""
        if fieldname not in self._fields:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        field = self._keycoder(fieldname, b"")
        end = field + hi if hi is not None else (int.from_bytes(field, "big") + 1).to_bytes(len(field), "big")
        at = self._sorted[self._rank(field + lo) : self._rank(end)].astype(np.int64)
        keylen, datalen = self._ints(at, ">i4"), self._ints(at + 4, ">i4")
        value = at + 8 + keylen
        if len(at) and (keylen.min() < len(field) or datalen.min() < records.MIN_SIZE
                        or (value + datalen).max() > self._end):
            raise CorruptIndexError(f"bad term record among {len(at)} at {at[0]}")
        return at, value, datalen

    def _ints(self, at: np.ndarray, dtype: str) -> np.ndarray:
        """The 4-byte big-endian integers of the mapped file at positions `at`."""
        return self._bytes[at[:, None] + _FOUR].view(dtype)[:, 0].astype(np.int64)

    def _rank(self, key: bytes) -> int:
        """How many records have keys before `key` (binary search of the key-order index)."""
        m, lo, hi = self._mapped, 0, len(self._sorted)
        while lo < hi:
            mid = (lo + hi) // 2
            at = int(self._sorted[mid])
            if m[at + 8 : at + 8 + int.from_bytes(m[at : at + 4], "big")] < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def doc_frequencies(self, fieldname: str, terms: list[bytes]) -> list[int]:
        if fieldname not in self._fields:
            return [0] * len(terms)
        field, m = self._keycoder(fieldname, b""), self._mapped
        out = []
        for t in terms:
            found = self.find(field + t)
            out.append(0 if found is None else records.doc_frequency(m[found[0] : found[0] + found[1]]))
        return out


def _field_items(r, table: TermTable | None, fieldname: str, lo: bytes, hi: bytes | None):
    """`TermTable.items` of a segment's field, through Whoosh when the table is not mapped."""
    if table is not None:
        yield from table.items(fieldname, lo, hi)
        return
    for (fname, term), info in r._terms.items_from(fieldname, lo):
        if fname != fieldname or (hi is not None and term >= hi):
            return
        yield term, info


@dataclass
class Grams:
    """Some terms of one segment: their first and last documents as arrays (0xFFFFFFFF: unknown), and
    their term infos by number (`info(i)`)."""

    first: np.ndarray
    last: np.ndarray
    info: Callable[[int], W3TermInfo]

    @classmethod
    def of(cls, infos: list[W3TermInfo]) -> Grams:
        def known(x: int | None) -> int:
            return 0xFFFFFFFF if x is None else x

        return cls(np.array([known(i.min_id()) for i in infos], dtype=np.int64),
                   np.array([known(i.max_id()) for i in infos], dtype=np.int64), infos.__getitem__)


def _resolve(r, grams: Grams, need: np.ndarray) -> np.ndarray:
    """The keys of `need` (document << 32 | position in segment `r`, ascending) where one of `grams` is.

    Only grams whose first..last documents hold a document of `need` are decoded (most
    grams of a prefix such as 个, ~1,300 in every segment, are rare); rare grams' inlined
    postings are read without numpy.
    """
    docs = np.unique(need >> 32)
    wanted, inline, arrays = set(docs.tolist()), [], []
    decode = GramPositions().decode_positions
    for i in np.flatnonzero(_holding(docs, grams.first, grams.last)).tolist():
        info = grams.info(i)
        if info.is_inlined():
            ids, _w, values = info.inlined_postings()
            inline.extend(d << 32 | p for d, v in zip(ids, values, strict=True) if d in wanted for p in decode(v))
        else:
            arrays.append(_gram_keys(r, info, docs))
    return common(need, np.unique(np.concatenate([np.array(inline, dtype=np.int64), *arrays])))


def _gram_keys(r, info: W3TermInfo, docs: np.ndarray) -> np.ndarray:
    """(document << 32 | position) of a gram of segment `r` with posting blocks, in its documents `docs`."""
    offset, length = info.extent()
    length = length[0] if isinstance(length, tuple) else length
    ids, _, chunks = read_blocks(r._terms._postfile, offset, length, True, docs)
    keep = common(ids, docs, mask=True)
    if not keep.any():
        return ids[:0]
    d, p = positions(ids, chunks, keep)
    return (d << 32) | p


def common(a: np.ndarray, b: np.ndarray, mask: bool = False) -> np.ndarray:
    """The values in both of two ascending arrays of distinct values (no sorting, unlike np.intersect1d);
    with `mask`, which values of `a` are in `b`."""
    if not len(a) or not len(b):
        return np.zeros(len(a), dtype=bool) if mask else a[:0]
    at = np.minimum(np.searchsorted(b, a), len(b) - 1)
    return b[at] == a if mask else a[b[at] == a]


_FOUR = np.arange(4)


def _local(docs: np.ndarray, off: int, count: int) -> np.ndarray:
    """The documents of ascending `docs` in the segment of `count` documents from `off`, numbered in it."""
    lo, hi = np.searchsorted(docs, (off, off + count))
    return docs[lo:hi] - off


def _holding(docs: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Which first..last ranges hold one of ascending `docs` (0xFFFFFFFF: unknown, so maybe)."""
    unknown = (first == 0xFFFFFFFF) | (last == 0xFFFFFFFF)
    if not len(docs):
        return unknown
    i = np.searchsorted(docs, first)
    return unknown | ((i < len(docs)) & (docs[np.minimum(i, len(docs) - 1)] <= last))


def _alnum(term: str) -> bool:
    return term.isalnum() and not is_han(term[0])


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


def read_blocks(postfile, offset: int, length: int, values: bool,
                within: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, list]:
    """Every (doc, weight[, values chunk]) of a term's posting blocks, read in one call (W3LeafMatcher's format).

    Whoosh's leaf matcher seeks and reads three times per block and keeps a
    Python object per posting; here the term's whole extent is read at once and
    each block's arrays go straight into numpy. A block whose documents (after the
    previous block's last, up to its own last) include none of `within` is skipped
    undecoded: a phrase of rare and common grams decodes few blocks of the common ones.
    Blocks are zlib streams, inflated by ISA-L (`isal`: the same bytes, 2.3× faster).
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
        d_ids, d_weights, d_values = pickle.loads(decompress(data) if comp else data)
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


def positions(docs: np.ndarray, chunks: list, keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(document, position) pairs of `indexer.schema.GramPositions` values (a typecode byte + an array).

    With `keep` (a mask over the postings) only those postings are decoded: a phrase
    checks positions only in the documents not already known to hold it.
    """
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
    joined = b"".join(bufs)
    buf = np.frombuffer(joined, dtype=np.uint8)
    heads = np.cumsum(lens_a) - lens_a
    if keep is not None:
        docs, lens_a, heads = docs[keep], lens_a[keep], heads[keep]
    if np.all(buf[heads] == ord("H")):  # 2-byte positions: gathered from the bytes at once
        counts = (lens_a - 1) // 2
        starts = np.cumsum(counts) - counts
        at = np.repeat(heads + 1 - 2 * starts, counts) + 2 * np.arange(int(counts.sum()))
        pos = buf[at].astype(np.int64) | (buf[at + 1].astype(np.int64) << 8)
    else:
        decode = GramPositions().decode_positions
        decoded = [decode(joined[h : h + n]) for h, n in zip(heads.tolist(), lens_a.tolist(), strict=True)]
        pos = np.fromiter((p for ps in decoded for p in ps), dtype=np.int64)
        counts = np.array([len(ps) for ps in decoded], dtype=np.int64)
    return np.repeat(docs, counts), pos
