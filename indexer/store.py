"""The index directory: generations of a Whoosh index behind one atomic pointer.

``state.json`` names the live generation (a Whoosh index name inside the same
directory), the analyzer version it was built with, the remembered source
folders and the last run. It is replaced atomically, so a reader sees either
the old generation or the new one. ``--rebuild`` writes a new generation beside
the live one and swaps the pointer when it is complete.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any, TypedDict

from whoosh import index as windex
from whoosh.index import FileIndex
from whoosh.reading import CorruptIndexError

from .analysis import ANALYZER_VERSION
from .config import Config
from .errors import IndexCorrupt, IndexNotFound
from .segmenter import engine_version, load_userdict

STATE = "state.json"


class State(TypedDict, total=False):
    """state.json: the file a run rewrites atomically to make its work live (empty before the first run)."""

    generation: str  # the live generation's name: g1, g2, …
    analyzer: str  # indexer.store.analyzer_version when the generation was built
    roots: list[str]  # the folders a bare `newssearch index` scans again
    userdict: str | None  # the user dictionary the index was built with
    last_run: dict[str, Any]  # the last run's summary (writer.RunSummary.as_dict) and when it finished
    last_change_started: int  # unix time the last run that added or changed articles started ("new")


# What Whoosh raises when it reads a truncated or overwritten file; no query or article causes these.
DAMAGE = (EOFError, struct.error, zlib.error, UnicodeDecodeError, pickle.UnpicklingError, CorruptIndexError)


def userdict_for(config: Config, state: State) -> Path | None:
    """The user dictionary to segment with: the configured one, else the one the index was built with.

    Queries must be segmented with the index's dictionary even when run from another
    working directory (cron, a web server), so the index records its path.
    """
    if config.userdict is not None and config.userdict.is_file():
        return config.userdict.resolve()
    recorded = state.get("userdict")
    return Path(recorded) if recorded and Path(recorded).is_file() else None


def analyzer_version(config: Config, state: State) -> str:
    """Everything that changes tokens: our pipeline, the segmenter, the user dictionary.

    Loads that dictionary into the segmenter as a side effect.
    """
    return f"{ANALYZER_VERSION}/{engine_version()}/dict-{load_userdict(userdict_for(config, state))}"


def write_atomic(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all (a temporary file beside it, synced, then renamed over it)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    # json.dumps without indent runs the C encoder; json.dump streams through the pure-Python one
    write_atomic(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())


class IndexDir:
    def __init__(self, path: Path) -> None:
        self.path = path

    def state(self) -> State:
        """The current state; an empty dict when there is no index yet."""
        try:
            return json.loads((self.path / STATE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"cannot read {self.path / STATE}: {exc}") from exc

    def save_state(self, state: State) -> None:
        write_json_atomic(self.path / STATE, state)

    def open(self) -> tuple[FileIndex, State]:
        """Open the live generation for reading.

        A rebuild swaps state.json, then deletes the old generation: if that
        happens while we open the old one, we open the new one instead.
        """
        state = self.state()
        gen = state.get("generation")
        if not gen:
            raise IndexNotFound(f"no newssearch index at {self.path}")
        try:
            ix = windex.open_dir(str(self.path), indexname=gen)
            ix.reader().close()  # opening every segment finds a truncated or overwritten one here
            return ix, state
        except Exception as exc:  # Whoosh raises many kinds on damaged files
            if self.state().get("generation") != gen:
                return self.open()
            raise IndexCorrupt(f"cannot open index {self.path} ({gen}): {exc}") from exc

    def manifest(self, gen: str) -> dict[str, str]:
        """File signatures seen by the last run of `gen` (a cache: losing it costs a re-read)."""
        try:
            return json.loads((self.path / f"{gen}.files.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def save_manifest(self, gen: str, files: dict[str, str]) -> None:
        write_json_atomic(self.path / f"{gen}.files.json", files)

    def remove_generation(self, gen: str) -> None:
        """Delete every file of a generation that is no longer live."""
        for p in self.path.iterdir():
            if p.name.startswith((f"_{gen}_", f"{gen}_", f"{gen}.")):
                p.unlink(missing_ok=True)

    def generations(self) -> set[str]:
        return {p.name.split("_")[1] for p in self.path.glob("_g*_*.toc")}

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())
