"""Where things live: the index directory and the operator-editable data files.

The data files (user dictionary, synonyms, stopwords) ship with the package: the wheel
carries the repository's ``data/*.txt`` as ``indexer/defaults``. An operator overrides one
by putting a file of the same name in the folder that holds the index (``data/`` for the
default ``data/index``), or by naming it in the environment. Resolution depends on the index's
location, never on the working directory, so cron, the web server and the tests all read the
same files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_INDEX = Path("data/index")
# file name -> environment variable that names another file
DATA_FILES = {
    "userdict.txt": "NEWSSEARCH_USERDICT",
    "synonyms.txt": "NEWSSEARCH_SYNONYMS",
    "stopwords.txt": "NEWSSEARCH_STOPWORDS",
    "false_friends.txt": "NEWSSEARCH_FALSE_FRIENDS",
}


def packaged(name: str) -> Path:
    """The default `name` shipped in the package.

    Found beside this module rather than through importlib.resources, whose import costs ~10 ms
    of every command (the package is always installed as files: a wheel, or a checkout).
    """
    here = Path(__file__).resolve().parent
    shipped = here / "defaults"  # the wheel's copy of the repository's data/ (the package indexer.defaults)
    return (shipped if shipped.is_dir() else here.parent / "data") / name  # else a checkout: still in its data/


def data_file(name: str, index: Path, explicit: str | os.PathLike | None = None) -> Path:
    """The `name` file in force: explicit, then environment, then beside the index, then the package's."""
    chosen = explicit or os.environ.get(DATA_FILES[name])
    if chosen:
        return Path(chosen)
    beside = index.parent / name
    return beside if beside.is_file() else packaged(name)


@dataclass(frozen=True)
class Config:
    index: Path
    userdict: Path | None
    synonyms: Path | None = None  # read at query time: no rebuild after editing
    stopwords: Path | None = None
    false_friends: Path | None = None  # regional words never expanded (indexer.regional)

    @classmethod
    def load(cls, index: str | os.PathLike | None = None, userdict: str | os.PathLike | None = None) -> Config:
        """Resolve settings: explicit argument, then environment, then the defaults (see the module doc)."""
        ix = Path(index or os.environ.get("NEWSSEARCH_INDEX") or DEFAULT_INDEX)
        return cls(
            index=ix,
            userdict=data_file("userdict.txt", ix, userdict),
            synonyms=data_file("synonyms.txt", ix),
            stopwords=data_file("stopwords.txt", ix),
            false_friends=data_file("false_friends.txt", ix),
        )

    def data_files(self) -> dict[str, str | None]:
        """Which data files are in force (for ``newssearch stats``); a missing file counts as empty."""
        files = {"userdict": self.userdict, "synonyms": self.synonyms, "stopwords": self.stopwords,
                 "false_friends": self.false_friends}
        return {k: str(p.resolve()) if p is not None and p.is_file() else None for k, p in files.items()}
