"""The fast query parts (GramPhrase, ColumnRange) must match exactly what the Whoosh queries they replace match."""

import pytest
from whoosh import query as wq
from whoosh.scoring import BM25F

from indexer.analysis import gram_tokens
from indexer.normalize import normalize
from indexer.phrase import GramPhrase
from indexer.ranges import ColumnRange
from indexer.store import IndexDir

PHRASES = ["新闻联播", "臺南市政府", "习近平总书记", "全面建成小康社会", "疫情防控", "息（新闻联播", "不存在的词语"]


@pytest.mark.parametrize("text", PHRASES)
@pytest.mark.parametrize("fieldname", ["body_g", "title_g"])
def test_same_documents_and_scores_as_whoosh_phrase(corpus_index, text, fieldname):
    words = [t for t, *_ in gram_tokens(normalize(text))]
    ix, _ = IndexDir(corpus_index.index).open()
    with ix.searcher(weighting=BM25F()) as s:
        ours = {h.docnum: round(h.score, 4) for h in s.search(GramPhrase(fieldname, words, boost=2.0), limit=None)}
        theirs = {h.docnum: round(h.score, 4) for h in s.search(wq.Phrase(fieldname, words, boost=2.0), limit=None)}
        assert ours == theirs
        assert set(s.docs_for_query(GramPhrase(fieldname, words))) == set(theirs)


@pytest.mark.parametrize("lo, hi, excl", [("2020-01-01", "2020-12-31", False), ("0000", "9999", False),
                                         ("2019-05-05", "2019-05-05", False), ("2020-01-01", "2020-12-31", True)])
def test_column_range_matches_term_range(corpus_index, lo, hi, excl):
    ix, _ = IndexDir(corpus_index.index).open()
    with ix.searcher() as s:
        want = set(s.docs_for_query(wq.TermRange("date", lo, hi, startexcl=excl, endexcl=excl)))
        assert set(s.docs_for_query(ColumnRange("date", lo, hi, startexcl=excl, endexcl=excl))) == want
