"""The Whoosh schema: word fields rank, gram fields find, columns drive incremental runs.

The schema is pickled into the index, so the classes here (and the tokenizers in
`indexer.analysis`) are found by import path: keep their names and modules.
"""

from __future__ import annotations

import sys
from array import array

from whoosh import fields, formats

from .analysis import EdgeTokenizer, GramTokenizer, WordTokenizer

TITLE_BOOST = 3.0
_SWAP = sys.byteorder != "little"


class GramPositions(formats.Positions):
    """Positions stored as a typecode byte and a little-endian array of absolute positions.

    Whoosh's `Positions` pickles a list of deltas: ~14 bytes for a single
    position, and a pickle call per posting. A gram posting has one or two
    positions, so an array is 3–5 bytes, and encoding and decoding are C calls.
    """

    def encode(self, poslist) -> bytes:
        code = "H" if poslist[-1] < 65536 else "I"
        a = array(code, poslist)
        if _SWAP:
            a.byteswap()
        return code.encode() + a.tobytes()

    def decode_positions(self, valuestring: bytes) -> list[int]:
        a = array(chr(valuestring[0]))
        a.frombytes(valuestring[1:])
        if _SWAP:
            a.byteswap()
        return a.tolist()

    def decode_frequency(self, valuestring: bytes) -> int:
        return (len(valuestring) - 1) // (2 if valuestring[0] == 72 else 4)  # 72 is "H"

    def decode_weight(self, valuestring: bytes) -> float:
        return self.decode_frequency(valuestring) * self.field_boost

    def combine(self, vs) -> bytes:
        return self.encode(sorted({p for v in vs for p in self.decode_positions(v)}))


def _grams(analyzer: GramTokenizer, boost: float = 1.0) -> fields.TEXT:
    field = fields.TEXT(analyzer=analyzer, phrase=True, field_boost=boost)
    field.format = GramPositions(field_boost=boost)
    return field


def _edges() -> fields.TEXT:
    """A gram field's edge terms (`indexer.analysis.edge_tokens`): positions only, never scored (no lengths)."""
    field = fields.TEXT(analyzer=EdgeTokenizer(), phrase=True)
    field.format = GramPositions()
    field.scorable = False
    return field


def _column_only(field: fields.FieldType) -> fields.FieldType:
    """A field that is read as a column and never searched by term (run bookkeeping): no term records.

    Each of its values would be a term of its own: a record, hash slots and an
    index position per article (~2 MB at 12,000 articles for the digests and
    repost keys). Indexes made before keep their schema, and these fields' terms.
    """
    field.indexed = False
    return field


EDGE_FIELDS = {"title_g": "title_e", "body_g": "body_e"}  # a gram field -> its edge field (`_edges`)


def make_schema() -> fields.Schema:
    words = WordTokenizer()
    grams = GramTokenizer()
    return fields.Schema(
        id=fields.ID(stored=True, unique=True, sortable=True),
        title=fields.TEXT(analyzer=words, stored=True, phrase=False, field_boost=TITLE_BOOST),
        body=fields.TEXT(analyzer=words, stored=True, phrase=False),
        title_g=_grams(grams, TITLE_BOOST),
        body_g=_grams(grams),
        source_g=_grams(grams),
        title_e=_edges(),  # absent in indexes made before: their phrases' edges are read from the gram fields
        body_e=_edges(),
        date=fields.ID(stored=True, sortable=True),
        source=fields.ID(stored=True, sortable=True),
        url=fields.STORED(),
        keywords=fields.STORED(),  # indexer.keywords.candidates
        reporter=fields.STORED(),
        file=_column_only(fields.ID(stored=True, sortable=True)),
        digest=_column_only(fields.ID(stored=True, sortable=True)),
        dupkey=_column_only(fields.ID(sortable=True)),
        added=fields.NUMERIC(stored=True, sortable=True, bits=64),
        script=fields.ID(sortable=True),  # "hans" / "hant" (indexer.regional.script_of); absent in older indexes
    )
