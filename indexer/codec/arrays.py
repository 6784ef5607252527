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
from collections.abc import Callable
from dataclasses import dataclass
from zlib import crc32, decompressobj

import numpy as np
from isal.isal_zlib import decompress
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, WHOOSH3_HEADER_MAGIC, _lenfield
from whoosh.columns import TranslatingColumnReader, VarBytesColumn
from whoosh.filedb.filetables import crc_hash
from whoosh.reading import CorruptIndexError, TermNotFound
from whoosh.system import unpack_int
from whoosh.util.numeric import byte_to_length

from ..normalize import is_han
from ..postings import PackedValues
from ..schema import EDGE_FIELDS, GramPositions
from . import records

_LENGTHS = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)
_DTYPES = {"B": np.uint8, "H": np.uint16, "I": np.uint32, "f": np.float32}
Lookups = dict[tuple[str, bytes], list]  # (field, term) -> its value in each segment (`DocTable.term_values`)


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
        # each segment's first document number and the one after its last, one after another
        self._edges = np.array([x for r, off in self.leaves for x in (off, off + r.doc_count_all())], dtype=np.int64)
        self._lengths: dict[str, np.ndarray] = {}
        self._columns: dict[str, np.ndarray] = {}
        self._tables: list[TermTable | None] | None = None
        self._alnum: dict[tuple[int, str], list] = {}  # (segment, gram field) -> its letter/digit grams

    def doc_frequencies(self, fieldname: str, words: list[str], lookups: Lookups | None = None) -> np.ndarray:
        """How many documents hold each of `words` in a field, summed over segments (as Whoosh counts).

        One batch of hash-table probes per segment (`TermTable`) instead of a
        Whoosh lookup per word: did-you-mean weighs hundreds of candidate words.
        With `lookups`, the words' values are looked up through it (see `term_values`).
        """
        out = np.zeros(len(words), dtype=np.int64)
        keys = [w.encode("utf-8") for w in words]
        if lookups is not None:
            for i, key in enumerate(keys):
                out[i] = sum(records.doc_frequency(v) for v in self.term_values(fieldname, key, lookups) if v)
            return out
        for (r, _off), table in zip(self.leaves, self.term_tables(), strict=True):
            found = table.doc_frequencies(fieldname, keys) if table else [r.doc_frequency(fieldname, k) for k in keys]
            out += np.array(found, dtype=np.int64)
        return out

    def edge_keys(self, fieldname: str, need: np.ndarray, prefix: str = "", suffix: str = "",
                  before: str = "") -> np.ndarray:
        """The keys of `need` (document << 32 | position, ascending) where a gram starting with `prefix`, or a
        letter/digit gram ending with `suffix`, is: a phrase's open edges (`indexer.phrase.GramPhrase`).

        `before` is the phrase's gram just before `prefix`: when it is a letter/digit run, `prefix` one Han
        character and the index has the field's edge field, the run's edge term (`indexer.analysis.edge_tokens`)
        holds the answer, and no gram starting with `prefix` is read.
        """
        edge = EDGE_FIELDS.get(fieldname)
        if edge in self.searcher.schema and len(prefix) == 1 and is_han(prefix) and _alnum(before):
            ids, _w, chunks = self.postings(edge, before + prefix, values=True, within=np.unique(need >> 32))
            docs, pos = positions(ids, chunks)
            return common(need, (docs << 32) | (pos + 1))
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
            return _field_grams(r, table, fieldname, lo, lo + b"\xff")
        key = (k, fieldname)
        if key not in self._alnum:  # letter/digit grams sort before the Han range or after it
            parts = [_field_grams(r, table, fieldname, lo, hi, _alnum)
                     for lo, hi in ((b"", "\u3400".encode()), ("\ua000".encode(), None))]
            self._alnum[key] = Grams.join(parts)
        grams = self._alnum[key]
        end = suffix.encode("utf-8")
        return grams.subset([t.endswith(end) for t in grams.terms or ()])

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

    def term_values(self, fieldname: str, term: bytes, lookups: Lookups | None = None) -> list[bytes | None]:
        """A term's record value in each segment (None: not there). With `lookups`, kept there and taken from
        there: one query looks a term up for its document frequency and again for its postings, a
        lookup in every segment each time (most probes of an index with small segments miss)."""
        if lookups is not None and (fieldname, term) in lookups:
            return lookups[fieldname, term]
        got = [_term_value(r, table, fieldname, term)
               for (r, _off), table in zip(self.leaves, self.term_tables(), strict=True)]
        if lookups is not None:
            lookups[fieldname, term] = got
        return got

    def postings(self, fieldname: str, text, values: bool = False, within: np.ndarray | None = None,
                 lookups: Lookups | None = None):
        """(doc numbers, weights, encoded values or None) of a term across every segment.

        With `within` (ascending doc numbers), blocks holding none of them may be left out: what is
        returned is a superset of the term's postings in `within`. `lookups`: see `term_values`.
        """
        field = self.searcher.schema[fieldname]
        gram = isinstance(field.format, GramPositions)  # blocks mostly of positions
        btext = field.to_bytes(text) if isinstance(text, str) else text
        edges = None if within is None else np.searchsorted(within, self._edges).tolist()
        known = None if lookups is None else self.term_values(fieldname, btext, lookups)
        blocks: list[tuple] = []  # every segment's (posting count, doc deltas, weights, values), in document order
        bases: list[int] = []  # the first document number of each one's segment
        for k, ((r, off), table) in enumerate(zip(self.leaves, self.term_tables(), strict=True)):
            if edges is not None and edges[2 * k] == edges[2 * k + 1]:
                continue  # a segment without documents of `within`
            value = _term_value(r, table, fieldname, btext) if known is None else known[k]
            if value is None:
                continue
            if records.is_inlined(value):
                got = [records.inlined_block(value, values)]
            else:
                local = None if edges is None else within[edges[2 * k] : edges[2 * k + 1]] - off
                got = _blocks(r._terms._postfile, *records.extent(value), local, values or not gram)
            blocks += got
            bases += [off] * len(got)  # deleted documents stay: `live` masks them
        ids, weights, vals = _decoded(blocks, values, bases)
        return ids, weights, vals if values else None


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
        self._prefixes = {f: terms._keycoder(f, b"") for f in self._fields}  # a field's keys start with it
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

    def value(self, fieldname: str, term: bytes) -> bytes | None:
        """A term's record value (`indexer.codec.records`' layouts), or None."""
        prefix = self._prefixes.get(fieldname)
        found = None if prefix is None else self.find(prefix + term)
        if found is None:
            return None
        at, length = found
        return self._mapped[at : at + length]

    def frequencies(self, fieldname: str) -> tuple[list[bytes], np.ndarray]:
        """Every term of a field and its document frequency, in key order (no term info decoded)."""
        at, value, _datalen = self._range(fieldname, b"", None)
        m, skip = self._mapped, len(self._keycoder(fieldname, b"")) + 8
        terms = [m[a + skip : v] for a, v in zip(at.tolist(), value.tolist(), strict=True)]
        return terms, records.doc_frequencies(self._bytes, value)

    def grams(self, fieldname: str, lo: bytes, hi: bytes | None, keep: Callable[[bytes], bool] | None = None) -> Grams:
        """The terms of a field from `lo` up to `hi` (None: the field's last), those `keep` accepts, as `Grams`:
        their values where they are in the mapped file, nothing decoded (a prefix such as 个 has ~1,300
        grams in every segment)."""
        at, value, datalen = self._range(fieldname, lo, hi)
        if keep is None:
            return Grams(None, self._bytes, value, datalen)
        m, skip = self._mapped, len(self._keycoder(fieldname, b"")) + 8
        terms = [m[a + skip : v] for a, v in zip(at.tolist(), value.tolist(), strict=True)]
        return Grams(terms, self._bytes, value, datalen).subset([keep(t) for t in terms])

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
        field, m = self._prefixes[fieldname], self._mapped
        out = []
        for t in terms:
            found = self.find(field + t)
            out.append(0 if found is None else records.doc_frequency(m[found[0] : found[0] + found[1]]))
        return out


def _term_value(r, table: TermTable | None, fieldname: str, term: bytes) -> bytes | None:
    """A term's record value in segment `r` (None: not there), through Whoosh when the table is not mapped."""
    if table is not None:
        return table.value(fieldname, term)
    try:
        return records.value_of(r._terms.term_info(fieldname, term))
    except TermNotFound:
        return None


def _field_grams(r, table: TermTable | None, fieldname: str, lo: bytes, hi: bytes | None,
                 keep: Callable[[str], bool] | None = None) -> Grams:
    """`TermTable.grams` of a segment's field (those whose text `keep` accepts), through Whoosh when the
    table is not mapped."""
    accept = None if keep is None else (lambda t: keep(t.decode("utf-8")))
    if table is not None:
        return table.grams(fieldname, lo, hi, accept)
    terms, values = [], []
    for (fname, term), info in r._terms.items_from(fieldname, lo):
        if fname != fieldname or (hi is not None and term >= hi):
            break
        if accept is None or accept(term):
            terms.append(term)
            values.append(records.value_of(info))
    return Grams.of(terms, values)


@dataclass
class Grams:
    """Some terms of one segment and where their record values are (`indexer.codec.records`'s layouts) in a
    byte array: undecoded until a phrase's open edge needs their postings."""

    terms: list[bytes] | None  # (None: not read)
    u8: np.ndarray
    starts: np.ndarray  # int64 offsets of the values in `u8`
    lengths: np.ndarray

    @classmethod
    def of(cls, terms: list[bytes], values: list[bytes]) -> Grams:
        lengths = np.array([len(v) for v in values], dtype=np.int64)
        u8 = np.frombuffer(b"".join(values), dtype=np.uint8)
        return cls(terms, u8, np.cumsum(lengths) - lengths, lengths)

    @classmethod
    def join(cls, parts: list[Grams]) -> Grams:
        """The grams of several parts (each part's values copied into one array)."""
        values = [g.u8[a : a + n].tobytes() for g in parts for a, n in zip(g.starts.tolist(), g.lengths.tolist(),
                                                                          strict=True)]
        return cls.of([t for g in parts for t in g.terms or ()], values)

    def subset(self, keep: list[bool]) -> Grams:
        mask = np.array(keep, dtype=bool)
        terms = None if self.terms is None else [t for t, k in zip(self.terms, keep, strict=True) if k]
        return Grams(terms, self.u8, self.starts[mask], self.lengths[mask])

    def doc_ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """The first and last documents of each gram (0xFFFFFFFF: unknown)."""
        return records.doc_ranges(self.u8, self.starts)


def _resolve(r, grams: Grams, need: np.ndarray) -> np.ndarray:
    """The keys of `need` (document << 32 | position in segment `r`, ascending) where one of `grams` is.

    Only grams whose first..last documents hold a document of `need` are read (most
    grams of a prefix such as 个, ~1,300 in every segment, are rare); their postings
    come straight from the values: compact ones decoded together with numpy
    (`records.decode_arrays`), older inlined ones without building term infos.
    """
    docs = np.unique(need >> 32)
    first, last = grams.doc_ranges()
    picked = np.flatnonzero(_holding(docs, first, last))
    starts, lengths = grams.starts[picked], grams.lengths[picked]
    compact = grams.u8[starts] >= records.COMPACT
    keys = [_compact_keys(grams.u8, starts[compact], docs)]
    inline, wanted = [], set(docs.tolist())
    decode = GramPositions().decode_positions
    blocks: list[tuple] = []  # every gram's posting blocks that may hold `docs`, decoded together below
    for a, n in zip(starts[~compact].tolist(), lengths[~compact].tolist(), strict=True):
        value = grams.u8[a : a + n].tobytes()
        if records.is_inlined(value):
            ids, _w, values = records.inlined(value)
            inline.extend(d << 32 | p for d, v in zip(ids, values, strict=True) if d in wanted for p in decode(v))
        else:
            blocks += _blocks(r._terms._postfile, *records.extent(value), docs)
    keys.append(_block_keys(blocks, docs, r.doc_count_all()))
    return common(need, np.unique(np.concatenate([np.array(inline, dtype=np.int64), *keys])))


def _compact_keys(u8: np.ndarray, starts: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """(document << 32 | position) of the compact gram values at `starts` of `u8`, in documents `docs`."""
    if not len(starts):
        return np.zeros(0, dtype=np.int64)
    d = records.decode_arrays(u8, starts)
    ids, lens = d["docs"], d["numbers"]
    keep = np.isin(ids, docs)
    if not keep.any():
        return ids[:0]
    at, pos = _positions(ids, lens, d["vbytes"], keep)
    return (at << 32) | pos


def _block_keys(blocks: list[tuple], docs: np.ndarray, count: int) -> np.ndarray:
    """(document << 32 | position) in documents `docs` of a segment of `count` documents, from the posting
    blocks (`_blocks`) of several grams: decoded in one pass (a prefix such as 个 has ~190 grams with
    blocks in every segment of 61,000 articles; one numpy pass each cost 0.1 ms)."""
    ids, _, chunks = _decoded(blocks, True, weighed=False)
    wanted = np.zeros(count, dtype=bool)
    wanted[docs] = True
    keep = wanted[ids]
    if not keep.any():
        return ids[:0]
    d, p = positions(ids, chunks, keep)
    return (d << 32) | p


def common(a: np.ndarray, b: np.ndarray, mask: bool = False) -> np.ndarray:
    """The values in both of two ascending arrays of distinct values (no sorting, unlike np.intersect1d);
    with `mask`, which values of `a` are in `b`.

    The shorter array is looked up in the longer (a binary search per value of the shorter:
    a phrase's rare gram against a common one costs the rare one's length, not the common one's);
    arrays of like lengths are merged instead (a stable sort of two ascending runs is one merge:
    half the time of a million binary searches).
    """
    if not len(a) or not len(b):
        return np.zeros(len(a), dtype=bool) if mask else a[:0]
    if not mask and len(b) < len(a):
        a, b = b, a
    if not mask and len(a) * 32 >= len(b):
        both = np.concatenate([a, b])
        both.sort(kind="stable")
        return both[1:][both[1:] == both[:-1]]
    at = np.minimum(np.searchsorted(b, a), len(b) - 1)
    return b[at] == a if mask else a[b[at] == a]


def locate(ids: np.ndarray, sub: np.ndarray, n: int) -> np.ndarray:
    """Where each of ascending `sub` is in ascending `ids` (distinct document numbers below `n`; `sub` ⊆ `ids`).

    A large `sub` is found with a mask over the documents (two passes over memory) instead
    of a binary search per value: a phrase of a name in 300,000 articles scores each of them.
    """
    if len(sub) * 8 < len(ids):
        return np.searchsorted(ids, sub)
    inside = np.zeros(n, dtype=bool)
    inside[sub] = True
    return np.flatnonzero(inside[ids])


_FOUR = np.arange(4)


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
    return _decoded(_blocks(postfile, offset, length, within), values)


def _blocks(postfile, offset: int, length: int, within: np.ndarray | None, values: bool = True) -> list[tuple]:
    """(posting count, doc deltas, weights, values) of a term's blocks that may hold `within` (`read_blocks`);
    unless `values`, the values may be None (`_unvalued`)."""
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
    if not values:
        return [(n, *(_unvalued(raw[a:z], n) if comp else pickle.loads(raw[a:z]))) for n, _last, comp, a, z in blocks]
    return [(n, *pickle.loads(decompress(raw[a:z]) if comp else raw[a:z])) for n, _last, comp, a, z in blocks]


_VALUES = b"cindexer.postings\nPackedValues\n"  # a block's pickle from here on is its values (`PackedValues`)


def _unvalued(data: bytes, n: int) -> tuple:
    """A compressed block's (doc deltas, weights, None): inflated only up to where its values start.

    A gram's positions are ~3/4 of its blocks' bytes, and a term's scores read only
    its documents and weights: inflating the first quarter takes a sixth of the time
    (zlib stops at `max_length`; ISA-L's stream object inflates on regardless). The pickle
    is cut there and closed with None for the values; a block laid out otherwise (no
    `PackedValues`, older segments) is read whole.
    """
    d = decompressobj()
    head = d.decompress(data, 256 + 6 * n)  # the deltas and weights of 2-byte deltas and 4-byte weights
    at = head.find(_VALUES)
    while at < 0 and d.unconsumed_tail:
        head += d.decompress(d.unconsumed_tail, 4096 + 4 * n)
        at = head.find(_VALUES)
    if at >= 0:
        try:
            got = pickle.loads(head[:at] + b"N\x87.")  # None, a tuple of the three, stop
        except pickle.UnpicklingError:
            got = None
        if isinstance(got, tuple) and len(got) == 3 and got[2] is None and len(got[0]) == n:
            return got
    return pickle.loads(decompress(data))


def _decoded(blocks: list[tuple], values: bool, bases: list[int] | None = None,
             weighed: bool = True) -> tuple[np.ndarray, np.ndarray, list]:
    """The postings of `_blocks` (block k's documents from bases[k]) as arrays: documents, weights (none
    unless `weighed`), values chunks.

    The numpy work is done once over all blocks (and segments), not once per block.
    """
    if not blocks:
        return np.zeros(0, dtype=np.int64), np.zeros(0), []
    counts = np.array([b[0] for b in blocks], dtype=np.int64)
    deltas = np.concatenate([_numbers(d, np.int64) for _n, d, _w, _v in blocks]).astype(np.int64)
    ids = np.cumsum(deltas)
    heads = np.cumsum(counts) - counts
    before = ids[heads] - deltas[heads]  # each block's deltas start from 0
    if bases is not None:
        before -= np.array(bases, dtype=np.int64)
    ids -= np.repeat(before, counts)
    chunks = [v for *_, v in blocks] if values else []
    if not weighed:
        return ids, np.zeros(0), chunks
    return ids, np.concatenate([_weights(n, w) for n, _d, w, _v in blocks]).astype(np.float64), chunks


def _numbers(x, dtype) -> np.ndarray:
    """A block's numbers: an `array` (`indexer.postings`) read in place, or Whoosh's tuple."""
    if isinstance(x, array):
        return np.frombuffer(x, dtype=_DTYPES[x.typecode])
    return np.array(x, dtype=dtype)


def _weights(n: int, w) -> np.ndarray:
    """A block's n weights: None (all 1), one for all, 4-byte floats, or Whoosh's tuple."""
    if w is None:
        return np.ones(n)
    if isinstance(w, float):
        return np.full(n, w)
    return _numbers(w, np.float64)


def positions(docs: np.ndarray, chunks: list, keep: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(document, position) pairs of `indexer.schema.GramPositions` values (a typecode byte + an array).

    With `keep` (a mask over the postings) only those postings are decoded: a phrase
    checks positions only in the documents not already known to hold it.
    """
    if not chunks:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ends, bufs = [], []  # each chunk's values' end offsets (from 0 in the chunk)
    for chunk in chunks:
        if isinstance(chunk, PackedValues):
            ends.append(np.frombuffer(chunk.ends, dtype=np.uint32))
            bufs.append(chunk.data)
        else:
            ends.append(np.cumsum(np.fromiter(map(len, chunk), dtype=np.int64, count=len(chunk))))
            bufs.append(b"".join(chunk))
    counts = np.array([len(e) for e in ends], dtype=np.int64)
    ends_a = np.concatenate(ends).astype(np.int64)
    lens = np.diff(ends_a, prepend=0)
    heads = (np.cumsum(counts) - counts)[counts > 0]
    lens[heads] = ends_a[heads]  # a chunk's first value starts at 0
    return _positions(docs, lens, np.frombuffer(b"".join(bufs), dtype=np.uint8), keep)


def _positions(docs: np.ndarray, lens: np.ndarray, buf: np.ndarray,
               keep: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """`positions` of values one after another in byte array `buf`, lens[i] bytes each."""
    heads = np.cumsum(lens) - lens
    if (keep is None or 2 * np.count_nonzero(keep) >= len(keep)) and np.all(buf[heads] == ord("H")):
        # 2-byte positions, most of them kept: the kept values' bytes but their typecode bytes are the
        # positions in order (a byte mask and a view: no index array per position, 2.3 M for 台南 at a million)
        inside = np.repeat(keep, lens) if keep is not None else np.ones(int(lens.sum()), dtype=bool)
        inside[heads] = False
        if keep is not None:
            docs, lens = docs[keep], lens[keep]
        return np.repeat(docs, (lens - 1) // 2), buf[: len(inside)][inside].view("<u2").astype(np.int64)
    if keep is not None:
        at = np.flatnonzero(keep)  # found once, not once per array
        docs, lens, heads = docs[at], lens[at], heads[at]
    if np.all(buf[heads] == ord("H")):  # 2-byte positions of a few values: gathered from the bytes at once
        counts = (lens - 1) // 2
        starts = np.cumsum(counts) - counts
        at = np.repeat(heads + 1 - 2 * starts, counts) + 2 * np.arange(int(counts.sum()))
        pos = buf[at].astype(np.int64) | (buf[at + 1].astype(np.int64) << 8)
        return np.repeat(docs, counts), pos
    decode = GramPositions().decode_positions
    decoded = [decode(buf[h : h + n].tobytes()) for h, n in zip(heads.tolist(), lens.tolist(), strict=True)]
    pos = np.fromiter((p for ps in decoded for p in ps), dtype=np.int64)
    counts = np.array([len(ps) for ps in decoded], dtype=np.int64)
    return np.repeat(docs, counts), pos
