"""Repost groups kept beside the index, so that a new process need not find them again.

Finding the groups (`indexer.counts.repost_groups`) reads every document's
dupkey and sorts them: about 2 s of CPU at a million articles, paid by every
cold ``newssearch query``. An index run that changed the index saves them as
``<gen>.reposts.npz`` (plain arrays, no pickles), stamped with the Whoosh
commit (TOC generation) and document count they describe; a searcher loads
them when both match its own, and finds them itself otherwise (an index from
before the file existed, or a run killed between its commit and the file).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import counts
from .codec.arrays import DocTable


def path_for(index_dir: Path, gen: str) -> Path:
    return index_dir / f"{gen}.reposts.npz"


def write(index_dir: Path, gen: str, ix) -> None:
    """Find the repost groups of the index as committed now and save them (atomically: a reader may be loading)."""
    with ix.searcher() as s:
        table = DocTable(s)
        _hidden, groups = counts.repost_groups(table, s.reader())
        stamp = np.array([s.reader().generation() or 0, table.n], dtype=np.int64)
    firsts = sorted({members[0]: members for members in groups.values()}.items())
    members = np.array([d for _, m in firsts for d in m], dtype=np.int64)
    sizes = np.array([len(m) for _, m in firsts], dtype=np.int64)
    path = path_for(index_dir, gen)
    tmp = path.with_name(f"{path.name}.tmp")  # removed with its generation if a kill leaves it
    with tmp.open("wb") as f:
        np.savez(f, stamp=stamp, members=members, sizes=sizes)
    tmp.replace(path)


def load(index_dir: Path, gen: str, table: DocTable, reader) -> tuple[np.ndarray, dict[int, list[int]]] | None:
    """(hidden mask, doc -> its group) as `counts.repost_groups` gives them, if the saved ones describe `reader`."""
    try:
        with np.load(path_for(index_dir, gen), allow_pickle=False) as data:
            stamp, members, sizes = data["stamp"], data["members"], data["sizes"]
    except (OSError, ValueError, KeyError):
        return None
    if stamp.tolist() != [reader.generation() or 0, table.n] or sizes.sum() != len(members):
        return None
    hidden = np.zeros(table.n, dtype=bool)
    hidden[members] = True
    starts = np.cumsum(sizes) - sizes
    hidden[members[starts]] = False
    groups: dict[int, list[int]] = {}
    for group in np.split(members, starts[1:]) if len(members) else []:
        listed = group.tolist()
        for d in listed:
            groups[d] = listed
    return hidden, groups
