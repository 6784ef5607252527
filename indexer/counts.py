"""Counting over documents with the per-document arrays of `indexer.codec.arrays.DocTable`.

Facets, index statistics and repost groups each look at every matching (or
every) document; reading Whoosh's columns one document at a time made them cost
more than the search itself.
"""

from __future__ import annotations

import numpy as np

from .codec.arrays import DocTable


def _counts(values: np.ndarray) -> dict[str, int]:
    names, counts = np.unique(values[values != ""], return_counts=True)
    return {str(k): int(v) for k, v in zip(names, counts, strict=True)}


def facets(table: DocTable, docs: np.ndarray) -> dict[str, dict[str, int]]:
    """Hits per source and per year among `docs` (sources most frequent first, years newest first)."""
    if not len(docs):
        return {"source": {}, "year": {}}
    by_source = _counts(table.column("source")[docs])
    by_year = _counts(table.column("date")[docs].astype("U4"))
    return {
        "source": dict(sorted(by_source.items(), key=lambda kv: (-kv[1], kv[0]))),
        "year": dict(sorted(by_year.items(), reverse=True)),
    }


def overview(table: DocTable) -> dict[str, object]:
    """Articles per source (most first), how many name no source, and the first and last dates of the live articles.

    An article without a source is not a publishing unit: it is counted in "unattributed", not in "sources".
    """
    live = np.flatnonzero(table.live)
    if not len(live):
        return {"sources": {}, "unattributed": 0, "first_date": None, "last_date": None}
    sources = table.column("source")[live]
    by_source = _counts(sources)
    dates = np.sort(table.column("date")[live])
    dates = dates[dates != ""]
    return {
        "sources": dict(sorted(by_source.items(), key=lambda kv: -kv[1])),
        "unattributed": int((sources == "").sum()),
        "first_date": str(dates[0]) if len(dates) else None,
        "last_date": str(dates[-1]) if len(dates) else None,
    }


def repost_groups(table: DocTable, reader) -> tuple[np.ndarray, dict[int, list[int]]]:
    """Reposts of one article (same normalized body): (mask of all but the first of each, doc -> its group).

    The first is the earliest, then the smallest id; only group members' dates
    and ids are read.
    """
    hidden = np.zeros(table.n, dtype=bool)
    groups: dict[int, list[int]] = {}
    live = np.flatnonzero(table.live)
    if not len(live):
        return hidden, groups
    keys = table.column("dupkey")[live]
    order = np.argsort(keys, kind="stable")
    keys, docs = keys[order], live[order]
    same = (keys[1:] == keys[:-1]) & (keys[1:] != "")  # same[i]: doc i + 1 reposts doc i
    if not same.any():
        return hidden, groups
    dates, ids = reader.column_reader("date"), reader.column_reader("id")
    starts = np.flatnonzero(np.diff(np.concatenate(([False], same, [False])).astype(np.int8)) == 1)
    for start in starts:
        end = start + 1
        while end < len(keys) and keys[end] == keys[start]:
            end += 1
        members = sorted((int(d) for d in docs[start:end]), key=lambda d: (dates[d] or "9999", ids[d]))
        hidden[members[1:]] = True
        for d in members:
            groups[d] = members
    return hidden, groups
