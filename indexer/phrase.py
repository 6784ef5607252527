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

    `head` and `tail` are its open edges (`indexer.query.gram_phrase`): what the grams just
    before and after it must end and start with. ``38个问题`` is the grams 个问 问题 with
    head 38, found in 共有38個問題 and 國人138個問題 alike.
    """

    def __init__(self, fieldname: str, words: list[str], boost: float = 1.0,
                 implied_by: tuple[str, str] | None = None, head: str = "", tail: str = "") -> None:
        super().__init__(fieldname, words, boost=boost)
        self.implied_by = implied_by
        self.head = head  # the gram before the phrase is a letter/digit run ending with this
        self.tail = tail  # the gram after the phrase starts with this

    def __eq__(self, other: object) -> bool:
        return (super().__eq__(other) and isinstance(other, GramPhrase)
                and (self.head, self.tail) == (other.head, other.tail))

    def __hash__(self) -> int:
        return hash((super().__hash__(), self.head, self.tail))
