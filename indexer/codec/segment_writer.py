"""Building Whoosh segments fast: analyzed postings written straight to the codec.

Whoosh's ``SegmentWriter`` sends every posting through a generic pool: a Python
call and a size estimate per posting, one big sort of (field, term, doc, weight,
value) tuples at commit, then a per-posting loop into the codec. Our gram fields
carry about one posting per character, so that path cost ~75 % of a run. Here a
:class:`SegmentBuilder` analyzes each article once (one normalization per text
for its word and gram fields) and keeps one segment's postings in numpy-ready
arrays: a gram field's tokens as numeric keys and positions (`gram_units`, one
C pass per document), a word field's words as numbers and counts. At the end
each field's tokens are sorted by term once (stably, so documents and positions
stay in order) and `indexer.postings.write_arrays` writes the terms a chunk at a
time. Fields of other kinds (ids, dates) keep a dict of postings per term. The files are
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

import numpy as np
from whoosh import formats
from whoosh.analysis import IDTokenizer
from whoosh.fields import ID
from whoosh.util.numeric import length_to_byte

from ..analysis import (
    KEY_SHIFT,
    EdgeTokenizer,
    GramTokenizer,
    NormalizingTokenizer,
    WordTokenizer,
    edge_tokens,
    gram_positions,
    gram_units,
    word_counts,
)
from ..keywords import candidates
from ..merge_policy import plan
from ..normalize import normalize
from ..postings import TermArrays, use_fast_term_table, write_arrays, write_field
from ..schema import EDGE_FIELDS, GramPositions
from ..testhooks import pause_for_tests
from ..vocab import carry_counts
from .forking import cpu_seconds, die_with_parent
from .records import row_bytes, scatter
from .segment_join import Part, join_segments
from .segment_merge import Laps, merge_segments
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
# Bytes of memory per gram token and per word posting: 12 and 8 while a segment grows, but sorting them at
# the end (`_sorted_tokens`) takes about 3x that. 3,000 Tainan articles in one segment: estimated 240 MiB,
# peak 212 MiB above the start; the dict-per-term builder this replaced estimated 238 MiB and peaked at
# 199 MiB, so segments hold as many articles as before and a worker's peak stays within ~5 % of it.
GRAM_COST = 72
WORD_COST = 72
RUN = 1 << 63  # a letter/digit run's key while a segment grows: RUN | the run's number (SegmentBuilder.runs)
STAGES = ("normalize", "segment", "grams", "keywords", "postings", "commit", "join")

Timings = dict[str, float]


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
        self.grams: dict[str, _Grams] = {}  # gram fields in GramPositions: token arrays (see `_Grams`)
        self.words: dict[str, _Words] = {}  # word fields: word numbers and frequencies (see `_Words`)
        self.runs: dict[str, int] = {}  # letter/digit runs of those fields -> their number
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
        tokens = self._gram_units(fields, norms)
        for name in self.names:
            value = fields.get(name)
            if value is None:
                continue
            field = self.schema[name]
            length = 0
            if field.indexed:
                length = self._index(name, field, value, norms, tokens, doc)
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

    def _gram_units(self, fields: dict[str, Any], norms: dict[str, str]) -> dict[str, tuple]:
        """field -> (keys, positions) of the document's "arrays" gram fields and their "edges" fields, from one
        `gram_units` call.

        A letter/digit run's key is RUN | its number in `self.runs` (numbered in order of appearance), and so
        is an edge term's (a run and the Han character after it: `indexer.analysis.edge_tokens`).
        """
        names = [n for n in self.names if self.fast[n] == "arrays" and fields.get(n) is not None]
        if not names:
            return {}
        texts = [self._normalized(fields[n], norms) for n in names]
        t1 = time.thread_time()
        units = gram_units(texts)
        keys, positions = units.keys, units.positions
        runs = self.runs
        if units.runs:
            ids = [runs.setdefault(r, len(runs)) for r in units.runs]
            keys[units.run_at] = np.array(ids, dtype=np.uint64) | np.uint64(RUN)
        ends = np.cumsum(units.counts).tolist()
        out = {n: (keys[e - c : e], positions[e - c : e]) for n, e, c in zip(names, ends, units.counts.tolist(),
                                                                            strict=True)}
        edged = np.flatnonzero(units.han_after)  # runs a Han character follows
        for n, e, c in zip(names, ends, units.counts.tolist(), strict=True):
            edge = EDGE_FIELDS.get(n)
            if edge is None or self.fast.get(edge) != "edges" or fields.get(edge) is None:
                continue
            if fields[edge] == fields[n]:  # as `indexer.writer` indexes them: read off the gram field's units
                mine = edged[(units.run_at[edged] >= e - c) & (units.run_at[edged] < e)]
                terms = [units.runs[i] + chr(cp) for i, cp in zip(mine.tolist(), units.han_after[mine].tolist(),
                                                                  strict=True)]
                at = positions[units.run_at[mine]]
            else:
                toks = list(edge_tokens(self._normalized(fields[edge], norms)))
                terms, at = [t[0] for t in toks], np.array([t[1] for t in toks], dtype=np.uint32)
            ids = np.array([runs.setdefault(t, len(runs)) for t in terms], dtype=np.uint64) | np.uint64(RUN)
            out[edge] = (ids, at)
        self.t["grams"] += time.thread_time() - t1
        return out

    def _index(self, name: str, field, value, norms: dict[str, str], tokens: dict[str, tuple], doc: int) -> int:
        """Index one field's value of document `doc`; return the field's length (its tokens)."""
        kind = self.fast[name]
        if kind in ("arrays", "edges"):
            if name not in tokens:  # an edge field whose gram field has no value
                return 0
            length = self.grams.setdefault(name, _Grams()).add(doc, *tokens[name])
            self.cost += GRAM_COST * length
            return length
        if kind == "words":
            norm = self._normalized(value, norms)
            t1 = time.thread_time()
            counts = word_counts(norm)
            self.t["segment"] += time.thread_time() - t1
            words = self.words.setdefault(name, _Words())
            before = len(words.vocab)
            length = words.add(doc, counts)
            self.cost += WORD_COST * len(counts) + 300 * (len(words.vocab) - before)
            return length
        terms = self.postings.setdefault(name, {})
        if kind == "id" and isinstance(value, str):
            length, count, new_terms = _add_id(field, value, terms, doc)
        elif kind == "grams":
            length, count, new_terms = self._add_text(field, value, norms, terms, doc)
        else:
            length, count, new_terms = _add_generic(field, value, terms, doc)
        self.cost += 60 * count + 300 * new_terms
        return length

    def _normalized(self, value: str, norms: dict[str, str]) -> str:
        """`value` normalized once per document (a title or body feeds several fields), timed as normalize."""
        norm = norms.get(value)
        if norm is None:
            t0 = time.thread_time()
            norm = norms[value] = normalize(value)
            self.t["normalize"] += time.thread_time() - t0
        return norm

    def _add_text(self, field, value: str, norms: dict[str, str], terms: dict, doc: int):
        """Analyze a gram field of an older index (no GramPositions) into `terms`; return (length, postings, new terms).

        Terms are kept as str: str sorts like its UTF-8 encoding, which is written later.
        """
        t = self.t
        norm = self._normalized(value, norms)
        t1 = time.thread_time()
        fmt = field.format
        boost = fmt.field_boost
        grams = gram_positions(norm)
        t["grams"] += time.thread_time() - t1
        enc, one = fmt.encode, _single_positions(type(fmt))
        get = terms.get
        length = new = 0
        weights = _weights(boost)
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
        runs = _run_order(self.runs)
        for name in [n for n, g in self.grams.items() if not len(g.keys)]:
            del self.grams[name]  # an edge field no document has a term of
        for name in sorted({*self.postings, *self.grams, *self.words}):
            field = self.schema[name]
            fw.start_field(name, field)
            boost = field.format.field_boost
            if name in self.grams:
                write_arrays(fw, _term_arrays(self.grams.pop(name), runs, boost), self.lengths.get(name))
            elif name in self.words:
                write_arrays(fw, self.words.pop(name).term_arrays(boost), self.lengths.get(name))
            else:
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
    if type(field) is ID and type(ana) is IDTokenizer and type(fmt) is formats.Existence:
        return "id"
    if not isinstance(ana, NormalizingTokenizer) or not isinstance(fmt, (formats.Frequency, formats.Positions)):
        return None
    if type(ana) is WordTokenizer and isinstance(fmt, formats.Frequency):
        return "words"
    if type(ana) is GramTokenizer and type(fmt) is GramPositions:
        return "arrays"
    if type(ana) is EdgeTokenizer and type(fmt) is GramPositions:
        return "edges"
    if type(ana) is GramTokenizer and isinstance(fmt, formats.Positions):
        return "grams"  # an index made before GramPositions
    return None


class _Grams:
    """One gram field's tokens while a segment grows: the `gram_units` keys and positions, and whose they are."""

    __slots__ = ("counts", "docs", "keys", "positions")

    def __init__(self) -> None:
        self.keys, self.positions, self.docs, self.counts = array("Q"), array("I"), array("I"), array("I")

    def add(self, doc: int, keys, positions) -> int:
        """Add a document's tokens; return how many."""
        self.keys.frombytes(keys.tobytes())
        self.positions.frombytes(positions.tobytes())
        self.docs.append(doc)
        self.counts.append(len(keys))
        return len(keys)


class _Words:
    """One word field's postings while a segment grows: word numbers and frequencies, and whose they are."""

    __slots__ = ("counts", "docs", "freqs", "ids", "next", "vocab")

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}  # word -> its number
        self.next = 0  # numbers below this may be taken
        self.ids, self.freqs, self.docs, self.counts = array("I"), array("I"), array("I"), array("I")

    def add(self, doc: int, counts: dict[str, int]) -> int:
        """Add a document's word counts; return its length (words counted)."""
        self.ids.extend(map(self.vocab.setdefault, counts, range(self.next, self.next + len(counts))))
        self.next += len(counts)  # numbers are unique, not dense: a C loop instead of a len() per word
        self.freqs.extend(counts.values())
        self.docs.append(doc)
        self.counts.append(len(counts))
        return sum(counts.values())

    def term_arrays(self, boost: float) -> TermArrays:
        """The postings for `write_arrays`, sorted by word (stably: documents stay in order); values as Frequency's."""
        words = list(self.vocab)
        ranked = sorted(range(len(words)), key=words.__getitem__)  # str sorts like its UTF-8
        rank = np.empty(self.next, dtype=np.int64)
        rank[np.fromiter(self.vocab.values(), dtype=np.int64, count=len(words))[ranked]] = np.arange(len(words))
        keys = rank[np.frombuffer(self.ids, dtype=np.uint32)]
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        docs = np.repeat(np.frombuffer(self.docs, dtype=np.uint32), np.frombuffer(self.counts, dtype=np.uint32))
        freqs = np.frombuffer(self.freqs, dtype=np.uint32)[order]
        n = len(keys)
        new_term = np.ones(n, dtype=bool)
        new_term[1:] = keys[1:] != keys[:-1]
        encoded = [words[i].encode() for i in ranked]
        term_offsets = np.zeros(len(words) + 1, dtype=np.int64)
        np.cumsum(list(map(len, encoded)), out=term_offsets[1:])
        return TermArrays(np.frombuffer(b"".join(encoded), dtype=np.uint8), term_offsets,
                          np.append(np.flatnonzero(new_term), n), docs[order], freqs * boost,
                          freqs.astype(">u4").view(np.uint8), np.arange(0, 4 * n + 1, 4))


def _run_order(runs: dict[str, int]):
    """A sort key for every run number: the gram keys shifted left by KEY_SHIFT, runs placed among them.

    A gram key K (one or two characters) becomes K << KEY_SHIFT; a run whose
    first two characters make the key P (second 0 if none) becomes
    (P << KEY_SHIFT) | its rank among the runs starting so. Sorting these sorts
    the terms as strings: a run follows every term up to P and precedes every
    term after it. Returns (sort keys by run number, runs in sorted order, their sort keys).
    """
    words = list(runs)  # in number order
    ranked = sorted(range(len(words)), key=words.__getitem__)
    keys = np.zeros(len(words), dtype=np.uint64)
    ordered = []
    last, rank = -1, 0
    for i in ranked:
        w = words[i]
        p = ord(w[0]) << KEY_SHIFT | (ord(w[1]) if len(w) > 1 else 0)
        rank = rank + 1 if p == last else 1
        last = p
        assert rank < 1 << KEY_SHIFT
        keys[i] = p << KEY_SHIFT | rank
        ordered.append(w)
    return keys, ordered, keys[np.array(ranked, dtype=np.int64)]


def _term_arrays(g: _Grams, runs, boost: float) -> TermArrays:
    """A gram field's postings for `write_arrays`: its tokens sorted by term, stably (so documents stay in order)."""
    keys, docs, positions = _sorted_tokens(g, runs)
    n = len(keys)
    new_term = np.ones(n, dtype=bool)
    new_term[1:] = keys[1:] != keys[:-1]
    terms, term_offsets = _term_bytes(keys[new_term], runs)
    del keys  # arrays are dropped as soon as they are used: a segment's peak memory is here
    new_posting = new_term.copy()
    new_posting[1:] |= docs[1:] != docs[:-1]
    first = np.flatnonzero(new_posting)
    del new_posting
    docs = docs[first]
    starts = np.append(np.flatnonzero(new_term[first]), len(first))
    del new_term
    freq = np.diff(np.append(first, n))
    values, value_offsets = _gram_values(positions, first, freq)
    return TermArrays(terms, term_offsets, starts, docs, freq * boost, values, value_offsets)


def _sorted_tokens(g: _Grams, runs):
    """A field's token keys (as `_run_order` sorts them), documents and positions, sorted by key; `g` emptied."""
    keys = np.frombuffer(g.keys, dtype=np.uint64)
    run = keys >= np.uint64(RUN)
    numbers = (keys[run] & np.uint64(RUN - 1)).astype(np.int64)
    keys = keys << np.uint64(KEY_SHIFT)
    g.keys = array("Q")
    keys[run] = runs[0][numbers]
    del run, numbers
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    docs = np.repeat(np.frombuffer(g.docs, dtype=np.uint32), np.frombuffer(g.counts, dtype=np.uint32))[order]
    positions = np.frombuffer(g.positions, dtype=np.uint32)[order]
    g.positions = array("I")
    return keys, docs, positions


def _gram_values(positions, first, freq):
    """`GramPositions.encode` of every posting (tokens first[i]..first[i + 1]), one after another, and offsets."""
    n = len(positions)
    wide = positions[np.append(first[1:], n)[: len(first)] - 1] >= 65536  # the last position is the largest
    width = np.where(wide, 4, 2)
    offsets = np.zeros(len(first) + 1, dtype=np.int64)
    np.cumsum(1 + width * freq, out=offsets[1:])
    codes = np.where(wide, ord("I"), ord("H")).astype(np.uint8)
    if not wide.any():
        return np.insert(positions.astype("<u2").view(np.uint8), 2 * first, codes), offsets
    token_width = np.repeat(width, freq)
    body = row_bytes(positions.astype("<u4").view(np.uint8).reshape(-1, 4), token_width)
    return np.insert(body, (np.cumsum(token_width) - token_width)[first], codes), offsets


def _term_bytes(keys, runs):
    """The UTF-8 of the terms with these sort keys (see `_run_order`), one after another, and offsets."""
    mask = np.uint64((1 << KEY_SHIFT) - 1)
    is_run = (keys & mask) != 0
    grams = keys[~is_run] >> np.uint64(KEY_SHIFT)
    first, lens1 = _utf8(grams >> np.uint64(KEY_SHIFT))
    second, lens2 = _utf8(grams & mask)
    lens2[(grams & mask) == 0] = 0
    words = [runs[1][i].encode() for i in np.searchsorted(runs[2], keys[is_run]).tolist()]
    lens = np.zeros(len(keys), dtype=np.int64)
    lens[~is_run] = lens1 + lens2
    lens[is_run] = list(map(len, words))
    offsets = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    out = np.empty(int(offsets[-1]), dtype=np.uint8)
    at = offsets[:-1][~is_run]
    scatter(out, at, lens1, row_bytes(first, lens1))
    scatter(out, at + lens1, lens2, row_bytes(second, lens2))
    scatter(out, offsets[:-1][is_run], lens[is_run], np.frombuffer(b"".join(words), dtype=np.uint8))
    return out, offsets


def _utf8(cps):
    """The UTF-8 of code points as a 4-column byte matrix and the lengths."""
    cps = cps.astype(np.uint32)
    lens = 1 + (cps >= 0x80) + (cps >= 0x800) + (cps >= 0x10000).astype(np.int64)
    m = np.empty((len(cps), 4), dtype=np.uint8)
    cont = [(0x80 | (cps >> s) & 0x3F).astype(np.uint8) for s in (18, 12, 6, 0)]
    m[:, 0] = np.select([lens == 1, lens == 2, lens == 3], [cps, 0xC0 | cps >> 6, 0xE0 | cps >> 12], 0xF0 | cps >> 18)
    m[:, 1] = np.select([lens == 2, lens == 3], [cont[3], cont[2]], cont[1])
    m[:, 2] = np.where(lens == 3, cont[3], cont[2])
    m[:, 3] = cont[3]
    return m, lens


@cache
def _single_positions(fmt_class) -> list[bytes]:
    """The encodings of [0], [1], ... [SINGLE - 1] in a positions format, built once per process."""
    fmt = fmt_class()
    return [fmt.encode([p]) for p in range(SINGLE)]


def _add_id(field, value: str, terms: dict, doc: int) -> tuple[int, int, int]:
    """`_add_generic` for an ID field: the value is its one term (what IDTokenizer and Existence make of it)."""
    tb = value.encode("utf-8")
    e = terms.get(tb)
    new = e is None
    if new:
        e = terms[tb] = []
    e += (doc, field.format.field_boost, b"")
    return 1, 1, int(new)


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


def commit_segments(writer, segments: list, optimize: bool = False) -> list[dict]:
    """Commit `writer` (its deletions) together with prebuilt `segments` and the merges the policy plans.

    One TOC write makes the whole run visible at once, as ``MpWriter`` does
    with ``multisegment=True``. Merges replace Whoosh's merge-on-commit (which
    writes Whoosh's generic format): `indexer.merge_policy` plans them over the old
    segments and the new ones, `indexer.codec.segment_merge` writes them before the TOC,
    so a run killed while merging leaves the last TOC and its files live.
    Returns what each merge did (`merge_record`).
    """
    final, written, merges = [], [], []
    try:
        for group in plan(writer.segments + segments, optimize):
            if not group.needs_writing(optimize):
                final.append(group.segments[0])
                continue
            pause_for_tests("merge")
            laps, cpu = Laps(), cpu_seconds()
            merged = merge_segments(writer, group.segments, group.purged(optimize), laps=laps)
            merges.append(merge_record(group, optimize, laps, cpu_seconds() - cpu))
            if merged is not None:
                final.append(merged)
                written.append(merged)
                carry_counts(writer.storage, writer.schema, group.segments, group.purged(optimize), merged)
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
    return merges


def merge_record(group, optimize: bool, laps: Laps, cpu: float) -> dict:
    """What one merge of a commit did, for `newssearch index --json`: its segments' sizes (live and deleted
    articles), which were purged, the kind of merge (a big fold keeps a FULL first segment), and its wall and
    CPU seconds (forked processes' included) with the wall seconds of its phases."""
    purged = group.purged(optimize)
    big = group.keeps_full(optimize) and len(group.segments) > 1
    return {"kind": "big fold" if big else "merge" if len(group.segments) > 1 else "purge",
            "live": [s.doc_count() for s in group.segments], "deleted": [s.deleted_count() for s in group.segments],
            "purged": purged, "wall": round(sum(laps.values()), 3), "cpu": round(cpu, 3),
            "phases": {k: round(v, 3) for k, v in laps.items()}}


def discard(storage, segments: list) -> None:
    """Delete the files of segments that never reached a TOC (after a failed run)."""
    for seg in segments:
        for name in seg.list_files(storage):
            storage.delete_file(name)
