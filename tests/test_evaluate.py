"""The array evaluator gives what Whoosh's matchers give: the same documents, the same scores."""

import pickle
import zlib
from array import array

import numpy as np
import pytest
from whoosh import query as wq

from indexer import evaluate
from indexer.codec import arrays
from indexer.config import Config
from indexer.evaluate import top
from indexer.matches import Filters, compile_query, filter_query
from indexer.search import Searcher
from indexer.writer import run_index

from .conftest import HANS, HANT, corpus_records, write_jsonl

QUERIES = [
    ("整改", {}), ("疫情", {}), ("觀光", {}), ("乡村振兴", {}), ("黄伟哲", {}), ("黃偉哲", {}), ("习近平", {}),
    ('"臺南市政府"', {}), ('"新闻联播"', {}), ('"全面建成小康社会"', {}), ("疫情 防控", {}), ("台南 观光", {}),
    ("經濟 發展", {}), ("防疫 OR 疫苗", {}), ("title:疫情", {}), ("台南", {}), ("发展", {}),
    ("疫情", {"since": "2020-01-01", "until": "2020-12-31"}), ("教育", {"source": "教育局"}),
    ("市长", {"source": "新闻"}), ("covid", {}), ("中华人民共和国", {}),
]


def whoosh_hits(s, q) -> dict[int, float]:
    return {r.docnum: r.score for r in s.search(q, limit=None)}


def evaluated(searcher: Searcher, q) -> dict[int, float]:
    snap = searcher.snapshot()
    found = snap.evaluator.run(q)
    live = snap.table.live[found.docs]
    return {int(d): float(s) for d, s in zip(found.docs[live], found.scores[live], strict=True)}


def compiled(searcher: Searcher, text: str, **filters):
    """The query tree of `text` and its filters, as the searcher evaluates them."""
    snap = searcher.snapshot()
    _, q = compile_query(snap, searcher.config, text)
    flt = filter_query(snap, Filters(**filters))
    return q if flt is None else wq.And([q, flt])


def assert_same(searcher: Searcher, q) -> int:
    want = whoosh_hits(searcher.snapshot().searcher, q)
    got = evaluated(searcher, q)
    assert got.keys() == want.keys(), q
    for d, score in want.items():
        assert got[d] == pytest.approx(score, rel=1e-9), (q, d)
    return len(want)


@pytest.fixture
def searcher(corpus_index):
    s = Searcher(corpus_index)
    yield s
    s.close()


@pytest.mark.parametrize("text, opts", QUERIES)
def test_same_documents_and_scores_as_whoosh(searcher, text, opts):
    assert_same(searcher, compiled(searcher, text, **opts))


@pytest.mark.parametrize("text, opts", [*QUERIES, ("台南 观光 -夜市", {}), ("疫情 OR 观光 防控", {}), ('"38个"', {})])
def test_a_universe_of_documents_gives_what_all_documents_give(searcher, text, opts, monkeypatch):
    """Masks over the documents of the bounding leaves (`evaluate.DENSE`) give the very same floats."""
    q, evaluator = compiled(searcher, text, **opts), searcher.snapshot().evaluator
    got = {}
    for dense in (0, 1 << 40):  # never over every document; always
        monkeypatch.setattr(evaluate, "DENSE", dense)
        found = evaluator.run(q)
        got[dense] = (found.docs.tolist(), found.scores.tolist())
        within = found.docs[::3]
        assert evaluator.run(q, within=within).docs.tolist() == within.tolist()
    assert got[0] == got[1 << 40]


@pytest.mark.parametrize("text", ['"38个"', '"8个问题"', '"共有3"', '"臺南市政府"', "台南 观光", "黄伟哲", "covid"])
def test_terms_read_through_whoosh_give_what_the_mapped_term_table_gives(corpus_index, text):
    """A segment whose term table cannot be memory-mapped is read through Whoosh's terms reader: the same
    documents and the very same floats (open edges included)."""
    searchers = [Searcher(corpus_index), Searcher(corpus_index)]
    try:
        table = searchers[1].snapshot().table
        table._tables = [None] * len(table.leaves)
        mapped, through_whoosh = (evaluated(s, compiled(s, text)) for s in searchers)
        assert mapped == through_whoosh
    finally:
        for s in searchers:
            s.close()


@pytest.mark.parametrize("text", ['"38个"', '"2020年"', '"3月"', '"19年"', '"10个"', "2020年 工作", '"5G网"'])
def test_a_run_and_the_han_character_after_it_are_one_edge_term(searcher, text, monkeypatch):
    """An open edge after a letter/digit run is read from the edge field's one term ("38个"), not from every gram
    starting with the character: the same documents and the very same floats as reading those grams."""
    assert "body_e" in searcher.snapshot().searcher.schema
    q, evaluator = compiled(searcher, text), searcher.snapshot().evaluator
    found = evaluator.run(q)
    with_edges = (found.docs.tolist(), found.scores.tolist())
    monkeypatch.setattr(arrays, "EDGE_FIELDS", {})  # as an index made before edge fields is read
    found = evaluator.run(q)
    assert with_edges == (found.docs.tolist(), found.scores.tolist())
    assert with_edges[0] or text == '"5G网"'


@pytest.mark.parametrize("text", ['"新闻联播"', "习近平", "黃偉哲", '"臺南市政府"', '"全面建成小康社会"'])
def test_phrases_read_in_one_pass_or_two_give_the_same(searcher, text, monkeypatch):
    """A phrase mostly implied by its word reads its grams without positions, then with positions only where
    the word leaves documents unsure (`evaluate.UNSURE`): the same documents and the very same floats."""
    q, evaluator = compiled(searcher, text), searcher.snapshot().evaluator
    got = {}
    for unsure in (0, 1 << 40):  # always two passes (where a word implies the phrase); one unless all are sure
        monkeypatch.setattr(evaluate, "UNSURE", unsure)
        found = evaluator.run(q)
        got[unsure] = (found.docs.tolist(), found.scores.tolist())
    assert got[0] == got[1 << 40] and got[0][0]


def test_a_gram_term_read_without_positions_gives_its_documents_and_weights(searcher, monkeypatch):
    """Blocks inflated only up to their values (`arrays._unvalued`) give what the whole blocks give."""
    table = searcher.snapshot().table
    whole = []  # blocks inflated whole (ISA-L)
    monkeypatch.setattr(arrays, "decompress", lambda data, f=arrays.decompress: whole.append(1) or f(data))
    for field, text in [("body_g", "台南"), ("body_g", "发展"), ("body_g", "疫情"), ("title_g", "台南")]:
        whole.clear()
        ids, weights, _ = table.postings(field, text)
        assert not whole  # no block inflated whole: each one cut where its positions start
        all_ids, all_weights, _ = table.postings(field, text, values=True)
        assert whole and len(ids) > 100
        assert ids.tolist() == all_ids.tolist() and weights.tolist() == all_weights.tolist()


@pytest.mark.parametrize("block", [
    (array("H", [3, 1, 4]), None, [b"H\x01\x00", b"H\x02\x00", b"H\x03\x00"]),  # values as Whoosh pickles them
    ((3, 1, 4), (1.0, 2.0, 1.0), None),  # Whoosh's tuples, no values
])
def test_a_block_without_packed_values_is_read_whole(block):
    """A block laid out otherwise (plainly synthetic here: older segments' layouts) is inflated whole."""
    assert arrays._unvalued(zlib.compress(pickle.dumps(block, 3)), 3) == block


def test_every_node_kind_matches_whoosh(searcher):
    q = compiled(searcher, "台南 观光 -夜市")
    assert isinstance(q, wq.AndNot)
    assert assert_same(searcher, q.a) > 20
    for sub in q.a.subqueries:
        assert_same(searcher, sub)


def test_excluded_words_are_really_excluded(searcher):
    """Whoosh's AndNot let through an article holding the excluded word; the evaluator does not."""
    s = searcher.snapshot().searcher
    for text in ("整改 -落实", "台南 -观光", "疫情 -防控"):
        q = compiled(searcher, text)
        a, b = set(s.docs_for_query(q.a)), set(s.docs_for_query(q.b))
        assert set(evaluated(searcher, q)) == a - b
        r = searcher.search(text, limit=0, suggest=False, keywords=False)
        word = text.split("-")[1]
        assert r.total and all(word not in h.title + s.document(id=h.id)["body"] for h in r.hits)


def test_deleted_and_updated_articles_are_left_out(tmp_path):
    records = corpus_records(HANS, 150) + corpus_records(HANT, 150)
    src = write_jsonl(tmp_path / "src" / "a.jsonl", records)
    config = Config.load(tmp_path / "ix", tmp_path / "none.txt")
    run_index(config, [src.parent])
    changed = [{**r, "body": r["body"] + "更正启事"} for r in records[:10]]
    write_jsonl(src, changed + records[10:290])  # 10 updated, 10 removed: too few for a merge to purge them
    run_index(config)
    searcher = Searcher(config)
    try:
        assert searcher.snapshot().searcher.reader().has_deletions()
        for text in ("台南", "更正启事", "疫情 防控", '"臺南市政府"'):
            assert_same(searcher, compiled(searcher, text))
        r = searcher.search("更正启事", limit=0, suggest=False, keywords=False)
        assert sorted(h.id for h in r.hits) == sorted(x["id"] for x in changed)
        gone = {x["id"] for x in records[290:]}
        assert not gone & {h.id for h in searcher.search("台南", limit=0, keywords=False).hits}
    finally:
        searcher.close()


def test_top_orders_by_key_then_document_number():
    docs = np.array([5, 3, 9, 1, 7])
    key = np.array([1.0, 2.0, 2.0, 0.5, 2.0])
    assert top(docs, key, 2).tolist() == [3, 7]
    assert top(docs, key, 10).tolist() == [3, 7, 9, 5, 1]
    pages = [top(docs, key, k * 2)[(k - 1) * 2 :].tolist() for k in (1, 2, 3)]
    assert sum(pages, []) == [3, 7, 9, 5, 1]
