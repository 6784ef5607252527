"""A date filter read from the sortable ``date`` column instead of a union of date terms.

``TermRange("date", since, until)`` expands to one term per distinct date in
the range (hundreds for a year). `indexer.evaluate` answers a ``ColumnRange``
by comparing the column's values for every document at once; Whoosh's own
``TermRange`` matcher gives the same documents (tests/test_phrase.py).
"""

from __future__ import annotations

from whoosh import query as wq


class ColumnRange(wq.TermRange):
    """``TermRange`` over a sortable text field, matched from its column (every match weighs `boost`)."""
