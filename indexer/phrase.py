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
    """``Phrase`` over a gram field: `indexer.evaluate` reads it as adjacent grams."""
