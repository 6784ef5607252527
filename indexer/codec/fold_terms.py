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
* A term whose postings fit is inlined (up to `segment_join.inline_max()`, as a
  fresh build's join inlines), all such terms' values encoded at once
  (`records.encode_inline`).
* A term the big segment holds in blocks keeps them as bytes but its last
  one, when that is short (`split_last`: not full, and at most
  `REFILL_RATIO` times the new postings or under `REFILL_MIN`): its postings
  are written again with the new ones, up to full blocks, as a fresh build
  lays them out, as the term-by-term merge does. Otherwise the new postings
  follow as blocks of their own (Whoosh 3 blocks are self-contained, as in
  `indexer.codec.segment_join`). Appending whenever the new postings were
  many left a season's common terms a trail of small blocks (a season of 16
  folds of 370 into 27,000, bench/merge.py --folds: 9,258 blocks for the
  common terms where a fresh build has 6,138; refilled: 7,385).
* Other terms (too many postings to inline, no blocks in the big segment) get
  blocks from all their postings.
* All those blocks are encoded at once (`write_blocks`,
  `indexer.postings.encode_terms`: numpy over all the terms' postings, then a
  pickle and a zlib call per block); the last blocks written again are
  decoded at once, read as one term's blocks (`_tails`).

The answers are a term-by-term merge's; the bytes differ only in blocks written after the big segment's.
"""

from __future__ import annotations

import pickle
from array import array
from typing import NamedTuple

import numpy as np
from whoosh.system import pack_int, unpack_int

from .. import postings
from ..postings import PackedValues
from . import records
from .arrays import read_blocks

# A kept term's last block, when not full, is written again with the postings a merge adds to the term (up to
# full blocks, as a fresh build writes them) if it holds at most REFILL_RATIO times as many postings as are added,
# or fewer than REFILL_MIN; else the new postings follow as blocks of their own. Appending them every time left a
# season's common terms a trail of small blocks (a block's headers take ~100 bytes and each read costs: queries
# decoded ~1.7x the blocks of a fresh build); writing the last block again every time costs a fold seconds.
# Under 256 the trail was still blocks of ~256 (8 folds of 300 into 27,000, bench/merge.py --folds: 5,511 blocks
# for the 1,083 common terms; 1,024: 4,525; always, 2,048: 4,357), at no cost a fold could tell from noise.
REFILL_RATIO = 8
REFILL_MIN = 1024
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
    count = pickle.loads(blob[pos + 4 : pos + 4 + size])[0]
    if count >= postings.BLOCK or count > max(REFILL_MIN, REFILL_RATIO * new):
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
    """The compact values of terms `which` (each with 1..`segment_join.inline_max()` postings); `lb`: 1 + each
    document's length byte (0: an empty field)."""
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


def write_blocks(flat: Flat, js: np.ndarray, lasts: list[bytes | None], lengths: array | None,
                 fixed: int | None) -> list[tuple[bytes, tuple]]:
    """Terms `js`' postings (at least one each) as blocks, after the postings of the block lasts[i] where there
    is one (`split_last`), all terms at once (`indexer.postings.encode_terms`); with each, the term info fields
    (flags 0) of its postings in `flat`."""
    if not len(js):
        return []
    n = np.diff(flat.starts)[js]
    tail = _tails([b for b in lasts if b is not None], fixed)
    tl = np.zeros(len(js), dtype=np.int64)
    tl[[i for i, b in enumerate(lasts) if b is not None]] = tail.counts
    pieces = np.stack([cumulative(tl)[:-1], len(tail.docs) + flat.starts[js]], axis=1).ravel()
    idx = records.spans(pieces, np.stack([tl, n], axis=1).ravel())  # each term's tail, then its new postings
    docs = np.concatenate([tail.docs, flat.docs])[idx]
    vlens = np.concatenate([tail.vlens, np.diff(flat.vstarts)])[idx]
    vstart = np.concatenate([cumulative(tail.vlens)[:-1], flat.vstarts[:-1] + len(tail.vbytes)])[idx]
    vbytes = np.concatenate([tail.vbytes, flat.vbytes])[records.spans(vstart, vlens)]
    lb = None if lengths is None else np.frombuffer(lengths, dtype=np.uint16)[docs]
    bounds = cumulative(tl + n)
    encoded = postings.encode_terms(docs, np.concatenate([tail.weights, flat.weights])[idx], cumulative(vlens),
                                    vbytes, bounds, lb, fixed, fast=True)
    own = flat.weights[records.spans(flat.starts[js], n)]
    first = cumulative(n)[:-1]
    sums, tops = np.add.reduceat(own, first).tolist(), np.maximum.reduceat(own, first).tolist()
    ends = zip(docs[bounds[:-1]].tolist(), docs[bounds[1:] - 1].tolist(), strict=True)
    return [(blob, (0, w, k, lo, hi, top, a, b))
            for (blob, lo, hi), w, k, top, (a, b) in zip(encoded, sums, n.tolist(), tops, ends, strict=True)]


class _Tail(NamedTuple):
    counts: list[int]
    docs: np.ndarray
    weights: np.ndarray
    vlens: np.ndarray
    vbytes: np.ndarray


def _tails(lasts: list[bytes], fixed: int | None) -> _Tail:
    """The postings of last blocks (each as blocks of its own, `split_last`), decoded at once: read as one
    term's blocks (Whoosh 3 blocks are self-contained)."""
    if not lasts:
        return _Tail([], np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64),
                     np.zeros(0, dtype=np.uint8))
    counts = [pickle.loads(b[_MAGIC + 4 :])[0] for b in lasts]  # the header (pickle ignores what follows)
    body = [pack_int(-unpack_int(b[_MAGIC : _MAGIC + 4])[0]) + b[_MAGIC + 4 :] for b in lasts[:-1]]
    blob = lasts[0][:_MAGIC] + b"".join(body) + lasts[-1][_MAGIC:]
    docs, weights, chunks = read_blocks(BytesFile(blob), 0, len(blob), values=fixed != 0)
    if fixed == 0:
        return _Tail(counts, docs, weights, np.zeros(len(docs), dtype=np.int64), np.zeros(0, dtype=np.uint8))
    packed = [c if type(c) is PackedValues else _packed(c, fixed) for c in chunks]
    ends = np.concatenate([np.frombuffer(p.ends, dtype=np.uint32) for p in packed]).astype(np.int64)
    before = np.concatenate(([0], ends[:-1]))
    before[cumulative(np.array(counts, dtype=np.int64))[:-1]] = 0  # each block's ends count from 0
    return _Tail(counts, docs, weights, ends - before, np.frombuffer(b"".join(p.data for p in packed),
                                                                       dtype=np.uint8))


def _packed(chunk, fixed: int | None) -> PackedValues:
    """A block's values (a chunk of `read_blocks`) as PackedValues."""
    if isinstance(chunk, PackedValues):
        return chunk
    if isinstance(chunk, bytes):
        return PackedValues(chunk, array("I", range(fixed, len(chunk) + 1, fixed)))
    return PackedValues.pack(list(chunk))


def appended(value: bytes, head: bytes, more: bytes, info: tuple) -> tuple[bytes, bytes]:
    """A term's blocks `head` (its record value `value`; `split_last`) followed by the blocks `more` of postings
    after its last (term info fields `info` of those not in `head`'s blocks): the record value (its extent to be
    set) and the blocks."""
    _flags, weight, df, minl, maxl, maxw, minid, _maxid = records.info(value)
    lo, hi = postings._spanned([(minl, maxl), info[3:5]])
    joined = head + more[_MAGIC:]
    return records.pointer_value((0, weight + info[1], df + info[2], lo, hi, max(maxw, info[5]), minid, info[7]),
                                 0, len(joined)), joined
