"""Stored fields compressed a block of documents at a time (zstd), in a codec every reader of a segment goes through.

Whoosh 3 keeps each document's stored fields as its own zlib stream: Chinese
text of one article compresses poorly alone (20 MB for the 12,000 Tainan
articles). Here documents' pickled fields are gathered into ~16 KB blocks,
each one zstd frame (15 MB); reading a document decompresses its block
(~25 µs; 32 KB blocks save 1 MB more and cost twice that) and keeps the last
`CACHED` blocks, so a page's documents read again (snippets, keywords) are free.

`StoredCodec` is pickled into each segment it writes (the TOC holds the
segment and its codec), so its import path is part of the index format:
never rename or move it. Segments written by Whoosh's own codec (older
indexes) keep reading their per-document streams.
"""

from __future__ import annotations

import pickle
import sys
from array import array
from functools import lru_cache
from struct import Struct
from typing import Any

from whoosh.codec.whoosh3 import W3Codec, W3PerDocReader, W3PerDocWriter
from whoosh.columns import Column, ColumnReader, ColumnWriter

COLUMN = "_zstored"
BLOCK_BYTES = 16 * 1024  # raw bytes a block gathers before it is compressed
CACHED = 32  # decompressed blocks a reader keeps (~0.5 MB)
LEVEL = 9  # zstd level: 9 is ~0.6 s for 30 MB of text and 6 % smaller than 3; 15 costs 3× for 8 % more
_TRAILER = Struct("<QQ")  # where the index starts (from the column's start), number of blocks
_SWAP = sys.byteorder != "little"


def _raw(a: array) -> bytes:
    if _SWAP:
        a = array(a.typecode, a)
        a.byteswap()
    return a.tobytes()


def _array(code: str, data: bytes) -> array:
    a = array(code, data)
    if _SWAP:
        a.byteswap()
    return a


class BlockColumn(Column):
    """Pickled values, zstd-compressed a block of documents at a time.

    Layout: the blocks; then per block its offset ("Q", one more for the end),
    per document its block number and the end of its value in the block ("I");
    then `_TRAILER`. A document without a value ends where the one before it does.
    """

    def writer(self, dbfile) -> ColumnWriter:
        return _BlockWriter(dbfile)

    def reader(self, dbfile, basepos: int, length: int, doccount: int) -> ColumnReader:
        return _BlockReader(dbfile, basepos, length, doccount)


class _BlockWriter(ColumnWriter):
    def __init__(self, dbfile) -> None:
        import zstandard

        self._dbfile = dbfile
        self._start = dbfile.tell()
        self._compress = zstandard.ZstdCompressor(level=LEVEL).compress
        self._pending: list[bytes] = []
        self._size = 0
        self._offsets = array("Q", [0])
        self._blocks = array("I")
        self._ends = array("I")

    def add(self, docnum: int, value: Any) -> None:
        self.fill(docnum)
        data = pickle.dumps(value, 5)
        self._pending.append(data)
        self._size += len(data)
        self._blocks.append(len(self._offsets) - 1)
        self._ends.append(self._size)
        if self._size >= BLOCK_BYTES:
            self._flush()

    def fill(self, docnum: int) -> None:
        """Give the documents before `docnum` that have no value an empty one."""
        missing = docnum - len(self._ends)
        if missing > 0:
            self._blocks.extend([len(self._offsets) - 1] * missing)
            self._ends.extend([self._size] * missing)

    def _flush(self) -> None:
        if self._pending:
            block = self._compress(b"".join(self._pending))
            self._dbfile.write(block)
            self._offsets.append(self._offsets[-1] + len(block))
            self._pending.clear()
            self._size = 0

    def finish(self, doccount: int) -> None:
        self.fill(doccount)
        self._flush()
        index = self._dbfile.tell() - self._start
        for a in (self._offsets, self._blocks, self._ends):
            self._dbfile.write(_raw(a))
        self._dbfile.write(_TRAILER.pack(index, len(self._offsets) - 1))


class _BlockReader(ColumnReader):
    def __init__(self, dbfile, basepos: int, length: int, doccount: int) -> None:
        self._dbfile, self._basepos, self._doccount = dbfile, basepos, doccount
        index, nblocks = _TRAILER.unpack(dbfile.get(basepos + length - _TRAILER.size, _TRAILER.size))
        raw = dbfile.get(basepos + index, length - index - _TRAILER.size)
        split1, split2 = 8 * (nblocks + 1), 8 * (nblocks + 1) + 4 * doccount
        self._offsets = _array("Q", raw[:split1])
        self._blocks = _array("I", raw[split1:split2])
        self._ends = _array("I", raw[split2:])
        self._block = lru_cache(maxsize=CACHED)(self._read_block)  # thread-safe: the web server's threads share it

    def __len__(self) -> int:
        return self._doccount

    def _read_block(self, b: int) -> bytes:
        import zstandard

        start = self._offsets[b]
        return zstandard.decompress(self._dbfile.get(self._basepos + start, self._offsets[b + 1] - start))

    def __getitem__(self, docnum: int) -> Any:
        b, end = self._blocks[docnum], self._ends[docnum]
        start = self._ends[docnum - 1] if docnum and self._blocks[docnum - 1] == b else 0
        if start == end:
            return None
        return pickle.loads(self._block(b)[start:end])

    def __iter__(self):
        return (self[d] for d in range(self._doccount))


STORED = BlockColumn()


class _PerDocWriter(W3PerDocWriter):
    """Whoosh 3's per-document writer with the stored fields in `COLUMN` instead of "_stored"."""

    def finish_doc(self) -> None:
        if sf := self._storedfields:
            self.add_column_value(COLUMN, STORED, sf)
            self._storedfields = {}
        self._indoc = False


class _PerDocReader(W3PerDocReader):
    def stored_fields(self, docnum: int) -> dict:
        reader = self._cached_reader(COLUMN, STORED)
        if reader is None:  # a segment without stored fields at all
            return super().stored_fields(docnum)
        return reader[docnum] or {}


class StoredCodec(W3Codec):
    """Whoosh 3's codec with block-compressed stored fields (pickled into segments: keep this path)."""

    def per_document_writer(self, storage, segment) -> W3PerDocWriter:
        return _PerDocWriter(self, storage, segment)

    def per_document_reader(self, storage, segment) -> W3PerDocReader:
        return _PerDocReader(storage, segment)
