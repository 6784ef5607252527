"""The evaluator's gram phrases and column ranges match exactly what the stock Whoosh queries match."""

import pytest
from whoosh import query as wq
from whoosh.scoring import BM25F

from indexer.analysis import gram_tokens
from indexer.codec.arrays import DocTable
from indexer.evaluate import Evaluator
from indexer.normalize import normalize
from indexer.phrase import GramPhrase
from indexer.ranges import ColumnRange
from indexer.store import IndexDir

PHRASES = ["新闻联播", "臺南市政府", "习近平总书记", "全面建成小康社会", "疫情防控", "息（新闻联播", "不存在的词语"]


@pytest.fixture(scope="module")
def searcher(corpus_index):
    ix, _ = IndexDir(corpus_index.index).open()
    with ix.searcher(weighting=BM25F()) as s:
        yield s


def evaluated(s, q) -> dict[int, float]:
    found = Evaluator(DocTable(s)).run(q)
    return {int(d): round(float(s), 4) for d, s in zip(found.docs, found.scores, strict=True)}


@pytest.mark.parametrize("text", PHRASES)
@pytest.mark.parametrize("fieldname", ["body_g", "title_g"])
def test_same_documents_and_scores_as_whoosh_phrase(searcher, text, fieldname):
    words = [t for t, *_ in gram_tokens(normalize(text))]
    theirs = {h.docnum: round(h.score, 4) for h in searcher.search(wq.Phrase(fieldname, words, boost=2.0), limit=None)}
    assert evaluated(searcher, GramPhrase(fieldname, words, boost=2.0)) == theirs
    if fieldname == "body_g" and text != "不存在的词语":
        assert theirs


@pytest.mark.parametrize("lo, hi, excl", [("2020-01-01", "2020-12-31", False), ("0000", "9999", False),
                                         ("2019-05-05", "2019-05-05", False), ("2020-01-01", "2020-12-31", True)])
def test_column_range_matches_term_range(searcher, lo, hi, excl):
    want = set(searcher.docs_for_query(wq.TermRange("date", lo, hi, startexcl=excl, endexcl=excl)))
    assert set(evaluated(searcher, ColumnRange("date", lo, hi, startexcl=excl, endexcl=excl))) == want
    assert want


@pytest.mark.parametrize("text", ["新闻联播", "习近平总书记", "全面建成小康社会", "疫情防控", "中华人民共和国"])
@pytest.mark.parametrize("grams, words", [("body_g", "body"), ("title_g", "title")])
def test_phrase_implied_by_its_word_matches_the_same(searcher, text, grams, words):
    """Documents holding the word skip the position check: they must be exactly the ones the positions find."""
    toks = [t for t, *_ in gram_tokens(normalize(text))][:-1]  # the last character is in the bigram before it
    plain = evaluated(searcher, GramPhrase(grams, toks, boost=2.0))
    assert evaluated(searcher, GramPhrase(grams, toks, boost=2.0, implied_by=(words, normalize(text)))) == plain
    if grams == "body_g":
        assert plain
