"""Stored fields zstd-compressed with a trained dictionary (indexer.codec.stored): each reads back as stored."""

import pickle
import shutil
import zlib
from pathlib import Path

import pytest
from whoosh.filedb.filestore import RamStorage

from indexer.codec import stored
from indexer.config import Config
from indexer.search import Searcher
from indexer.store import IndexDir
from indexer.writer import run_index

from .conftest import HANS, HANT, corpus_records, write_jsonl

PRIOR = Path(__file__).parent / "fixtures" / "prior_index"


@pytest.mark.parametrize("n", [1, 5, 800])
def test_frame_column_reads_back_values_and_gaps(monkeypatch, n):
    """With and without a dictionary; documents before and after the training sample; documents without fields."""
    monkeypatch.setattr(stored, "SAMPLE_BYTES", 256 * 1024)
    recs = corpus_records(HANT, n)
    values = {d: {"title": r["title"], "body": r["body"]} for d, r in enumerate(recs) if d % 7 != 3}
    st = RamStorage()
    f = st.create_file("c")
    w = stored.STORED.writer(f)
    for d, v in values.items():
        w.add(d, v)
    w.finish(n + 2)
    length = f.tell()
    f.close()
    r = stored.STORED.reader(st.open_file("c"), 0, length, n + 2)
    assert [r[d] for d in range(n + 2)] == [values.get(d) for d in range(n + 2)]
    if n == 800:  # the dictionary made each article's frame much smaller than zlib makes it alone
        zlib_bytes = sum(len(zlib.compress(pickle.dumps(v, 2), 3)) for v in values.values())
        assert length < 0.8 * zlib_bytes


def test_a_corpus_index_stores_every_article_as_given(config, tmp_path):
    recs = corpus_records(HANS, 400) + corpus_records(HANT, 400)
    write_jsonl(tmp_path / "src" / "a.jsonl", recs)
    run_index(config, [tmp_path / "src"])
    ix, _ = IndexDir(config.index).open()
    with ix.searcher() as s:
        got = {f["id"]: (f["title"], f["body"], f.get("date")) for f in s.all_stored_fields()}
        codecs = {type(seg.codec()).__name__ for seg in ix._segments()}
    assert got == {r["id"]: (r["title"], r["body"], r["date"]) for r in recs}
    assert codecs == {"StoredCodec"}
    assert list(config.index.glob("*._zstored.col"))
    assert all(p.stat().st_size < 1024 for p in config.index.glob("*._stored.col"))  # Whoosh's column, left empty


def _bodies(config: Config, ids: list[str]) -> dict[str, str]:
    s = Searcher(config)
    try:
        return {i: s.article(i)["body"] for i in ids}
    finally:
        s.close()


def test_a_prior_index_merged_into_the_new_codec_keeps_its_stored_fields(tmp_path):
    """Old segments (Whoosh's per-document zlib) fold into a block-compressed one; every article reads the same."""
    shutil.copytree(PRIOR / "index", tmp_path / "index")
    config = Config.load(tmp_path / "index", tmp_path / "no-userdict.txt")
    ids = [r["id"] for r in corpus_records(PRIOR / "records.jsonl")]
    before = _bodies(config, ids)
    new = corpus_records(HANT, 600)[-1]
    assert new["id"] not in before
    write_jsonl(tmp_path / "src" / "new.jsonl", [new])
    run_index(config, [tmp_path / "src"], optimize=True)  # the prior's folder is gone: its articles stay
    ix, _ = IndexDir(config.index).open()
    assert {type(seg.codec()).__name__ for seg in ix._segments()} == {"StoredCodec"}
    assert _bodies(config, [*ids, new["id"]]) == {**before, new["id"]: new["body"]}
