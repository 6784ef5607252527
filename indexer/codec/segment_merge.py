"""Merging segments: several segments rewritten as one, in the fast build's format, without analyzing again.

Stored fields, columns and length bytes are copied a document at a time;
postings a term at a time: the segments' term tables are read in sorted order
side by side, each term's postings are renumbered and written through
`indexer.postings` exactly as a fresh build writes them (inlined small terms,
array blocks, CRC32 term table). Memory stays at one term's postings.

A segment is either *purged* (its deleted documents dropped, the rest
renumbered) or *kept* (every document keeps its place and deleted ones stay
deleted in the new segment). The first segment of a merge, when kept, keeps
its very document numbers, so each of its terms that no other segment has is
copied byte for byte: folding a few small segments into a big one costs little
more than copying the big one's files. What is purged is the merge policy's
choice (`indexer.merge_policy`).

Like `indexer.codec.segment_writer`, this relies on whoosh3 3.54.0's codec (pinned): the
term table's record layout, term infos and W3 posting blocks.
"""

from __future__ import annotations

import heapq
import pickle
from array import array
from collections.abc import Iterator
from itertools import groupby
from operator import itemgetter

import numpy as np
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC
from whoosh.columns import TranslatingColumnReader
from whoosh.filedb.filetables import _lengths
from whoosh.reading import SegmentReader
from whoosh.system import pack_int, pack_ushort, unpack_int
from whoosh.util.numeric import byte_to_length

from ..postings import BLOCK, Copied, Extended, PackedValues, use_fast_term_table, write_sorted
from . import records
from .arrays import length_bytes, read_blocks
from .stored import StoredCodec

_CHUNK = 1 << 22  # term table bytes read at once
# Postings a merge adds to a kept term that get blocks of their own after its old last block; fewer are
# written together with that block's postings, so a term gets no trail of tiny blocks (each read costs).
APPEND_MIN = 64


class _Source:
    """One segment being merged: its reader and where its documents go in the new segment."""

    def __init__(self, storage, schema, segment, base: int, purge: bool) -> None:
        self.reader = SegmentReader(storage, schema, segment)
        n = segment.doc_count_all()
        self.deleted = sorted(segment.deleted_docs()) if segment.has_deletions() else []
        self.purge = purge and bool(self.deleted)
        self.keep = np.ones(n, dtype=bool)  # the documents copied
        if self.purge:
            self.keep[self.deleted] = False
        self.base = base
        self.count = int(self.keep.sum())
        self.verbatim = base == 0 and not self.purge  # document numbers unchanged: records copy as they are
        self.renumber: list[int] | None = None  # old -> new doc number (-1: dropped); None: old + base
        self.renumber_a: np.ndarray | None = None
        if self.purge:
            self.renumber_a = np.full(n, -1, dtype=np.int64)
            self.renumber_a[self.keep] = np.arange(base, base + self.count)
            self.renumber = self.renumber_a.tolist()

    def items(self, fieldname: str, k: int) -> Iterator[tuple[bytes, int, bytes]]:
        """(term, k, term record value) of one field in sorted order (`k` names this source in a merge)."""
        terms = self.reader._terms
        num = terms._fieldmap.get(fieldname)
        if num is None:
            return
        prefix = pack_ushort(num)
        tindex = terms._tindex
        pos = tindex.closest_key_pos(prefix)
        if pos is None:
            return
        dbfile, end = tindex.dbfile, tindex.endofdata
        buf, start = b"", pos  # buf holds the file's bytes from `start`
        unpack = _lengths.unpack_from
        while pos < end:
            off = pos - start
            if off + 8 > len(buf) or off + 8 + sum(unpack(buf, off)) > len(buf):
                buf = buf[off:]
                start, off = pos, 0
                more = max(_CHUNK, 8 + sum(unpack(buf, 0)) if len(buf) >= 8 else 8)
                buf += dbfile.get(start + len(buf), min(more, end - start - len(buf)))
                if 8 + sum(unpack(buf, 0)) > len(buf):  # a record longer than a chunk
                    buf += dbfile.get(start + len(buf), 8 + sum(unpack(buf, 0)) - len(buf))
            keylen, datalen = unpack(buf, off)
            key = buf[off + 8 : off + 8 + keylen]
            if key[:2] != prefix:
                return
            yield key[2:], k, buf[off + 8 + keylen : off + 8 + keylen + datalen]
            pos += 8 + keylen + datalen

    def copied(self, value: bytes) -> Copied:
        """A term record of a verbatim source, with its posting blocks read if they are not inlined."""
        if value[0]:
            return Copied(value, None)
        offset, length = self._extent(value)
        return Copied(value, self.reader._terms._postfile.get(offset, length))

    @staticmethod
    def _extent(value: bytes) -> tuple[int, int]:
        return records.extent(value)

    def extended(self, value: bytes, fixed: int | None, flat: list) -> Extended:
        """A verbatim source's term with blocks, to be followed by `flat` (see `indexer.postings.Extended`)."""
        offset, length = self._extent(value)
        blob = self.reader._terms._postfile.get(offset, length)
        pos = len(WHOOSH3_HEADER_MAGIC)
        while (size := unpack_int(blob[pos : pos + 4])[0]) > 0:  # the last block's size is negative
            pos += 4 + size
        size = -unpack_int(blob[pos : pos + 4])[0]
        if len(flat) >= 3 * APPEND_MIN or pickle.loads(blob[pos + 4 : pos + 4 + size])[0] >= BLOCK // 2:
            # enough to make a block of their own, or a last block worth keeping: append after it
            return Extended(value, blob[:pos] + pack_int(size) + blob[pos + 4 :], flat, 0)
        last: list = []
        self._blocks(_Bytes(WHOOSH3_HEADER_MAGIC + blob[pos:]), 0, size + 8, fixed, last)
        return Extended(value, blob[:pos], last + flat, len(last) // 3)

    def postings(self, value: bytes, fixed: int | None, flat: list) -> None:
        """Append one term's copied postings, renumbered, to `flat` (doc, weight, value, doc, ...)."""
        if value[0]:  # inlined
            ids, weights, values = records.inlined(value)
            if fixed == 0:
                values = (None,) * len(ids)
            m, base = self.renumber, self.base
            for d, w, v in zip(ids, weights, values, strict=True):
                new = d + base if m is None else m[d]
                if new >= 0:
                    flat += (new, float(w), v)
            return
        offset, length = self._extent(value)
        self._blocks(self.reader._terms._postfile, offset, length, fixed, flat)

    def _blocks(self, postfile, offset: int, length: int, fixed: int | None, flat: list) -> None:
        ids, weights, chunks = read_blocks(postfile, offset, length, values=fixed != 0)
        values = [v for chunk in chunks for v in _split(chunk, fixed)] if fixed != 0 else [None] * len(ids)
        if self.renumber_a is None:
            ids = ids + self.base
        else:
            ids = self.renumber_a[ids]
            keep = ids >= 0
            if not keep.all():
                ids, weights = ids[keep], weights[keep]
                values = [v for v, k in zip(values, keep.tolist(), strict=True) if k]
        start = len(flat)
        flat.extend([None] * (3 * len(ids)))
        flat[start::3] = ids.tolist()
        flat[start + 1 :: 3] = weights.tolist()
        flat[start + 2 :: 3] = values

    def close(self) -> None:
        self.reader.close()


class _Bytes:
    """Bytes read like a postings file (what `read_blocks` asks of one)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def get(self, offset: int, length: int) -> bytes:
        return self.data[offset : offset + length]


def _split(chunk, fixed: int | None) -> list:
    """A block's encoded values as a list of bytes, whichever way the block stored them."""
    if isinstance(chunk, PackedValues):
        data, ends = chunk.data, chunk.ends.tolist()
        return [data[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]
    if isinstance(chunk, bytes) and fixed:
        return [chunk[i : i + fixed] for i in range(0, len(chunk), fixed)]
    return list(chunk)


def _merged_terms(sources: list[_Source], fieldname: str, fixed: int | None) -> Iterator[tuple[bytes, object]]:
    streams = [s.items(fieldname, k) for k, s in enumerate(sources)]
    first = sources[0]
    for tb, group in groupby(heapq.merge(*streams), key=itemgetter(0)):
        group = list(group)
        if group[0][1] == 0 and first.verbatim and (len(group) == 1 or not group[0][2][0]):
            flat: list = []
            for _, k, value in group[1:]:
                sources[k].postings(value, fixed, flat)
            yield tb, first.extended(group[0][2], fixed, flat) if flat else first.copied(group[0][2])
            continue
        flat = []
        for _, k, value in group:
            sources[k].postings(value, fixed, flat)
        if flat:
            yield tb, flat


def _copy_documents(perdoc, schema, sources: list[_Source]) -> dict[str, array]:
    """Stored fields, columns and lengths of every copied document; return each scorable field's length bytes."""
    names = sorted(schema.names())
    scorable = [n for n in names if schema[n].scorable]
    lengths = {n: array("H") for n in scorable}
    doc = 0
    for src in sources:
        r = src.reader
        cols = {}
        for n in names:
            ctype = schema[n].column_type
            if ctype and r.has_column(n):
                col = r.column_reader(n, ctype)
                cols[n] = col.raw_column() if isinstance(col, TranslatingColumnReader) else col
        lens = {n: length_bytes(r, n)[src.keep] for n in scorable}
        for n, b in lens.items():
            lengths[n].extend((b.astype(np.uint16) + (b > 0)).tolist())  # 1 + byte, 0 for an empty field
        lens_list = {n: b.tolist() for n, b in lens.items()}
        for k, old in enumerate(np.flatnonzero(src.keep).tolist()):
            stored = r.stored_fields(old)
            perdoc.start_doc(doc)
            for n in names:
                b = lens_list[n][k] if n in lens_list else 0
                perdoc.add_field(n, schema[n], stored.get(n), byte_to_length(b) if b else 0)
                if n in cols:
                    perdoc.add_column_value(n, schema[n].column_type, cols[n][old])
            perdoc.finish_doc()
            doc += 1
    return lengths


def merge_segments(ix, segments: list, purge: list[bool]):
    """Write one new segment of `ix` (an index or its writer) holding `segments` in order; None if none is live.

    `purge[i]` drops the deleted documents of `segments[i]`; a kept segment's
    deleted documents stay deleted in the new segment. The new segment is in
    no TOC yet: the caller commits it in place of `segments` (or deletes its
    files with `indexer.codec.segment_writer.discard`).
    """
    storage, schema = ix.storage, ix.schema
    codec = StoredCodec()
    sources: list[_Source] = []
    try:
        base = 0
        for seg, p in zip(segments, purge, strict=True):
            sources.append(_Source(storage, schema, seg, base, p))
            base += sources[-1].count
        if base == sum(len(s.deleted) for s in sources if not s.purge):
            return None
        new = codec.new_segment(storage, ix.indexname)
        perdoc = codec.per_document_writer(storage, new)
        lengths = _copy_documents(perdoc, schema, sources)
        perdoc.close()
        fw = codec.field_writer(storage, new)
        use_fast_term_table(fw)
        fields = sorted({n for s in sources for n in s.reader._terms.indexed_field_names() if n in schema})
        for name in fields:
            field = schema[name]
            fw.start_field(name, field)
            write_sorted(fw, _merged_terms(sources, name, field.format.fixed_value_size()), lengths.get(name))
            fw.finish_field()
        fw.close()
        new.set_doc_count(base)
        for s in sources:
            if not s.purge:
                for d in s.deleted:
                    new.delete_document(d + s.base)
        return new
    finally:
        for s in sources:
            s.close()
