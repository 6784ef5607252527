"""The Whoosh schema: word fields rank, gram fields find, columns drive incremental runs."""

from __future__ import annotations

from whoosh import fields

from .analysis import GramTokenizer, WordTokenizer

TITLE_BOOST = 3.0


def make_schema() -> fields.Schema:
    words = WordTokenizer()
    grams = GramTokenizer()
    return fields.Schema(
        id=fields.ID(stored=True, unique=True, sortable=True),
        title=fields.TEXT(analyzer=words, stored=True, phrase=False, field_boost=TITLE_BOOST),
        body=fields.TEXT(analyzer=words, stored=True, phrase=False),
        title_g=fields.TEXT(analyzer=grams, phrase=True, field_boost=TITLE_BOOST),
        body_g=fields.TEXT(analyzer=grams, phrase=True),
        source_g=fields.TEXT(analyzer=grams, phrase=True),
        date=fields.ID(stored=True, sortable=True),
        source=fields.ID(stored=True, sortable=True),
        url=fields.STORED(),
        reporter=fields.STORED(),
        file=fields.ID(stored=True, sortable=True),
        digest=fields.ID(stored=True, sortable=True),
        dupkey=fields.ID(sortable=True),
        added=fields.NUMERIC(stored=True, sortable=True, bits=64),
    )
