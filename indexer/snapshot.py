"""One generation of the index as searches see it: opened in one place, never changed afterwards.

A `Snapshot` holds everything a search reads that belongs to one state of the
index: the Whoosh index and searcher, the per-document arrays, the evaluator,
the repost groups and state.json as it was. When a run changes the index the
`Searcher` opens a new snapshot instead of patching the old one's parts.

`is_damage` tells a damaged or vanished index file from a bug in our code: only
the first is retried on a fresh snapshot and reported as ``IndexCorrupt``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
import whoosh
from whoosh.index import TOC
from whoosh.scoring import BM25F

from . import codec, counts, postings, reposts
from .codec.arrays import DocTable
from .config import Config
from .evaluate import Evaluator
from .store import DAMAGE, IndexDir, State, analyzer_version

# Code that reads index files: an exception raised in it is about the files (Whoosh raises
# IndexError, ValueError, KeyError … on bytes it cannot parse), not about our logic.
_READERS = tuple(os.path.dirname(m.__file__) + os.sep for m in (whoosh, codec)) + (postings.__file__,)


def is_damage(exc: BaseException) -> bool:
    """Whether `exc` came from reading index files (damaged, or deleted by a run) rather than from a bug."""
    if isinstance(exc, (*DAMAGE, OSError)):
        return True
    tb: TracebackType | None = exc.__traceback__
    last = None
    while tb is not None:
        last, tb = tb, tb.tb_next
    return last is not None and last.tb_frame.f_code.co_filename.startswith(_READERS)


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The parts of one index state that a search reads."""

    generation: str
    state: State
    analyzer: str  # the analyzer version this process would build with (indexer.store.analyzer_version)
    index: Any  # whoosh.index.FileIndex
    searcher: Any  # whoosh.searching.Searcher
    table: DocTable
    evaluator: Evaluator
    hidden: np.ndarray  # reposts: all but the first of each group
    groups: dict[int, list[int]]  # doc -> its repost group (only docs that have reposts)

    @classmethod
    def open(cls, config: Config, store: IndexDir, state: State, previous: Snapshot | None) -> Snapshot:
        """The snapshot of `state`, reusing `previous`'s open index when the generation is the same."""
        if previous is not None and previous.generation == state.get("generation"):
            index, analyzer = previous.index, previous.analyzer
        else:
            index, state = store.open()
            analyzer = analyzer_version(config, state)
        # A new searcher, not refresh(): whoosh3 reuses the reader of a segment whose id is unchanged,
        # with the old commit's deletions, so updated and removed articles would stay visible.
        searcher = index.searcher(weighting=BM25F())
        try:
            table = DocTable(searcher)
            saved = reposts.load(store.path, state["generation"], table, searcher.reader())
            hidden, groups = saved or counts.repost_groups(table, searcher.reader())
        except BaseException:
            searcher.close()
            raise
        return cls(state["generation"], state, analyzer, index, searcher, table, Evaluator(table), hidden, groups)

    def current(self, state: State) -> bool:
        """Whether this snapshot still shows the index whose state.json reads `state`."""
        return state == self.state and self._latest_commit()

    def _latest_commit(self) -> bool:
        """Whether no commit followed the one this snapshot reads: its TOC is there and the next one's is not.
        (Whoosh's ``up_to_date`` lists the folder and matches every name against a pattern, every query:
        ~0.1 ms with a season's segments. A commit writes the next generation's TOC and removes older ones.)"""
        ix, generation = self.index, self.searcher.reader().generation()
        return (ix.storage.file_exists(TOC._filename(ix.indexname, generation))
                and not ix.storage.file_exists(TOC._filename(ix.indexname, generation + 1)))

    @property
    def shown(self) -> np.ndarray:
        """Mask of the documents a search can return: live, and not a repost of another."""
        return self.table.live & ~self.hidden

    def last_change(self) -> int:
        """When the latest index run that added or changed articles started: what counts as new."""
        if "last_change_started" in self.state:
            return self.state["last_change_started"]
        return max(self.searcher.reader().column_reader("added"), default=0)  # index from before it was kept

    def close(self) -> None:
        self.searcher.close()
