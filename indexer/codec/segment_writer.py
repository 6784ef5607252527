"""Building Whoosh segments fast: analyzed postings written straight to the codec.

Whoosh's ``SegmentWriter`` sends every posting through a generic pool: a Python
call and a size estimate per posting, one big sort of (field, term, doc, weight,
value) tuples at commit, then a per-posting loop into the codec. Our gram fields
carry about one posting per character, so that path cost ~75 % of a run. Here a
:class:`SegmentBuilder` analyzes each article once (one normalization per text
for its word and gram fields), keeps one segment's postings in memory grouped
by term (they arrive in document order), and writes the terms in sorted order a
whole block at a time through the codec's own postings writer. The files are
ordinary Whoosh 3 segments: reading and deleting stay Whoosh's; merging is ours
(`indexer.merge_policy` decides, `indexer.codec.segment_merge` writes), in this same format.

:func:`build_segments` runs one builder per core on forked processes, each
numbering its documents where they stand in the batch, and joins what they
wrote into one segment (`indexer.codec.segment_join`: a term both hold gets one
record, not two); the parent's writer then adds the run's new segments in a
single TOC commit (:func:`commit_segments`), so a run stays atomic.

This relies on internals of whoosh3 3.54.0 (pinned exactly in pyproject.toml):
``SegmentWriter.segments/_close_segment/_commit_toc/_finish`` and the postings
writer's block buffers.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing
import os
import time
from array import array
from collections.abc import Callable
from functools import cache
from typing import Any

from whoosh import formats
from whoosh.system import pack_uint
from whoosh.util.numeric import length_to_byte

from ..analysis import GramTokenizer, NormalizingTokenizer, WordTokenizer, gram_positions, word_counts
from ..keywords import candidates
from ..merge_policy import plan
from ..normalize import normalize
from ..postings import use_fast_term_table, write_field
from ..testhooks import pause_for_tests
from .forking import die_with_parent
from .segment_join import Part, join_segments
from .stored import StoredCodec

# A segment is written when its postings would take about this much memory by an estimate
# (~60 bytes a posting, ~300 bytes a distinct term; close to a worker's resident size). Fewer,
# larger segments mean fewer repeated term records (the term tables are most of the index) and
# fewer segments per query: 27,000 articles fit one segment per worker. At 1,200 MiB two workers
# and the parent peaked at 2.37 GiB on 100,000 articles.
SEGMENT_BUDGET = 760 * 1024 * 1024
# Below this many documents forking workers costs more than it saves.
PARALLEL_MIN_DOCS = 400
SINGLE = 1 << 16  # single-position encodings shared below this position
STAGES = ("normalize", "segment", "grams", "keywords", "postings", "commit", "join")

Timings = dict[str, float]
_FREQ_BYTES = {n: pack_uint(n) for n in range(1, 256)}


def _freq_bytes(n: int) -> bytes:
    return _FREQ_BYTES.get(n) or pack_uint(n)


class SegmentBuilder:
    """Accumulates documents for one new segment of `ix`, then writes it."""

    def __init__(self, ix, timings: Timings) -> None:
        self.storage = ix.storage
        self.schema = ix.schema
        self.codec = StoredCodec()  # stored fields compressed by the block (indexer.codec.stored)
        self.segment = self.codec.new_segment(self.storage, ix.indexname)
        self.perdoc = self.codec.per_document_writer(self.storage, self.segment)
        self.docnum = 0
        self.cost = 0
        self.t = timings
        # field -> term -> [doc, weight, encoded value, doc, weight, ...]: one list extend per posting
        self.postings: dict[str, dict[str | bytes, list]] = {}
        self.lengths: dict[str, array] = {}
        self.names = sorted(self.schema.names())
        self.fast = {n: _fast_kind(self.schema[n]) for n in self.names}

    def add(self, fields: dict[str, Any]) -> None:
        """Add one document (the keyword arguments Whoosh's add_document takes)."""
        t = self.t
        t0 = time.thread_time()
        analysis = t["normalize"] + t["segment"] + t["grams"]
        doc = self.docnum
        perdoc = self.perdoc
        perdoc.start_doc(doc)
        norms: dict[str, str] = {}
        for name in self.names:
            value = fields.get(name)
            if value is None:
                continue
            field = self.schema[name]
            length = 0
            if field.indexed:
                kind = self.fast[name]
                terms = self.postings.setdefault(name, {})
                if kind:
                    length, count, new_terms = self._add_text(kind, field, value, norms, terms, doc)
                else:
                    length, count, new_terms = _add_generic(field, value, terms, doc)
                self.cost += 60 * count + 300 * new_terms
                if field.scorable:  # 1 + the length byte Whoosh stores, 0 for an empty field
                    lens = self.lengths.setdefault(name, array("H"))  # 256 for the longest fields
                    lens.extend([0] * (doc + 1 - len(lens)))
                    lens[doc] = length_to_byte(length) + 1 if length else 0
                else:
                    length = 0
            perdoc.add_field(name, field, value if field.stored else None, length)
            if field.column_type:
                perdoc.add_column_value(name, field.column_type, field.to_column_value(value))
        perdoc.finish_doc()
        self.docnum += 1
        analysis = t["normalize"] + t["segment"] + t["grams"] - analysis
        t["postings"] += time.thread_time() - t0 - analysis

    def _add_text(self, kind: str, field, value: str, norms: dict[str, str], terms: dict, doc: int):
        """Analyze one of our text fields into `terms`; return (length, postings, new terms).

        Terms are kept as str: str sorts like its UTF-8 encoding, which is written later.
        """
        t = self.t
        t0 = time.thread_time()
        norm = norms.get(value)
        if norm is None:
            norm = norms[value] = normalize(value)
        t1 = time.thread_time()
        t["normalize"] += t1 - t0
        fmt = field.format
        boost = fmt.field_boost
        if kind == "words":
            counts = word_counts(norm)
            t["segment"] += time.thread_time() - t1
        else:
            grams = gram_positions(norm)
            t["grams"] += time.thread_time() - t1
            enc, one = fmt.encode, _single_positions(type(fmt))
        get = terms.get
        length = new = 0
        weights = _weights(boost)
        if kind == "words":
            for term, n in counts.items():
                e = get(term)
                if e is None:
                    e = terms[term] = []
                    new += 1
                e += (doc, weights[n] if n < 64 else n * boost, _freq_bytes(n))
                length += n
            return length, len(counts), new
        for term, x in grams.items():
            n = len(x)
            e = get(term)
            if e is None:
                e = terms[term] = []
                new += 1
            # most grams occur once in a text: those encodings are shared
            e += (doc, weights[n] if n < 64 else n * boost, one[x[0]] if n == 1 and x[0] < SINGLE else enc(x))
            length += n
        return length, len(grams), new

    def full(self) -> bool:
        return self.cost >= SEGMENT_BUDGET

    def finish(self):
        """Write the segment's files; return the Whoosh segment (None if it has no documents)."""
        t0 = time.thread_time()
        self.perdoc.close()
        if not self.docnum:
            return None
        fw = self.codec.field_writer(self.storage, self.segment)
        use_fast_term_table(fw)
        for name in sorted(self.postings):
            field = self.schema[name]
            fw.start_field(name, field)
            write_field(fw, self.postings.pop(name), self.lengths.get(name))
            fw.finish_field()
        fw.close()
        self.segment.set_doc_count(self.docnum)
        self.t["commit"] += time.thread_time() - t0
        return self.segment


@cache
def _weights(boost: float) -> list[float]:
    """Shared weight objects for the frequencies 0..63: a float per posting would cost 24 bytes."""
    return [n * boost for n in range(64)]


def _fast_kind(field) -> str | None:
    """'words' or 'grams' for our analyzers on a text field; None for Whoosh's generic path."""
    ana = getattr(field, "analyzer", None)
    fmt = getattr(field, "format", None)
    if not isinstance(ana, NormalizingTokenizer) or not isinstance(fmt, (formats.Frequency, formats.Positions)):
        return None
    if type(ana) is WordTokenizer and isinstance(fmt, formats.Frequency):
        return "words"
    if type(ana) is GramTokenizer and isinstance(fmt, formats.Positions):
        return "grams"
    return None


@cache
def _single_positions(fmt_class) -> list[bytes]:
    """The encodings of [0], [1], ... [SINGLE - 1] in a positions format, built once per process."""
    fmt = fmt_class()
    return [fmt.encode([p]) for p in range(SINGLE)]


def _add_generic(field, value, terms: dict, doc: int) -> tuple[int, int, int]:
    """Whoosh's own analysis for other indexed fields (ids, dates, numbers)."""
    length = count = new = 0
    for tb, freq, weight, vbytes in field.index(value):
        e = terms.get(tb)
        if e is None:
            e = terms[tb] = []
            new += 1
        e += (doc, weight, vbytes)
        length += freq
        count += 1
    return length, count, new


def _new_timings() -> Timings:
    return dict.fromkeys(STAGES, 0.0)


def _with_keywords(doc: dict, timings: Timings) -> dict:
    """The document with its keyword candidates (tagging is the costliest analysis after segmenting)."""
    t0 = time.thread_time()
    doc = {**doc, "keywords": candidates(doc.get("title") or "", doc.get("body") or "")}
    timings["keywords"] += time.thread_time() - t0
    return doc


Tick = Callable[[int], None]  # told how many more documents were analyzed
TICK_EVERY = 64


def build_range(ix, docs: list[dict], start: int, stop: int, tick: Tick | None = None) -> tuple[list, Timings]:
    """Build segments from docs[start:stop] in this process; return them with the time per stage.

    Each segment stands alone (numbers its documents from 0).
    """
    parts, timings = _build_parts(ix, docs, start, stop, tick, numbered=False)
    return [p.segment for p in parts], timings


def _build_parts(ix, docs: list[dict], start: int, stop: int, tick: Tick | None,
                 numbered: bool = True) -> tuple[list[Part], Timings]:
    """Segments of docs[start:stop], with document k numbered k when `numbered` (see `_number_from`)."""
    timings = _new_timings()
    keywords = "keywords" in ix.schema  # an index made before the field existed has no place for them
    parts: list[Part] = []
    builder, first = None, 0
    gc.freeze()  # the documents and the growing postings are long-lived: don't rescan them
    try:
        for k in range(start, stop):
            if builder is None:
                builder = SegmentBuilder(ix, timings)
                first = _number_from(builder, k) if numbered else 0
            builder.add(_with_keywords(docs[k], timings) if keywords else docs[k])
            if tick and (k - start + 1) % TICK_EVERY == 0:
                tick(TICK_EVERY)
            if builder.full() or k == stop - 1:
                parts.append(Part(builder.finish(), first))
                builder = None
    finally:
        gc.unfreeze()
    return parts, timings


def _number_from(builder: SegmentBuilder, first: int) -> int:
    """Make a new `builder` number its documents from `first`; return `first`.

    Whoosh's per-document writer then counts `first` empty documents before
    the builder's own, and every posting carries the number the document has in
    the run's batch: the segments of one batch join without renumbering a
    posting (`indexer.codec.segment_join`, which leaves the empty ones out).
    """
    builder.docnum = first
    builder.perdoc._doccount = first
    return first


_shared: tuple[Any, list[dict], Any] | None = None  # what forked workers read instead of unpickling


def _work(bounds: tuple[int, int]) -> tuple[list[Part], Timings]:
    assert _shared is not None
    ix, docs, done = _shared

    def tick(n: int) -> None:
        with done.get_lock():
            done.value += n

    return _build_parts(ix, docs, *bounds, tick=tick)


def _split(docs: list[dict], parts: int) -> list[tuple[int, int]]:
    """Contiguous ranges with about equal amounts of text."""
    sizes = [len(d.get("body") or "") + len(d.get("title") or "") + 50 for d in docs]
    target = sum(sizes) / parts
    bounds, start, acc = [], 0, 0
    for k, s in enumerate(sizes):
        acc += s
        if acc >= target * (len(bounds) + 1) and len(bounds) < parts - 1:
            bounds.append((start, k + 1))
            start = k + 1
    bounds.append((start, len(docs)))
    return [b for b in bounds if b[0] < b[1]]


def build_segments(ix, docs: list[dict], procs: int | None = None,
                   progress: Callable[[int], None] | None = None) -> tuple[list, Timings]:
    """One new segment holding `docs` (none if there are none), built on up to `procs` forked processes
    (default: every core), each writing a part that `indexer.codec.segment_join` then joins.

    `progress` is told, now and then, how many documents have been analyzed so far.
    """
    global _shared
    procs = procs or os.cpu_count() or 1
    can_fork = "fork" in multiprocessing.get_all_start_methods()
    if procs < 2 or len(docs) < PARALLEL_MIN_DOCS or not can_fork:
        counted = itertools.count(TICK_EVERY, TICK_EVERY)
        tick = (lambda _n: progress(next(counted))) if progress else None
        parts, timings = _build_parts(ix, docs, 0, len(docs), tick)
        return _joined(ix, parts, timings), timings
    bounds = _split(docs, procs)
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("q", 0)
    _shared = (ix, docs, counter)
    try:
        with ctx.Pool(len(bounds), initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
            pending = pool.map_async(_work, bounds, chunksize=1)
            while not pending.ready():
                pending.wait(0.25)
                if progress:
                    progress(counter.value)
            results = pending.get()
    finally:
        _shared = None
    timings = _new_timings()
    parts = []
    for ps, t in results:
        parts.extend(ps)
        for k, v in t.items():
            timings[k] += v
    return _joined(ix, parts, timings), timings


def _joined(ix, parts: list[Part], timings: Timings) -> list:
    """The parts as one segment (a list of it); their files are deleted, and the join's if it fails."""
    if len(parts) < 2:
        return [p.segment for p in parts]
    t0 = time.thread_time()
    try:
        return [join_segments(ix, parts)]
    except BaseException:
        discard(ix.storage, [p.segment for p in parts])
        raise
    finally:
        timings["join"] += time.thread_time() - t0


def commit_segments(writer, segments: list, optimize: bool = False) -> None:
    """Commit `writer` (its deletions) together with prebuilt `segments` and the merges the policy plans.

    One TOC write makes the whole run visible at once, as ``MpWriter`` does
    with ``multisegment=True``. Merges replace Whoosh's merge-on-commit (which
    writes Whoosh's generic format): `indexer.merge_policy` plans them over the old
    segments and the new ones, `indexer.codec.segment_merge` writes them before the TOC,
    so a run killed while merging leaves the last TOC and its files live.
    """
    final, written = [], []
    try:
        for group in plan(writer.segments + segments, optimize):
            if not group.needs_writing(optimize):
                final.append(group.segments[0])
                continue
            pause_for_tests("merge")
            from .segment_merge import merge_segments  # numpy: loaded by the runs that merge, not by every run

            merged = merge_segments(writer, group.segments, group.purged(optimize))
            if merged is not None:
                final.append(merged)
                written.append(merged)
        if writer._added:
            final.append(writer._finalize_segment())
        else:
            writer._close_segment()
        if written:
            pause_for_tests("merged")
        writer._commit_toc(final)
    except BaseException:
        discard(writer.storage, written)
        raise
    writer._finish()


def discard(storage, segments: list) -> None:
    """Delete the files of segments that never reached a TOC (after a failed run)."""
    for seg in segments:
        for name in seg.list_files(storage):
            storage.delete_file(name)
