"""Joining the segments one run's workers built into one segment, mostly byte for byte.

A fresh build analyzes its documents on one forked worker per core, and each
worker writes its own segment (`indexer.codec.segment_writer`). Two segments of
one run repeat every term both hold (at 12,000 Tainan articles, 272,000 of
750,000 distinct terms), and a query looks every term up in each. The join
makes them one segment without decoding what it need not:

* Each worker numbers its documents where they stand in the run's batch (the
  second worker's first document is the first worker's count), so no posting
  needs renumbering: a part's segment has that many empty documents in front
  of its own, which the join leaves out.
* Every part's term records are read whole and put in one key order. A term
  one part holds keeps its record bytes (a pointer moved when it has posting
  blocks, which are copied as bytes). A term several parts hold gets their
  inlined postings inlined together up to `INLINE_LIMIT`: compact values
  (`indexer.codec.records`) are decoded and encoded again with numpy, all such
  terms of a field at once (older layouts one term at a time); otherwise each
  part's blocks stay bytes, one after another (Whoosh 3 blocks are
  self-contained), and inlined postings become a block where they stand.
* The hash tables and ordered index of the joined term table are built in
  bulk (`indexer.postings._write_hashes`).
* Stored fields keep the first part's zstd dictionary: the other parts' frames
  are decompressed and compressed again with it. Other columns are copied a
  document at a time.
* With enough terms, a forked process joins the columns and the last 40 % of
  the terms while this one joins the rest (about half the wall time); its
  records' pointers are moved when they are appended.

The joined segment is in no TOC yet, like the parts; the caller commits it
(and a run killed on the way leaves files no TOC names, which the next run deletes).
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Callable
from typing import Any, NamedTuple
from zlib import crc32

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, STORED_COLUMN, WHOOSH3_HEADER_MAGIC, W3Codec
from whoosh.reading import SegmentReader
from whoosh.system import pack_int, pack_ushort, unpack_int

from .. import postings
from ..postings import Copied, encode_blocks, term_record, use_fast_term_table
from . import forking, records, stored
from .arrays import length_bytes
from .stored import StoredCodec

# Parts' inlined postings of a term stay inlined together up to this many (with indexer.postings' limit of 32):
# up to ~50 postings a term record holds them in fewer bytes than a block and its pointer, and
# pickling them costs far less than a block (zlib).
INLINE_LIMIT = 48
_MAGIC = len(WHOOSH3_HEADER_MAGIC)


class Part(NamedTuple):
    """A segment built from a run's batch: its own documents are first..segment.doc_count_all()
    (`indexer.codec.segment_writer._number_from`)."""

    segment: Any
    first: int


class _Input:
    """A part being joined: its reader, and its own documents first..stop."""

    def __init__(self, storage, schema, part: Part) -> None:
        self.reader = SegmentReader(storage, schema, part.segment)
        self.first = part.first
        self.stop = part.segment.doc_count_all()

    def close(self) -> None:
        self.reader.close()


class Records:
    """Every term record of a part (all fields, in key order), read whole, with its postings file.

    `keys` are the keys as the joined table writes them (field number + term):
    a part whose field numbers differ from the joined table's has its keys
    renumbered.
    """

    def __init__(self, inp: _Input, fieldnums: dict[str, int]) -> None:
        self.input = inp
        terms = inp.reader._terms
        t = terms._tindex
        renumber = {pack_ushort(n): pack_ushort(fieldnums[name]) for name, n in terms._fieldmap.items()}
        self.same = all(k == v for k, v in renumber.items())
        self.names = {pack_ushort(n): name for name, n in terms._fieldmap.items()}
        n = t.indexlen
        pos = np.frombuffer(t.dbfile.get(t.indexbase, n * t.indexsize),
                            dtype=np.dtype(t.extras["indextype"]).newbyteorder(">")).astype(np.int64)
        first = int(pos[0]) if n else 0
        self.buf = t.dbfile.get(first, t.tables[0][0] - first) if n else b""
        u8 = np.frombuffer(self.buf, dtype=np.uint8)
        rel = pos - first
        keylen, datalen = _be32(u8, rel), _be32(u8, rel + 4)
        vstart = rel + 8 + keylen
        self.starts, self.vstarts, self.ends = rel.tolist(), vstart.tolist(), (vstart + datalen).tolist()
        self.inlined = u8[vstart].tolist() if n else []
        self.u8, self.vstart = u8, vstart
        self.compact = u8[vstart] >= records.COMPACT
        self.df = records.doc_frequencies(u8, vstart)
        buf = self.buf
        self.keys = [buf[a + 8 : b] for a, b in zip(self.starts, self.vstarts, strict=True)]
        if not self.same:
            self.keys = [renumber[k[:2]] + k[2:] for k in self.keys]
        seg = inp.reader._segment
        self.pst = terms._postfile.get(0, inp.reader._storage.file_length(seg.make_filename(W3Codec.POSTS_EXT)))

    def value(self, k: int) -> bytes:
        return self.buf[self.vstarts[k] : self.ends[k]]

    def blob(self, value: bytes) -> bytes:
        offset, length = records.extent(value)
        return self.pst[offset : offset + length]


class Sink:
    """The joined postings, collected in memory in the order they are written (what `Copied.moved` writes to)."""

    def __init__(self, pos: int) -> None:
        self.pos = pos
        self.parts: list[bytes] = []

    def write(self, b: bytes) -> None:
        self.parts.append(b)
        self.pos += len(b)


class _Merged:
    """The parts' term records in the joined key order: for each key (ascending, a key once per part holding
    it) the part (`src`) and its record (`local`); `same[g]`: key g is also key g + 1."""

    def __init__(self, schema, inputs: list[_Input], fieldmap: dict[str, int], lengths: dict[str, array]) -> None:
        self.schema, self.lengths = schema, lengths
        self.names = sorted(fieldmap, key=fieldmap.__getitem__)
        self.tables = [Records(s, fieldmap) for s in inputs]
        keys = [k for t in self.tables for k in t.keys]
        bounds = np.cumsum([0] + [len(t.keys) for t in self.tables])
        order = np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)
        src = np.searchsorted(bounds, order, "right") - 1
        self.local = (order - bounds[src]).tolist()
        self.src = src.tolist()
        self.ordered = [keys[i] for i in order.tolist()]
        self.same = [a == b for a, b in zip(self.ordered, self.ordered[1:], strict=False)] + [False]

    def split(self) -> int:
        """Where a second process takes over (it also joins the columns), at a key's first record."""
        g = int(len(self.ordered) * (1 - SECOND_SHARE))
        while g and self.same[g - 1]:
            g -= 1
        return g


class Half(NamedTuple):
    """Term records g0..g1 of a join, with their postings (pointers counted from `pst_start`)."""

    pst_start: int
    records: bytes
    sizes: np.ndarray  # each record's length
    pointers: np.ndarray  # the records whose values end with a pointer to their blocks
    hashes: np.ndarray
    postings: bytes
    lastkey: bytes


def _emit(m: _Merged, g0: int, g1: int, pst_start: int) -> Half:
    """Records g0..g1 of `m`, terms one part holds copied, the others joined (`_combined`)."""
    tables, ordered, src, local, same = m.tables, m.ordered, m.src, m.local, m.same
    sink = Sink(pst_start)
    records, keys, pointers = [], [], []
    inline = _joined_inline(m, g0, g1)
    g = g0
    while g < g1:
        key, t, k = ordered[g], tables[src[g]], local[g]
        if not same[g]:  # one part holds the term
            if t.inlined[k]:
                record = t.buf[t.starts[k] : t.ends[k]] if t.same else term_record(key, t.value(k))
            else:
                value = t.value(k)
                record = term_record(key, Copied(value, t.blob(value)).moved(sink))
                pointers.append(len(records))
            g += 1
        else:
            h = g
            while same[g]:
                g += 1
            g += 1
            value = inline.get(h)
            if value is None:
                name = m.names[int.from_bytes(key[:2], "big")]
                value = _combined([(tables[src[i]], local[i]) for i in range(h, g)],
                                  m.schema[name].format.fixed_value_size(), m.lengths.get(name), sink)
            record = term_record(key, value)
            if not value[0]:
                pointers.append(len(records))
        records.append(record)
        keys.append(key)
    return Half(pst_start, b"".join(records), np.fromiter(map(len, records), dtype=np.int64, count=len(records)),
                 np.array(pointers, dtype=np.int64), np.fromiter(map(crc32, keys), dtype=np.uint32, count=len(keys)),
                 b"".join(sink.parts), keys[-1] if keys else b"")


def inline_max() -> int:
    """Postings a joined or folded term keeps inlined: scales with `indexer.postings.INLINE_LIMIT` (tests lower
    it)."""
    return INLINE_LIMIT * postings.INLINE_LIMIT // 32


def _joined_inline(m: _Merged, g0: int, g1: int) -> dict[int, bytes]:
    """The values of the terms among records g0..g1 that several parts hold in compact values and whose
    postings stay inlined together, joined with numpy (`records.join_values`), by the term's first record."""
    same = np.array(m.same[g0:g1], dtype=bool)
    prev = np.concatenate(([False], same[:-1]))
    member = np.flatnonzero(same | prev)  # records of terms several parts hold, a term's one after another
    if not len(member):
        return {}
    src, local = np.array(m.src[g0:g1])[member], np.array(m.local[g0:g1])[member]
    compact, df = np.zeros(len(member), dtype=bool), np.zeros(len(member), dtype=np.int64)
    for p, t in enumerate(m.tables):
        mine = src == p
        compact[mine], df[mine] = t.compact[local[mine]], t.df[local[mine]]
    first = np.flatnonzero(~prev[member])
    counts = np.diff(np.append(first, len(member)))
    ok = np.logical_and.reduceat(compact, first) & (np.add.reduceat(df, first) <= inline_max())
    field = np.array([int.from_bytes(m.ordered[g0 + g][:2], "big") for g in member[first].tolist()])
    out = {}
    for num in np.unique(field[ok]).tolist():
        groups = ok & (field == num)
        take = np.repeat(groups, counts)
        s, loc, at = src[take], local[take], np.zeros(int(take.sum()), dtype=np.int64)
        parts = []
        for p, t in enumerate(m.tables):
            mine = s == p
            at[mine] = np.arange(int(mine.sum()))
            parts.append((t.u8, t.vstart[loc[mine]]))
        fixed = m.schema[m.names[num]].format.fixed_value_size()
        values = records.join_values(parts, s, at, counts[groups], fixed)
        out.update(zip((g0 + member[first[groups]]).tolist(), values, strict=True))
    return out


def write_half(tindex, postfile, half: Half) -> None:
    """Append a half's records to the term table (its pointers moved to where its postings land) and its postings."""
    records, ends = half.records, np.cumsum(half.sizes)
    delta = postfile.tell() - half.pst_start
    if delta and len(half.pointers):  # each pointer is the 8 bytes before a record's last 4
        buf = bytearray(records)
        u8 = np.frombuffer(buf, dtype=np.uint8)
        at = (ends[half.pointers] - 12)[:, None] + np.arange(8)
        u8[at] = (u8[at].copy().view(">i8") + delta).astype(">i8").view(np.uint8)
        records = bytes(buf)
    start = tindex.dbfile.tell()
    tindex.dbfile.write(records)
    postfile.write(half.postings)
    positions = start + ends - half.sizes
    old = np.frombuffer(tindex.index.array, dtype=tindex.index.array.typecode).astype(np.int64)
    index = np.concatenate([old, positions])
    top = int(index[-1]) if len(index) else 0
    tindex.index.array = array("H" if top < 1 << 16 else "i" if top < 1 << 31 else "q", index.tolist())
    tindex.bulk.append((half.hashes, positions))
    if half.lastkey:
        tindex.lastkey = half.lastkey


PARALLEL_MIN_KEYS = 100_000  # below this many term records one process joins (forking costs ~20 ms)
SECOND_SHARE = 0.4  # of the term records, for the process that also joins the columns


def _join_terms(m: _Merged, columns: Callable[[], None], pst_start: int) -> list[Half]:
    """The joined records in two halves, the second with `columns` on a forked process where that pays."""
    if len(m.ordered) < PARALLEL_MIN_KEYS or not forking.can_fork():
        columns()
        return [_emit(m, 0, len(m.ordered), pst_start)]
    mid = m.split()
    return list(forking.in_two(lambda: _emit(m, 0, mid, pst_start), lambda: _second_half(m, columns, mid)))


def _second_half(m: _Merged, columns: Callable[[], None], mid: int) -> Half:
    columns()
    return _emit(m, mid, len(m.ordered), 0)


def _combined(group: list[tuple[Records, int]], fixed: int | None, lengths: array | None, sink: Sink) -> bytes:
    """The joined term record value of a term several parts hold (its blocks written to `sink`).

    Postings that fit are inlined together; otherwise each part's blocks are
    kept as bytes, and inlined postings become a block of their own where they stand.
    """
    values = [t.buf[t.vstarts[k] : t.ends[k]] for t, k in group]
    infos = [records.info(v) for v in values]
    inlined = [i[0] for i in infos]
    if all(inlined) and sum(i[2] for i in infos) <= inline_max():
        merged = _merged_info(infos, 1)
        return records.inline_value(merged[3], merged[4], *_inlined(values), fixed)
    blobs, pending = [], []
    for (t, _), v, flag in zip(group, values, inlined, strict=True):
        if flag:
            pending.append(v)
            continue
        if pending:
            blobs.append(_block(_inlined(pending), fixed, lengths))
            pending = []
        blobs.append(t.blob(v))
    if pending:
        blobs.append(_block(_inlined(pending), fixed, lengths))
    blob = blobs[0][:_MAGIC] + b"".join(b[_MAGIC:] for b in [*map(_unlast, blobs[:-1]), blobs[-1]])
    return Copied(records.pointer_value(_merged_info(infos, 0), 0, len(blob)), blob).moved(sink)


def _inlined(values: list[bytes]) -> tuple[tuple, tuple, tuple]:
    """The postings inlined in term record values, one after another: (doc numbers, weights, encoded values)."""
    ids, weights, vals = (), (), ()
    for v in values:
        i, w, x = records.inlined(v)
        ids, weights, vals = ids + i, weights + w, vals + x
    return ids, weights, vals


def _block(inlined: tuple[tuple, tuple, tuple], fixed: int | None, lengths: array | None) -> bytes:
    """Inlined postings as posting blocks (`indexer.postings.encode_blocks`)."""
    ids, weights, vals = inlined
    return encode_blocks(array("I", ids), array("f", weights), list(vals), lengths, fixed)[0]


def _unlast(blob: bytes) -> bytes:
    """A term's posting blocks with the last one not marked last (more blocks follow)."""
    pos = _MAGIC
    while (size := unpack_int(blob[pos : pos + 4])[0]) > 0:
        pos += 4 + size
    return blob[:pos] + pack_int(-size) + blob[pos + 4 :]


def _merged_info(infos: list[tuple], inlined: int) -> tuple:
    """The term info fields of several parts' postings of one term, from theirs (length bytes 0, 0: no
    non-empty field)."""
    lens = [(i[3], i[4]) for i in infos if (i[3], i[4]) != (0, 0)] or [(0, 0)]
    return (inlined, sum(i[1] for i in infos), sum(i[2] for i in infos), min(lo for lo, _ in lens),
            max(hi for _, hi in lens), max(i[5] for i in infos), infos[0][6], infos[-1][7])


def _be32(u8: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Big-endian 32-bit numbers at byte offsets `at`."""
    b = [u8[at + i].astype(np.int64) for i in range(4)]
    return (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]


def join_segments(ix, parts: list[Part]):
    """One new segment of `ix` holding every part's documents in order; the parts' files are deleted.

    `parts` hold consecutive documents: the first starts at 0, each next one
    where the one before stops.
    """
    storage, schema = ix.storage, ix.schema
    codec = StoredCodec()
    new = codec.new_segment(storage, ix.indexname)
    inputs = [_Input(storage, schema, p) for p in parts]
    try:
        total = inputs[-1].stop
        fw = codec.field_writer(storage, new)
        use_fast_term_table(fw)
        names = sorted({n for s in inputs for n in s.reader._terms.indexed_field_names() if n in schema})
        fw._fieldmap.update({n: k for k, n in enumerate(names)})
        m = _Merged(schema, inputs, fw._fieldmap, _field_lengths(schema, inputs))
        for half in _join_terms(m, lambda: _join_columns(storage, schema, inputs, new, total), fw._postfile.tell()):
            write_half(fw._tindex, fw._postfile, half)
        fw.close()
        new.set_doc_count(total)
        new._fieldlengths = defaultdict(int)
        for p in parts:
            for n, v in p.segment._fieldlengths.items():
                new._fieldlengths[n] += v
    except BaseException:
        _delete_files(storage, [new])
        raise
    finally:
        for s in inputs:
            s.close()
    _delete_files(storage, [p.segment for p in parts])
    return new


def _delete_files(storage, segments: list) -> None:
    for seg in segments:
        for name in seg.list_files(storage):
            storage.delete_file(name)


def _field_lengths(schema, inputs: list[_Input]) -> dict[str, array]:
    """Each scorable field's 1 + length byte per document (0: empty), as `indexer.postings` takes them."""
    out = {}
    for name in schema.names():
        if schema[name].scorable:
            b = np.concatenate([length_bytes(s.reader, name)[s.first : s.stop] for s in inputs])
            out[name] = array("H", (b.astype(np.uint16) + (b > 0)).tobytes())
    return out


def _column_names(storage, segment) -> set[str]:
    prefix = segment.make_filename(".")
    return {n[len(prefix) : -len(W3Codec.COLUMN_EXT)] for n in segment.list_files(storage)
            if n.endswith(W3Codec.COLUMN_EXT)}


def _column_type(schema, name: str):
    if name == stored.COLUMN:
        return stored.STORED
    if name == "_stored":
        return STORED_COLUMN
    if name.startswith("_") and name.endswith("_len"):
        return LENGTHS_COLUMN
    return schema[name].column_type


def _join_columns(storage, schema, inputs: list[_Input], new, total: int) -> None:
    """Every part's per-document columns (stored fields, field lengths, sortable values), one after another."""
    names = set().union(*(_column_names(storage, s.reader._segment) for s in inputs))
    for name in sorted(names):
        ctype = _column_type(schema, name)
        f = storage.create_file(W3Codec.column_filename(new, name))
        try:
            if ctype is stored.STORED:
                stored.join_frames(f, [(s.reader._perdoc._cached_reader(name, ctype), range(s.first, s.stop))
                                       for s in inputs])
                continue
            w = ctype.writer(f)
            out = 0
            for s in inputs:
                col = s.reader._perdoc._cached_reader(name, ctype)
                for d in range(s.first, s.stop):
                    v = col[d] if col is not None else None
                    if v is not None:
                        w.add(out, v)
                    out += 1
            w.finish(total)
        finally:
            f.close()
