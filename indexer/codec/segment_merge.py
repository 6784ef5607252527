"""Merging segments: several segments rewritten as one, in the fast build's format, without analyzing again.

Columns are copied a document at a time (straight to their writers), length
bytes a field at a time; postings a term at a time: the segments' term tables
are read in sorted order side by side, each term's postings are renumbered and
written through `indexer.postings` exactly as a fresh build writes them
(inlined small terms, array blocks, CRC32 term table). Memory stays at one
term's postings.

A segment is either *purged* (its deleted documents dropped, the rest
renumbered) or *kept* (every document keeps its place and deleted ones stay
deleted in the new segment). What is purged is the merge policy's choice
(`indexer.merge_policy`). The first segment of a merge, when kept, keeps its
very document numbers (*verbatim*), and the policy's folds put a segment much
bigger than the others there, so such a merge copies rather than rewrites it
and costs little more than the other segments' terms (bench/merge.py: ~0.2 s
for 24 articles folded into 230):

* Its term records are read whole (`indexer.codec.segment_join.Records`); the
  other segments' terms are placed among them by key. The records between two
  such terms are copied as one byte range and their posting blocks as one range
  of its postings file; the pointers of all copied records are then moved at
  once with numpy, and the term table's hash is built in bulk, as the join
  does (`_Copy`).
* The terms the others hold are written a field at a time
  (`indexer.codec.fold_terms`): their postings read into arrays at once,
  renumbered with numpy, inlined values encoded at once, and the first's
  blocks of a term kept as bytes with the others' postings appended (written
  again with its last block up to full blocks when that one is short, as
  the term-by-term merge does: `fold_terms.split_last`), all blocks encoded
  at once (`indexer.postings.encode_terms`).
* Its stored fields are copied as bytes with its zstd dictionary; the others'
  documents are compressed again with it (`indexer.codec.stored.join_frames`).
* A big fold (`FORK_COLUMNS_MIN` documents, `FOLD_PARALLEL_MIN` terms written
  as blocks) uses the second core as the join does (`indexer.codec.forking`):
  a forked process copies the columns and stored fields from the start while
  this one reads the term tables and gathers the others' postings (all reads
  of the postings files are done here: a forked process shares file offsets),
  then a second one writes the last half of the terms written as blocks (the
  rewrites of the first's short last blocks, `fold_terms.REFILL_RATIO`, a
  third of a fold's CPU) while this one writes the rest. They write nothing the run's
  TOC names and die with the run (kill -9 safe as before); their results come
  back pickled.

The files hold what the term-by-term merge writes (`bulk=False`): the same
columns byte for byte, the same stored fields (compressed with the first's
dictionary), the same terms, statistics and postings (in other blocks where a
term the first holds in blocks gets more, and inlined where a term has up to
`segment_join.inline_max()` postings, as a fresh build's join inlines them).

Like `indexer.codec.segment_writer`, this relies on whoosh3 3.54.0's codec (pinned): the
term table's record layout, term infos and W3 posting blocks.
"""

from __future__ import annotations

import heapq
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator
from contextlib import closing, nullcontext
from itertools import groupby
from operator import attrgetter, itemgetter
from typing import NamedTuple
from zlib import crc32

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3Codec
from whoosh.columns import TranslatingColumnReader
from whoosh.filedb.filetables import _lengths
from whoosh.reading import SegmentReader
from whoosh.system import pack_ushort
from whoosh.util.numeric import byte_to_length

from ..postings import Copied, Extended, term_record, use_fast_term_table, write_sorted
from . import fold_terms, forking, records
from .arrays import length_bytes, read_blocks
from .fold_terms import BytesFile, cumulative, split_last, split_values
from .segment_join import Half, Records, inline_max, write_half
from .stored import COLUMN, STORED, StoredCodec, join_frames

_CHUNK = 1 << 22  # term table bytes read at once


class Laps(dict):
    """Wall seconds of a merge's phases by name (`merge_segments`): each call ends one, begun by the last."""

    def __init__(self) -> None:
        super().__init__()
        self._at = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self[name] = self.get(name, 0.0) + now - self._at
        self._at = now


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
        head, last = split_last(self.reader._terms._postfile.get(offset, length), len(flat) // 3)
        if last is None:
            return Extended(value, head, flat, 0)
        carried: list = []
        self._blocks(BytesFile(last), 0, len(last), fixed, carried)
        return Extended(value, head, carried + flat, len(carried) // 3)

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
        values = [v for chunk in chunks for v in split_values(chunk, fixed)] if fixed != 0 else [None] * len(ids)
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


def _item(sources: list[_Source], group: list[tuple[bytes, int, bytes]], fixed: int | None):
    """One term's merged postings from its records (term, source, value) in source order: a `Copied` or
    `Extended` record of a verbatim first source, or flat postings (empty: none left)."""
    first = sources[0]
    flat: list = []
    if group[0][1] == 0 and first.verbatim and (len(group) == 1 or not group[0][2][0]):
        for _, k, value in group[1:]:
            sources[k].postings(value, fixed, flat)
        return first.extended(group[0][2], fixed, flat) if flat else first.copied(group[0][2])
    for _, k, value in group:
        sources[k].postings(value, fixed, flat)
    return flat


def _merged_terms(sources: list[_Source], fieldname: str, fixed: int | None) -> Iterator[tuple[bytes, object]]:
    streams = [s.items(fieldname, k) for k, s in enumerate(sources)]
    for tb, group in groupby(heapq.merge(*streams), key=itemgetter(0)):
        if item := _item(sources, list(group), fixed):
            yield tb, item


def _keeps_order(first: _Source, fieldmap: dict[str, int]) -> bool:
    """Whether the first source's records stay in key order under the merged table's field numbers."""
    own = first.reader._terms._fieldmap
    if any(name not in fieldmap for name in own):
        return False
    new = [fieldmap[name] for name in sorted(own, key=own.__getitem__)]
    return new == sorted(new)


class _Event(NamedTuple):
    """A term another source holds, at record `g` of the first source (which it replaces when `shared`)."""

    g: int
    shared: bool
    key: bytes
    field: str
    group: list


def _events(sources: list[_Source], fields: list[str], fieldmap: dict[str, int], keys: list[bytes]) -> list[_Event]:
    """The terms the other sources hold, in key order, placed among the first source's record `keys`."""
    out = []
    for name in fields:
        prefix = pack_ushort(fieldmap[name])
        streams = [s.items(name, k) for k, s in enumerate(sources) if k]
        for tb, group in groupby(heapq.merge(*streams), key=itemgetter(0)):
            key = prefix + tb
            g = bisect_left(keys, key)
            out.append(_Event(g, g < len(keys) and keys[g] == key, key, name, list(group)))
    return out


class _Written(NamedTuple):
    """What the events wrote, each: its record (b"": none, every posting purged) and its blocks."""

    records: list[bytes]
    blobs: list[list[bytes]]


class _Field(NamedTuple):
    """One field's events (events[start:start + len(events)] of a fold) with their postings gathered."""

    start: int
    events: list[_Event]
    fixed: int | None
    lengths: array | None
    flat: fold_terms.Flat
    kept: np.ndarray  # the first source's blocks of the term are copied

    def heavy(self) -> np.ndarray:
        """Each event's postings written as blocks (the cost of a fold's terms)."""
        n = np.diff(self.flat.starts)
        return (n > 0) & (self.kept | (n > inline_max()))


FOLD_PARALLEL_MIN = 2_000  # terms written as blocks from which a forked process writes a share (forking: ~20 ms)
FOLD_SECOND_SHARE = 0.5  # of those, for the forked process


def _write_events(sources: list[_Source], t: Records, events: list[_Event], before: list[int], pst_start: int,
                  schema, lengths: dict[str, array], meanwhile: Callable[[], object], laps: Laps) -> _Written:
    """Each event's term record, its blocks placed after `before[e]` bytes of the first source's copied blocks
    (written a field at a time, `indexer.codec.fold_terms`), and `meanwhile()`: with enough terms a forked
    process writes the last `FOLD_SECOND_SHARE` of them meanwhile."""
    renumber = fold_terms.Renumbering(
        cumulative(np.array([s.keep.size for s in sources], dtype=np.int64)),
        np.concatenate([np.arange(s.keep.size) + s.base if s.renumber_a is None else s.renumber_a for s in sources]))
    fields, start = [], 0
    for name, group in groupby(events, key=attrgetter("field")):  # read here: a forked process shares offsets
        group = list(group)
        fixed = schema[name].format.fixed_value_size()
        fields.append(_Field(start, group, fixed, lengths.get(name), *_gathered(sources, t, group, fixed, renumber)))
        start += len(group)
    laps("gather")
    heavy = np.concatenate([f.heavy() for f in fields]) if fields else np.zeros(0, dtype=bool)
    work = np.cumsum(heavy)
    if not len(work) or work[-1] < FOLD_PARALLEL_MIN or not forking.can_fork():
        meanwhile()
        written = _events_range(t, fields, 0, len(events), len(renumber.new))
    else:
        mid = int(np.searchsorted(work, work[-1] * (1 - FOLD_SECOND_SHARE)))
        here, there = forking.in_two(lambda: _after(meanwhile, _events_range, t, fields, 0, mid, len(renumber.new)),
                                     lambda: _events_range(t, fields, mid, len(events), len(renumber.new)))
        written = here + there
    laps("terms")
    out = _Written([], [])
    inserted = 0
    for e, copied, (value, blob) in zip(events, before, written, strict=True):
        if blob:
            value = records.with_extent(value, pst_start + copied + inserted, len(blob))
            inserted += len(blob)
        out.records.append(term_record(e.key, value) if value else b"")
        out.blobs.append([blob] if blob else [])
    return out


def _after(first: Callable[[], object], then: Callable, *args):
    """then(*args) after first()."""
    first()
    return then(*args)


def _gathered(sources: list[_Source], t: Records, events: list[_Event], fixed: int | None,
              renumber: fold_terms.Renumbering) -> tuple[fold_terms.Flat, np.ndarray]:
    """One field's events' postings (`fold_terms.gather`) but the first source's blocks, and which events keep
    those (`_Field`)."""
    pieces = fold_terms.Pieces([], [], [])
    kept = np.zeros(len(events), dtype=bool)
    for j, e in enumerate(events):
        if e.shared:
            if t.inlined[e.g]:
                pieces.add(j, 0, t.value(e.g))
            else:
                kept[j] = True
        for _, k, v in e.group:
            pieces.add(j, k, v)
    return fold_terms.gather(pieces, len(events), sources, renumber, fixed), kept


def _events_range(t: Records, fields: list[_Field], a: int, b: int, docs: int) -> list[tuple[bytes, bytes | None]]:
    """Events a..b (of all `fields`' events, `docs` documents): each one's record value (b"": every posting
    purged) and its blocks (None: inlined; the value's extent is set where the blocks land)."""
    out: list[tuple[bytes, bytes | None]] = []
    for f in fields:
        lo, hi = max(a - f.start, 0), min(b - f.start, len(f.events))
        if lo < hi:
            out += _field_events(t, f, lo, hi, docs)
    return out


def _field_events(t: Records, f: _Field, lo: int, hi: int, docs: int) -> list[tuple[bytes, bytes | None]]:
    """`_events_range` of one field's events lo..hi."""
    flat, kept, fixed, lengths = f.flat, f.kept, f.fixed, f.lengths
    n = np.diff(flat.starts)
    mine = np.zeros(len(n), dtype=bool)
    mine[lo:hi] = True
    out: list[tuple[bytes, bytes | None]] = [(b"", None)] * len(n)
    limit = inline_max()  # as the join of a fresh build inlines
    inline = np.flatnonzero(mine & ~kept & (n > 0) & (n <= limit))
    lb = np.zeros(docs, dtype=np.uint16) if lengths is None else np.frombuffer(lengths, dtype=np.uint16)
    for j, value in zip(inline.tolist(), fold_terms.inline_values(flat, inline, fixed, lb), strict=True):
        out[j] = (value, None)
    heads: list[tuple[bytes, bytes]] = []  # a kept term's record value and the blocks it keeps
    lasts: list[bytes | None] = []
    for j in np.flatnonzero(mine & kept).tolist():
        value = t.value(f.events[j].g)
        blob = t.blob(value)
        if n[j]:
            head, last = split_last(blob, int(n[j]))
            heads.append((value, head))
            lasts.append(last)
        else:
            out[j] = (value, blob)
    grown = np.flatnonzero(mine & kept & (n > 0))
    alone = np.flatnonzero(mine & ~kept & (n > limit))
    written = fold_terms.write_blocks(flat, np.concatenate([grown, alone]), lasts + [None] * len(alone), lengths,
                                      fixed)
    for j, (value, head), (blob, info) in zip(grown.tolist(), heads, written, strict=False):
        out[j] = fold_terms.appended(value, head, blob, info)
    for j, (blob, info) in zip(alone.tolist(), written[len(grown) :], strict=True):
        out[j] = (records.pointer_value(info, 0, len(blob)), blob)
    return out[lo:hi]


class _Copy:
    """The first source's records among the events (`_Event`): which are copied and where their bytes go.

    Records and blocks are copied in runs, the records between two events as
    one byte range of the term table and their blocks as one range of the
    postings file (or a few, where the blocks were not written in key order);
    then each copied pointer is moved, all at once.
    """

    def __init__(self, t: Records, events: list[_Event]) -> None:
        self.t, n = t, len(t.keys)
        self.starts = np.array([*t.starts, t.ends[-1]] if n else [0], dtype=np.int64)  # n + 1 bounds
        self.sizes = np.diff(self.starts)
        self.g = np.array([e.g for e in events], dtype=np.int64)
        self.shared = np.array([e.shared for e in events], dtype=bool)
        self.keep = np.ones(n, dtype=bool)
        self.keep[self.g[self.shared]] = False
        self.ptr = np.flatnonzero(self.keep & (t.u8[t.vstart] == 0))  # copied records with blocks
        at = self.starts[self.ptr + 1] - records.EXTENT.size
        self.off = t.u8[at[:, None] + np.arange(8)].copy().view(">i8")[:, 0].astype(np.int64)
        self.len = t.u8[at[:, None] + np.arange(8, 12)].copy().view(">i4")[:, 0].astype(np.int64)
        blocks = np.zeros(n, dtype=np.int64)
        blocks[self.ptr] = self.len
        self.blocks = cumulative(blocks)  # copied block bytes before each record
        self._kept: tuple[list[bytes], np.ndarray] | None = None

    def kept(self) -> tuple[list[bytes], np.ndarray]:
        """The copied records' keys and their hashes (worked out once: while a forked process writes terms)."""
        if self._kept is None:
            keys = [self.t.keys[i] for i in np.flatnonzero(self.keep).tolist()]
            self._kept = keys, np.fromiter(map(crc32, keys), dtype=np.uint32, count=len(keys))
        return self._kept

    def before(self) -> list[int]:
        """Copied block bytes before each event's blocks."""
        return self.blocks[self.g].tolist()

    def pieces(self, w: _Written) -> tuple[bytes, bytes]:
        """The term table's records and the postings, copied runs and events' records one after another."""
        t, starts = self.t, self.starts.tolist()
        a = np.concatenate(([0], self.g + self.shared))  # each run of copied records a..b, before event r
        b = np.append(self.g, len(self.keep))
        lo, hi = np.searchsorted(self.ptr, a).tolist(), np.searchsorted(self.ptr, b).tolist()
        off, size = self.off.tolist(), self.len.tolist()
        gaps = cumulative(self.off[1:] != self.off[:-1] + self.len[:-1]).tolist()  # blocks not back to back
        recs, pst = [], []
        for r, (x, y, p, q) in enumerate(zip(a.tolist(), b.tolist(), lo, hi, strict=True)):
            if y > x:
                recs.append(t.buf[starts[x] : starts[y]])
            if q > p and gaps[q - 1] == gaps[p]:
                pst.append(t.pst[off[p] : off[q - 1] + size[q - 1]])
            elif q > p:
                pst += [t.pst[o : o + s] for o, s in zip(off[p:q], size[p:q], strict=True)]
            if r < len(w.records):
                recs.append(w.records[r])
                pst += w.blobs[r]
        return b"".join(recs), b"".join(pst)

    def half(self, w: _Written, events: list[_Event], pst_start: int) -> Half:
        """Every record of the merged table, in key order, as `segment_join.write_half` appends them."""
        t, g = self.t, self.g
        recsize = np.array([len(r) for r in w.records], dtype=np.int64)
        has = recsize > 0
        blobsize = np.array([sum(map(len, b)) for b in w.blobs], dtype=np.int64)
        recs, pst = self.pieces(w)
        k = np.flatnonzero(self.keep)
        ev = np.searchsorted(g, k, "right")  # the events before each copied record
        dropped = cumulative(~self.keep)
        start = self.starts[k] - cumulative(np.where(self.keep, 0, self.sizes))[k] + cumulative(recsize)[ev]
        out = np.frombuffer(bytearray(recs), dtype=np.uint8)
        mine = np.searchsorted(k, self.ptr)
        moved = pst_start + self.blocks[self.ptr] + cumulative(blobsize)[ev[mine]]
        at = start[mine] + self.sizes[self.ptr] - records.EXTENT.size
        out[at[:, None] + np.arange(8)] = moved.astype(">i8").view(np.uint8).reshape(-1, 8)
        if not t.same:  # the field numbers of the keys change
            prefixes = b"".join([t.keys[i][:2] for i in k.tolist()])
            out[start[:, None] + np.arange(8, 10)] = np.frombuffer(prefixes, dtype=np.uint8).reshape(-1, 2)
        index = k - dropped[k] + cumulative(has)[ev]  # where each copied record goes among all
        at_event = (g - dropped[g] + cumulative(has)[:-1])[has]
        total = len(k) + len(at_event)
        sizes, hashes = np.zeros(total, dtype=np.int64), np.zeros(total, dtype=np.uint32)
        sizes[index], sizes[at_event] = self.sizes[k], recsize[has]
        kept_keys, hashes[index] = self.kept()
        written = [(e.key, r) for e, r in zip(events, w.records, strict=True) if r]
        new_keys = [key for key, _ in written]
        hashes[at_event] = np.fromiter(map(crc32, new_keys), dtype=np.uint32, count=len(new_keys))
        pointed = [i for i, (key, r) in zip(at_event.tolist(), written, strict=True) if not r[8 + len(key)]]
        return Half(pst_start, out.tobytes(), sizes, np.sort(np.concatenate([index[mine], pointed])).astype(np.int64),
                    hashes, pst, max(kept_keys[-1:] + new_keys[-1:], default=b""))


def _bulk_terms(fw, sources: list[_Source], fields: list[str], schema, lengths: dict[str, array],
                columns: Callable[[], object], laps: Laps) -> bool:
    """Write the merged term table of a verbatim first source: its records and blocks copied in runs
    (`_Copy`), the other sources' terms merged one at a time (`_item`), all appended at once as the join
    appends its halves. False (nothing written) when the first source's field numbers would reorder its keys.
    """
    fieldmap = {name: k for k, name in enumerate(fields)}  # as start_field numbers them
    if not _keeps_order(sources[0], fieldmap):
        return False
    fw._fieldmap.update(fieldmap)
    t = Records(sources[0], fieldmap)
    events = _events(sources, fields, fieldmap, t.keys)
    copy = _Copy(t, events)
    laps("read")
    pst_start = fw._postfile.tell()
    written = _write_events(sources, t, events, copy.before(), pst_start, schema, lengths,
                            lambda: (columns(), copy.kept()), laps)
    tindex = fw._tindex
    write_half(tindex, fw._postfile, copy.half(written, events, pst_start))
    laps("table")
    hashes, positions = tindex.bulk[-1]
    order = np.argsort(hashes & 255, kind="stable")  # Whoosh's bucket order, as the per-term writer adds them:
    tindex.bulk[-1] = (hashes[order], positions[order])  # the same hash table, byte for byte
    return True


def _length_bytes(schema, sources: list[_Source]) -> dict[str, np.ndarray]:
    """Each scorable field's length byte of every copied document."""
    return {n: np.concatenate([length_bytes(src.reader, n)[src.keep] for src in sources])
            for n in sorted(schema.names()) if schema[n].scorable}


def _copy_documents(perdoc, schema, sources: list[_Source], with_stored: bool, lens: dict[str, np.ndarray]) -> None:
    """Columns, lengths (`lens`, `_length_bytes`) and (`with_stored`) stored fields of every copied document.
    Columns go straight to their writers and lengths are written whole (`_write_lengths`): a fold copies a big
    segment's documents in ~0.5 s rather than ~2 s."""
    names = sorted(schema.names())
    doc = 0
    for src in sources:
        r = src.reader
        kept = np.flatnonzero(src.keep).tolist()
        for k, old in enumerate(kept if with_stored else ()):
            values = r.stored_fields(old)
            perdoc.start_doc(doc + k)
            for n in names:
                perdoc.add_field(n, schema[n], values.get(n), 0)
            perdoc.finish_doc()
        for n in names:
            ctype = schema[n].column_type
            if ctype and r.has_column(n):
                col = r.column_reader(n, ctype)
                col = col.raw_column() if isinstance(col, TranslatingColumnReader) else col
                add = _column_writer(perdoc, n, ctype).add
                for k, old in enumerate(kept, doc):
                    add(k, col[old])
        doc += len(kept)
    perdoc._doccount = doc
    for n, b in lens.items():
        _write_lengths(perdoc, n, b)


def _column_writer(perdoc, name: str, ctype):
    """A column's writer in Whoosh's per-document writer (what its add_column_value adds to)."""
    if not perdoc._has_column(name):
        perdoc._create_column(name, ctype)
    return perdoc._get_column(name)


_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.int64)


def _write_lengths(perdoc, name: str, b: np.ndarray) -> None:
    """A field's length byte column (`LENGTHS_COLUMN`: a byte a document up to the last non-empty one) and
    total length, as Whoosh's per-document writer keeps them."""
    nonzero = np.flatnonzero(b)
    if not len(nonzero):
        return
    w = _column_writer(perdoc, f"_{name}_len", LENGTHS_COLUMN)
    w._dbfile.write(b[: nonzero[-1] + 1].astype(np.uint8).tobytes())
    w._count = int(nonzero[-1]) + 1
    perdoc._fieldlengths[name] += int(_LENGTH_OF_BYTE[b].sum())


FORK_COLUMNS_MIN = 5_000  # documents from which a fold copies the columns on a forked process (~0.4 s at 27,000)


def _columns(storage, schema, codec, new, sources: list[_Source], bulk: bool, lens: dict[str, np.ndarray]):
    """What writes the columns and stored fields of the merged segment `new` (`_copy_documents`); it returns
    their field lengths (what the per-document writer sets on `new`, set again where it ran on a forked
    process)."""
    frames = [s.reader._perdoc._cached_reader(COLUMN, STORED) for s in sources]
    copy_frames = bulk and sources[0].verbatim and None not in frames

    def columns() -> dict[str, int]:
        perdoc = codec.per_document_writer(storage, new)
        _copy_documents(perdoc, schema, sources, not copy_frames, lens)
        perdoc.close()
        if copy_frames:  # the first's dictionary and frames copied, the others' compressed again with it
            with closing(storage.create_file(W3Codec.column_filename(new, COLUMN))) as f:
                join_frames(f, [(c, range(s.keep.size) if k == 0 else np.flatnonzero(s.keep).tolist())
                                for k, (s, c) in enumerate(zip(sources, frames, strict=True))])
        return new._fieldlengths

    return columns


def merge_segments(ix, segments: list, purge: list[bool], bulk: bool = True, laps: Laps | None = None):
    """Write one new segment of `ix` (an index or its writer) holding `segments` in order; None if none is live.

    `purge[i]` drops the deleted documents of `segments[i]`; a kept segment's
    deleted documents stay deleted in the new segment. The new segment is in
    no TOC yet: the caller commits it in place of `segments` (or deletes its
    files with `indexer.codec.segment_writer.discard`). `bulk=False` merges
    as if no segment were kept verbatim (the reference that tests and
    bench/merge.py compare with): every term written one at a time, every
    document's stored fields compressed again with a dictionary trained anew.
    `laps` gets the wall seconds of its phases (what `commit_segments` reports).
    """
    laps = Laps() if laps is None else laps
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
        lens = _length_bytes(schema, sources)
        columns = _columns(storage, schema, codec, new, sources, bulk, lens)
        early = (bulk and sources[0].verbatim and base >= FORK_COLUMNS_MIN and forking.can_fork()
                 and not any(s.reader._segment.is_compound() for s in sources))  # one file: one shared offset
        with forking.forked(columns) if early else nullcontext() as later:
            here = (lambda: None) if early else columns
            lengths = {n: array("H", (b.astype(np.uint16) + (b > 0)).tobytes()) for n, b in lens.items()}  # 0: empty
            fw = codec.field_writer(storage, new)
            use_fast_term_table(fw)
            fields = sorted({n for s in sources for n in s.reader._terms.indexed_field_names() if n in schema})
            laps("open")
            if not (bulk and sources[0].verbatim and _bulk_terms(fw, sources, fields, schema, lengths, here, laps)):
                here()
                for name in fields:
                    field = schema[name]
                    fw.start_field(name, field)
                    write_sorted(fw, _merged_terms(sources, name, field.format.fixed_value_size()), lengths.get(name))
                    fw.finish_field()
                laps("terms")
            fw.close()
            laps("close")
            if later is not None:
                new._fieldlengths = later.get()
                laps("columns")
        new.set_doc_count(base)
        for s in sources:
            if not s.purge:
                for d in s.deleted:
                    new.delete_document(d + s.base)
        return new
    finally:
        for s in sources:
            s.close()
