"""Term record values (`indexer.codec.records`): every layout decodes to the postings written, and the
numpy writer writes what the scalar one does."""

import json
import pickle
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from whoosh.codec.whoosh3 import W3TermInfo
from whoosh.reading import TermNotFound

from indexer.codec import records
from indexer.config import Config
from indexer.search import Searcher
from indexer.store import IndexDir
from indexer.writer import run_index

from .conftest import HANS, HANT, corpus_records, write_jsonl
from .test_segments import _postings


def _term(rng: random.Random, fixed, n: int, big: bool) -> tuple:
    """Random postings of one term: ascending ids, weights, values of a format with `fixed` value size."""
    top = 10**7 if big else 5000
    ids = sorted(rng.sample(range(top), n))
    floats = rng.random() < 0.2
    weights = [rng.choice([1.5, 0.25, 3.0]) if floats else float(rng.choice([1, 1, 2, 3, 300 if big else 6]))
               for _ in range(n)]
    if rng.random() < 0.3:
        weights = [weights[0]] * n
    if fixed == 0:
        values = [None] * n
    elif fixed == 4:
        values = [rng.randrange(70000 if big else 300).to_bytes(4, "big") for _ in range(n)]
    else:
        values = [b"H" + bytes(rng.randrange(256) for _ in range(2 * rng.randrange(1, 200 if big else 4)))
                  for _ in range(n)]
    lo = rng.choice([0, 3, 120])
    return lo, lo if n == 1 else max(lo, rng.choice([0, 3, 200])), ids, weights, values  # one posting, one length


def _expected(weights: list) -> tuple:
    """Weights as the pickled layout held them: ints when every one of the term's is integral."""
    return tuple(map(int, weights)) if all(w.is_integer() for w in weights) else tuple(weights)


@pytest.mark.parametrize("fixed", [None, 0, 4])
@pytest.mark.parametrize("big", [False, True])
def test_compact_values_round_trip_and_the_numpy_writer_writes_the_same(fixed, big):
    rng = random.Random(f"{fixed}{big}")
    terms = [_term(rng, fixed, rng.choice([1, 1, 2, 3, 7, 32]), big) for _ in range(300)]
    ni = np.array([len(t[2]) for t in terms])
    flat = [x for t in terms for x in zip(*t[2:], strict=True)]
    vlens = np.array([0 if v is None else len(v) for _, _, v in flat])
    vbytes = np.frombuffer(b"".join(v or b"" for _, _, v in flat), dtype=np.uint8)
    plan = records.inline_plan(ni, np.array([t[0] for t in terms]), np.array([t[1] for t in terms]),
                               np.array([d for d, _, _ in flat]), np.array([w for _, w, _ in flat]), vlens, vbytes,
                               fixed)
    out = np.zeros(int(plan["size"].sum()), dtype=np.uint8)
    base = np.cumsum(plan["size"]) - plan["size"]
    records.put_inline(out, base, plan)
    for k, (minl, maxl, ids, weights, values) in enumerate(terms):
        value = records.inline_value(minl, maxl, ids, weights, values, fixed)
        assert out[base[k] : base[k] + plan["size"][k]].tobytes() == value
        assert records.is_compact(value) and records.is_inlined(value)
        info, postings = records.decode(value)
        assert postings == (tuple(ids), _expected(weights), tuple(values))
        assert records.inlined(value) == postings
        deltas = [ids[0], *np.diff(ids).tolist()]  # as a posting block holds them, in both layouts
        pickled = records.INFO.pack(*info) + pickle.dumps(postings)
        for layout in (value, pickled):
            n, got, w, v = records.inlined_block(layout)
            assert (n, list(got), w, v) == (len(ids), deltas, postings[1], postings[2])
            assert records.inlined_block(layout, values=False)[1:] == (got, w, None)
        # the term info fields the pickled layout holds for these postings
        old = records.INFO.pack(1, sum(weights), len(ids), minl, maxl, max(weights), ids[0], ids[-1])
        assert info == records.INFO.unpack(old) == records.info(value)
        ti, want = records.term_info(value), W3TermInfo.from_bytes(old + b"N.")
        assert (ti.weight(), ti.doc_frequency(), ti.min_length(), ti.max_length(), ti.max_weight(), ti.min_id(),
                ti.max_id()) == (want.weight(), want.doc_frequency(), want.min_length(), want.max_length(),
                                 want.max_weight(), want.min_id(), want.max_id())
        assert ti.inlined_postings() == postings
        assert records.doc_frequency(value) == len(ids)


def test_numpy_statistics_read_every_layout():
    """Document frequencies and first/last documents of pointer, pickled and compact values in one buffer."""
    rng = random.Random(7)
    values, want = [], []
    for k in range(400):
        minl, maxl, ids, weights, vals = _term(rng, None, rng.choice([1, 2, 5]), k % 2 == 0)
        kind = k % 3
        if kind == 0:
            values.append(records.inline_value(minl, maxl, ids, weights, vals, None))
        elif kind == 1:  # the pickled layout of older segments
            import pickle

            values.append(records.INFO.pack(1, sum(weights), len(ids), minl, maxl, max(weights), ids[0], ids[-1])
                          + pickle.dumps((tuple(ids), tuple(weights), tuple(vals)), 2))
        else:
            values.append(records.pointer_value((0, 1.0, 40 + k, minl, maxl, 1.0, ids[0], ids[-1]), 4 * k, 99))
        want.append((len(ids) if kind < 2 else 40 + k, ids[0], ids[-1]))
    starts = np.cumsum([0] + [len(v) for v in values])[:-1]
    u8 = np.frombuffer(b"".join(values), dtype=np.uint8)
    first, last = records.doc_ranges(u8, starts)
    assert list(zip(records.doc_frequencies(u8, starts).tolist(), first.tolist(), last.tolist(), strict=True)) == want
    assert [records.doc_frequency(v) for v in values] == [w[0] for w in want]
    assert records.extent(values[2]) == (8, 99)


@pytest.mark.parametrize("fixed", [None, 0, 4])
@pytest.mark.parametrize("big", [False, True])
def test_groups_of_values_join_with_numpy_as_one_value_each(fixed, big):
    """Two parts' values of the same terms (the second part's documents after the first's) joined."""
    rng = random.Random(f"join{fixed}{big}")
    bufs: list[list[bytes]] = [[], []]
    groups, which, at, counts = [], [], [], []
    for _ in range(200):
        members = rng.choice([[0], [1], [0, 1]])
        split = 10**8
        joined: list = [[], [], [], [], []]
        for p in members:
            minl, maxl, ids, weights, values = _term(rng, fixed, rng.choice([1, 1, 2, 5, 16]), big)
            ids = [d + p * split for d in ids]
            which.append(p)
            at.append(len(bufs[p]))
            bufs[p].append(records.inline_value(minl, maxl, ids, weights, values, fixed))
            joined[0].append((minl, maxl))
            for f, x in zip(joined[1:], (ids, weights, values), strict=False):
                f.extend(x)
        counts.append(len(members))
        spans = [r for r in joined[0] if r != (0, 0)] or [(0, 0)]
        groups.append(records.inline_value(min(r[0] for r in spans), max(r[1] for r in spans), joined[1],
                                           _expected(joined[2]), joined[3], fixed))
    parts = []
    for vs in bufs:
        starts = np.cumsum([0] + [len(v) for v in vs])[:-1]
        parts.append((np.frombuffer(b"".join(vs), dtype=np.uint8), starts))
    got = records.join_values(parts, np.array(which), np.array(at), np.array(counts), fixed)
    assert got == groups


PRIOR = Path(__file__).parent / "fixtures" / "prior_index"
QUERIES = ["防汛演练", "整改落实", '"整改落实"', "测试 -整改", "title:無日期", "臺南", "市政府 活動", '"衛生局"',
           "第7场"]


def _answers(index: Path) -> dict:
    s = Searcher(Config.load(index, index.parent / "no-userdict.txt"))
    try:
        out = {}
        for q in QUERIES:
            r = s.search(q, limit=0)
            out[q] = (r.total, sorted((h.id, round(h.score, 6), h.snippet) for h in r.hits))
        return out
    finally:
        s.close()


def _layouts(index: Path) -> list[bool]:
    """For each segment of the index: whether its term table is of the newer kind (compact values, slots)."""
    ix, _state = IndexDir(index).open()
    with ix.searcher() as s:
        return [records.SLOTS_KEY in r._terms._tindex.extras for r, _off in s.reader().leaf_readers()]


def test_an_older_index_with_new_segments_and_merged_answers_as_a_fresh_build(tmp_path):
    """The prior index (pickled values, Whoosh's hash tables), a run adding articles in new segments, then
    --optimize merging them (the old segment's records copied as they are beside compact ones): postings,
    statistics and answers as a build of the same articles by this code."""
    shutil.copytree(PRIOR / "index", tmp_path / "mixed")
    more = write_jsonl(tmp_path / "more" / "m.jsonl", corpus_records(HANT, 60) + corpus_records(HANS, 60))
    write_jsonl(tmp_path / "prior" / "p.jsonl",
                [json.loads(line) for line in (PRIOR / "records.jsonl").read_text(encoding="utf-8").splitlines()])
    fresh = tmp_path / "fresh"
    run_index(Config.load(fresh, tmp_path / "no-userdict.txt"), [tmp_path / "prior", more.parent])
    mixed = Config.load(tmp_path / "mixed", tmp_path / "no-userdict.txt")
    run_index(mixed, [more.parent])
    assert sorted(_layouts(mixed.index)) == [False, True] and _layouts(fresh) == [True]
    want_postings, want = _by_id(fresh), _answers(fresh)
    assert _by_id(mixed.index) == want_postings
    assert _answers(mixed.index) == want
    run_index(mixed, [more.parent], optimize=True)
    assert len(_layouts(mixed.index)) == 1
    assert _by_id(mixed.index) == want_postings
    # a merged segment's field length totals are summed from the length bytes (approximate lengths), as
    # before compact records (main gives the same scores): its BM25 average lengths, so scores, move by ~1 %
    got = _answers(mixed.index)
    assert {q: (n, [(i, s) for i, _, s in hits]) for q, (n, hits) in got.items()} == \
        {q: (n, [(i, s) for i, _, s in hits]) for q, (n, hits) in want.items()}
    moved = [x / y - 1 for q in want for (_, x, _), (_, y, _) in zip(got[q][1], want[q][1], strict=True)]
    assert max(map(abs, moved)) < 0.02, moved


def _by_id(index: Path) -> dict:
    """`tests.test_segments._postings` of an index directory (postings by article id, with statistics) in the
    fields both builds index alike (not `added`, the run's time, nor fields older schemas indexed)."""
    ix, _state = IndexDir(index).open()
    got = _postings(ix)
    return {f: got[f] for f in ("title", "body", "title_g", "body_g", "source_g", "id", "date", "source")}


def test_whoosh_reader_finds_terms_through_the_table_of_positions_or_the_key_order(config, tmp_path):
    """New segments have no Whoosh hash tables: their terms reader probes the table of record positions, or
    (a file that cannot be memory-mapped) searches the key-order index; both find every term, and no other."""
    write_jsonl(tmp_path / "src" / "a.jsonl", corpus_records(HANT, 30))
    run_index(config, [tmp_path / "src"])
    ix, _state = IndexDir(config.index).open()
    with ix.searcher() as s:
        (terms,) = [r._terms for r, _off in s.reader().leaf_readers()]
        assert isinstance(terms, records.TermsReader) and all(n == 0 for _, n in terms._tindex.tables)
        items = [(f, t, info.doc_frequency()) for (f, t), info in terms.items() if f in ("body_g", "title", "id")]
        assert len(items) > 1000
        for slots in (None, False):  # False: as if the file could not be mapped
            terms._slots = slots
            assert [terms.doc_frequency(f, t) for f, t, _ in items] == [df for _, _, df in items]
            assert all((f, t) in terms for f, t, _ in items[::7])
            assert not any((f, t + b"\x00") in terms or (f, b"\x00" + t) in terms for f, t, _ in items[::7])
            with pytest.raises(TermNotFound):
                terms.term_info("body_g", "不在".encode() * 9)
