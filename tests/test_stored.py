"""Stored fields compressed by the block (indexer.codec.stored): every document reads back as it was stored."""

import shutil
from pathlib import Path

from whoosh.filedb.filestore import RamStorage

from indexer.codec import stored
from indexer.config import Config
from indexer.search import Searcher
from indexer.store import IndexDir
from indexer.writer import run_index

from .conftest import HANS, HANT, corpus_records, write_jsonl

PRIOR = Path(__file__).parent / "fixtures" / "prior_index"


def test_block_column_reads_back_values_and_gaps():
    st = RamStorage()
    f = st.create_file("c")
    w = stored.STORED.writer(f)
    values = {d: {"body": "臺南市政府" * (d * 400), "n": d} for d in range(0, 40) if d % 3}  # blocks of several docs
    for d, v in values.items():
        w.add(d, v)
    w.finish(45)
    length = f.tell()
    f.close()
    r = stored.STORED.reader(st.open_file("c"), 0, length, 45)
    assert [r[d] for d in range(45)] == [values.get(d) for d in range(45)]
    assert r[10] == values[10] and r[1] == values[1]  # back and forth between blocks


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
