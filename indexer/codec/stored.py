"""Stored fields compressed with zstd and a dictionary trained on the segment's own documents.

Whoosh 3 keeps each document's stored fields as its own zlib stream: Chinese
text of one article compresses poorly alone (21 MB for the 12,000 Tainan
articles). A zstd dictionary trained on a sample of the segment's documents
(~0.2 s) lets each document stay its own frame and still compress better
than large blocks (13 MB; 16 KB blocks without a dictionary: 16 MB), and reading one
document is one small decompression (~35 µs, against ~70 µs for Whoosh's zlib
and ~140 µs for a 16 KB block), which matters where queries read many stored
documents (phrase checks).

`StoredCodec` is pickled into each segment it writes (the TOC holds the
segment and its codec), so its import path is part of the index format:
never rename or move it. Segments written by Whoosh's own codec (older
indexes) keep reading their per-document streams.
"""

from __future__ import annotations

import pickle
import sys
import threading
from array import array
from collections.abc import Sequence
from struct import Struct
from typing import Any

from whoosh.codec.whoosh3 import W3Codec, W3PerDocReader, W3PerDocWriter
from whoosh.columns import Column, ColumnReader, ColumnWriter

from .records import TermsReader

COLUMN = "_zstored"
LEVEL = 9  # zstd level: ~0.5 s for 15 MB of pickled fields
SAMPLE_BYTES = 4 << 20  # the first documents, up to this many bytes, train the dictionary
DICT_BYTES = 112 * 1024  # at most; 64 KB gives 2 % more, 256 KB 3 % less
TRAINING = {"k": 1024, "d": 8}  # fixed COVER parameters: searching for them costs ~16 s a segment for < 2 %
_TRAILER = Struct("<QQ")  # where the offsets start (from the column's start), dictionary length
_SWAP = sys.byteorder != "little"


class FrameColumn(Column):
    """Pickled values, one zstd frame each, compressed with a dictionary trained on the first values.

    Layout: the dictionary (none when too little was stored to train one); the
    frames; their start offsets, one more for the end ("Q"); `_TRAILER`. A
    document without a value has an empty frame.
    """

    def writer(self, dbfile) -> ColumnWriter:
        return _FrameWriter(dbfile)

    def reader(self, dbfile, basepos: int, length: int, doccount: int) -> ColumnReader:
        return _FrameReader(dbfile, basepos, length, doccount)


class _FrameWriter(ColumnWriter):
    def __init__(self, dbfile) -> None:
        self._dbfile = dbfile
        self._start = dbfile.tell()
        self._held: list[bytes] = []  # pickles waiting for the dictionary
        self._held_bytes = 0
        self._compress = None
        self._offsets = array("Q")
        self._pos = 0

    def add(self, docnum: int, value: Any) -> None:
        self.fill(docnum)
        data = pickle.dumps(value, 5)
        if self._compress is None:
            self._held.append(data)
            self._held_bytes += len(data)
            if self._held_bytes >= SAMPLE_BYTES:
                self._start_frames()
        else:
            self._frame(data)

    def fill(self, docnum: int) -> None:
        """Give the documents before `docnum` that have no value an empty frame."""
        while len(self._offsets) + len(self._held) < docnum:
            if self._compress is None:
                self._held.append(b"")
            else:
                self._frame(b"")

    def _frame(self, data: bytes) -> None:
        frame = self._compress(data) if data else b""
        self._dbfile.write(frame)
        self._offsets.append(self._pos)
        self._pos += len(frame)

    def _start_frames(self) -> None:
        """Train the dictionary on the held documents, write it, then their frames."""
        import zstandard

        samples = [d for d in self._held if d]
        zdict = None
        if len(samples) >= 8 and self._held_bytes >= 64 * 1024:
            try:
                zdict = zstandard.train_dictionary(min(DICT_BYTES, self._held_bytes // 8), samples, level=LEVEL,
                                                   threads=1, **TRAINING)
            except zstandard.ZstdError:  # too little or too uniform text: frames without a dictionary
                zdict = None
        raw = zdict.as_bytes() if zdict is not None else b""
        self._dbfile.write(raw)
        self._dict_len = self._pos = len(raw)
        self._compress = zstandard.ZstdCompressor(level=LEVEL, dict_data=zdict).compress
        held, self._held = self._held, []
        for data in held:
            self._frame(data)

    def finish(self, doccount: int) -> None:
        self.fill(doccount)
        if self._compress is None:
            self._start_frames()
        self._offsets.append(self._pos)
        offsets = self._offsets
        if _SWAP:
            offsets = array("Q", offsets)
            offsets.byteswap()
        self._dbfile.write(offsets.tobytes())
        self._dbfile.write(_TRAILER.pack(self._pos, self._dict_len))


class _FrameReader(ColumnReader):
    def __init__(self, dbfile, basepos: int, length: int, doccount: int) -> None:
        self._dbfile, self._basepos, self._doccount = dbfile, basepos, doccount
        index, dict_len = _TRAILER.unpack(dbfile.get(basepos + length - _TRAILER.size, _TRAILER.size))
        self._offsets = array("Q", dbfile.get(basepos + index, length - index - _TRAILER.size))
        if _SWAP:
            self._offsets.byteswap()
        self._dict = dbfile.get(basepos, dict_len) if dict_len else None
        self._local = threading.local()  # a zstd decompressor is not for two threads at once

    def __len__(self) -> int:
        return self._doccount

    def _decompress(self, frame: bytes) -> bytes:
        d = getattr(self._local, "d", None)
        if d is None:
            import zstandard

            zdict = zstandard.ZstdCompressionDict(self._dict) if self._dict else None
            d = self._local.d = zstandard.ZstdDecompressor(dict_data=zdict)
        return d.decompress(frame)

    def __getitem__(self, docnum: int) -> Any:
        start, end = self._offsets[docnum], self._offsets[docnum + 1]
        if start == end:
            return None
        return pickle.loads(self._decompress(self._dbfile.get(self._basepos + start, end - start)))

    def __iter__(self):
        return (self[d] for d in range(self._doccount))


def join_frames(dbfile, parts: list[tuple[_FrameReader | None, Sequence[int]]]) -> None:
    """Write one frame column holding the documents of each (column reader, document numbers), in order.

    The first part's dictionary and frames are copied as bytes (its documents
    must be consecutive: a range); the other parts' frames are decompressed and
    compressed again with that dictionary (one dictionary a column). A part
    without the column gives empty frames.
    """
    import zstandard

    head = parts[0][0]
    raw = head._dict if head is not None and head._dict else b""
    dbfile.write(raw)
    compress = zstandard.ZstdCompressor(level=LEVEL, dict_data=zstandard.ZstdCompressionDict(raw) if raw else None)
    offsets, pos = array("Q"), len(raw)
    for k, (reader, docs) in enumerate(parts):
        if reader is None:
            offsets.extend([pos] * len(docs))
            continue
        o = reader._offsets
        if k == 0 and len(docs):
            first, stop = docs[0], docs[-1] + 1
            data = reader._dbfile.get(reader._basepos + o[first], o[stop] - o[first])
            dbfile.write(data)
            offsets.extend(x - o[first] + pos for x in o[first:stop])
            pos += len(data)
            continue
        for d in docs:
            offsets.append(pos)
            if o[d] != o[d + 1]:
                raw_frame = reader._dbfile.get(reader._basepos + o[d], o[d + 1] - o[d])
                frame = compress.compress(reader._decompress(raw_frame))
                dbfile.write(frame)
                pos += len(frame)
    offsets.append(pos)
    if _SWAP:
        offsets.byteswap()
    dbfile.write(offsets.tobytes())
    dbfile.write(_TRAILER.pack(pos, len(raw)))


STORED = FrameColumn()


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
    """Whoosh 3's codec with block-compressed stored fields and compact term records (pickled into segments:
    keep this path)."""

    def per_document_writer(self, storage, segment) -> W3PerDocWriter:
        return _PerDocWriter(self, storage, segment)

    def per_document_reader(self, storage, segment) -> W3PerDocReader:
        return _PerDocReader(storage, segment)

    def terms_reader(self, storage, segment) -> TermsReader:
        """Whoosh 3's terms reader, also for the compact term records of newer segments (`records`)."""
        name = segment.make_filename(self.TERMS_EXT)
        return TermsReader(self, storage.open_file(name), storage.file_length(name),
                           segment.open_file(storage, self.POSTS_EXT))
