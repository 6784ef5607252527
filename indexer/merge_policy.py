"""The merge policy: which segments a commit rewrites as one, so a season of small runs stays compact.

Every index run adds its articles as new segments, and an update or removal
only marks the old document deleted. Left alone, a year of cron runs leaves
thousands of small segments (each repeating the terms the others have) and
deleted documents that are read and skipped by every query. At each commit
the policy looks at the live document count of every segment (new ones
included) and plans merges on those sizes:

* **Tiers.** Segments of similar size (within a factor of `FACTOR`) sit in one
  tier; when a tier holds `FACTOR` segments they become one segment of the
  next tier: four runs of 8 articles make one of 32, four of those one of 128,
  and so on, so an article is rewritten about once per tier, never per run.
* **Fold.** When the segments smaller than 1/`SMALLER` of some segment S add
  up to 1/`FOLD` of it, they are merged into S. S goes first in the merge and
  keeps its document numbers, so its postings are copied byte for byte
  (`indexer.codec.segment_merge`): the index stays a few large segments plus a short
  geometric tail, like a fresh build's, and a run rewrites a big segment only
  when an eighth of it has accumulated below it.
* **Cap.** More than `MAX_SEGMENTS` segments: the smallest are merged until
  the count fits (cheap: they are small).
* **Full.** A segment of `FULL` live documents or more is left out of the
  rules above: a merge costs ~1 ms of CPU per document it writes, and a cron
  run should stay within seconds. It is only rewritten alone to purge its
  deleted documents, or by ``--optimize`` (which operators can schedule,
  e.g. weekly, since full segments add up over months).
* **Purge.** A segment whose deleted share reaches `PURGE_SHARE` is rewritten
  without its deleted documents; below that, deleted documents stay marked
  (as in Lucene and tantivy) until a merge rewrites the segment. Segments
  merged behind the first one are purged anyway (they are rewritten).

``optimize`` (``newssearch index --optimize``) merges everything into one
segment without deleted documents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

FACTOR = 4  # segments in a tier before they merge; sizes within this factor share a tier
FOLD = 8  # segments smaller than S merge into S once they hold 1/FOLD of its documents
SMALLER = 2  # ... where "smaller" means less than 1/SMALLER of S
MAX_SEGMENTS = 8  # segments below FULL
FULL = 6_000  # live documents: a segment this big is not merged into (a merge costs ~1 ms of CPU per article)
PURGE_SHARE = 0.2
FLOOR = 8  # sizes below this count as this for tiers (one run's worth)


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
        return [optimize or deleted >= PURGE_SHARE] + [True] * (len(self.segments) - 1)

    def needs_writing(self, optimize: bool) -> bool:
        return len(self.segments) > 1 or (self.segments[0].has_deletions() and self.purged(optimize)[0])


def _join(groups: list[Group]) -> Group:
    """One group of `groups`, its largest segment first (the one whose postings are copied unchanged)."""
    segs = sorted((s for g in groups for s in g.segments), key=lambda s: -s.doc_count())
    return Group(segs)


def _one_step(groups: list[Group]) -> list[Group] | None:
    """Apply the first rule that fires (tiers, fold, cap) to the segments below FULL; None when none does."""
    full = [g for g in groups if g.live >= FULL]
    step = _one_step_below_full(sorted((g for g in groups if g.live < FULL), key=lambda g: -g.live))
    return None if step is None else full + step


def _one_step_below_full(groups: list[Group]) -> list[Group] | None:
    tiers: dict[int, list[Group]] = {}
    for g in groups:
        tiers.setdefault(g.tier(), []).append(g)
    for members in tiers.values():
        if len(members) >= FACTOR:
            return [g for g in groups if g not in members] + [_join(members)]
    for i in range(len(groups) - 1, -1, -1):  # smallest S first: the cheapest fold
        smaller = [g for g in groups[i + 1 :] if g.live * SMALLER < groups[i].live]
        if smaller and sum(g.live for g in smaller) * FOLD >= groups[i].live:
            return [g for g in groups if g is not groups[i] and g not in smaller] + [_join([groups[i], *smaller])]
    if len(groups) > MAX_SEGMENTS:
        keep = MAX_SEGMENTS - 1
        return groups[:keep] + [_join(groups[keep:])]
    return None


def plan(segments: list, optimize: bool = False) -> list[Group]:
    """The segments after this commit, as groups of the current ones (empty segments dropped)."""
    groups = [Group([s]) for s in segments if s.doc_count()]
    if optimize:
        return [_join(groups)] if groups else []
    while (step := _one_step(groups)) is not None:
        groups = step
    return groups
