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
* A term only one part holds is copied as it is: its term record unchanged,
  its posting blocks as bytes (`indexer.postings.Copied`).
* A term several parts hold gets their posting blocks one after the other
  (Whoosh 3 blocks are self-contained); postings inlined in a term record are
  decoded and written with the rest (`indexer.postings.Extended`), or inlined
  again when they fit.
* Stored fields keep the first part's zstd dictionary: the other parts' frames
  are decompressed and compressed again with it. Columns and field lengths are
  copied a document at a time.

The joined segment is in no TOC yet, like the parts; the caller commits it
(and a run killed on the way leaves files no TOC names, which the next run deletes).
"""

from __future__ import annotations

import heapq
from array import array
from collections import defaultdict
from collections.abc import Iterator
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, STORED_COLUMN, WHOOSH3_HEADER_MAGIC, W3Codec, W3TermInfo
from whoosh.system import pack_int, pack_long, unpack_int

from ..postings import Copied, use_fast_term_table, write_sorted
from . import stored
from .arrays import length_bytes
from .segment_merge import _Source
from .stored import StoredCodec

if TYPE_CHECKING:
    from .segment_writer import Part

_INFO = W3TermInfo._struct
_MAGIC = len(WHOOSH3_HEADER_MAGIC)


class _Input(_Source):
    """A part being joined: a merge source whose document numbers stay as they are."""

    def __init__(self, storage, schema, part: Part) -> None:
        super().__init__(storage, schema, part.segment, 0, False)
        self.first = part.first
        self.stop = part.segment.doc_count_all()

    def blob(self, value: bytes) -> bytes:
        """A term's posting blocks with the last one not marked last (more blocks follow)."""
        data = self.copied(value).blob
        pos = _MAGIC
        while (size := unpack_int(data[pos : pos + 4])[0]) > 0:
            pos += 4 + size
        return data[:pos] + pack_int(-size) + data[pos + 4 :]


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
        _join_columns(storage, schema, inputs, new, total)
        lengths = _lengths(schema, inputs)
        fw = codec.field_writer(storage, new)
        use_fast_term_table(fw)
        fields = sorted({n for s in inputs for n in s.reader._terms.indexed_field_names() if n in schema})
        for name in fields:
            field = schema[name]
            fw.start_field(name, field)
            write_sorted(fw, _joined_terms(inputs, name, field.format.fixed_value_size()), lengths.get(name))
            fw.finish_field()
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


def _lengths(schema, inputs: list[_Input]) -> dict[str, array]:
    """Each scorable field's 1 + length byte per document (0: empty), as `indexer.postings` takes them."""
    out = {}
    for name in schema.names():
        if schema[name].scorable:
            b = np.concatenate([length_bytes(s.reader, name)[s.first : s.stop] for s in inputs])
            out[name] = array("H", (b.astype(np.uint16) + (b > 0)).tobytes())
    return out


def _joined_terms(inputs: list[_Input], fieldname: str, fixed: int | None) -> Iterator[tuple[bytes, object]]:
    streams = [s.items(fieldname, k) for k, s in enumerate(inputs)]
    for tb, group in groupby(heapq.merge(*streams), key=itemgetter(0)):
        records = [(inputs[k], value) for _, k, value in group]
        if len(records) == 1:
            src, value = records[0]
            yield tb, src.copied(value)
        elif not any(value[0] for _, value in records):  # every part has blocks: they go one after another
            yield tb, _concatenated(records)
        else:
            flat: list = []
            head_src, head = records[0]
            for src, value in records[1:] if not head[0] else records:
                src.postings(value, fixed, flat)
            yield tb, flat if head[0] else head_src.extended(head, fixed, flat)


def _concatenated(records: list[tuple[_Input, bytes]]) -> Copied:
    """One term record for several parts' blocks (the pointer is set where `Copied` writes them)."""
    infos = [_INFO.unpack(value[: _INFO.size]) for _, value in records]
    blobs = [src.blob(value) for src, value in records[:-1]]
    src, value = records[-1]
    last = src.copied(value).blob
    blob = b"".join([blobs[0], *(b[_MAGIC:] for b in blobs[1:]), last[_MAGIC:]])
    lens = [(i[3], i[4]) for i in infos if (i[3], i[4]) != (0, 0)] or [(0, 0)]
    head = _INFO.pack(0, sum(i[1] for i in infos), sum(i[2] for i in infos), min(lo for lo, _ in lens),
                      max(hi for _, hi in lens), max(i[5] for i in infos), infos[0][6], infos[-1][7])
    return Copied(head + pack_long(0) + pack_int(len(blob)), blob)


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
                stored.join_frames(f, [(s.reader._perdoc._cached_reader(name, ctype), s.first, s.stop)
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
