"""Writing one field's postings into a Whoosh 3 segment, a term at a time instead of a posting at a time.

The files are in Whoosh 3's format (its readers read them unchanged) with two
differences from what its writer produces:

* Terms with few postings are *inlined* into their term record, a layout the
  reader supports but whoosh3 3.54.0's writer cannot produce (it calls a
  misspelt ``set_inline`` and crashes when ``inlinelimit > 1``). Most gram terms
  occur in one or two articles, so this skips a postings block for most terms.
* Block data and inlined postings are pickled with protocol 3, which stores a
  bytes value as itself; protocol 2 (Whoosh's) spells each as a latin-1 string
  plus a ``_codecs.encode`` call, ~60 bytes for a 3-byte posting. The readers
  unpickle any protocol. Block headers stay protocol 2.

File positions are counted here rather than asked of the OS: ``tell()`` is a
system call, and Whoosh asks two or three times per term.
"""

from __future__ import annotations

import zlib
from array import array
from pickle import dumps

from whoosh.codec.whoosh3 import COMPRESSION_MIN_SIZE, WHOOSH3_HEADER_MAGIC, W3TermInfo
from whoosh.filedb.filetables import _lengths
from whoosh.system import pack_int, pack_long, pack_ushort
from whoosh.util.numeric import length_to_byte
from whoosh.util.numlists import delta_encode

# Terms with at most this many postings are stored inside their term record.
INLINE_LIMIT = 8
BLOCK = 128  # postings per block, and the zlib level of blocks: W3Codec's defaults
COMPRESSION = 3
_TERMINFO = W3TermInfo._struct

Postings = tuple[array, array, list]  # doc numbers, weights, encoded values


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


def write_field(fw, terms: dict[str | bytes, Postings], lengths: array | None) -> None:
    """Write every term of the field `fw` has started; `lengths` are the field's quantized doc lengths.

    Terms are all str or all bytes: str sorts like its UTF-8 encoding.
    """
    tindex = fw._tindex
    saved = tindex.dbfile
    tfile = tindex.dbfile = _Counted(saved)
    try:
        _write_terms(fw, tindex, tfile, _Counted(fw._postfile), terms, lengths)
    finally:
        tindex.dbfile = saved


def _write_terms(fw, tindex, tfile: _Counted, pfile: _Counted, terms: dict, lengths) -> None:
    prefix = pack_ushort(fw._fieldid)
    buckets, index, hashfn = tindex.buckets, tindex.index, tindex.hashfn
    fixed = fw._format.fixed_value_size()  # None: variable, 0: no values (ids, dates), n: n bytes each
    write = tfile.write
    for tb in sorted(terms):
        docs, weights, values = terms[tb]
        n = len(docs)
        w = tuple(weights)
        if lengths is not None:
            lens = [lengths[d] for d in docs if lengths[d]]
            minl = length_to_byte(min(lens)) if lens else 0
            maxl = length_to_byte(max(lens)) if lens else 0
        else:
            minl = maxl = 0
        head = _TERMINFO.pack(n <= INLINE_LIMIT, sum(w), n, minl, maxl, max(w), docs[0], docs[-1])
        if n <= INLINE_LIMIT:
            value = head + dumps((tuple(docs), w, (None,) * n if fixed == 0 else tuple(values)), 3)
        else:
            offset = pfile.pos
            _write_blocks(pfile, docs, weights, values, lengths, fixed)
            value = head + pack_long(offset) + pack_int(pfile.pos - offset)
        key = prefix + (tb.encode() if isinstance(tb, str) else tb)
        pos = tfile.pos
        index.append(pos)
        write(_lengths.pack(len(key), len(value)))
        write(key)
        write(value)
        h = hashfn(key)
        buckets[h & 255].append((h, pos))
        tindex.lastkey = key


def _write_blocks(pfile: _Counted, docs: array, weights: array, values: list, lengths, fixed: int | None) -> None:
    """One term's postings as Whoosh 3 blocks (W3PostingsWriter._write_block, with bytes pickled compactly)."""
    write = pfile.write
    write(WHOOSH3_HEADER_MAGIC)
    n = len(docs)
    for i in range(0, n, BLOCK):
        j = min(i + BLOCK, n)
        ids, ws, vs = docs[i:j], weights[i:j], values[i:j]
        first = ws[0]
        same = ws.count(first) == len(ws)
        mini_w = (None if first == 1.0 else first) if same else tuple(ws)
        mini_v = tuple(vs) if fixed is None or fixed < 0 else None if fixed == 0 else b"".join(vs)
        data = dumps((tuple(delta_encode(ids)), mini_w, mini_v), 3)
        comp = COMPRESSION if len(data) >= COMPRESSION_MIN_SIZE else 0
        if comp:
            data = zlib.compress(data, comp)
        lens = [lengths[d] for d in ids if lengths[d]] if lengths is not None else []
        info = dumps(
            (len(ids), ids[-1], max(ws), comp, length_to_byte(min(lens)) if lens else 0,
             length_to_byte(max(lens)) if lens else 0),
            2,
        )
        size = len(info) + len(data)
        write(pack_int(-size if j == n else size))
        write(info)
        write(data)
