"""A date filter read from the sortable ``date`` column instead of a union of date terms.

``TermRange("date", since, until)`` expands to one term per distinct date in
the range (hundreds for a year) and ORs them in a binary tree of union
matchers: every candidate document walks the tree. The column is a sorted
list per segment: built once per segment reader (a searcher keeps its
readers until the index changes), it answers a range with two bisections.
"""

from __future__ import annotations

import weakref
from bisect import bisect_left, bisect_right

from whoosh import matching
from whoosh import query as wq

# segment reader -> (field name -> (sorted values, doc numbers in that order))
_SORTED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _sorted_column(reader, fieldname: str) -> tuple[list[str], list[int]]:
    per_reader = _SORTED.setdefault(reader, {})
    if fieldname not in per_reader:
        col = reader.column_reader(fieldname) if reader.has_column(fieldname) else None
        pairs = sorted((col[d], d) for d in range(reader.doc_count_all())) if col is not None else []
        per_reader[fieldname] = ([v for v, _ in pairs], [d for _, d in pairs])
    return per_reader[fieldname]


class ColumnRange(wq.TermRange):
    """``TermRange`` over a sortable text field, matched from its column (every match weighs `boost`)."""

    def matcher(self, searcher, context=None):
        reader = searcher.reader()
        if not reader.is_atomic() or not reader.has_column(self.fieldname):
            return super().matcher(searcher, context)
        values, docs = _sorted_column(reader, self.fieldname)
        lo = 0 if self.start is None else (bisect_right if self.startexcl else bisect_left)(values, self.start)
        hi = len(values) if self.end is None else (bisect_left if self.endexcl else bisect_right)(values, self.end)
        found = sorted(docs[lo:hi])
        if reader.has_deletions():
            found = [d for d in found if not reader.is_deleted(d)]
        if not found:
            return matching.NullMatcher()
        return matching.ListMatcher(found, all_weights=self.boost)
