"""Merging segments (indexer/codec/segment_merge.py) and the merge policy (indexer/merge_policy.py) on real indexes.

A merged segment must hold what a fresh build of the same live articles holds,
term for term; runs must keep the index to a few segments without rewriting
the big ones; ``--optimize`` leaves one segment and no deleted articles; and a
run killed while merging leaves the last good index live.
"""

import json
import shutil
from array import array

import numpy as np
import pytest
from whoosh import index as windex
from whoosh.codec.whoosh3 import W3Codec
from whoosh.reading import SegmentReader

from bench import merge as merge_bench
from bench.merge import block_counts, term_postings
from indexer import merge_policy as merge
from indexer import postings, vocab
from indexer.codec import fold_terms, segment_join, segment_merge, stored
from indexer.codec.arrays import read_blocks
from indexer.codec.segment_merge import merge_segments
from indexer.codec.segment_writer import build_range, commit_segments
from indexer.schema import make_schema
from indexer.search import Searcher
from indexer.store import IndexDir
from indexer.writer import run_index

from .conftest import HANS, HANT, corpus_records, write_jsonl
from .test_cron import CHANGED, PER_FILE, V1_PER_FILE, kill, records, site, wait_paused  # noqa: F401 - fixtures
from .test_records import PRIOR
from .test_segments import _docs, _postings


def _index(path, docs: list[dict], sizes: list[int]):
    """An index whose segments hold `sizes` documents each, committed through the policy."""
    path.mkdir()
    ix = windex.create_in(str(path), make_schema(), indexname="g1")
    segs, start = [], 0
    for n in sizes:
        segs += build_range(ix, docs, start, start + n)[0]
        start += n
    commit_segments(ix.writer(), segs)
    return windex.open_dir(str(path), indexname="g1")


def _delete(ix, ids) -> None:
    w = ix.writer()
    for aid in ids:
        w.delete_by_term("id", aid)
    commit_segments(w, [])


def _replace(ix, segments: list, merged) -> None:
    """Commit `merged` in place of `segments` (what commit_segments does with a planned merge)."""
    w = ix.writer()
    keep = [s for s in w.segments if s.segment_id() not in {x.segment_id() for x in segments}]
    w._close_segment()
    w._commit_toc([merged, *keep])
    w._finish()


def _stored(ix) -> dict:
    """id -> (stored fields, dupkey column, field lengths) of every live article."""
    with ix.searcher() as s:
        r = s.reader()
        dup = r.column_reader("dupkey")
        return {
            s.stored_fields(d)["id"]: (s.stored_fields(d), dup[d],
                                      [r.doc_field_length(d, f) for f in ("title", "body", "title_g", "body_g")])
            for d in r.all_doc_ids()
        }


@pytest.fixture(scope="module")
def docs():
    return _docs(90)


def test_purging_merge_writes_what_a_fresh_build_writes(tmp_path, docs):
    ix = _index(tmp_path / "parts", docs, [40, 30, 20])
    assert [s.doc_count_all() for s in ix._segments()] == [40, 30, 20]  # similar sizes: the policy merges none
    gone = [docs[k]["id"] for k in (0, 5, 39, 41, 89)]
    _delete(ix, gone)
    segs = ix._segments()
    _replace(ix, segs, merge_segments(ix, segs, [True, True, True]))
    merged = windex.open_dir(str(tmp_path / "parts"), indexname="g1")
    assert len(merged._segments()) == 1 and not merged._segments()[0].has_deletions()
    live = [d for d in docs if d["id"] not in gone]
    fresh = _index(tmp_path / "fresh", live, [len(live)])
    assert _postings(merged) == _postings(fresh)  # terms, statistics, weights and positions
    assert _stored(merged) == _stored(fresh)


@pytest.mark.parametrize("block", [postings.BLOCK, 4], ids=["blocks", "small-blocks"])
def test_kept_first_segment_is_copied_and_keeps_its_deleted_articles(tmp_path, docs, monkeypatch, block):
    """Small blocks give terms several blocks: the kept segment's full ones are copied, its last one rewritten."""
    monkeypatch.setattr(postings, "BLOCK", block)
    ix = _index(tmp_path / "parts", docs, [40, 30, 20])
    gone = [docs[k]["id"] for k in (3, 50)]
    _delete(ix, gone)
    before_postings, before_stored = _postings(ix), _stored(ix)
    segs = ix._segments()
    new = merge_segments(ix, segs, [False, True, True])  # the first keeps its numbers: records copied as they are
    _replace(ix, segs, new)
    merged = windex.open_dir(str(tmp_path / "parts"), indexname="g1")
    (seg,) = merged._segments()
    assert (seg.doc_count_all(), seg.deleted_count()) == (89, 1)  # the kept deleted article, still deleted
    assert _live(_postings(merged)) == _live(before_postings)
    assert _stored(merged) == before_stored


def _files(ix, seg) -> dict[str, bytes]:
    """A segment's files by extension (column files by column), their bytes; its term table and postings
    decoded (`_terms`: the bulk path writes other blocks for the same postings)."""
    prefix = seg.make_filename("")
    out = {name[len(prefix) :]: ix.storage.open_file(name).read() for name in seg.list_files(ix.storage)}
    for ext in (W3Codec.TERMS_EXT, W3Codec.POSTS_EXT):
        out.pop(ext)
    return {**out, "terms": _terms(ix, seg)}


def _terms(ix, seg) -> dict:
    """(field, term) -> (term statistics, [(doc, weight, value)]) of one segment, deleted documents included."""
    r = SegmentReader(ix.storage, ix.schema, seg)
    try:
        return {(fieldname, term): term_postings(r, ix.schema, fieldname, term) for fieldname, term in r.all_terms()}
    finally:
        r.close()


@pytest.mark.parametrize(("small", "procs"), [  # the default suite runs the diagonal (~20 s each on 2 cores)
    pytest.param(False, 1, id="default-one-process"),
    pytest.param(True, 2, id="blocks-and-inlined-forked"),
    pytest.param(False, 2, id="default-forked", marks=pytest.mark.slow),
    pytest.param(True, 1, id="blocks-and-inlined-one-process", marks=pytest.mark.slow),
])
def test_bulk_copy_of_a_kept_first_segment_holds_what_the_term_by_term_merge_writes(tmp_path, docs, monkeypatch,
                                                                                      small, procs):
    """The first segment's records and blocks copied in runs (segment_merge._Copy), the others' terms written in
    bulk (codec.fold_terms), give the same postings and columns as a merge that writes every term: shared terms
    (inlined and with blocks, astral ones too), terms only the first or only the others hold, a kept deleted
    article in the first and purged ones in the others; also with forked processes writing the columns and a
    share of the terms (as a big fold does)."""
    monkeypatch.setattr(segment_merge, "FOLD_PARALLEL_MIN", 1 if procs == 2 else 10**9)
    monkeypatch.setattr(segment_merge, "FORK_COLUMNS_MIN", 0 if procs == 2 else 10**9)
    if small:  # few postings inlined, several blocks a term: every kind of record on both sides
        monkeypatch.setattr(postings, "INLINE_LIMIT", 2)
        monkeypatch.setattr(postings, "BLOCK", 4)
    astral = [dict(d) for d in docs]
    for d in astral[:40]:  # the first segment without these fields: the merged table numbers its fields otherwise
        del d["date"], d["source"], d["source_g"]
    for k in (1, 2, 45, 60, 61, 80):  # a synthetic suffix: CJK Extension B characters (4 bytes in UTF-8)
        astral[k]["body"] = astral[k]["body"] + ("𠀀𡈽𢀀" if k < 40 else "𡈽𣎴𤆬")
    ix = _index(tmp_path / "parts", astral, [40, 30, 20])
    _delete(ix, [astral[k]["id"] for k in (3, 39, 55, 85)])
    before_postings, before_stored = _postings(ix), _stored(ix)
    segs = ix._segments()
    purge = [False, True, True]
    old, new = merge_segments(ix, segs, purge, bulk=False), merge_segments(ix, segs, purge)
    old_files, new_files = _files(ix, old), _files(ix, new)
    zstored = f".{stored.COLUMN}{W3Codec.COLUMN_EXT}"  # the first's dictionary kept: other bytes, same fields
    assert old_files.pop(zstored) != new_files.pop(zstored)
    assert old_files == new_files  # terms and their postings, columns, lengths
    assert (new.doc_count_all(), sorted(new.deleted_docs())) == (old.doc_count_all(), sorted(old.deleted_docs()))
    assert dict(new._fieldlengths) == dict(old._fieldlengths) != {}  # total lengths (BM25), set by whichever process
    _replace(ix, segs, new)
    merged = windex.open_dir(str(tmp_path / "parts"), indexname="g1")
    assert _live(_postings(merged)) == _live(before_postings)
    assert _stored(merged) == before_stored
    got = _postings(merged)
    assert {len(got[f][t][1]) for f in got for t in got[f] if "𡈽".encode() in t} >= {4}  # in both sides' articles


def test_bulk_copy_of_an_older_segment_holds_what_the_term_by_term_merge_writes(tmp_path, docs):
    """A segment older code wrote (Whoosh's hash tables, pickled values, Whoosh's stored fields) kept verbatim
    first, or merged after a new one: the same postings and columns both ways."""
    shutil.copytree(PRIOR / "index", tmp_path / "mixed")
    ix, _state = IndexDir(tmp_path / "mixed").open()
    prior = ix._segments()
    w = ix.writer()
    w._close_segment()
    w._commit_toc(prior + build_range(ix, docs, 0, 20)[0])
    w._finish()
    ix, _state = IndexDir(tmp_path / "mixed").open()
    segs = ix._segments()
    for order in (segs, segs[::-1]):
        old, new = merge_segments(ix, order, [False, True], bulk=False), merge_segments(ix, order, [False, True])
        assert _files(ix, old) == _files(ix, new)


def _blocks(ix) -> dict:
    """(term key -> the posting count of each of its blocks) of the index's one segment."""
    (seg,) = ix._segments()
    return _blocks_of(ix, seg)


def _blocks_of(ix, seg) -> dict:
    """(term key -> the posting count of each of its blocks) of a segment."""
    keys, got, _fields = merge_bench.records(ix, seg)
    return {k: block_counts(blob) for k, (_value, blob) in zip(keys, got, strict=True) if blob is not None}


def test_folds_leave_the_blocks_a_fresh_build_writes(tmp_path, docs, monkeypatch):
    """Folds into a kept segment write a term's last block again with the postings they add, up to full blocks
    (blocks of 4: a last one holds at most 3, under REFILL_RATIO times one new posting): after several folds every
    term's blocks are a fresh build's (of one part: folds inline as much as it does here), not a trail of small
    ones, and the postings are the same."""
    monkeypatch.setattr(postings, "INLINE_LIMIT", 2)
    monkeypatch.setattr(postings, "BLOCK", 4)
    monkeypatch.setattr(fold_terms, "REFILL_MIN", 1)  # the ratio decides
    monkeypatch.setattr(segment_join, "INLINE_LIMIT", 32)  # inline_max() == postings.INLINE_LIMIT
    ix, start = _index(tmp_path / "folded", docs, [40]), 40
    for n in (10, 5, 17, 8):
        w = ix.writer()
        w._close_segment()
        w._commit_toc(ix._segments() + build_range(ix, docs, start, start + n)[0])
        w._finish()
        start += n
        segs = ix._segments()
        _replace(ix, segs, merge_segments(ix, segs, [False, True]))
        ix = windex.open_dir(str(tmp_path / "folded"), indexname="g1")
    fresh = _index(tmp_path / "fresh", docs[:start], [start])
    got, want = _blocks(ix), _blocks(fresh)
    assert got == want and max(map(len, got.values())) > 3
    assert _postings(ix) == _postings(fresh)


def test_folds_inline_as_many_postings_as_the_join_does(tmp_path, docs, monkeypatch):
    """A fold inlines a term of up to `segment_join.inline_max()` postings (3 with a limit of 2, as 48 with 32) that
    the first segment does not hold in blocks, as the join of a fresh build's parts does; the term-by-term merge
    and a part's writer give such a term a block. The postings are the same."""
    monkeypatch.setattr(postings, "INLINE_LIMIT", 2)
    monkeypatch.setattr(postings, "BLOCK", 4)
    ix = _index(tmp_path / "folded", docs, [40, 20])
    segs = ix._segments()
    before, based = _postings(ix), _blocks_of(ix, segs[0])
    old, new = merge_segments(ix, segs, [False, True], bulk=False), merge_segments(ix, segs, [False, True])
    assert _terms(ix, old) == _terms(ix, new)
    blocked, bulk = _blocks_of(ix, old), _blocks_of(ix, new)
    assert {k: v for k, v in blocked.items() if k in based or sum(v) > segment_join.inline_max()} == bulk
    assert any(sum(v) == segment_join.inline_max() for k, v in blocked.items() if k not in based)
    _replace(ix, segs, new)
    assert _live(_postings(windex.open_dir(str(tmp_path / "folded"), indexname="g1"))) == _live(before)


@pytest.mark.parametrize("fixed", [None, 4, 0], ids=["values", "fixed", "no-values"])
def test_encode_terms_writes_the_blocks_encode_blocks_writes(fixed):
    """The fold's encoder of many terms at once gives each term encode_blocks' very bytes: one posting, a few,
    exactly a block, a block and one, several blocks; weights all 1, all alike, different; wide doc gaps."""
    rng = np.random.default_rng(7)
    sizes = [1, 5, 33, postings.BLOCK, postings.BLOCK + 1, 3 * postings.BLOCK + 17]
    docs = np.concatenate([np.sort(rng.choice(200_000, n, replace=False)) for n in sizes])
    weights = np.concatenate([np.ones(n) if k % 3 == 0 else np.full(n, 2.0) if k % 3 == 1
                              else rng.integers(1, 5, n).astype(float) for k, n in enumerate(sizes)])
    vlens = rng.integers(1, 9, len(docs)) if fixed is None else np.full(len(docs), fixed)
    vstarts = np.concatenate(([0], np.cumsum(vlens)))
    vbytes = rng.integers(0, 256, vstarts[-1]).astype(np.uint8)
    lengths = array("H", rng.integers(0, 60, 200_001).astype(np.uint16).tobytes())
    starts = np.concatenate(([0], np.cumsum(sizes)))
    got = postings.encode_terms(docs, weights, vstarts, vbytes, starts, np.frombuffer(lengths, np.uint16)[docs], fixed)
    for t, (a, b) in enumerate(zip(starts[:-1], starts[1:], strict=True)):
        ends = array("I", (vstarts[a + 1 : b + 1] - vstarts[a]).astype(np.uint32).tobytes())
        packed = postings.PackedValues(vbytes[vstarts[a] : vstarts[b]].tobytes(), ends)
        values = [None] * (b - a) if fixed == 0 else packed
        want = postings.encode_blocks(array("I", docs[a:b].astype(np.uint32).tobytes()),
                                      array("f", weights[a:b].astype(np.float32).tobytes()), values, lengths, fixed)
        assert got[t] == want
    fast = postings.encode_terms(docs, weights, vstarts, vbytes, starts, np.frombuffer(lengths, np.uint16)[docs],
                                 fixed, fast=True)  # what a fold writes: ISA-L's deflate, the same postings
    assert [b for b, *_ in fast] != [b for b, *_ in got]
    for (blob, *spans), (want, *want_spans) in zip(fast, got, strict=True):
        assert spans == want_spans and _read(blob, fixed) == _read(want, fixed)


def _read(blob: bytes, fixed: int | None) -> tuple:
    """A term's blocks decoded: its documents, weights and values."""
    docs, weights, chunks = read_blocks(fold_terms.BytesFile(blob), 0, len(blob), values=fixed != 0)
    values = [(c.data, c.ends.tobytes()) if isinstance(c, postings.PackedValues) else c for c in chunks]
    return docs.tolist(), weights.tolist(), values


def _live(postings: dict) -> dict:
    """field -> term -> {article id: posting} of the live articles (a purged article's terms leave the lexicon)."""
    return {f: {t: got for t, (_stats, got) in terms.items() if got} for f, terms in postings.items()}


class Seg:
    """A segment as the policy sees it: document counts only (plan() reads nothing else)."""

    def __init__(self, n: int, deleted: int = 0) -> None:
        self.n, self.deleted = n, deleted

    def doc_count_all(self) -> int:
        return self.n

    def doc_count(self) -> int:
        return self.n - self.deleted

    def deleted_count(self) -> int:
        return self.deleted

    def has_deletions(self) -> bool:
        return self.deleted > 0


def _season(base: list[Seg], runs: int) -> tuple[list[Seg], int, int]:
    """Plan `runs` commits of 8 new articles; return the segments left, the most one run's merges cost
    (`Group.cost`) and how many runs merged into a segment of FULL or more."""
    segs, most, big = list(base), 0, 0
    for _ in range(runs):
        new = Seg(8)
        groups = merge.plan([*segs, new])
        written = [g for g in groups if g.needs_writing(False)]
        most = max(most, sum(g.cost() for g in written))
        big += any(g.segments[0].doc_count() >= merge.FULL for g in written)
        segs = [g.segments[0] if not g.needs_writing(False) else Seg(g.live) for g in groups]
        assert sum(s.doc_count() < merge.FULL for s in segs) <= merge.MAX_SEGMENTS
    return segs, most, big


def test_policy_small_runs_do_not_rewrite_big_segments():
    """Segments too big to copy within the budget are never merged into: the tail grows into FULL ones."""
    big = [Seg(60_000), Seg(60_000, deleted=200)]
    segs, most, folds = _season(big, 1_000)
    assert big[0] in segs and big[1] in segs and folds == 0
    assert sum(s.doc_count() for s in segs) == 119_800 + 8_000 and most <= merge.MERGE_MAX
    assert len(segs) <= 2 + 8_000 // merge.FULL + merge.MAX_SEGMENTS
    over = merge.plan([Seg(merge.FULL - 1), Seg(merge.FULL - 1), Seg(merge.FULL - 1), Seg(merge.FULL - 1)])
    assert not any(g.needs_writing(False) for g in over)  # a tier whose merge passes the budget waits


def test_policy_folds_a_season_into_the_big_segment():
    """A 27,000-article index: the tail is folded into the big segment tens of times (not every run), each
    fold within the budget, and the season ends as the big segment and a short tail."""
    base = [Seg(27_000)]
    segs, most, folds = _season(base, 1_000)
    assert 10 <= folds <= 60 and most <= merge.MERGE_MAX
    sizes = sorted((s.doc_count() for s in segs), reverse=True)
    assert sizes[0] >= 27_000 + 8_000 - merge.BIG_FOLD and sum(sizes[1:]) < merge.BIG_FOLD
    two = [Seg(13_500), Seg(13_500)]  # a fresh build in two segments: the bigger one takes the folds
    segs, most, _ = _season(two, 1_000)
    assert two[1] in segs and most <= merge.MERGE_MAX and len(segs) <= 2 + merge.MAX_SEGMENTS


def test_policy_folds_the_tail_into_a_big_segment_and_purges_deletions():
    segs, _, _ = _season([Seg(2_000), Seg(2_000)], 80)  # 640 articles: more than 1/FOLD of one half
    assert max(s.n for s in segs) > 2_000
    purged = merge.plan([Seg(1_000, deleted=300), Seg(1_000, deleted=10)])
    assert [g.needs_writing(False) for g in purged] == [True, False]
    assert [len(g.segments) for g in merge.plan([Seg(5), Seg(9_000, deleted=1)], optimize=True)] == [2]
    assert [g.live for g in merge.plan([Seg(8, deleted=8), Seg(100)])] == [100]  # nothing left: dropped
    gone = merge.plan([Seg(27_000, deleted=6_000), *(Seg(100) for _ in range(3))])  # a big one purged: no fold
    assert [len(g.segments) for g in gone] == [1, 1, 1, 1] and gone[0].needs_writing(False)


def _segment_sizes(config) -> dict[str, int]:
    ix, _ = IndexDir(config.index).open()
    return {s.segment_id(): s.doc_count_all() for s in ix._segments()}


@pytest.mark.parametrize("base_min", [150, 8], ids=["one-full", "several-full"])
def test_cron_runs_keep_big_segments_and_match_a_fresh_build(tmp_path, config, monkeypatch, base_min):
    monkeypatch.setattr(vocab, "BASE_MIN", base_min)  # segments this big have their word counts summed once
    hans, hant = corpus_records(HANS, 460), corpus_records(HANT, 60)
    src = tmp_path / "src"
    write_jsonl(src / "base.jsonl", hans[:400])
    run_index(config, [src])
    big = _segment_sizes(config)
    assert len(big) == 1  # the workers' parts joined (indexer.codec.segment_join)
    extra = hans[400:] + hant
    folded = []
    for n in range(15):
        write_jsonl(src / f"run{n:02d}.jsonl", extra[n * 8 : n * 8 + 8])
        if n % 7 == 6:
            write_jsonl(src / f"run{n - 3:02d}.jsonl", [{**r, "body": r["body"] + "（更正）"}
                                                         for r in extra[(n - 3) * 8 : (n - 3) * 8 + 8]])
        if n == 10:
            (src / "run01.jsonl").unlink()
        run_index(config)
        sizes = _segment_sizes(config)
        assert len(sizes) <= merge.MAX_SEGMENTS
        for seg in big.keys() - sizes.keys() - set(folded):  # a big segment is rewritten only once an
            assert 8 * (n + 1) * merge.FOLD >= big[seg]  # eighth of it has accumulated in smaller ones
            folded.append(seg)
    assert folded  # 120 new articles are more than an eighth of it: the tail was folded in
    _vocabulary_matches_a_recount(config, tmp_path / "recount", base_min)
    fresh = type(config).load(tmp_path / "fresh", tmp_path / "no-userdict.txt")
    run_index(fresh, [src])
    a, b = Searcher(config), Searcher(fresh)
    try:
        assert a.stats()["articles"] == b.stats()["articles"] == 400 + 15 * 8 - 8
        for q in ("新闻联播", "臺南", '"更正"', "习近平 OR 黄伟哲", "经济 -发展"):
            ra, rb = a.search(q, limit=0), b.search(q, limit=0)
            assert {h.id for h in ra.hits} == {h.id for h in rb.hits} and ra.total == rb.total > 0
            assert a.facets(q) == b.facets(q)
    finally:
        a.close()
        b.close()


def _vocabulary_matches_a_recount(config, copy, base_min: int) -> None:
    """The word list runs built from saved per-segment counts (and, with several segments of `base_min`
    articles, their sum) is the one counted afresh from the terms, and the saved counts went with their
    segments."""
    ix, state = IndexDir(config.index).open()
    saved = {p.name.split(".")[0] for p in config.index.glob("*_*.words.npz")}
    assert saved == {s.segment_id() for s in ix._segments()}
    base = sorted(s.segment_id() for s in ix._segments() if s.doc_count_all() >= base_min)
    assert (len(base) > 1) == (base_min < 150)
    if len(base) > 1:  # the full segments' sum, kept beside the generation (one full segment's is its own file)
        with np.load(config.index / f"{state['generation']}.words.npz") as summed:
            assert sorted(summed["ids"]) == base
    with ix.reader() as reader:  # the term table read with numpy counts what Whoosh's term walk counts
        for leaf, _offset in reader.leaf_readers():
            words, counts = vocab._leaf_frequencies(leaf, "body")
            walked = [(t.decode(), i.doc_frequency()) for t, i in leaf.iter_field("body")]
            assert list(zip(words.tolist(), counts.tolist(), strict=True)) == [
                (w, n) for w, n in walked if vocab._HAN_WORD.fullmatch(w)]
    shutil.copytree(config.index, copy, ignore=shutil.ignore_patterns("*.words.npz"))
    again, _ = IndexDir(copy).open()
    with again.reader() as reader:
        recount = vocab.collect(reader)
    listed = json.loads(vocab.path_for(config.index, state["generation"]).read_text(encoding="utf-8"))
    assert listed["words"] == recount["words"] and listed["weights"] == recount["weights"]
    later = [w for w, p in zip(listed["words"], listed["pinyin"], strict=True) if p is None]
    assert len(later) < vocab.READ_LATER  # a run leaves a few new words' pinyin to the searcher
    a, b = vocab.Vocabulary(listed), vocab.Vocabulary(recount)
    assert a.keys == b.keys and a.ids.tolist() == b.ids.tolist() and "xinwen" in a.keys


def _two_segments(site) -> int:  # noqa: F811 - the fixture's name
    """An index of two segments, one with a replaced (deleted) article; return the article count."""
    n = site.v1()
    assert site.cli("index", "--quiet", str(site.src)).returncode == 0
    first = [dict(r) for r in site.hans[:V1_PER_FILE]]
    first[0]["body"] += CHANGED
    write_jsonl(site.src / "a0.jsonl", first)
    write_jsonl(site.src / "c.jsonl", site.hant[:PER_FILE])
    assert site.cli("index", "--quiet").returncode == 0
    return n + PER_FILE


def test_optimize_leaves_one_segment_without_deleted_articles(site):  # noqa: F811
    n = _two_segments(site)
    before = json.loads(site.cli("stats", "--json").stdout)
    assert before["deleted"] == 1 and len(before["segments"]) == 2
    assert sum(s["articles"] for s in before["segments"]) == before["articles"] == n
    done = site.cli("index", "--optimize", "--json")
    assert done.returncode == 0, done.stderr
    (merge,) = json.loads(done.stdout)["merges"]  # what the run merged, for operators and bench/season.py
    assert merge["kind"] == "merge" and sum(merge["live"]) == n and merge["deleted"] == [1, 0]
    assert merge["purged"] == [True, True] and merge["cpu"] > 0 and set(merge["phases"]) >= {"terms", "close"}
    after = json.loads(site.cli("stats", "--json").stdout)
    assert after["segments"] == [{"articles": n, "deleted": 0}] and after["deleted"] == 0
    site.check(n)
    text = site.cli("stats").stdout
    assert "segments:  1: " in text and "deleted:   0" in text


@pytest.mark.parametrize("stage", ["merge", "merged"])
def test_kill_9_during_a_merge_leaves_the_last_good_index(site, stage):  # noqa: F811
    n = _two_segments(site)
    files = set(site.config.index.iterdir())
    p = site.start("index", "--quiet", "--optimize", pause=stage)
    wait_paused(p, stage)
    kill(p)
    site.check(n)  # the last commit is live; what the merge wrote is not
    stats = json.loads(site.cli("stats", "--json").stdout)
    assert len(stats["segments"]) == 2 and stats["deleted"] == 1
    done = site.cli("index", "--quiet")  # the next cron run completes and cleans up
    assert done.returncode == 0, done.stderr
    site.check(n)
    assert set(site.config.index.iterdir()) == files
    assert site.cli("index", "--quiet", "--optimize").returncode == 0
    site.check(n)
    assert len(json.loads(site.cli("stats", "--json").stdout)["segments"]) == 1


@pytest.mark.parametrize("stage", ["merge", "merged"])
def test_kill_9_during_a_fold_into_a_kept_segment_leaves_the_last_good_index(site, stage):  # noqa: F811
    """The bulk path (a first segment kept, its records copied in byte runs, the others' terms written a field
    at a time by codec.fold_terms, as a big fold writes them) is as safe to kill as the rest: killed before
    the merged segment is written or after, before the TOC names it."""
    n = site.v1()
    assert site.cli("index", "--quiet", str(site.src)).returncode == 0
    write_jsonl(site.src / "c.jsonl", site.hant[:30])  # under half of the 100-article segment, over FOLD_MIN
    files = set(site.config.index.iterdir())
    p = site.start("index", "--quiet", pause=stage)
    wait_paused(p, stage)
    if stage == "merged":  # the folded segment's word counts are its parts' (the new one's counted), not recounted
        counts = {f.name for f in set(site.config.index.iterdir()) - files if f.name.endswith(".words.npz")}
        assert len(counts) == 2, counts
    kill(p)
    site.check(n)  # the last commit is live
    assert json.loads(site.cli("stats", "--json").stdout)["segments"] == [{"articles": n, "deleted": 0}]
    done = site.cli("index", "--quiet", "--json")
    assert done.returncode == 0, done.stderr
    (merge,) = json.loads(done.stdout)["merges"]
    assert merge["live"] == [n, 30] and merge["purged"] == [False, True] and "gather" in merge["phases"]
    site.check(n + 30)
    stats = json.loads(site.cli("stats", "--json").stdout)
    assert stats["segments"] == [{"articles": n + 30, "deleted": 0}]  # folded into the kept segment
