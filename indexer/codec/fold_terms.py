"""The terms a fold's small segments hold, written in bulk (`indexer.codec.segment_merge`).

A fold merges small segments behind a big first segment kept verbatim: its
records are copied in byte runs, and what is left is every term the small
segments hold, ~375,000 keys for 3,500 articles folded into 27,000 (nearly
all of them terms the big segment has too). Written a term at a time (decoded,
renumbered, encoded again, the big segment's last block rewritten with the new
postings) they cost ~30 µs a key and ~130 µs a term with blocks: seconds even
for a few articles. Here they are written a field at a time:

* The small segments' postings of all those terms (and the big segment's,
  where it holds them inlined) are read into arrays at once: compact inlined
  values decoded with numpy (`records.decode_arrays`), older pickled values
  and posting blocks (few in small segments) one value at a time; documents are
  renumbered and purged ones dropped with numpy (`Flat`).
* A term whose postings fit is inlined, all such terms' values encoded at once
  (`records.encode_inline`).
* A term the big segment holds in blocks keeps them as bytes, and the others'
  postings follow as blocks of their own (Whoosh 3 blocks are self-contained,
  as in `indexer.codec.segment_join`). Only its last block is decoded, and only
  when it is short and the new postings few (`APPEND_MIN`, `CARRY_MAX`): then the two are
  written as one, as the term-by-term merge does, or every fold would leave
  every common term one more small block (a season's folds grew the index by
  a fifth).
* Other terms (too many postings to inline, no blocks in the big segment) get
  blocks from all their postings (`indexer.postings.encode_blocks`).

The answers are a term-by-term merge's; the bytes differ only in blocks written after the big segment's.
"""

from __future__ import annotations

import pickle
from array import array
from typing import NamedTuple

import numpy as np
from whoosh.system import pack_int, unpack_int

from .. import postings
from ..postings import PackedValues, encode_blocks
from . import records
from .arrays import read_blocks

# Postings a merge adds to a kept term that get blocks of their own after its old last block; fewer are
# written together with that block's postings when it is short, so a term gets no trail of small blocks
# (each read costs, and each block's headers take ~100 bytes: a season of folds appending blocks grew the
# index by a fifth).
APPEND_MIN = 64
CARRY_MAX = 256  # ... when it holds fewer postings than this (writing a longer one again costs more than it saves)
_MAGIC = len(postings.WHOOSH3_HEADER_MAGIC)


class BytesFile:
    """Bytes read like a postings file (what `read_blocks` asks of one)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def get(self, offset: int, length: int) -> bytes:
        return self.data[offset : offset + length]


def split_last(blob: bytes, new: int) -> tuple[bytes, bytes | None]:
    """A term's blocks `blob` to be followed by `new` more postings: the blocks kept, none marked last, and
    the last block (as blocks of its own) when its postings are to be written again with the new ones."""
    pos = _MAGIC
    while (size := unpack_int(blob[pos : pos + 4])[0]) > 0:  # the last block's size is negative
        pos += 4 + size
    size = -size
    if new >= 3 * APPEND_MIN or pickle.loads(blob[pos + 4 : pos + 4 + size])[0] >= CARRY_MAX:
        return blob[:pos] + pack_int(size) + blob[pos + 4 :], None  # a block of their own after it
    return blob[:pos], blob[:_MAGIC] + blob[pos:]


def cumulative(x: np.ndarray) -> np.ndarray:
    """Sums of `x` before each place, and the total: len(x) + 1 numbers."""
    return np.concatenate(([0], np.cumsum(x, dtype=np.int64)))


class Renumbering(NamedTuple):
    """Where each source's documents go: source k's document d is new[first[k] + d] (-1: purged)."""

    first: np.ndarray
    new: np.ndarray


class Flat(NamedTuple):
    """Postings of terms one term after another (term j's are starts[j]:starts[j + 1], documents ascending),
    each posting's value the bytes vbytes[vstarts[p]:vstarts[p + 1]]."""

    starts: np.ndarray
    docs: np.ndarray
    weights: np.ndarray
    vstarts: np.ndarray
    vbytes: np.ndarray

    def values(self, a: int, b: int) -> PackedValues:
        """The values of postings a..b (what `encode_blocks` takes)."""
        vo = self.vstarts[a : b + 1]
        return PackedValues(self.vbytes[vo[0] : vo[-1]].tobytes(), array("I", (vo[1:] - vo[0]).astype(np.uint32)))


class Pieces(NamedTuple):
    """Source record values of terms: piece i is term terms[i]'s postings in source srcs[i]."""

    terms: list[int]
    srcs: list[int]
    values: list[bytes]

    def add(self, term: int, src: int, value: bytes) -> None:
        self.terms.append(term)
        self.srcs.append(src)
        self.values.append(value)


def _decoded(pieces: Pieces, which: list[int], fixed: int | None) -> tuple:
    """Postings of the compact values among `pieces`: (piece, doc, weight, value length, value bytes)."""
    if not which:
        return ()
    values = [pieces.values[i] for i in which]
    u8 = np.frombuffer(b"".join(values), dtype=np.uint8)
    d = records.decode_arrays(u8, cumulative(np.array([len(v) for v in values], dtype=np.int64))[:-1])
    vlens, vbytes = records.value_pieces(d["numbers"], cumulative(d["numbers"])[:-1], d["vbytes"], fixed)
    return np.repeat(np.array(which, dtype=np.int64), d["n"]), d["docs"], d["weights"], vlens, vbytes


def _read(pieces: Pieces, which: list[int], sources: list, fixed: int | None) -> tuple:
    """`_decoded` of the other values (older pickled inlined ones, posting blocks), a value at a time."""
    if not which:
        return ()
    owner, docs, weights, vals = [], [], [], []
    for i in which:
        value = pieces.values[i]
        if value[0]:
            ids, ws, vs = records.inlined(value)
        else:
            offset, length = records.extent(value)
            postfile = sources[pieces.srcs[i]].reader._terms._postfile
            ids, ws, chunks = read_blocks(postfile, offset, length, values=fixed != 0)
            vs = [v for chunk in chunks for v in split_values(chunk, fixed)]
        owner += [i] * len(ids)
        docs += list(ids)
        weights += list(ws)
        vals += vs if fixed != 0 else ()
    vlens = np.array([len(v) for v in vals], dtype=np.int64) if fixed != 0 else np.zeros(len(docs), dtype=np.int64)
    return (np.array(owner, dtype=np.int64), np.array(docs, dtype=np.int64), np.array(weights, dtype=np.float64),
            vlens, np.frombuffer(b"".join(vals), dtype=np.uint8))


def split_values(chunk, fixed: int | None) -> list:
    """A block's encoded values as a list of bytes, whichever way the block stored them."""
    if isinstance(chunk, PackedValues):
        data, ends = chunk.data, chunk.ends.tolist()
        return [data[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]
    if isinstance(chunk, bytes) and fixed:
        return [chunk[i : i + fixed] for i in range(0, len(chunk), fixed)]
    return list(chunk)


def gather(pieces: Pieces, terms: int, sources: list, renumber: Renumbering, fixed: int | None) -> Flat:
    """The postings of `terms` terms of one field from their `pieces` (in term, then source order), documents
    renumbered, purged ones dropped."""
    tags = np.array([v[0] for v in pieces.values], dtype=np.int64)
    compact = np.flatnonzero(tags >= records.COMPACT).tolist()
    other = np.flatnonzero(tags < records.COMPACT).tolist()
    parts = [x for x in (_decoded(pieces, compact, fixed), _read(pieces, other, sources, fixed)) if x]
    if not parts:
        return Flat(np.zeros(terms + 1, dtype=np.int64), *(np.zeros(0, dtype=t) for t in (np.int64, float)),
                    np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.uint8))
    owner, docs, weights, vlens = (np.concatenate([p[f] for p in parts]) for f in range(4))
    vstart = np.concatenate([cumulative(p[3])[:-1] + sum(len(q[4]) for q in parts[:k]) for k, p in enumerate(parts)])
    vbytes = np.concatenate([p[4] for p in parts])
    order = np.argsort(owner, kind="stable")  # pieces in order, each one's postings in order
    owner, docs, weights, vlens, vstart = owner[order], docs[order], weights[order], vlens[order], vstart[order]
    src = np.array(pieces.srcs, dtype=np.int64)
    docs = renumber.new[renumber.first[src[owner]] + docs]
    live = docs >= 0
    owner, docs, weights, vlens, vstart = owner[live], docs[live], weights[live], vlens[live], vstart[live]
    term = np.array(pieces.terms, dtype=np.int64)[owner]
    taken = vbytes[records.spans(vstart, vlens)]
    return Flat(cumulative(np.bincount(term, minlength=terms)), docs, weights, cumulative(vlens), taken)


def inline_values(flat: Flat, which: np.ndarray, fixed: int | None, lb: np.ndarray) -> list[bytes]:
    """The compact values of terms `which` (each with 1..INLINE_LIMIT postings); `lb`: 1 + each document's
    length byte (0: an empty field)."""
    n = np.diff(flat.starts)[which]
    idx = records.spans(flat.starts[which], n)
    docs, vlens = flat.docs[idx], np.diff(flat.vstarts)[idx]
    vbytes = flat.vbytes[records.spans(flat.vstarts[idx], vlens)]
    lbs = lb[docs].astype(np.int64)
    first = cumulative(n)[:-1]
    hi = np.maximum.reduceat(lbs, first) if len(lbs) else lbs
    lo = np.minimum.reduceat(np.where(lbs > 0, lbs, 65535), first) if len(lbs) else lbs
    minl, maxl = np.where(hi > 0, lo - 1, 0), np.where(hi > 0, hi - 1, 0)
    return records.encode_inline(n, minl, maxl, docs, flat.weights[idx], vlens, vbytes, fixed)


def blocks(flat: Flat, j: int, lengths: array | None, fixed: int | None,
           before: bytes | None = None) -> tuple[bytes, tuple]:
    """Term j's postings as blocks (after the postings of the blocks `before`, if any), and the term info fields
    (flags 0) of term j's postings."""
    a, b = int(flat.starts[j]), int(flat.starts[j + 1])
    docs, w, values = flat.docs[a:b], flat.weights[a:b], flat.values(a, b)
    if before is not None:
        ids, weights, chunks = read_blocks(BytesFile(before), 0, len(before), values=fixed != 0)
        docs, w = np.concatenate([ids, docs]), np.concatenate([weights, w])
        if fixed != 0:
            values = _joined(_packed(chunks, fixed), values)
    blob, minl, maxl = encode_blocks(array("I", docs.astype(np.uint32).tobytes()),
                                     array("f", w.astype(np.float32).tobytes()), values, lengths, fixed)
    new = flat.weights[a:b]
    return blob, (0, float(new.sum()), b - a, minl, maxl, float(new.max()), int(docs[0]), int(docs[-1]))


def _packed(chunks: list, fixed: int | None) -> PackedValues:
    """A block's values (`read_blocks`' chunks) as PackedValues."""
    (chunk,) = chunks
    if isinstance(chunk, PackedValues):
        return chunk
    if isinstance(chunk, bytes):
        return PackedValues(chunk, array("I", range(fixed, len(chunk) + 1, fixed)))
    return PackedValues.pack(list(chunk))


def _joined(a: PackedValues, b: PackedValues) -> PackedValues:
    ends = np.concatenate([np.frombuffer(a.ends, dtype=np.uint32),
                           np.frombuffer(b.ends, dtype=np.uint32) + len(a.data)])
    return PackedValues(a.data + b.data, array("I", ends.astype(np.uint32).tobytes()))


def appended(value: bytes, head: bytes, more: bytes, info: tuple) -> tuple[bytes, bytes]:
    """A term's blocks `head` (its record value `value`; `split_last`) followed by the blocks `more` of postings
    after its last (term info fields `info` of those not in `head`'s blocks): the record value (its extent to be
    set) and the blocks."""
    _flags, weight, df, minl, maxl, maxw, minid, _maxid = records.info(value)
    lo, hi = postings._spanned([(minl, maxl), info[3:5]])
    joined = head + more[_MAGIC:]
    return records.pointer_value((0, weight + info[1], df + info[2], lo, hi, max(maxw, info[5]), minid, info[7]),
                                 0, len(joined)), joined
