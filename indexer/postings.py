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

A new segment's fields arrive as arrays (`TermArrays`, from
`indexer.codec.segment_writer`). `write_arrays` writes the same bytes as
`write_field` would, but builds the records of a chunk of terms at once with
numpy: term infos, keys and pickle opcodes are byte pieces scattered into one
buffer, and the keys' CRC32 is computed a byte column at a time. Only terms
with blocks of their own (more than INLINE_LIMIT postings, a few percent)
take a Python step each.
"""

from __future__ import annotations

import sys
import zlib
from array import array
from collections.abc import Iterable
from functools import cache, partial
from itertools import accumulate
from pickle import dumps
from struct import Struct
from typing import Any, NamedTuple

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


def _block_values(values: list | PackedValues, i: int, j: int, fixed: int | None):
    """What a block pickles for the values of postings i..j: PackedValues, their bytes joined (fixed size) or None."""
    if fixed == 0:
        return None
    if isinstance(values, PackedValues):
        ends = values.ends
        base = ends[i - 1] if i else 0
        data = values.data[base : ends[j - 1]]
        if fixed is not None and fixed > 0:
            return data
        import numpy as np

        return PackedValues(data, array("I", (np.frombuffer(ends, dtype=np.uint32)[i:j] - base).tobytes()))
    vs = values[i:j]
    return PackedValues.pack(vs) if fixed is None or fixed < 0 else b"".join(vs)


def encode_blocks(docs: array, weights: array, values: list | PackedValues, lengths,
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
        ids, ws = docs[i:j], weights[i:j]
        first = ws[0]
        same = ws.count(first) == len(ws)
        mini_w = (None if first == 1.0 else first) if same else ws
        mini_v = _block_values(values, i, j, fixed)
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


class TermArrays(NamedTuple):
    """One field's postings as numpy arrays, terms in sorted order: what `write_arrays` writes in bulk.

    `terms` holds every term's UTF-8 one after another, term k at
    ``terms[term_offsets[k]:term_offsets[k + 1]]``; its postings are
    ``starts[k]:starts[k + 1]``; posting p's encoded value is
    ``values[value_offsets[p]:value_offsets[p + 1]]``.
    """

    terms: Any  # uint8
    term_offsets: Any  # int64, one more than the terms
    starts: Any  # int64, one more than the terms
    docs: Any  # uint32 per posting
    weights: Any  # float64 per posting
    values: Any  # uint8
    value_offsets: Any  # int64, one more than the postings


_CHUNK = 1 << 15  # terms assembled at once (bounds the temporary arrays)
_TI = [("flags", "u1"), ("weight", ">f4"), ("df", ">u4"), ("minl", "u1"), ("maxl", "u1"), ("maxw", ">f4"),
       ("minid", ">u4"), ("maxid", ">u4")]  # W3TermInfo's struct as a numpy record
_CRC_KEY = 24  # keys up to this long are hashed with numpy, longer ones (rare letter runs) with zlib


def write_arrays(fw, t: TermArrays, lengths: array | None) -> None:
    """`write_field` for postings held as arrays: the same bytes, built a chunk of terms at a time with numpy.

    Terms with more than INLINE_LIMIT postings get their blocks from `encode_blocks`
    one term at a time (they are few); every term record, inlined postings
    included, is assembled from byte pieces scattered into one buffer per chunk.
    """
    import numpy as np

    tindex = fw._tindex
    fixed = fw._format.fixed_value_size()
    lb = (np.zeros(len(t.docs), dtype=np.uint16) if lengths is None
          else np.frombuffer(lengths, dtype=np.uint16)[t.docs])  # 1 + the length byte, 0 for an empty field
    n = np.diff(t.starts)
    ptr = _pointers(t, np.flatnonzero(n > INLINE_LIMIT), lengths, fixed, _Counted(fw._postfile))
    prefix = np.frombuffer(pack_ushort(fw._fieldid), dtype=np.uint8)
    f = tindex.dbfile
    pos = f.tell()
    for a in range(0, len(n), _CHUNK):
        b = min(a + _CHUNK, len(n))
        out, rec, klen = _records(np, t, a, b, lb, ptr, fixed, prefix)
        _index(np, tindex, out, rec, rec + pos, klen)
        f.write(out.tobytes())
        pos += len(out)
    if len(n):
        tindex.lastkey = bytes(prefix) + t.terms[t.term_offsets[-2] :].tobytes()


def _pointers(t: TermArrays, big, lengths, fixed, pfile: _Counted) -> dict[int, tuple[int, int, int, int]]:
    """Write the blocks of the terms `big`; term -> (offset, size, smallest and largest length byte)."""
    import numpy as np

    out = {}
    for k in big.tolist():
        s, e = t.starts[k], t.starts[k + 1]
        docs, weights = array("I"), array("f")
        docs.frombytes(t.docs[s:e].astype(np.uint32).tobytes())
        weights.frombytes(t.weights[s:e].astype(np.float32).tobytes())
        vo = t.value_offsets[s : e + 1]
        ends = array("I", (vo[1:] - vo[0]).astype(np.uint32).tobytes())
        values = PackedValues(t.values[vo[0] : vo[-1]].tobytes(), ends)
        blob, minl, maxl = encode_blocks(docs, weights, values, lengths, fixed)
        out[k] = (pfile.pos, len(blob), minl, maxl)
        pfile.write(blob)
    return out


def _records(np, t: TermArrays, a: int, b: int, lb, ptr: dict, fixed: int | None, prefix):
    """The records of terms a..b in one buffer; returns it, each record's start in it and each term's UTF-8 length."""
    s0, s1 = t.starts[a], t.starts[b]
    n = np.diff(t.starts[a : b + 1])
    klen = np.diff(t.term_offsets[a : b + 1])
    inline = n <= INLINE_LIMIT
    ti = _term_infos(np, t, s0, s1, n, lb[s0:s1])
    ti["flags"] = inline
    body = np.full(b - a, 12, dtype=np.int64)  # a pointer to the blocks: offset and size
    parts = _inline_parts(np, t, s0, s1, n, inline, fixed)
    body[inline] = parts["size"]
    vallen = _TERMINFO.size + body
    reclen = 10 + klen + vallen
    rec = np.cumsum(reclen) - reclen
    out = np.empty(int(reclen.sum()), dtype=np.uint8)
    out[rec[:, None] + np.arange(8)] = np.stack([klen + 2, vallen], axis=1).astype(">i4").view(np.uint8)
    out[rec[:, None] + np.arange(8, 10)] = prefix
    scatter(np, out, rec + 10, klen, t.terms[t.term_offsets[a] : t.term_offsets[b]])
    big = np.flatnonzero(~inline)
    if len(big):
        pointers = [ptr[a + k] for k in big.tolist()]
        ti["minl"][big] = [p[2] for p in pointers]
        ti["maxl"][big] = [p[3] for p in pointers]
        pt = np.array([p[:2] for p in pointers], dtype=np.int64)
        head = np.zeros(len(big), dtype=[("offset", ">i8"), ("size", ">i4")])
        head["offset"], head["size"] = pt[:, 0], pt[:, 1]
        out[(rec + 10 + _TERMINFO.size + klen)[big][:, None] + np.arange(12)] = head.view(np.uint8).reshape(-1, 12)
    out[(rec + 10 + klen)[:, None] + np.arange(_TERMINFO.size)] = ti.view(np.uint8).reshape(-1, _TERMINFO.size)
    if inline.any():
        _put_inline(np, out, (rec + 10 + _TERMINFO.size + klen)[inline], parts)
    return out, rec, klen


def _term_infos(np, t: TermArrays, s0: int, s1: int, n, lbs):
    """Each term's W3TermInfo but its flags (length bytes as `_length_bytes` finds them)."""
    first = np.cumsum(n) - n
    w = t.weights[s0:s1]
    docs = t.docs[s0:s1]
    ti = np.zeros(len(n), dtype=_TI)
    ti["weight"] = np.add.reduceat(w, first)
    ti["df"] = n
    ti["maxw"] = np.maximum.reduceat(w, first)
    ti["minid"] = docs[first]
    ti["maxid"] = docs[first + n - 1]
    hi = np.maximum.reduceat(lbs, first).astype(np.int64)
    lo = np.minimum.reduceat(np.where(lbs > 0, lbs, 65535), first).astype(np.int64)
    ti["minl"] = np.where(hi > 0, lo - 1, 0)
    ti["maxl"] = np.where(hi > 0, hi - 1, 0)
    return ti


def _inline_parts(np, t: TermArrays, s0: int, s1: int, n, inline, fixed) -> dict:
    """The pickle pieces of the inlined terms' postings (see `_inline`): byte matrices and lengths."""
    keep = np.repeat(inline, n)
    ni = n[inline]
    first = np.cumsum(ni) - ni
    w = t.weights[s0:s1][keep]
    vo = t.value_offsets[s0 : s1 + 1]
    vlens = np.diff(vo)
    integral = np.repeat(np.logical_and.reduceat(w == np.floor(w), first), ni) if len(ni) else w > 0
    docs = _p_ints(np, t.docs[s0:s1][keep])
    weights = _p_weights(np, w, integral)
    heads = _value_heads(np, vlens[keep], fixed)
    vlen = vlens[keep] if fixed != 0 else np.zeros(len(w), dtype=np.int64)
    vbytes = t.values[vo[0] : vo[-1]][np.repeat(keep, vlens)] if fixed != 0 else t.values[:0]
    sizes = [np.add.reduceat(docs[1], first), np.add.reduceat(weights[1], first),
             np.add.reduceat(heads[1] + vlen, first)] if len(ni) else [ni, ni, ni]
    opened = (ni > 3).astype(np.int64)
    return {"ni": ni, "first": first, "pieces": (docs, weights, heads), "sizes": sizes, "opened": opened,
            "vlen": vlen, "vbytes": vbytes, "size": 3 * opened + sum(sizes) + 5}


_CLOSE = (ord(")"), 0x85, 0x86, 0x87)  # EMPTY_TUPLE, TUPLE1..TUPLE3 (as _TUPLE_END)


def _put_inline(np, out, base, parts: dict) -> None:
    """Write the inlined postings, (docs, weights, values) pickled as `_inline` does, at `base`."""
    ni, first, opened = parts["ni"], parts["first"], parts["opened"]
    close = np.where(ni > 3, ord("t"), np.array(_CLOSE, dtype=np.uint8)[np.minimum(ni, 3)])
    at = base
    for k, ((m, lens), total) in enumerate(zip(parts["pieces"], parts["sizes"], strict=True)):
        out[at[opened > 0]] = ord("(")
        size = lens + parts["vlen"] if k == 2 else lens
        dest = np.repeat(at + opened, ni) + _within(np, size, first, ni)
        scatter(np, out, dest, lens, row_bytes(np, m, lens))
        if k == 2:
            scatter(np, out, dest + lens, parts["vlen"], parts["vbytes"])
        out[at + opened + total] = close
        at = at + opened + total + 1
    out[at] = 0x87
    out[at + 1] = ord(".")


def _within(np, lens, first, counts):
    """Each piece's offset from its term's first piece (a cumulative sum restarting at every term)."""
    c = np.cumsum(lens) - lens
    return c - np.repeat(c[first], counts)


def scatter(np, out, dest, lens, src) -> None:
    """Copy the pieces of `src` (one after another, lens[i] bytes each) to out[dest[i]:]."""
    if len(src):
        out[np.repeat(dest - (np.cumsum(lens) - lens), lens) + np.arange(len(src))] = src


def row_bytes(np, m, lens):
    """The first lens[i] bytes of each row i of a byte matrix, one after another."""
    return m[np.arange(m.shape[1]) < lens[:, None]]


def _p_ints(np, x):
    """`_p_int` of non-negative ints below 2**31 as a 5-column byte matrix and the lengths."""
    x = np.asarray(x, dtype=np.int64)
    assert not len(x) or (x.min() >= 0 and x.max() < 1 << 31)
    m = np.empty((len(x), 5), dtype=np.uint8)
    m[:, 1:] = x.astype("<u4").view(np.uint8).reshape(-1, 4)
    small, mid = x < 256, x < 65536
    m[:, 0] = np.where(small, ord("K"), np.where(mid, ord("M"), ord("J")))
    return m, np.where(small, 2, np.where(mid, 3, 5))


def _p_weights(np, w, integral):
    """`_p_weight` of weights: ints where their term's weights all are, else pickled doubles."""
    m = np.zeros((len(w), 9), dtype=np.uint8)
    m[:, :5], lens = _p_ints(np, np.where(integral, w, 0))
    floats = ~integral
    if floats.any():
        m[floats, 0] = ord("G")
        m[floats, 1:] = w[floats].astype(">f8").view(np.uint8).reshape(-1, 8)
        lens[floats] = 9
    return m, lens


def _value_heads(np, vlen, fixed):
    """The opcode starting each `_p_value`: N (no value), C and a length byte, or B and a 4-byte length."""
    m = np.empty((len(vlen), 5), dtype=np.uint8)
    if fixed == 0:
        m[:, 0] = ord("N")
        return m, np.ones(len(vlen), dtype=np.int64)
    short = vlen < 256
    m[:, 0] = np.where(short, ord("C"), ord("B"))
    m[:, 1:] = vlen.astype("<u4").view(np.uint8).reshape(-1, 4)
    return m, np.where(short, 2, 5)


@cache
def _crc_table():
    import numpy as np

    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(0xEDB88320), t >> 1).astype(np.uint32)
    return t


def _hashes(np, hashfn, out, rec, size):
    """The hash of each record's key (out[rec + 8:][:size]): CRC32 with numpy, or `hashfn` key by key."""
    if hashfn is not crc_hash:
        keys = (out[r + 8 : r + 8 + s].tobytes() for r, s in zip(rec.tolist(), size.tolist(), strict=True))
        return np.fromiter(map(hashfn, keys), dtype=np.uint64, count=len(rec))
    width = min(int(size.max()), _CRC_KEY)
    keys = out[np.minimum(rec[:, None] + 8 + np.arange(width), len(out) - 1)]
    table = _crc_table()
    crc = np.full(len(rec), 0xFFFFFFFF, dtype=np.uint32)
    for j in range(width):
        crc = np.where(j < size, table[(crc ^ keys[:, j]) & 0xFF] ^ (crc >> 8), crc)
    crc ^= np.uint32(0xFFFFFFFF)
    for k in np.flatnonzero(size > width).tolist():
        crc[k] = zlib.crc32(out[rec[k] + 8 : rec[k] + 8 + size[k]].tobytes())
    return crc


def _index(np, tindex, out, rec, pos, klen) -> None:
    """Enter the chunk's records in the hash buckets and the ordered index, in term order as `HashWriter.add` does."""
    hashes = _hashes(np, tindex.hashfn, out, rec, klen + 2)
    bucket = (hashes & 255).astype(np.int64)
    order = np.argsort(bucket, kind="stable")
    hs, ps = hashes[order].tolist(), pos[order].tolist()
    i = 0
    for k, c in enumerate(np.bincount(bucket, minlength=256).tolist()):
        if c:
            tindex.buckets[k].extend(zip(hs[i : i + c], ps[i : i + c], strict=True))
            i += c
    index, at = tindex.index, pos.tolist()
    if isinstance(index.array, list):
        index.array.extend(at)
        return
    try:
        more = array(index.array.typecode, at)
    except OverflowError:
        index._retype(at[-1])  # the largest: records are written in order
        more = array(index.typecode, at) if not isinstance(index.array, list) else at
    index.array.extend(more)
