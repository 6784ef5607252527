"""The merge policy: which segments a commit rewrites as one, so a season of small runs stays compact.

Every index run adds its articles as new segments, and an update or removal
only marks the old document deleted. Left alone, a year of cron runs leaves
thousands of small segments (each repeating the terms the others have) and
deleted documents that are read and skipped by every query. At each commit
the policy looks at the live document count of every segment (new ones
included) and plans merges on those sizes. Two things are traded: each
segment costs every query a term lookup per query term (~2 % of a query's
time at 35,000 articles), and a merge costs ~1 ms of CPU per article it
writes (`indexer.codec.segment_merge`), paid by the cron run that commits it.

* **Budget.** One commit's merges cost at most `MERGE_MAX` articles written
  (a few seconds of CPU; a big fold counts less, see below): a merge that would
  pass it is not made, and what the rules below still want waits for later runs.
* **Full.** A segment of `FULL` live articles or more is left out of the
  rules below but the big fold, so no merge outgrows the budget.
* **Big fold.** Once the segments below FULL hold `BIG_FOLD` live articles,
  they are merged into the biggest segment (if it is FULL or more), the
  smallest first, as many as the budget takes. That segment goes first and is
  kept (as in a fold, below), so the merge copies it in bulk and only the
  small segments' terms cost per term (`indexer.codec.segment_merge`,
  `indexer.codec.fold_terms`): its cost (`Group.cost`) is counted as
  `BIG_COPY` per article of the big segment plus `BIG_RATE` per article
  folded (bench/merge.py, 2 cores: ~3 s for a few articles into 27,000,
  ~3 ms more per article folded). The weights count CPU, as the budget does:
  such a fold runs on two processes (`indexer.codec.segment_merge`), so its
  wall time is ~0.75x its CPU (27,000 + 400: ~6.2 s wall, ~8 s CPU; in a
  season's runs, 27,500-29,400 + ~300: 4.5-5.3 s wall, 6-7.5 s CPU, the run
  ~1 s more; `newssearch index --json` lists a run's merges and phases). A
  season of 8-article runs on a 27,000-article index folds ~30 times (~300 articles each) and ends as the
  big segment and a tail of a few hundred articles, where without big folds
  it left segments of 3,000–3,500 beside it. A segment so big that copying
  it passes the budget (~50,000 articles) is not folded into: the tail then
  grows into FULL segments beside it, as before, until ``--optimize``.
* **Tiers.** Segments of similar size (within a factor of `FACTOR`) sit in one
  tier; when a tier holds `FACTOR` segments they become one segment of the
  next tier: four runs of 8 articles make one of 32, four of those one of 128,
  and so on, so an article is rewritten about once per tier, never per run.
* **Fold.** When the segments smaller than 1/`SMALLER` of some segment S add
  up to 1/`FOLD` of it, and to `FOLD_MIN` articles at least, they are merged into S. S goes first in the merge and
  keeps its document numbers, so its postings are copied byte for byte: the
  tail below the full segments stays short and geometric, like a fresh build's.
  The floor keeps a small S from taking a fold every run or two: without it,
  folds into segments of 32–200 articles made half of a season's runs merge
  (a merge adds ~0.3 s to a ~0.9 s run, so the median run was a merging one).
* **Cap.** More than `MAX_SEGMENTS` segments below FULL: the smallest are
  merged until the count fits (cheap: they are small).
* **Purge.** A segment whose deleted share reaches `PURGE_SHARE` is rewritten
  without its deleted documents (counted in the budget); below that, deleted
  documents stay marked (as in Lucene and tantivy) until a merge rewrites the
  segment. A segment bigger than the budget is purged only at
  `BIG_PURGE_SHARE`, in one long run. Segments merged behind the first one are
  purged anyway (they are rewritten).

``optimize`` (``newssearch index --optimize``) merges everything into one
segment without deleted documents, whatever it costs; operators schedule it
(e.g. weekly), since full segments add up over months.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

FACTOR = 4  # segments in a tier before they merge; sizes within this factor share a tier
FOLD = 8  # segments smaller than S merge into S once they hold 1/FOLD of its documents
SMALLER = 2  # ... where "smaller" means less than 1/SMALLER of S
FOLD_MIN = 24  # ... and only once they hold this many articles (three runs' worth)
MAX_SEGMENTS = 4  # segments below FULL
FULL = 3_000  # live documents: a segment this big is not merged into
MERGE_MAX = 3_500  # live documents one commit may write in merges (~1 ms of CPU each): the rest waits
PURGE_SHARE = 0.1  # deleted share that has a segment rewritten alone (within MERGE_MAX) ...
BIG_PURGE_SHARE = 0.2  # ... and a bigger one (a rare long run, as in Lucene)
FLOOR = 8  # sizes below this count as this for tiers (one run's worth)
BIG_FOLD = 300  # live articles below FULL that are folded into the biggest segment (if FULL or more) at once
BIG_COPY = 0.07  # a fold into a kept FULL segment costs this per article of it (copied in bulk) ...
BIG_RATE = 3  # ... and this per article folded (its terms' postings appended to the big one's), in articles written


@dataclass(eq=False)  # groups are compared by identity
class Group:
    """Segments that end up as one segment: merged unless it is a single segment with nothing to purge."""

    segments: list = field(default_factory=list)

    @property
    def live(self) -> int:
        return sum(s.doc_count() for s in self.segments)

    def tier(self) -> int:
        return int(math.log(max(self.live, FLOOR) / FLOOR, FACTOR))

    def purged(self, optimize: bool) -> list[bool]:
        """Per segment, whether the merge drops its deleted documents (the first keeps its numbers if it can)."""
        first = self.segments[0]
        deleted = first.deleted_count() / max(first.doc_count_all(), 1)
        share = PURGE_SHARE if first.doc_count_all() <= MERGE_MAX else BIG_PURGE_SHARE
        return [optimize or deleted >= share] + [True] * (len(self.segments) - 1)

    def cost(self) -> int:
        """Articles' worth of CPU a merge of the group costs: its live articles, or, when its first segment
        is FULL or more and kept (copied in bulk, `indexer.codec.segment_merge`), a share of that one's and
        BIG_RATE for each other article."""
        if not self.keeps_full(False):
            return self.live
        first = self.segments[0].doc_count()
        return int(first * BIG_COPY) + BIG_RATE * (self.live - first)

    def keeps_full(self, optimize: bool) -> bool:
        """Whether the first segment is FULL or more and kept (copied in bulk): a big fold, when others follow."""
        return self.segments[0].doc_count() >= FULL and not self.purged(optimize)[0]

    def needs_writing(self, optimize: bool) -> bool:
        return len(self.segments) > 1 or (self.segments[0].has_deletions() and self.purged(optimize)[0])


def _join(groups: list[Group]) -> Group:
    """One group of `groups`, its largest segment first (the one whose postings are copied unchanged)."""
    segs = sorted((s for g in groups for s in g.segments), key=lambda s: -s.doc_count())
    return Group(segs)


def _written(groups: list[Group]) -> int:
    """What a commit of `groups` costs, in articles written (~1 ms of CPU each): a merge writes its live
    articles, a fold into a big kept segment costs less (`Group.cost`)."""
    return sum(g.cost() for g in groups if g.needs_writing(False))


def _one_step(groups: list[Group]) -> list[Group] | None:
    """The first rule's step (big fold, tiers, fold, cap) that keeps the plan within MERGE_MAX; None when there
    is none."""
    full = sorted((g for g in groups if g.live >= FULL), key=lambda g: -g.live)
    small = sorted((g for g in groups if g.live < FULL), key=lambda g: -g.live)
    if full and sum(g.live for g in small) >= BIG_FOLD:  # the smallest first, as many as the budget takes
        for n in range(len(small), 0, -1):
            step = [_join([full[0], *small[-n:]]), *full[1:], *small[:-n]]
            if _written(step) <= MERGE_MAX:
                return step
    for step in _steps(small):
        if _written(full + step) <= MERGE_MAX:
            return full + step
    return None


def _steps(groups: list[Group]) -> Iterator[list[Group]]:
    """Each merge the rules propose for `groups` (largest first), in the order the rules are tried."""
    tiers: dict[int, list[Group]] = {}
    for g in groups:
        tiers.setdefault(g.tier(), []).append(g)
    for members in tiers.values():
        if len(members) >= FACTOR:
            yield [g for g in groups if g not in members] + [_join(members)]
    for i in range(len(groups) - 1, -1, -1):  # smallest S first: the cheapest fold
        smaller = [g for g in groups[i + 1 :] if g.live * SMALLER < groups[i].live]
        held = sum(g.live for g in smaller)
        if smaller and held * FOLD >= groups[i].live and held >= FOLD_MIN:
            yield [g for g in groups if g is not groups[i] and g not in smaller] + [_join([groups[i], *smaller])]
    if len(groups) > MAX_SEGMENTS:
        keep = MAX_SEGMENTS - 1
        yield groups[:keep] + [_join(groups[keep:])]


def plan(segments: list, optimize: bool = False) -> list[Group]:
    """The segments after this commit, as groups of the current ones (empty segments dropped)."""
    groups = [Group([s]) for s in segments if s.doc_count()]
    if optimize:
        return [_join(groups)] if groups else []
    while (step := _one_step(groups)) is not None:
        groups = step
    return groups
