"""Term record values: a term's statistics and its inlined postings, or a pointer to its posting blocks.

Every encode and decode of a term record's value is here (the key and the
record's length header are Whoosh's hash-file layout, `indexer.postings`).
A value's first byte tells its layout:

* 0: Whoosh 3's term info (`W3TermInfo`, 23 bytes: flags, total weight, document
  frequency, smallest and largest length byte, largest weight, first and last
  document), then the blocks' offset (8 bytes) and length (4). Terms with more
  than `indexer.postings.INLINE_LIMIT` postings, old and new segments alike.
* 1: that term info, then the inlined postings as a pickle of (ids, weights,
  values). Segments written before the compact layout (and their records that a
  merge copies byte for byte) keep it.
* 0x80 and up (*compact*): inlined postings of new segments, ~10 bytes for a
  one-posting gram where the pickled layout takes ~38. The statistics the term
  info held are derived from the postings, except the length bytes::

      tag | smallest length byte | largest (absent with ONE_LENGTH) | n | first doc
      one posting:  | weight | its value: nothing (NO_VALUES), the number its 4 big-endian
                      bytes hold (UINT_VALUES: `Frequency`'s), or its length and bytes
      n > 1:        | last - first | widths | the n - 2 doc deltas between the two
                    | weights (one with SAME_WEIGHT, else n) | the values' numbers or
                      lengths (none with NO_VALUES) | the values' bytes

  n, the first doc, last - first and a single posting's numbers are unsigned
  LEB128 varints; the arrays of more postings are little-endian numbers of 1, 2
  or 4 bytes, as the widths byte says (2 bits each for deltas, weights, value
  numbers: decoded by `array` in C). Weights are 8-byte floats with FLOAT.
  Decoded, a compact value is the same `W3TermInfo` (with the same inlined
  tuples) the pickled layout gives.

The writer's side comes scalar (`inline_value`, `one_value`: merges) and
as numpy over many terms (`inline_plan`, `put_inline`: fresh segments; `join_values`: joins).
`doc_frequencies`, `doc_ranges` read a run of values' statistics with numpy.
"""

from __future__ import annotations

import io
import mmap
import sys
from array import array
from collections.abc import Sequence
from copy import copy
from itertools import accumulate, pairwise
from pickle import loads
from struct import Struct, calcsize
from zlib import crc32

import numpy as np
from whoosh.codec.whoosh3 import W3FieldCursor, W3TermInfo, W3TermsReader
from whoosh.reading import CorruptIndexError, TermNotFound
from whoosh.util.numeric import byte_to_length

INFO = W3TermInfo._struct  # the pickled and pointer layouts' term info
EXTENT = Struct("!qi")  # a pointer value ends with its blocks' offset and length
POINTER_SIZE = INFO.size + EXTENT.size
INFO_DTYPE = [("flags", "u1"), ("weight", ">f4"), ("df", ">u4"), ("minl", "u1"), ("maxl", "u1"), ("maxw", ">f4"),
              ("minid", ">u4"), ("maxid", ">u4")]  # INFO as a numpy record
COMPACT = 0x80
ONE_LENGTH, SAME_WEIGHT, FLOAT, NO_VALUES, UINT_VALUES = 1, 2, 4, 8, 16
_F4 = Struct("!f")
_F8 = Struct("<d")
_CODES = "BHId"  # fixed widths of a compact value's numbers: 1, 2, 4 bytes (codes 0-2), floats (3)
_FLOATS = 3
_SWAP = sys.byteorder != "little"
_UINT = Struct("!I")
_LENGTHS = Struct("!ii")  # a record: key length, value length
_BYTE = [bytes((n,)) for n in range(128)]
SLOTS_KEY = "slots"  # in a term table's extras: where its table of record positions is, its slots, their typecode
MIN_SIZE = 5  # the shortest value: a compact one of one posting without values


def is_inlined(value: bytes) -> bool:
    return value[0] != 0


def is_compact(value: bytes) -> bool:
    return value[0] >= COMPACT


def extent(value: bytes) -> tuple[int, int]:
    """A pointer value's blocks: offset and length in the postings file."""
    return EXTENT.unpack_from(value, INFO.size)


def pointer_value(info: tuple, offset: int, length: int) -> bytes:
    """A pointer value: `info` as the term info's fields (flags 0), then the extent."""
    return INFO.pack(*info) + EXTENT.pack(offset, length)


def with_extent(value: bytes, offset: int, length: int) -> bytes:
    """A pointer value with its blocks moved."""
    return value[: -EXTENT.size] + EXTENT.pack(offset, length)


def pointer_rows(ti: np.ndarray, offset: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Pointer values as rows of a byte matrix: term infos (an `INFO_DTYPE` array, flags 0) and extents."""
    head = np.zeros(len(ti), dtype=[("info", INFO_DTYPE), ("offset", ">i8"), ("length", ">i4")])
    head["info"], head["offset"], head["length"] = ti, offset, length
    head["info"]["flags"] = 0
    return head.view(np.uint8).reshape(-1, POINTER_SIZE)


def varint(n: int) -> bytes:
    if n < 0x80:
        return _BYTE[n]
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read(v: bytes, i: int) -> tuple[int, int]:
    """The varint at v[i:] and where it ends."""
    b = v[i]
    if b < 0x80:
        return b, i + 1
    n, shift = b & 0x7F, 7
    while True:
        i += 1
        b = v[i]
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, i + 1
        shift += 7


def _f4(x: float) -> float:
    """`x` as the 4-byte float a term info holds."""
    return _F4.unpack(_F4.pack(x))[0]


def decode(value: bytes) -> tuple[tuple, tuple | None]:
    """(term info fields as `INFO` unpacks them, inlined (ids, weights, values) or None) of either layout.

    A compact value's fields are those the pickled layout would hold: flags 1,
    weights summed and their largest as 4-byte floats.
    """
    if value[0] < COMPACT:
        info = INFO.unpack_from(value)
        if not value[0]:
            return info, None
        return info, loads(value[INFO.size :])
    minl, maxl, postings = _compact(value)
    ids, weights, _ = postings
    return (1, _f4(sum(weights)), len(ids), minl, maxl, _f4(max(weights)), ids[0], ids[-1]), postings


def info(value: bytes) -> tuple:
    """The term info fields of a value (as `INFO` unpacks them)."""
    return INFO.unpack_from(value) if value[0] < COMPACT else decode(value)[0]


def inlined(value: bytes) -> tuple[tuple, tuple, tuple]:
    """The inlined postings of an inlined value of either layout: (ids, weights, values)."""
    if value[0] < COMPACT:
        return loads(value[INFO.size :])
    return _compact(value)[2]


def inlined_block(value: bytes, values: bool = True) -> tuple[int, tuple, tuple, tuple | None]:
    """An inlined value's postings as a posting block holds them: (count, doc deltas from 0, weights, values;
    None unless `values`).

    A compact value holds deltas already: a query reading a term in every segment
    takes them as they are (summing them into ids to take differences again cost
    a third of reading a season's small segments), and its scores need no positions
    (slicing 40 postings' values is two thirds of decoding them).
    """
    if value[0] < COMPACT:
        ids, weights, vals = loads(value[INFO.size :])
        return len(ids), (ids[0], *(b - a for a, b in pairwise(ids))), weights, vals if values else None
    ids, weights, vals = _compact(value, deltas=True, values=values)[2]
    return len(ids), ids, weights, vals


def _compact(v: bytes, deltas: bool = False, values: bool = True) -> tuple[int, int, tuple[tuple, tuple, tuple]]:
    """A compact value's length bytes and postings (with `deltas`, doc deltas from 0 instead of ids; without
    `values`, None for the values)."""
    tag, minl = v[0], v[1]
    if tag & ONE_LENGTH:
        maxl, i = minl, 2
    else:
        maxl, i = v[2], 3
    n, i = _read(v, i)
    d, i = _read(v, i)
    if n == 1:
        if tag & FLOAT:
            w, i = _F8.unpack_from(v, i)[0], i + 8
        else:
            w, i = _read(v, i)
        if not values:
            return minl, maxl, ((d,), (w,), None)
        if tag & NO_VALUES:
            return minl, maxl, ((d,), (w,), (None,))
        x, i = _read(v, i)
        return minl, maxl, ((d,), (w,), (_UINT.pack(x),) if tag & UINT_VALUES else (v[i : i + x],))
    span, i = _read(v, i)
    widths = v[i]
    between, i = _numbers(v, i + 1, widths & 3, n - 2)
    ids = (d, *between, span - sum(between)) if deltas else (*accumulate(between, initial=d), d + span)
    count = 1 if tag & SAME_WEIGHT else n
    weights, i = _numbers(v, i, _FLOATS if tag & FLOAT else widths >> 2 & 3, count)
    if count == 1:
        weights = weights * n
    if not values:
        return minl, maxl, (ids, weights, None)
    if tag & NO_VALUES:
        return minl, maxl, (ids, weights, (None,) * n)
    numbers, i = _numbers(v, i, widths >> 4 & 3, n)
    if tag & UINT_VALUES:
        return minl, maxl, (ids, weights, tuple(map(_UINT.pack, numbers)))
    ends = tuple(accumulate(numbers, initial=i))
    return minl, maxl, (ids, weights, tuple(v[a:b] for a, b in pairwise(ends)))


def _numbers(v: bytes, i: int, code: int, count: int) -> tuple[tuple, int]:
    """`count` fixed-width little-endian numbers at v[i:] (width by `code`, see `_CODES`) and where they end."""
    a = array(_CODES[code])
    end = i + a.itemsize * count
    a.frombytes(v[i:end])
    if _SWAP:
        a.byteswap()
    return tuple(a), end


def _code(top: int) -> int:
    """The smallest width code (`_CODES`) that holds numbers up to `top`."""
    return 0 if top < 256 else 1 if top < 65536 else 2


def _packed(code: int, numbers) -> bytes:
    a = array(_CODES[code], numbers)
    if _SWAP:
        a.byteswap()
    return a.tobytes()


def term_info(value: bytes) -> W3TermInfo:
    """The `W3TermInfo` of a value of any layout (what `W3TermInfo.from_bytes` reads from the others)."""
    if value[0] < COMPACT:
        return W3TermInfo.from_bytes(value)
    (_, weight, df, minl, maxl, maxw, first, last), postings = decode(value)
    ti = W3TermInfo()
    ti._weight, ti._df, ti._maxweight = weight, df, maxw
    ti._minlength, ti._maxlength = byte_to_length(minl), byte_to_length(maxl)
    ti._minid, ti._maxid = first, last
    ti._inlined = postings
    return ti


def value_of(ti: W3TermInfo) -> bytes:
    """A term info as a value of the pickled or pointer layout (what Whoosh's reader gives, as a value)."""
    if not ti.is_inlined() and isinstance(ti._length, tuple):  # whoosh3 reads the blocks' length as a 1-tuple
        ti = copy(ti)
        ti._length = ti._length[0]
    return ti.to_bytes()


def doc_frequency(value: bytes) -> int:
    if value[0] < COMPACT:
        return int.from_bytes(value[5:9], "big")
    return _read(value, 2 if value[0] & ONE_LENGTH else 3)[0]


def _mode(fixed: int | None) -> int:
    """The values' flag for a format's fixed value size (None: variable, 0: no values)."""
    return NO_VALUES if fixed == 0 else UINT_VALUES if fixed == 4 else 0


def inline_value(minl: int, maxl: int, ids, weights, values, fixed: int | None) -> bytes:
    """The compact value of inlined postings (ascending ids; weights ints or floats; values bytes or None;
    one posting has one length byte: minl == maxl)."""
    n = len(ids)
    if n == 1:
        return one_value(minl, ids[0], weights[0], values[0], fixed)
    tag = COMPACT | _mode(fixed)
    head = [bytes((minl,))]
    if minl == maxl:
        tag |= ONE_LENGTH
    else:
        head.append(bytes((maxl,)))
    first = ids[0]
    head += (varint(n), varint(first), varint(ids[-1] - first))
    deltas = [b - a for a, b in pairwise(ids[:-1])]
    dc = _code(max(deltas, default=0))
    ws = [weights[0]] if weights.count(weights[0]) == n else weights
    if len(ws) == 1:
        tag |= SAME_WEIGHT
    if all(float(w).is_integer() and w >= 0 for w in ws):
        ws = [int(w) for w in ws]
        wc = _code(max(ws))
    else:
        tag |= FLOAT
        wc = 0
    tail = [_packed(dc, deltas), _packed(_FLOATS, ws) if tag & FLOAT else _packed(wc, ws)]
    vc = 0
    if not tag & NO_VALUES:
        numbers = [_UINT.unpack(x)[0] for x in values] if tag & UINT_VALUES else list(map(len, values))
        vc = _code(max(numbers))
        tail.append(_packed(vc, numbers))
        if not tag & UINT_VALUES:
            tail += values
    return bytes((tag,)) + b"".join(head) + bytes((dc | wc << 2 | vc << 4,)) + b"".join(tail)


def one_value(minl: int, doc: int, weight: float, value: bytes | None, fixed: int | None) -> bytes:
    """`inline_value` of one posting, the commonest record (most gram terms occur in one document)."""
    mode = _mode(fixed)
    if float(weight).is_integer() and weight >= 0:
        tag, w = COMPACT | ONE_LENGTH | SAME_WEIGHT | mode, varint(int(weight))
    else:
        tag, w = COMPACT | ONE_LENGTH | SAME_WEIGHT | FLOAT | mode, _F8.pack(weight)
    head = bytes((tag, minl, 1)) + varint(doc) + w
    if mode == NO_VALUES:
        return head
    if mode == UINT_VALUES:
        return head + varint(_UINT.unpack(value)[0])
    return head + varint(len(value)) + value


def slot_table(tindex, mapped: mmap.mmap) -> Sequence[int] | None:
    """A term table's table of record positions (`SLOTS_KEY`, little-endian) in its mapped file; None if it
    has Whoosh's hash tables."""
    if SLOTS_KEY not in tindex.extras:
        return None
    base, n, code = tindex.extras[SLOTS_KEY]
    size = calcsize(code)
    if _SWAP:
        return np.frombuffer(mapped, dtype=f"<u{size}", count=n, offset=base).tolist()
    return memoryview(mapped)[base : base + size * n].cast(code)


def mapped_slots(tindex) -> tuple[Sequence[int], mmap.mmap] | None:
    """`slot_table` of a term table's file, memory-mapped (None when it cannot be)."""
    f = getattr(tindex.dbfile, "file", None)
    if not isinstance(f, io.BufferedReader):
        return None
    try:
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None
    return slot_table(tindex, mapped), mapped


def find_slot(slots: Sequence[int], mapped: mmap.mmap, key: bytes) -> tuple[int, int] | None:
    """Where the value of `key` starts and its length, probing a table of record positions (linearly from
    the key's CRC32 modulo the slots, as `indexer.postings._write_hashes` placed them), or None."""
    n = len(slots)
    i = crc32(key) % n
    while at := slots[i]:
        keylen, datalen = _LENGTHS.unpack_from(mapped, at)
        if keylen == len(key) and mapped[at + 8 : at + 8 + keylen] == key:
            return at + 8 + keylen, datalen
        i = i + 1 if i + 1 < n else 0
    return None


class TermsReader(W3TermsReader):
    """Whoosh 3's terms reader for values of every layout and term tables of either kind of hash
    (`StoredCodec.terms_reader`)."""

    _slots = None  # (its table of record positions, the memory-mapped file) once looked up (False: not mapped)

    def items(self):
        decoder = self._keydecoder
        return ((decoder(k), term_info(v)) for k, v in self._tindex.items())

    def items_from(self, fieldname, prefix):
        decoder = self._keydecoder
        return ((decoder(k), term_info(v)) for k, v in self._tindex.items_from(self._keycoder(fieldname, prefix)))

    def term_info(self, fieldname, tbytes):
        try:
            return term_info(self._value(fieldname, tbytes))
        except KeyError:
            raise TermNotFound(f"No term {fieldname}:{tbytes!r}") from None

    def __contains__(self, term) -> bool:
        try:
            self._range_for_key(*term)
        except KeyError:
            return False
        return True

    def _range_for_key(self, fieldname, tbytes) -> tuple[int, int]:
        """Where a term's value is and its length; KeyError when missing, as Whoosh's. Segments whose terms
        are in a table of record positions (`SLOTS_KEY`) are looked up through it."""
        key = self._keycoder(fieldname, tbytes)
        tindex = self._tindex
        if SLOTS_KEY not in tindex.extras:
            return tindex.range_for_key(key)
        if self._slots is None:
            self._slots = mapped_slots(tindex) or False
        found = find_slot(*self._slots, key) if self._slots else self._ordered(key)
        if found is None:
            raise KeyError(key)
        return found

    def _ordered(self, key: bytes) -> tuple[int, int] | None:
        """`_range_for_key` by binary search of the key-order index (a file that cannot be memory-mapped)."""
        pos = self._tindex.closest_key_pos(key)
        found = pos is not None and self._tindex.key_and_range_at(pos)
        return found[1:] if found and found[0] == key else None

    def _value(self, fieldname, tbytes) -> bytes:
        return self._dbfile.get(*self._range_for_key(fieldname, tbytes))

    def frequency(self, fieldname, tbytes):
        return info(self._value(fieldname, tbytes))[1]

    def doc_frequency(self, fieldname, tbytes):
        return doc_frequency(self._value(fieldname, tbytes))

    def cursor(self, fieldname, fieldobj):
        return _FieldCursor(self._tindex, fieldname, self._keycoder, self._keydecoder, fieldobj)


class _FieldCursor(W3FieldCursor):
    def term_info(self):
        if self._pos is None:
            return None
        return term_info(self._tindex.dbfile.get(self._datapos, self._datalen))


# Reading statistics of many values at once (a term table's run of records, memory-mapped).

def varints_at(u8: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The varints of byte array `u8` at positions `at` (int64), and where each ends."""
    val = np.zeros(len(at), dtype=np.int64)
    size = np.zeros(len(at), dtype=np.int64)
    more = np.ones(len(at), dtype=bool)
    last = len(u8) - 1
    for k in range(5):
        b = u8[np.minimum(at + k, last)].astype(np.int64)
        val += np.where(more, (b & 0x7F) << (7 * k), 0)
        size += more
        more &= b >= 0x80
        if not more.any():
            break
    if more.any():
        raise CorruptIndexError("bad varint in a term record")
    return val, at + size


def _compact_starts(u8: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Where the document count of compact values starting at `value` is."""
    return value + 3 - (u8[value] & ONE_LENGTH).astype(np.int64)


def doc_frequencies(u8: np.ndarray, value: np.ndarray) -> np.ndarray:
    """The document frequency of the values of either layout starting at positions `value` of `u8`."""
    old = _be32(u8, value + 5)
    compact = u8[value] >= COMPACT
    if not compact.any():
        return old
    n, _ = varints_at(u8, _compact_starts(u8, value[compact]))
    old[compact] = n
    return old


def doc_ranges(u8: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first and last documents of the values of either layout starting at positions `value` of `u8`."""
    first, last = _be32(u8, value + 15), _be32(u8, value + 19)
    compact = u8[value] >= COMPACT
    if compact.any():
        n, at = varints_at(u8, _compact_starts(u8, value[compact]))
        d, at = varints_at(u8, at)
        span, _ = varints_at(u8, at)
        first[compact] = d
        last[compact] = d + np.where(n > 1, span, 0)
    return first, last


def _be32(u8: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Big-endian 32-bit numbers at byte offsets `at` (0 past the end: compact values are short)."""
    last = len(u8) - 1
    b = [u8[np.minimum(at + i, last)].astype(np.int64) for i in range(4)]
    return (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]


# Writing a chunk of terms' compact values at once (`indexer.postings.write_arrays`).

def inline_plan(ni: np.ndarray, minl: np.ndarray, maxl: np.ndarray, docs: np.ndarray, weights: np.ndarray,
                vlens: np.ndarray, vbytes: np.ndarray, fixed: int | None) -> dict:
    """The compact values of inlined terms as byte pieces: `size` each value's length, for `put_inline`.

    Term k has ni[k] >= 1 postings and length bytes minl[k], maxl[k]; per posting, terms one after
    another: its doc, weight (float64) and value length, the values joined in `vbytes`.
    """
    t = len(ni)
    if not t:
        return {"pieces": [], "size": np.zeros(0, dtype=np.int64)}
    first = np.cumsum(ni) - ni
    term = np.repeat(np.arange(t), ni)
    docs = docs.astype(np.int64)
    integral = np.logical_and.reduceat((weights == np.floor(weights)) & (weights >= 0), first)
    same = np.logical_and.reduceat(weights == weights[first][term], first)
    one = minl == maxl
    tag = COMPACT | _mode(fixed) | np.where(one, ONE_LENGTH, 0) | np.where(same, SAME_WEIGHT, 0) \
        | np.where(integral, 0, FLOAT)
    every, many = np.arange(t), ni > 1
    middle = np.ones(len(docs), dtype=bool)
    middle[first] = False
    middle[first + ni - 1] = False
    deltas = np.where(middle, np.diff(docs, prepend=0), 0)
    numbers = vlens if fixed != 4 else vbytes.reshape(-1, 4).view(">u4")[:, 0].astype(np.int64)
    dc = _codes(np.maximum.reduceat(deltas, first))
    wc = np.where(integral, _codes(np.maximum.reduceat(weights, first)), 0)
    vc = _codes(np.maximum.reduceat(numbers, first)) if fixed != 0 else np.zeros(t, dtype=np.int64)
    span = docs[first + ni - 1] - docs[first]
    pieces = [_bytes_piece(every, tag), _bytes_piece(every, minl), _bytes_piece(every[~one], maxl[~one]),
              _number_piece(every, ni), _number_piece(every, docs[first]), _number_piece(every[many], span[many]),
              _bytes_piece(every[many], (dc | wc << 2 | vc << 4)[many]),
              _number_piece(term[middle], deltas[middle], _WIDTHS[dc][term[middle]])]
    kept = ~same[term]
    kept[first] = True
    owner = term[kept]
    width = np.where(many, np.where(integral, _WIDTHS[wc], 8), 0)[owner]
    pieces.append(_number_piece(owner, weights[kept], width, ~integral[owner]))
    if fixed != 0:
        pieces.append(_number_piece(term, numbers, np.where(many, _WIDTHS[vc], 0)[term]))
    if fixed not in (0, 4):
        pieces.append((term, vlens.astype(np.int64), vbytes))
    size = np.zeros(t, dtype=np.int64)
    for owner, lens, _src in pieces:
        size += np.bincount(owner, weights=lens, minlength=t).astype(np.int64)
    return {"pieces": pieces, "size": size}


_WIDTHS = np.array([1, 2, 4], dtype=np.int64)


def _codes(top: np.ndarray) -> np.ndarray:
    """`_code` of an array."""
    return (top >= 256).astype(np.int64) + (top >= 65536)


def put_inline(out: np.ndarray, base: np.ndarray, plan: dict) -> None:
    """Write the values of `inline_plan` into byte buffer `out`, value k from out[base[k]]."""
    at = base.astype(np.int64)
    for owner, lens, src in plan["pieces"]:
        total = np.bincount(owner, weights=lens, minlength=len(at)).astype(np.int64)
        start = np.cumsum(total) - total
        cum = np.cumsum(lens) - lens
        scatter(out, at[owner] + cum - start[owner], lens, src)
        at += total


def _bytes_piece(owner: np.ndarray, x: np.ndarray) -> tuple:
    return owner, np.ones(len(owner), dtype=np.int64), np.asarray(x).astype(np.uint8)


def _number_piece(owner: np.ndarray, x: np.ndarray, width: np.ndarray | None = None,
                  floats: np.ndarray | None = None) -> tuple:
    """Numbers as varints, or (where width > 0) little-endian in that many bytes; `floats`: 8-byte floats."""
    m = np.zeros((len(x), 8), dtype=np.uint8)
    whole = np.ones(len(x), dtype=bool) if floats is None else ~floats
    m[:, :5], lens = varint_rows(np.where(whole, x, 0))
    if width is not None:
        fixed = (width > 0) & whole
        m[fixed, :4] = x[fixed].astype("<u4").view(np.uint8).reshape(-1, 4)
        lens[fixed] = width[fixed]
    if floats is not None and floats.any():
        m[floats] = x[floats].astype("<f8").view(np.uint8).reshape(-1, 8)
        lens[floats] = 8
    return owner, lens, row_bytes(m, lens)


def varint_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`varint` of non-negative numbers below 2**35 as a 5-column byte matrix and the lengths."""
    x = np.asarray(x).astype(np.int64)
    lens = 1 + sum((x >= 1 << (7 * k)).astype(np.int64) for k in range(1, 5))
    m = ((x[:, None] >> (7 * np.arange(5))) & 0x7F).astype(np.uint8)
    m |= (np.arange(5) < (lens - 1)[:, None]).astype(np.uint8) << 7
    return m, lens


def spans(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """The positions of the ranges starts[i] .. starts[i] + lens[i], one range after another."""
    return np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(int(lens.sum()))


def scatter(out: np.ndarray, dest: np.ndarray, lens: np.ndarray, src: np.ndarray) -> None:
    """Copy the pieces of `src` (one after another, lens[i] bytes each) to out[dest[i]:]."""
    if len(src):
        out[spans(dest, lens)] = src


def row_bytes(m: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """The first lens[i] bytes of each row i of a byte matrix, one after another."""
    return m[np.arange(m.shape[1]) < lens[:, None]]


# Joining compact values with numpy (`indexer.codec.segment_join`: terms several parts hold).

def decode_arrays(u8: np.ndarray, starts: np.ndarray) -> dict:
    """The compact values starting at `starts` of byte array `u8` as arrays: per value n, minl, maxl; per
    posting (values one after another) docs, weights (float64) and numbers (value lengths, or the
    values of UINT_VALUES); the values' bytes joined (`vbytes`)."""
    tag = u8[starts].astype(np.int64)
    one = tag & ONE_LENGTH
    minl = u8[starts + 1].astype(np.int64)
    maxl = np.where(one > 0, minl, u8[starts + 2 - one])
    n, at = varints_at(u8, starts + 3 - one)
    first, at = varints_at(u8, at)
    many = n > 1
    span = np.zeros(len(n), dtype=np.int64)
    span[many], at[many] = varints_at(u8, at[many])
    widths = np.zeros(len(n), dtype=np.int64)
    widths[many] = u8[at[many]]
    at[many] += 1
    floats = (tag & FLOAT) > 0
    deltas, at = _read_items(u8, at, np.where(many, n - 2, 0), _WIDTHS[widths & 3])
    wcount = np.where(tag & SAME_WEIGHT, 1, n)
    wwidth = np.where(floats, 8, np.where(many, _WIDTHS[widths >> 2 & 3], 0))
    weights, at = _read_items(u8, at, wcount, wwidth)
    valued = (tag & NO_VALUES) == 0
    numbers, at = _read_items(u8, at, np.where(valued, n, 0), np.where(many, _WIDTHS[widths >> 4 & 3], 0))
    post = np.cumsum(n) - n
    owner = np.repeat(np.arange(len(n)), n)
    k = np.arange(len(owner)) - post[owner]
    docs = first[owner].copy()
    inner = (k > 0) & (k < n[owner] - 1)
    cum = np.cumsum(deltas.astype(np.int64))
    mid = np.where(many, n - 2, 0)
    before = np.cumsum(mid) - mid  # each value's first delta among all
    within = cum - np.repeat(np.concatenate(([0], cum))[before], mid)
    docs[inner] += within
    last = many[owner] & (k == n[owner] - 1)
    docs[last] += span[owner[last]]
    wfirst = np.cumsum(wcount) - wcount
    w = weights[wfirst[owner] + np.where(wcount[owner] > 1, k, 0)]
    nums = numbers.astype(np.int64) if valued.all() else np.zeros(len(owner), dtype=np.int64)
    if len(tag) and valued.all() and not tag[0] & UINT_VALUES:  # a field's values are of one kind
        total = np.add.reduceat(nums, post) if len(nums) else nums
        vbytes = u8[spans(at, total)]
    else:
        vbytes = u8[:0]
    return {"n": n, "minl": minl, "maxl": maxl, "docs": docs, "weights": w, "numbers": nums, "vbytes": vbytes}


def _read_items(u8: np.ndarray, at: np.ndarray, count: np.ndarray, width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`count[k]` numbers of `width[k]` bytes (0: one varint, 8: a float, else little-endian) at each at[k],
    one value after another (float64), and where each value's end."""
    owner = np.repeat(np.arange(len(at)), count)
    k = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count)
    w = width[owner]
    pos = at[owner] + k * w
    out = np.zeros(len(owner), dtype=np.float64)
    ends = at + count * width
    var = w == 0
    if var.any():
        out[var], end = varints_at(u8, pos[var])
        ends[owner[var]] = end
    last = len(u8) - 1
    f = w == 8
    if f.any():
        out[f] = u8[np.minimum(pos[f][:, None] + np.arange(8), last)].copy().view("<f8")[:, 0]
    i = (w > 0) & (w < 8)
    if i.any():
        b = u8[np.minimum(pos[i][:, None] + np.arange(4), last)].astype(np.int64)
        out[i] = (b * np.where(np.arange(4) < w[i][:, None], 256 ** np.arange(4), 0)).sum(axis=1)
    return out, ends


def join_values(parts: list[tuple[np.ndarray, np.ndarray]], which: np.ndarray, at: np.ndarray,
                counts: np.ndarray, fixed: int | None) -> list[bytes]:
    """Groups of compact values joined, each group's postings one value's after another (what `inline_value`
    writes for them). `parts` are byte arrays and the starts of the values read from each; value j of the
    groups (counts[g] values each, in order) is part which[j]'s value at[j]."""
    decoded = [decode_arrays(u8, starts) for u8, starts in parts]
    n = np.concatenate([d["n"] for d in decoded])
    base = np.cumsum([0] + [len(d["n"]) for d in decoded])[:-1]
    v = base[which] + at
    post = np.cumsum(n) - n
    sizes = n[v]
    idx = spans(post[v], sizes)
    docs, weights, numbers = (np.concatenate([d[f] for d in decoded])[idx] for f in ("docs", "weights", "numbers"))
    gfirst = np.cumsum(counts) - counts
    lo, hi = np.concatenate([d["minl"] for d in decoded])[v], np.concatenate([d["maxl"] for d in decoded])[v]
    empty = (lo == 0) & (hi == 0)  # no non-empty field
    lo, hi = np.minimum.reduceat(np.where(empty, 256, lo), gfirst), np.maximum.reduceat(np.where(empty, -1, hi), gfirst)
    lo, hi = np.where(lo == 256, 0, lo), np.maximum(hi, 0)
    vb = [d["vbytes"] for d in decoded]
    vstart = np.concatenate([np.cumsum(d["numbers"]) - d["numbers"] + sum(map(len, vb[:p]))
                             for p, d in enumerate(decoded)])[idx]
    vlens, vbytes = value_pieces(numbers, vstart, np.concatenate(vb), fixed)
    return encode_inline(np.add.reduceat(sizes, gfirst), lo, hi, docs, weights, vlens, vbytes, fixed)


def value_pieces(numbers: np.ndarray, vstart: np.ndarray, vbytes: np.ndarray,
                 fixed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Decoded postings' values as `inline_plan` takes them (each one's length, all their bytes): from the
    numbers `decode_arrays` gives, 4-byte values (`fixed` 4), none (0), or lengths of bytes at `vstart`."""
    if fixed == 4:
        return np.full(len(numbers), 4), numbers.astype(">u4").view(np.uint8)
    if fixed == 0:
        return np.zeros(len(numbers), dtype=np.int64), np.zeros(0, dtype=np.uint8)
    return numbers, vbytes[spans(vstart, numbers)]


def encode_inline(ni: np.ndarray, minl: np.ndarray, maxl: np.ndarray, docs: np.ndarray, weights: np.ndarray,
                  vlens: np.ndarray, vbytes: np.ndarray, fixed: int | None) -> list[bytes]:
    """The compact values of terms of ni[t] postings each, one after another (`inline_plan`, `put_inline`)."""
    plan = inline_plan(ni, minl, maxl, docs, weights, vlens, vbytes, fixed)
    out = np.zeros(int(plan["size"].sum()), dtype=np.uint8)
    ends = np.cumsum(plan["size"])
    put_inline(out, ends - plan["size"], plan)
    data, bounds = out.tobytes(), [0, *ends.tolist()]
    return [data[a:b] for a, b in pairwise(bounds)]
