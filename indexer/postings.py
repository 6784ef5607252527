"""Writing one field's postings into a Whoosh 3 segment, a term at a time instead of a posting at a time.

The files are in Whoosh 3's format with these differences from what its writer
produces (its readers read the first two unchanged; the others through
`indexer.codec.records.TermsReader`, the codec's terms reader):

* Terms with few postings are *inlined* into their term record, a layout the
  reader supports but whoosh3 3.54.0's writer cannot produce (it calls a
  misspelt ``set_inline`` and crashes when ``inlinelimit > 1``). Most gram terms
  occur in one or two articles, so this skips a postings block for most terms.
* Block data is pickled with protocol 3, which stores a bytes value as itself;
  protocol 2 (Whoosh's) spells each as a latin-1 string plus a ``_codecs.encode``
  call, ~60 bytes for a 3-byte posting. The readers unpickle any protocol. Block
  headers stay protocol 2.
* Inlined postings are in the compact layout of `indexer.codec.records`
  (~10 bytes for a one-posting gram; the pickled term info and tuples took ~38),
  which Whoosh's reader reads through `indexer.codec.records.TermsReader`.
* Terms are found through one hash table of record positions (4 bytes a slot
  below 4 GiB, 1.5 slots a term, 4 in small segments, `SLOTS_KEY` in the file's extras) instead of
  Whoosh's 256 tables of hash and position (12 bytes a slot), written empty.
  Readers: `indexer.codec.arrays.TermTable` (and through it Whoosh's reader).

File positions are counted here rather than asked of the OS: ``tell()`` is a
system call, and Whoosh asks two or three times per term.

A new segment's fields arrive as arrays (`TermArrays`, from
`indexer.codec.segment_writer`). `write_arrays` writes the same bytes as
`write_field` would, but builds the records of a chunk of terms at once with
numpy: keys, term infos and compact values (`indexer.codec.records.inline_plan`)
are byte pieces scattered into one buffer, and the keys' CRC32 is computed a byte column at a time. Only terms
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
from typing import Any, NamedTuple

from isal import isal_zlib
from whoosh.codec.whoosh3 import COMPRESSION_MIN_SIZE, WHOOSH3_HEADER_MAGIC
from whoosh.filedb.filetables import _lengths, crc_hash
from whoosh.system import pack_int, pack_ushort
from whoosh.util.numlists import delta_encode

from .codec import records
from .codec.records import SLOTS_KEY, scatter

# Terms with at most this many postings are stored inside their term record: up to ~50 postings
# that is smaller than a block of their own (~150 bytes of headers and pickled arrays) and a pointer.
# 32 vs 8: term table + postings -6 % (3,000 Tainan articles), the same write time.
INLINE_LIMIT = 32
_NUMPY_MIN = 48  # from this many postings numpy finds their length bytes faster than a Python loop
BLOCK = 2048
COMPRESSION = 3
# A fold writes tens of thousands of blocks again each time (`indexer.codec.fold_terms`, a cron run's biggest
# cost): ISA-L's deflate at this level is ~2.6x as fast as zlib's level 3 on real blocks, ~5 % bigger, and
# as readable (zlib streams). Fresh builds keep zlib's level 3, for the index's size.
FAST_COMPRESSION = 1
_SWAP = sys.byteorder != "little"
SLOTS = 1.5  # slots of the term table's hash per term (see the module docstring)
# A small segment's table gets 4 slots a term (at most ~2 MiB): a query looks every term up in every segment, and
# after a season of cron runs most lookups are in small segments that lack the term. A miss probes until an empty
# slot: ~5 probes at 1.5 slots a term, ~1.4 at 4.
SPARSE_SLOTS, SPARSE_TERMS = 4, 1 << 17

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
    """In place of HashWriter._write_hashes: one table of record positions (`SLOTS_KEY`), built with numpy.

    Entries come from the writer's buckets and from `tindex.bulk` (arrays of
    hashes and record positions a join appends whole). Whoosh's 256 tables are
    written empty (a lookup through Whoosh's own reader finds nothing:
    `indexer.codec.records.TermsReader` looks terms up in this table). The
    table is filled by linear probing, entries placed in the order of their home
    slots (at least one slot stays empty).
    """
    import numpy as np  # loaded by the runs that write, not by every run

    pairs = np.array([e for entries in tindex.buckets for e in entries], dtype=np.int64).reshape(-1, 2)
    hashes = np.concatenate([pairs[:, 0], *(h.astype(np.int64) for h, _ in tindex.bulk)])
    positions = np.concatenate([pairs[:, 1], *(p.astype(np.int64) for _, p in tindex.bulk)])
    n = int((SPARSE_SLOTS if len(hashes) < SPARSE_TERMS else SLOTS) * len(hashes)) + 1
    home = hashes % n
    order = np.argsort(home, kind="stable")
    code = "I" if not len(positions) or positions.max() < 1 << 32 else "Q"
    table = np.zeros(n, dtype="<u4" if code == "I" else "<u8")
    table[_probe(home[order], n)] = positions[order]
    f = tindex.dbfile
    base = f.tell()
    tindex.directory.extend([(base, 0)] * 256)
    tindex.extras[SLOTS_KEY] = (base, n, code)
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
        return records.with_extent(self.value, offset, len(self.blob))


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
        _flags, weight, df, minl, maxl, maxw, minid, _maxid = records.info(self.value)
        flat = self.flat
        docs, w = flat[0::3], flat[1::3]
        more, lo, hi = encode_blocks(array("I", docs), array("f", w), flat[2::3], lengths, fixed)
        blob = self.blob + more[len(WHOOSH3_HEADER_MAGIC) :]
        offset = pfile.pos
        pfile.write(blob)
        return records.pointer_value((0, weight + sum(w[self.carried :]), df + len(docs) - self.carried,
                                      min(minl, lo), max(maxl, hi), max(maxw, *w), minid, docs[-1]), offset, len(blob))


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


def term_value(flat: list, lengths: array | None, fixed: int | None, pfile: _Counted) -> bytes:
    """A term record's value: its term info, then its postings inlined or a pointer to the blocks written."""
    docs, values = flat[0::3], flat[2::3]
    w = tuple(flat[1::3])
    n = len(docs)
    if n <= INLINE_LIMIT:
        return records.inline_value(*_length_bytes(lengths, docs), docs, w, values, fixed)
    blob, minl, maxl = encode_blocks(array("I", docs), array("f", w), values, lengths, fixed)
    offset = pfile.pos
    pfile.write(blob)
    return records.pointer_value((0, sum(w), n, minl, maxl, max(w), docs[0], docs[-1]), offset, len(blob))


def term_record(key: bytes, value: bytes) -> bytes:
    """A term table record: Whoosh's hash-file key and value lengths, then the key and the value."""
    return _lengths.pack(len(key), len(value)) + key + value


def item_value(item, lengths: array | None, fixed: int | None, pfile) -> bytes:
    """The record value of one term to write: a `Copied` or `Extended` record, or its flat postings
    (doc, weight, value, doc, ...); blocks it needs are written to `pfile`."""
    if type(item) is Copied:
        return item.value if item.blob is None else item.moved(pfile)
    if type(item) is Extended:
        return item.moved(pfile, lengths, fixed)
    if len(item) == 3:  # one posting (most gram terms): no arrays, no loops
        doc, w, v = item
        b = lengths[doc] - 1 if lengths is not None and lengths[doc] else 0
        return records.one_value(b, doc, w, v, fixed)
    return term_value(item, lengths, fixed, pfile)


def _write_terms(fw, tindex, tfile: _Counted, pfile: _Counted, items: Iterable, lengths) -> None:
    prefix = pack_ushort(fw._fieldid)
    buckets, index, hashfn = tindex.buckets, tindex.index, tindex.hashfn
    fixed = fw._format.fixed_value_size()  # None: variable, 0: no values (ids, dates), n: n bytes each
    written: list[bytes] = []
    pos = tfile.pos
    key = tindex.lastkey
    for tb, item in items:
        value = item_value(item, lengths, fixed, pfile)
        key = prefix + (tb.encode() if isinstance(tb, str) else tb)
        record = term_record(key, value)
        index.append(pos)
        h = hashfn(key)
        buckets[h & 255].append((h, pos))
        pos += len(record)
        written.append(record)
        if len(written) >= 4096:
            tfile.write(b"".join(written))
            written.clear()
    tfile.write(b"".join(written))
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
        minl, maxl = _length_bytes(lengths, ids)
        ranges.append((minl, maxl))
        out.append(_block((mini_ids, mini_w, mini_v), (len(ids), ids[-1], max(ws)), minl, maxl, j == n))
    return (b"".join(out), *_spanned(ranges))


def encode_terms(docs, weights, vstarts, vbytes, starts, lb, fixed: int | None,
                 fast: bool = False) -> list[tuple[bytes, int, int]]:
    """`encode_blocks` of many terms at once (the same blocks): term t's postings are starts[t]:starts[t + 1]
    (at least one, documents ascending) of the numpy arrays `docs` and `weights`, posting p's value the bytes
    vbytes[vstarts[p]:vstarts[p + 1]]; `lb` is each posting's 1 + length byte (0: an empty field), None for a
    field without lengths. Per term: its blocks and the smallest and largest length byte among them. `fast`
    compresses with ISA-L at `FAST_COMPRESSION` (other bytes, the same postings).

    Deltas, weights' sameness and maxima and length bytes are found once for
    all blocks with numpy; each block then costs two pickles and a zlib call.
    """
    import numpy as np

    n = np.diff(starts)
    nb = (n + BLOCK - 1) // BLOCK
    term = np.repeat(np.arange(len(n)), nb)
    bs = starts[term] + (np.arange(len(term)) - (np.cumsum(nb) - nb)[term]) * BLOCK  # each block's first posting
    if not len(bs):
        return []
    d = docs.astype(np.int64)
    deltas = d - np.concatenate(([0], d[:-1]))
    deltas[bs] = d[bs]  # each block's deltas start from 0
    lb = np.zeros(len(d), dtype=np.int64) if lb is None else lb.astype(np.int64)
    hi = np.maximum.reduceat(lb, bs)
    lo = np.minimum.reduceat(np.where(lb > 0, lb, 65535), bs)
    minl, maxl = np.where(hi > 0, lo - 1, 0), np.where(hi > 0, hi - 1, 0)
    be = np.append(bs[1:], len(d))
    last = np.zeros(len(bs), dtype=bool)
    last[np.cumsum(nb) - 1] = True
    minl, maxl = minl.tolist(), maxl.tolist()
    blocks = _blocks_of(np, (bs, be, last, d[be - 1]), deltas, weights.astype(np.float32), vstarts, vbytes, fixed,
                        (minl, maxl), fast)
    out, ends = [], np.cumsum(nb).tolist()
    for a, b in zip([0, *ends[:-1]], ends, strict=True):
        lo_hi = _spanned(list(zip(minl[a:b], maxl[a:b], strict=True)))
        out.append((WHOOSH3_HEADER_MAGIC + b"".join(blocks[a:b]), *lo_hi))
    return out


def _blocks_of(np, bounds: tuple, deltas, w32, vstarts, vbytes, fixed: int | None, lengths: tuple,
               fast: bool) -> list[bytes]:
    """The blocks of postings bs[i]:be[i] (`encode_terms`; `bounds` is bs, be, whether each is a term's last, its
    last document), each with its size (negative: a term's last)."""
    bs, be, last, lastdoc = bounds
    minl, maxl = lengths
    wide = (np.maximum.reduceat(deltas, bs) >= 65536).tolist()
    wmax = np.maximum.reduceat(w32, bs)
    same = (np.minimum.reduceat(w32, bs) == wmax).tolist()
    d16, d32 = deltas.astype(np.uint16), deltas.astype(np.uint32)
    vdata, vs = vbytes.tobytes(), vstarts.astype(np.int64)
    va = vs.tolist()
    out = []
    for i, (a, b, end, w_first, w_max, top) in enumerate(zip(bs.tolist(), be.tolist(), last.tolist(),
                                                           w32[bs].tolist(), wmax.tolist(), lastdoc.tolist(),
                                                           strict=True)):
        ids = array("I", d32[a:b].tobytes()) if wide[i] else array("H", d16[a:b].tobytes())
        mini_w = (None if w_first == 1.0 else w_first) if same[i] else array("f", w32[a:b].tobytes())
        if fixed == 0:
            mini_v = None
        elif fixed is not None and fixed > 0:
            mini_v = vdata[va[a] : va[b]]
        else:
            ends = (vs[a + 1 : b + 1] - va[a]).astype(np.uint32)
            mini_v = PackedValues(vdata[va[a] : va[b]], array("I", ends.tobytes()))
        out.append(_block((ids, mini_w, mini_v), (b - a, top, w_max), minl[i], maxl[i], end, fast))
    return out


def _block(payload: tuple, head: tuple, minl: int, maxl: int, last: bool, fast: bool = False) -> bytes:
    """One Whoosh 3 block: its size (negative: a term's last block), its header (posting count, last
    document, largest weight: `head`; compression; length bytes) and its pickled, maybe compressed, payload
    (`fast`: with ISA-L)."""
    data = dumps(payload, 3)
    comp = 0 if len(data) < COMPRESSION_MIN_SIZE else FAST_COMPRESSION if fast else COMPRESSION
    if comp:
        data = isal_zlib.compress(data, comp) if fast else zlib.compress(data, comp)
    info = dumps((*head, comp, minl, maxl), 2)
    size = len(info) + len(data)
    return pack_int(-size if last else size) + info + data


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
    """The records of terms a..b in one buffer; returns it, each record's start in it and each term's UTF-8 length.

    Inlined terms get compact values, the others pointer values (`indexer.codec.records`).
    """
    s0, s1 = t.starts[a], t.starts[b]
    n = np.diff(t.starts[a : b + 1])
    klen = np.diff(t.term_offsets[a : b + 1])
    inline = n <= INLINE_LIMIT
    ti = _term_infos(np, t, s0, s1, n, lb[s0:s1])
    plan = _inline_plan(np, t, s0, s1, n, inline, ti, fixed)
    vallen = np.full(b - a, records.POINTER_SIZE, dtype=np.int64)
    vallen[inline] = plan["size"]
    reclen = 10 + klen + vallen
    rec = np.cumsum(reclen) - reclen
    out = np.empty(int(reclen.sum()), dtype=np.uint8)
    out[rec[:, None] + np.arange(8)] = np.stack([klen + 2, vallen], axis=1).astype(">i4").view(np.uint8)
    out[rec[:, None] + np.arange(8, 10)] = prefix
    scatter(out, rec + 10, klen, t.terms[t.term_offsets[a] : t.term_offsets[b]])
    at = rec + 10 + klen
    big = np.flatnonzero(~inline)
    if len(big):
        pointers = [ptr[a + k] for k in big.tolist()]
        ti["minl"][big] = [p[2] for p in pointers]
        ti["maxl"][big] = [p[3] for p in pointers]
        pt = np.array([p[:2] for p in pointers], dtype=np.int64)
        out[at[big][:, None] + np.arange(records.POINTER_SIZE)] = records.pointer_rows(ti[big], pt[:, 0], pt[:, 1])
    if inline.any():
        records.put_inline(out, at[inline], plan)
    return out, rec, klen


def _inline_plan(np, t: TermArrays, s0: int, s1: int, n, inline, ti, fixed) -> dict:
    """`indexer.codec.records.inline_plan` of the inlined terms among postings s0..s1."""
    keep = np.repeat(inline, n)
    vo = t.value_offsets[s0 : s1 + 1]
    vlens = np.diff(vo)
    vbytes = t.values[vo[0] : vo[-1]][np.repeat(keep, vlens)] if fixed != 0 else t.values[:0]
    return records.inline_plan(n[inline], ti["minl"][inline], ti["maxl"][inline], t.docs[s0:s1][keep],
                               t.weights[s0:s1][keep], vlens[keep], vbytes, fixed)


def _term_infos(np, t: TermArrays, s0: int, s1: int, n, lbs):
    """Each term's W3TermInfo but its flags (length bytes as `_length_bytes` finds them)."""
    first = np.cumsum(n) - n
    w = t.weights[s0:s1]
    docs = t.docs[s0:s1]
    ti = np.zeros(len(n), dtype=records.INFO_DTYPE)
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
