"""Where things live: the index directory and the operator-editable data files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_INDEX = Path("data/index")
DEFAULT_USERDICT = Path("data/userdict.txt")
DEFAULT_SYNONYMS = Path("data/synonyms.txt")
DEFAULT_STOPWORDS = Path("data/stopwords.txt")
DEFAULT_FALSE_FRIENDS = Path("data/false_friends.txt")


@dataclass(frozen=True)
class Config:
    index: Path
    userdict: Path | None
    synonyms: Path | None = DEFAULT_SYNONYMS  # read at query time: no rebuild after editing
    stopwords: Path | None = DEFAULT_STOPWORDS
    false_friends: Path | None = DEFAULT_FALSE_FRIENDS  # regional words never expanded (indexer.regional)

    @classmethod
    def load(cls, index: str | os.PathLike | None = None, userdict: str | os.PathLike | None = None) -> Config:
        """Resolve settings: explicit argument, then environment, then the default under data/."""
        ix = index or os.environ.get("NEWSSEARCH_INDEX") or DEFAULT_INDEX
        ud = userdict or os.environ.get("NEWSSEARCH_USERDICT") or DEFAULT_USERDICT
        syn = os.environ.get("NEWSSEARCH_SYNONYMS") or DEFAULT_SYNONYMS
        stop = os.environ.get("NEWSSEARCH_STOPWORDS") or DEFAULT_STOPWORDS
        ff = os.environ.get("NEWSSEARCH_FALSE_FRIENDS") or DEFAULT_FALSE_FRIENDS
        return cls(index=Path(ix), userdict=Path(ud), synonyms=Path(syn), stopwords=Path(stop), false_friends=Path(ff))
