"""What an index's bytes are spent on: per kind of file, and per field in the term tables and posting blocks.

Read from the live segments' own structures, without scanning every term: a
segment's term records are sorted by field number then term, so each field's
records are one run of the term file (found by binary search in its ordered
index), and its posting blocks, written in the same order, one run of the
postings file.
"""

from __future__ import annotations

import struct
from collections import Counter
from typing import Any

from whoosh.system import pack_ushort

from .codec import records

# File kinds by how a segment file's name ends (the first that matches).
KINDS = (
    (".trm", "term table (.trm)"),
    (".pst", "posting blocks (.pst)"),
    ("._stored.col", "stored fields"),
    ("._zstored.col", "stored fields"),
    ("_len.col", "field lengths"),
    (".col", "columns"),
)


def file_kind(name: str) -> str:
    return next((kind for end, kind in KINDS if name.endswith(end)), "other")


def index_sizes(path, leaves: list) -> dict[str, Any]:
    """{"files": bytes per kind of file in the index directory, "fields": per field its term count and bytes,
    "term_table": the live term tables' bytes in records, hash tables and ordered index}.

    `path` is the index directory (pathlib.Path), `leaves` the live segments' readers.
    """
    files: Counter[str] = Counter()
    for p in path.iterdir():
        if p.is_file():
            files[file_kind(p.name)] += p.stat().st_size
    fields: dict[str, Counter] = {}
    table: Counter[str] = Counter()
    for r in leaves:
        postings_end = r._storage.file_length(r._segment.make_filename(".pst"))
        for name, c in _segment_fields(r._terms, postings_end).items():
            fields.setdefault(name, Counter()).update(c)
        table.update(_table_parts(r._terms._tindex))
    return {"files": dict(files.most_common()),
            "fields": {n: dict(c) for n, c in sorted(fields.items(), key=lambda x: -x[1]["term_bytes"])},
            "term_table": dict(table)}


def _table_parts(tindex) -> dict[str, int]:
    """A term table's records, hash tables (12 bytes a slot; newer segments' record positions instead) and
    ordered index (a position per term)."""
    size = tindex.tables[0][0] - (_pos(tindex, 0) if tindex.indexlen else tindex.tables[0][0])
    _base, slots, code = tindex.extras.get(records.SLOTS_KEY, (0, 0, "I"))
    return {"records": size, "hash tables": 12 * sum(n for _, n in tindex.tables) + struct.calcsize(code) * slots,
            "ordered index": tindex.indexlen * tindex.indexsize}


def _segment_fields(terms, postings_end: int) -> dict[str, dict[str, int]]:
    """Per field of one segment's terms reader: terms, term-table bytes (records only), posting-block bytes."""
    tindex = terms._tindex
    records_end = tindex.tables[0][0]  # the hash tables follow the records
    by_num = sorted((num, name) for name, num in terms._fieldmap.items())
    starts = [_first_slot(tindex, pack_ushort(num)) for num, _ in by_num] + [tindex.indexlen]
    out = {}
    blocks = [_first_block(tindex, starts[k], starts[k + 1]) for k in range(len(by_num))]
    for k, (_num, name) in enumerate(by_num):
        lo, hi = starts[k], starts[k + 1]
        if lo == hi:
            continue
        end = records_end if hi == tindex.indexlen else _pos(tindex, hi)
        b_start = blocks[k]
        b_end = next((b for b in blocks[k + 1 :] if b is not None), postings_end)
        out[name] = {"terms": hi - lo, "term_bytes": end - _pos(tindex, lo),
                     "posting_bytes": 0 if b_start is None else b_end - b_start}
    return out


def _pos(tindex, slot: int) -> int:
    return tindex._get_pos(tindex.indexbase + slot * tindex.indexsize)


def _first_slot(tindex, key: bytes) -> int:
    """The ordered index's first slot whose key is >= `key`."""
    lo, hi = 0, tindex.indexlen
    while lo < hi:
        mid = (lo + hi) // 2
        if tindex.key_at(_pos(tindex, mid)) < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _first_block(tindex, lo: int, hi: int) -> int | None:
    """Where the first term in slots lo..hi with posting blocks (not inlined) has them; None if none does."""
    if lo == hi:
        return None
    for _keypos, _keylen, datapos, datalen in tindex._ranges(_pos(tindex, lo)):
        if lo == hi:
            break
        lo += 1
        if not tindex.dbfile.get_byte(datapos):  # a value starting with 0 points to blocks (`codec.records`)
            return records.extent(tindex.dbfile.get(datapos, datalen))[0]
    return None
