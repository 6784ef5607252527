"""Word segmentation: jieba's dictionary and rules, run by rjieba (jieba-rs).

On Chinese text rjieba gives the same tokens as jieba 0.42.1, at a fraction of the
cost, and loads its dictionary in ~0.1 s. tests/test_segment.py pins down where they
differ on the shared corpus: Latin/digit runs joined by ``-``, ``.`` or ``_`` (rjieba
keeps ``covid-19`` whole; the analyzer splits such runs into their parts anyway) and
three articles with rare characters or a near-tie in the unknown-word model.
The user dictionary (jieba format: ``word [freq] [tag]`` per line) is applied to
the normalized (Simplified) form of each word, so it may be written in either
script.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .errors import ConfigError
from .normalize import normalize

_loaded: dict[str, str] = {}
_pending: list[list[tuple[str, int | None, str | None]]] = []  # user words not yet given to rjieba
_engine = None


def _jieba():
    """rjieba, with every user dictionary loaded so far applied (its import costs ~0.2 s: only when needed)."""
    global _engine
    if _engine is None:
        import rjieba

        _engine = rjieba
    while _pending:
        for word, freq, tag in _pending.pop(0):
            _engine.add_word(word, freq, tag)
    return _engine


def load_userdict(path: Path | None) -> str:
    """Queue the words of a jieba-format user dictionary for the segmenter; return its content hash.

    Loading the same file twice is a no-op. A missing file hashes as empty. The
    words reach rjieba before its first segmentation, so a query that needs
    none (two characters, a phrase) never loads the segmenter.
    """
    if path is None or not path.is_file():
        return "none"
    key = str(path.resolve())
    if key in _loaded:
        return _loaded[key]
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read user dictionary {path}: {exc}") from exc
    words = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        words.append((normalize(parts[0]), freq, parts[2] if len(parts) > 2 else None))
    _pending.append(words)
    digest = hashlib.sha256(raw).hexdigest()[:12]
    _loaded[key] = digest
    return digest


def dictionaries() -> int:
    """How many user dictionaries have been loaded: segmentation may change when this does (caches key on it)."""
    return len(_loaded)


def tokenize(text: str, search: bool = False) -> list[tuple[str, int, int]]:
    """Segment normalized text into (word, start, end) tuples.

    With ``search=True`` the output is jieba's search mode: sub-words of long
    words come right before the word that contains them.
    """
    return _jieba().tokenize(text, mode="search" if search else "default")


def cut(text: str) -> list[str]:
    """Segment normalized text into words (jieba's default mode)."""
    return _jieba().cut(text)


def tag(text: str) -> list[tuple[str, str]]:
    """Segment normalized text into (word, part-of-speech tag) pairs (jieba's tag set)."""
    return _jieba().tag(text)


def engine_version() -> str:
    """Identify the segmenter build, for the analyzer version.

    Read from the installed dist-info folder's name when there is one: importing
    importlib.metadata and scanning every distribution costs ~0.1 s of a cold query.
    """
    import importlib.util

    spec = importlib.util.find_spec("rjieba")
    if spec is not None and spec.origin:
        found = sorted(Path(spec.origin).parent.parent.glob("rjieba-*.dist-info"))
        if len(found) == 1:
            return f"rjieba-{found[0].name[len('rjieba-'):-len('.dist-info')]}"
    from importlib.metadata import version

    return f"rjieba-{version('rjieba')}"
