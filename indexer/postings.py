"""Writing one field's postings into a Whoosh 3 segment, a term at a time instead of a posting at a time.

The files are in Whoosh 3's format (its readers read them unchanged) with two
differences from what its writer produces:

* Terms with few postings are *inlined* into their term record, a layout the
  reader supports but whoosh3 3.54.0's writer cannot produce (it calls a
  misspelt ``set_inline`` and crashes when ``inlinelimit > 1``). Most gram terms
  occur in one or two articles, so this skips a postings block for most terms.
* Block data is pickled with protocol 3, which stores a bytes value as itself;
  protocol 2 (Whoosh's) spells each as a latin-1 string plus a ``_codecs.encode``
  call, ~60 bytes for a 3-byte posting. The readers unpickle any protocol. Block
  headers stay protocol 2.
* Inlined postings are pickle opcodes written here (`_inline`): the same tuples
  ``pickle.loads`` returns for ``dumps``'s output, without the protocol header
  and the memo entries ``dumps`` adds (17 bytes instead of 27 for one posting).
* Hash tables have 1.5 slots a term (Whoosh writes 2; 12 bytes a slot). The
  reader probes linearly until an empty slot, so fewer slots read back the same
  at more probes: for 727,000 terms (12,000 Tainan articles, one segment) 2 / 1.5
  / 1.25 slots take 16.6 / 12.5 / 10.4 MiB, and a missing term costs 2.5 / 5.0 /
  12.7 probes on average (a present one 1.5 / 2.0 / 3.0). Through
  `indexer.codec.arrays.TermTable` a missing term measured ~1.4 / 2.8 / 4.2 µs
  (the query mix's times did not move beyond noise). A run now writes one
  segment per batch where it wrote one per core, so a term is looked up in half
  as many tables: 1.5 slots cost no more probes per lookup than before.

File positions are counted here rather than asked of the OS: ``tell()`` is a
system call, and Whoosh asks two or three times per term.
"""

from __future__ import annotations

import sys
import zlib
from array import array
from collections.abc import Iterable
from functools import partial
from itertools import accumulate
from pickle import dumps
from struct import Struct
from typing import NamedTuple

from whoosh.codec.whoosh3 import COMPRESSION_MIN_SIZE, WHOOSH3_HEADER_MAGIC, W3TermInfo
from whoosh.filedb.filetables import _lengths, crc_hash
from whoosh.system import pack_int, pack_long, pack_ushort
from whoosh.util.numlists import delta_encode

# Terms with at most this many postings are stored inside their term record: up to ~50 postings
# that is smaller than a block of their own (~150 bytes of headers and pickled arrays) and a pointer.
# 32 vs 8: term table + postings -6 % (3,000 Tainan articles), the same write time.
INLINE_LIMIT = 32
_NUMPY_MIN = 48  # from this many postings numpy finds their length bytes faster than a Python loop
BLOCK = 2048
COMPRESSION = 3
_TERMINFO = W3TermInfo._struct
_POINTER_SIZE = 12  # a non-inlined term record ends with the blocks' offset (8 bytes) and length (4)
_SWAP = sys.byteorder != "little"
SLOTS = 1.5  # hash table slots per term (Whoosh writes 2; see the module docstring)

Postings = list  # doc number, weight, encoded value, doc number, weight, ... (flat: one extend per posting)


class _Counted:
    """Stands in for a StructFile while we write: forwards writes, counts the position."""

    def __init__(self, f) -> None:
        self.f = f
        self.pos = f.tell()

    def write(self, b: bytes) -> None:
        self.f.write(b)
        self.pos += len(b)

    def write_int(self, n: int) -> None:
        self.write(pack_int(n))

    def tell(self) -> int:
        return self.pos


def use_fast_term_table(fw) -> None:
    """Before any term is written: hash the term table with CRC32 and write its hash tables in bulk.

    The hash type is a byte in the file's header that readers honour (0 MD5,
    1 CRC32); MD5 as Whoosh computes it costs ~1 µs a term.
    """
    tindex = fw._tindex
    f = tindex.dbfile
    end = f.tell()
    f.seek(tindex.startoffset + len(b"HSH3"))
    f.write_byte(1)
    f.seek(end)
    tindex.hashtype, tindex.hashfn = 1, crc_hash
    tindex.bulk = []
    tindex._write_hashes = partial(_write_hashes, tindex)


def _write_hashes(tindex) -> None:
    """HashWriter._write_hashes for all 256 tables at once, with numpy.

    Entries come from the writer's buckets and from `tindex.bulk` (arrays of
    hashes and record positions a join appends whole). Each table is filled by
    linear probing, its entries placed in the order of their home slots: a
    valid table for the same probing reader (at least one slot stays empty).
    """
    import numpy as np  # loaded by the runs that write, not by every run

    pairs = np.array([e for entries in tindex.buckets for e in entries], dtype=np.int64).reshape(-1, 2)
    hashes = np.concatenate([pairs[:, 0], *(h.astype(np.int64) for h, _ in tindex.bulk)])
    positions = np.concatenate([pairs[:, 1], *(p.astype(np.int64) for _, p in tindex.bulk)])
    bucket = hashes & 255
    counts = np.bincount(bucket, minlength=256)
    slots = np.where(counts > 0, (SLOTS * counts).astype(np.int64) + 1, 0)
    home = (hashes >> 8) % np.maximum(slots[bucket], 1)
    order = np.lexsort((home, bucket))
    starts = np.cumsum(slots) - slots
    table = np.zeros(int(slots.sum()), dtype=[("h", ">u4"), ("p", ">i8")])
    lo = 0
    for b in np.flatnonzero(counts).tolist():
        idx = order[lo : lo + counts[b]]
        lo += counts[b]
        placed = _probe(home[idx], int(slots[b]))
        table["h"][starts[b] + placed] = hashes[idx]
        table["p"][starts[b] + placed] = positions[idx]
    f = tindex.dbfile
    base = f.tell()
    tindex.directory.extend(zip((base + 12 * starts).tolist(), slots.tolist(), strict=True))
    f.write(table.tobytes())


def _probe(homes, n: int):
    """The slots linear probing gives entries inserted in ascending order of their home slots (a table of n)."""
    import numpy as np

    i = np.arange(len(homes))
    placed = i + np.maximum.accumulate(homes - i)
    over = placed >= n
    if over.any():  # the last run passes the end: those entries wrap to the first free slots
        taken = np.zeros(n, dtype=bool)
        taken[placed[~over]] = True
        placed[over] = np.flatnonzero(~taken)[: int(over.sum())]
    return placed


_TUPLE_END = (b")", b"\x85", b"\x86", b"\x87")  # EMPTY_TUPLE, TUPLE1..TUPLE3
_INT4 = Struct("<i")
_FLOAT = Struct(">d")
_BYTE_INTS = [b"K" + bytes((n,)) for n in range(256)]


def _p_int(n: int) -> bytes:
    if 0 <= n < 256:
        return _BYTE_INTS[n]
    if 0 <= n < 65536:
        return b"M" + n.to_bytes(2, "little")
    if -(1 << 31) <= n < 1 << 31:
        return b"J" + _INT4.pack(n)
    return dumps(n, 2)[2:-1]  # LONG1: past what a segment's doc numbers and frequencies reach


def _p_weight(w) -> bytes:
    return _p_int(w) if type(w) is int else b"G" + _FLOAT.pack(w)


def _p_value(v: bytes | None) -> bytes:
    if v is None:
        return b"N"
    n = len(v)
    return b"C" + bytes((n,)) + v if n < 256 else b"B" + _INT4.pack(n) + v


def _p_tuple(items: list[bytes]) -> bytes:
    n = len(items)
    return b"".join(items) + _TUPLE_END[n] if n <= 3 else b"(" + b"".join(items) + b"t"


def _inline(docs, weights, values) -> bytes:
    """What ``pickle.loads`` reads back as (tuple(docs), tuple(weights), tuple(values)) (see module docstring).

    Weights are ints or floats, values bytes or None.
    """
    return (_p_tuple(list(map(_p_int, docs))) + _p_tuple(list(map(_p_weight, weights)))
            + _p_tuple(list(map(_p_value, values))) + b"\x87.")


def write_field(fw, terms: dict[str | bytes, Postings], lengths: array | None) -> None:
    """Write every term of the field `fw` has started.

    Terms are all str or all bytes (str sorts like its UTF-8 encoding).
    `lengths[doc]` is 1 + the length byte of the document's field, 0 for an
    empty field; None for a field without lengths.
    """
    write_sorted(fw, ((tb, terms[tb]) for tb in sorted(terms)), lengths)


def write_sorted(fw, items: Iterable[tuple[str | bytes, Postings]], lengths: array | None) -> None:
    """`write_field` for (term, postings) pairs that arrive in sorted order (a merge streams them)."""
    tindex = fw._tindex
    saved = tindex.dbfile
    tfile = tindex.dbfile = _Counted(saved)
    try:
        _write_terms(fw, tindex, tfile, _Counted(fw._postfile), items, lengths)
    finally:
        tindex.dbfile = saved


class Copied(NamedTuple):
    """A term record taken unchanged from a segment whose document numbers a merge keeps (codec.segment_merge).

    `value` is the record's value; `blob` the term's posting blocks when they
    are not inlined (written again at the new postings file's position).
    """

    value: bytes
    blob: bytes | None

    def moved(self, pfile: _Counted) -> bytes:
        offset = pfile.pos
        pfile.write(self.blob)
        return self.value[:-_POINTER_SIZE] + pack_long(offset) + pack_int(len(self.blob))


class Extended(NamedTuple):
    """A term's posting blocks copied from a kept segment (see `Copied`), then `flat` postings as new blocks.

    Whoosh 3 blocks are self-contained (each starts its doc deltas afresh), so
    old blocks stay as they are. `blob` is the header and the old blocks, none
    marked last; when the old last block was small it is left out and its
    postings are the first `carried` of `flat` (see `indexer.codec.segment_merge`).
    """

    value: bytes
    blob: bytes
    flat: Postings
    carried: int

    def moved(self, pfile: _Counted, lengths: array | None, fixed: int | None) -> bytes:
        _flags, weight, df, minl, maxl, maxw, minid, _maxid = _TERMINFO.unpack(self.value[: _TERMINFO.size])
        flat = self.flat
        docs, w = flat[0::3], flat[1::3]
        more, lo, hi = encode_blocks(array("I", docs), array("f", w), flat[2::3], lengths, fixed)
        blob = self.blob + more[len(WHOOSH3_HEADER_MAGIC) :]
        offset = pfile.pos
        pfile.write(blob)
        head = _TERMINFO.pack(0, weight + sum(w[self.carried :]), df + len(docs) - self.carried, min(minl, lo),
                              max(maxl, hi), max(maxw, *w), minid, docs[-1])
        return head + pack_long(offset) + pack_int(len(blob))


def _length_bytes(lengths: array | None, docs) -> tuple[int, int]:
    """The smallest and largest length byte of the non-empty fields among `docs` (0, 0 if none)."""
    if lengths is None:
        return 0, 0
    if len(docs) == 1:
        b = lengths[docs[0]]
        return (b - 1, b - 1) if b else (0, 0)
    if len(docs) >= _NUMPY_MIN:
        import numpy as np  # loaded by the runs that write long terms, not by every run

        bs = np.frombuffer(lengths, dtype=np.uint16)[np.asarray(docs, dtype=np.intp)]
        bs = bs[bs > 0]
        return (int(bs.min()) - 1, int(bs.max()) - 1) if len(bs) else (0, 0)
    bs = [b for b in map(lengths.__getitem__, docs) if b]
    return (min(bs) - 1, max(bs) - 1) if bs else (0, 0)


def _spanned(ranges: list[tuple[int, int]]) -> tuple[int, int]:
    """The length bytes of blocks together: (0, 0) stands for a block without a non-empty field."""
    ranges = [r for r in ranges if r != (0, 0)] or [(0, 0)]
    return min(lo for lo, _ in ranges), max(hi for _, hi in ranges)


def _term_value(flat: list, lengths: array | None, fixed: int | None, pfile: _Counted) -> bytes:
    """A term record's value: its term info, then its postings inlined or a pointer to the blocks written."""
    docs, values = flat[0::3], flat[2::3]
    w = tuple(flat[1::3])
    n = len(docs)
    if n <= INLINE_LIMIT:
        minl, maxl = _length_bytes(lengths, docs)
        head = _TERMINFO.pack(1, sum(w), n, minl, maxl, max(w), docs[0], docs[-1])
        if all(x.is_integer() for x in w):  # frequency × an integral boost: 2 pickled bytes, not 9
            w = tuple(map(int, w))
        return head + _inline(docs, w, (None,) * n if fixed == 0 else values)
    blob, minl, maxl = encode_blocks(array("I", docs), array("f", w), values, lengths, fixed)
    offset = pfile.pos
    pfile.write(blob)
    head = _TERMINFO.pack(0, sum(w), n, minl, maxl, max(w), docs[0], docs[-1])
    return head + pack_long(offset) + pack_int(len(blob))


def _write_terms(fw, tindex, tfile: _Counted, pfile: _Counted, items: Iterable, lengths) -> None:
    prefix = pack_ushort(fw._fieldid)
    buckets, index, hashfn = tindex.buckets, tindex.index, tindex.hashfn
    fixed = fw._format.fixed_value_size()  # None: variable, 0: no values (ids, dates), n: n bytes each
    records: list[bytes] = []
    pos = tfile.pos
    key = tindex.lastkey
    for tb, flat in items:
        if type(flat) is Copied:
            value = flat.value if flat.blob is None else flat.moved(pfile)
        elif type(flat) is Extended:
            value = flat.moved(pfile, lengths, fixed)
        elif len(flat) == 3:  # one posting (most gram terms): no arrays, no loops
            doc, w, v = flat
            b = lengths[doc] - 1 if lengths is not None and lengths[doc] else 0
            pw = _p_int(int(w)) if w.is_integer() else _p_weight(w)
            value = (_TERMINFO.pack(1, w, 1, b, b, w, doc, doc) + _p_int(doc) + b"\x85" + pw + b"\x85"
                     + (b"N" if fixed == 0 else _p_value(v)) + b"\x85\x87.")
        else:
            value = _term_value(flat, lengths, fixed, pfile)
        key = prefix + (tb.encode() if isinstance(tb, str) else tb)
        record = _lengths.pack(len(key), len(value)) + key + value
        index.append(pos)
        h = hashfn(key)
        buckets[h & 255].append((h, pos))
        pos += len(record)
        records.append(record)
        if len(records) >= 4096:
            tfile.write(b"".join(records))
            records.clear()
    tfile.write(b"".join(records))
    tindex.lastkey = key


class PackedValues:
    """A block's encoded values as one byte string: what Whoosh indexes like a tuple, read whole by us.

    Whoosh pickles a tuple of small bytes objects per block (one object to
    build per posting when read); this is one bytes object plus the end offsets,
    so `indexer.evaluate` can turn a block's positions into an array at once.
    """

    __slots__ = ("data", "ends")

    def __init__(self, data: bytes, ends: array | bytes) -> None:
        self.data = data
        if isinstance(ends, bytes):
            ends = array("I", ends)
            if _SWAP:
                ends.byteswap()
        self.ends = ends

    @classmethod
    def pack(cls, values: list[bytes]) -> PackedValues:
        return cls(b"".join(values), array("I", accumulate(map(len, values))))

    def __reduce__(self):
        ends = array("I", self.ends)
        if _SWAP:
            ends.byteswap()
        return PackedValues, (self.data, ends.tobytes())

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, i: int) -> bytes:
        if i < 0:
            i += len(self.ends)
        return self.data[self.ends[i - 1] if i else 0 : self.ends[i]]

    def __iter__(self):
        return (self[i] for i in range(len(self.ends)))


def _deltas(ids: array) -> array:
    """Doc number deltas (the first from 0) as 16-bit numbers when they fit, else 32-bit."""
    if len(ids) < _NUMPY_MIN:
        deltas = array("I", delta_encode(ids))
        return array("H", deltas) if max(deltas) < 65536 else deltas
    import numpy as np

    d = np.diff(np.frombuffer(ids, dtype=np.uint32), prepend=np.uint32(0))
    return array("H", d.astype(np.uint16).tobytes()) if d.max() < 65536 else array("I", d.tobytes())


def encode_blocks(docs: array, weights: array, values: list, lengths,
                  fixed: int | None) -> tuple[bytes, int, int]:
    """One term's postings as Whoosh 3 blocks (W3PostingsWriter._write_block, with arrays for tuples).

    Doc number deltas and weights are pickled as arrays (Whoosh's reader
    iterates and indexes them like its tuples), values as `PackedValues`.
    Returns the blocks and the smallest and largest length byte among them.
    """
    out = [WHOOSH3_HEADER_MAGIC]
    ranges = []
    n = len(docs)
    for i in range(0, n, BLOCK):
        j = min(i + BLOCK, n)
        ids, ws, vs = docs[i:j], weights[i:j], values[i:j]
        first = ws[0]
        same = ws.count(first) == len(ws)
        mini_w = (None if first == 1.0 else first) if same else ws
        mini_v = PackedValues.pack(vs) if fixed is None or fixed < 0 else None if fixed == 0 else b"".join(vs)
        mini_ids = _deltas(ids)
        data = dumps((mini_ids, mini_w, mini_v), 3)
        comp = COMPRESSION if len(data) >= COMPRESSION_MIN_SIZE else 0
        if comp:
            data = zlib.compress(data, comp)
        minl, maxl = _length_bytes(lengths, ids)
        ranges.append((minl, maxl))
        info = dumps((len(ids), ids[-1], max(ws), comp, minl, maxl), 2)
        size = len(info) + len(data)
        out += (pack_int(-size if j == n else size), info, data)
    return (b"".join(out), *_spanned(ranges))
