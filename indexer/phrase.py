"""Exact phrases over gram fields.

A ``GramPhrase`` is a Whoosh ``Phrase`` over a field whose positions count
grams (`indexer.schema.GramPositions`), so a phrase is a run of adjacent
grams. `indexer.evaluate` matches it by intersecting (document, position − k)
keys of its grams; Whoosh's own ``Phrase`` matcher gives the same documents and
scores (tests/test_phrase.py compares them), only slower.
"""

from __future__ import annotations

from whoosh import query as wq


class GramPhrase(wq.Phrase):
    """``Phrase`` over a gram field: `indexer.evaluate` reads it as adjacent grams.

    `implied_by` names a word-field term (field, text) whose documents all hold the
    phrase: a jieba word is a run of the same text, so a Han word found in ``body``
    is a run of adjacent bigrams in ``body_g``. Those documents need no positions
    checked (``黄伟哲`` is a word in 8,000 of 12,000 Tainan articles).
    """

    def __init__(self, fieldname: str, words: list[str], boost: float = 1.0,
                 implied_by: tuple[str, str] | None = None) -> None:
        super().__init__(fieldname, words, boost=boost)
        self.implied_by = implied_by
