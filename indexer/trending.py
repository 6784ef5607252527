"""热点词: the keywords whose share of articles rose most in the newest days of the index.

No query log is kept, so what is "hot" comes from the news itself: each article's
keywords (the ones a hit shows: its stored candidates weighed by this index's IDF,
`indexer.keywords`; all twenty candidates let one notice's 資格/身分 outrank the news). The newest `RECENT_DAYS`
of the index (up to its latest article date, not today: an index of old news still
has a latest month) are compared with the `BASELINE_DAYS` before them. A term
ranks by how far its share of recent articles stands above its baseline share, in
standard errors (a two-proportion z-score), so a word in three articles that was
never seen before does not outrank one in forty that used to be in five.

The baseline counts only the publishing units that also published in the recent
window: when one feed stops (a unit that no longer posts, a scraper that ended),
every other unit's everyday words would otherwise look as if they had risen.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

RECENT_DAYS = 30
BASELINE_DAYS = 180
MIN_ARTICLES = 3  # a term must be in at least this many recent articles


@dataclass
class Trend:
    term: str  # as most often written in the recent articles
    articles: int  # recent articles with the term among their keywords
    baseline: int  # baseline articles with it
    share: float  # articles / recent articles
    baseline_share: float
    score: float  # the z-score it ranks by


@dataclass
class Trending:
    since: str | None  # the recent window, inclusive ("" when the index has no dated article)
    until: str | None
    baseline_since: str | None
    baseline_until: str | None
    articles: int  # articles in the recent window
    baseline_articles: int  # articles in the baseline, from the units that published recently
    terms: list[Trend] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def windows(last: str) -> tuple[str, str, str]:
    """(recent since, baseline since, baseline until) for an index whose newest article is dated `last`."""
    end = dt.date.fromisoformat(last)
    since = end - dt.timedelta(days=RECENT_DAYS - 1)
    return since.isoformat(), (since - dt.timedelta(days=BASELINE_DAYS)).isoformat(), \
        (since - dt.timedelta(days=1)).isoformat()


def _z(a: int, n_a: int, b: int, n_b: int) -> float:
    """How many standard errors the share a/n_a stands above b/n_b (pooled two-proportion test)."""
    pooled = (a + b) / (n_a + n_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b)) or 1.0
    return (a / n_a - b / n_b) / spread


def trending(
    docs: np.ndarray,
    dates: np.ndarray,
    sources: np.ndarray,
    keywords: Callable[[int], Iterable[tuple[str, str]]],
    n: int = 20,
) -> Trending:
    """The `n` rising terms among `docs` (with their `dates` and `sources`, "" for none).

    `keywords(doc)` gives a document's (normalized, as written) keyword candidates.
    """
    dated = dates != ""
    if not dated.any():
        return Trending(None, None, None, None, 0, 0)
    last = str(np.sort(dates[dated])[-1])  # numpy has no max() of strings
    since, base_since, base_until = windows(last)
    recent = dated & (dates >= since)
    units = np.unique(sources[recent])
    base = dated & (dates >= base_since) & (dates <= base_until) & np.isin(sources, units)
    out = Trending(since, last, base_since, base_until, int(recent.sum()), int(base.sum()))
    if not out.articles or not out.baseline_articles:
        return out
    in_recent: Counter[str] = Counter()
    in_base: Counter[str] = Counter()
    written: dict[str, Counter[str]] = {}
    for counter, mask in ((in_recent, recent), (in_base, base)):
        for d in docs[mask]:
            words = dict(keywords(int(d)))  # one count per article
            counter.update(words.keys())
            if counter is in_recent:
                for word, as_written in words.items():
                    written.setdefault(word, Counter())[as_written] += 1
    trends = []
    for word, a in in_recent.items():
        b = in_base[word]
        if a < MIN_ARTICLES or a / out.articles <= b / out.baseline_articles:
            continue
        score = _z(a, out.articles, b, out.baseline_articles)
        trends.append(Trend(written[word].most_common(1)[0][0], a, b, round(a / out.articles, 4),
                            round(b / out.baseline_articles, 4), round(score, 2)))
    trends.sort(key=lambda t: (-t.score, t.term))
    out.terms = trends[:n]
    return out
