"""Province scale: the benchmark's article generator, and index runs built in bounded batches.

The generator (`bench.generate`) must make articles that index like real ones:
distinct, in their source's script, dated over ten years, and never folded as
reposts. A run reads and analyzes its articles in batches (NEWSSEARCH_BATCH_CHARS
sets a tiny batch here) and still commits once: the result is the one a single
batch gives, and a run killed between batches leaves the last good index.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bench import generate
from indexer import counts, merge_policy, reposts
from indexer.codec.arrays import DocTable
from indexer.config import Config
from indexer.regional import script_of
from indexer.search import Searcher
from indexer.store import IndexDir
from indexer.writer import run_index

from .conftest import HANS, HANT, corpus_records, write_jsonl
from .test_cron import Site, kill, wait_paused

QUERIES = ["发展", "台南", "經濟 發展", '"新闻联播"', "习近平", "學校 活動", "黃偉哲"]


@pytest.fixture(scope="module")
def pools() -> generate.Pools:
    return generate.Pools({"hans": corpus_records(HANS, 300), "hant": corpus_records(HANT, 300)})


@pytest.fixture(scope="module")
def synthetic(pools) -> list[dict]:
    return list(generate.articles(pools, 600, seed=7))


def test_generated_articles_are_distinct_dated_and_in_their_source_script(pools, synthetic):
    assert len({a["id"] for a in synthetic}) == len(synthetic)
    assert len({a["body"] for a in synthetic}) == len(synthetic)
    real = {tag: {s for r in corpus_records(path, 300) for p in r["body"].split("\n") for s in generate.sentences(p)}
            for tag, path in (("hans", HANS), ("hant", HANT))}
    cctv = corpus_records(HANS, 1)[0]["source"]
    for a in synthetic:
        tag = "hans" if a["source"] == cctv else "hant"
        assert script_of(a["body"]) == tag, a
        for p in a["body"].split("\n"):  # recombined sentences of the same script (one drawn without
            for sentence in generate.sentences(p):  # 。！？ runs into the next: its end is a real sentence)
                assert any(sentence[i:] in real[tag] for i in range(len(sentence))), sentence
    dates = sorted(dt.date.fromisoformat(a["date"]) for a in synthetic)
    assert generate.LAST_DAY - dt.timedelta(days=generate.DAYS) <= dates[0] <= dates[-1] <= generate.LAST_DAY
    assert len({d.year for d in dates}) >= 10
    assert list(generate.articles(pools, 5, seed=7)) == synthetic[:5]  # seeded
    assert list(generate.articles(pools, 5, seed=8)) != synthetic[:5]


def test_generated_files_stream_in_chunks(tmp_path: Path, monkeypatch, pools):
    monkeypatch.setattr(generate, "CHUNK", 40)
    monkeypatch.setattr(generate, "load_pools", lambda *_a: pools)
    n, chars = generate.write(tmp_path, 100, script="hant")
    files = sorted(tmp_path.glob("*.jsonl"))
    records = [json.loads(line) for f in files for line in f.read_text(encoding="utf-8").splitlines()]
    assert [f.name for f in files] == ["part-0000.jsonl", "part-0001.jsonl", "part-0002.jsonl"]
    assert n == len(records) == 100 and chars == sum(len(r["title"]) + len(r["body"]) for r in records)


def _index(root: Path, records: list[dict], files: int = 6, progress=None) -> Config:
    per = -(-len(records) // files)
    for i in range(files):
        write_jsonl(root / "src" / f"{i}.jsonl", records[i * per : (i + 1) * per])
    config = Config.load(root / "index", root / "no-userdict.txt")
    run_index(config, [root / "src"], progress=progress)
    return config


def _answers(config: Config) -> list:
    s = Searcher(config)
    try:
        assert not s.snapshot().hidden.any()  # no generated article is taken for a repost of another
        return [[(h.id, h.score) for h in s.search(q, limit=50).hits] + [s.search(q).total]
                for q in QUERIES]
    finally:
        s.close()


def test_batched_run_answers_like_one_batch(tmp_path: Path, monkeypatch, synthetic):
    records = synthetic[:300]
    # No merges: a merged segment's field lengths are summed from the one-byte lengths stored per document
    # (as in Whoosh's own merge), which shifts BM25's average length a little; batches must not.
    monkeypatch.setattr(merge_policy, "FULL", 1)
    whole = _index(tmp_path / "whole", records)
    monkeypatch.setenv("NEWSSEARCH_BATCH_CHARS", "20000")  # about 30 articles a batch
    shown: list[tuple[str, int, int]] = []
    batched = _index(tmp_path / "batched", records, progress=lambda *p: shown.append(p))
    indexing = [done for stage, done, total in shown if stage == "Indexing" and total == len(records)]
    assert len(indexing) >= 5 and indexing == sorted(indexing) and indexing[-1] == len(records)  # the bar moves
    ix, _ = IndexDir(batched.index).open()
    assert len(ix._segments()) > len(IndexDir(whole.index).open()[0]._segments())
    assert _answers(batched) == _answers(whole)
    assert all(any(hits[:-1]) for hits in _answers(batched))


def test_kill_9_between_batches_leaves_the_old_index(tmp_path: Path, records_for_site):
    site = Site(tmp_path, records_for_site)
    n1 = site.v1()
    run_index(site.config, [site.src])
    before = sorted(p.name for p in site.config.index.iterdir())
    n2 = site.v2(4)
    site.env["NEWSSEARCH_BATCH_CHARS"] = "20000"
    p = site.start("index", "--quiet", pause="batch")
    wait_paused(p, "batch")
    kill(p)
    site.check(n1)
    assert sorted(p.name for p in site.config.index.iterdir()) != before  # the first batch's segments
    done = site.cli("index", "--quiet")
    assert done.returncode == 0, done.stderr
    site.check(n2)
    ix, state = IndexDir(site.config.index).open()
    live = {name for seg in ix._segments() for name in seg.list_files(ix.storage)}
    segment_files = {p.name for p in site.config.index.iterdir()
                     if p.name.startswith(state["generation"] + "_") and p.name != state["generation"] + "_WRITELOCK"}
    assert segment_files and segment_files <= live  # the killed run's segments are gone


@pytest.fixture(scope="module")
def records_for_site():
    return corpus_records(HANS, 100), corpus_records(HANT, 500)


def test_saved_repost_groups_are_the_ones_found_and_only_for_their_commit(tmp_path: Path, synthetic):
    reposted = [{**r, "id": r["id"] + "-repost", "source": "转载"} for r in synthetic[:5]]
    config = _index(tmp_path, synthetic[:60] + reposted, files=2)
    store = IndexDir(config.index)

    def groups():
        ix, state = store.open()
        with ix.searcher() as s:
            table = DocTable(s)
            return counts.repost_groups(table, s.reader()), reposts.load(store.path, state["generation"], table,
                                                                          s.reader())

    found, saved = groups()
    assert saved is not None and len(saved[1]) == 10 and saved[0].sum() == 5
    assert (saved[0] == found[0]).all() and saved[1] == found[1]
    old = reposts.path_for(store.path, store.state()["generation"]).read_bytes()
    write_jsonl(tmp_path / "src" / "0.jsonl", synthetic[1:30])  # the first article goes: a new commit
    run_index(config, [tmp_path / "src"])
    found, saved = groups()
    assert saved[1] == found[1] and len(found[1]) == 8
    reposts.path_for(store.path, store.state()["generation"]).write_bytes(old)  # as if killed before saving
    assert groups()[1] is None
