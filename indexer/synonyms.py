"""Operator-editable synonyms and stopwords, applied to parsed queries.

``data/synonyms.txt`` holds one group per line, members separated by spaces
(``国土资源局 自然资源局``); ``data/stopwords.txt`` one word per line. Both may be
written in either script: entries are normalized like the index, so a group
works in both directions and both scripts. ``#`` starts a comment line. The
files are read at query time (re-read when they change), so no rebuild is
needed after editing them.

Synonyms: every unquoted atom that contains a group member gets OR-alternatives
with the member replaced by the others (a clause's atoms are alternatives).
Stopwords: dropped from unquoted atoms and clauses, but only while other words
remain. Quoted phrases are never touched, and snippets still show the article
as written.
"""

from __future__ import annotations

import itertools
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .config import Config
from .errors import ConfigError
from .normalize import normalize
from .query import Atom, Clause, Parsed, words_of

MAX_VARIANTS = 8  # alternatives per atom, the original included


@dataclass(frozen=True)
class Thesaurus:
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # member -> the whole group
    stopwords: frozenset[str] = frozenset()

    def variants(self, text: str) -> list[str]:
        """`text` (normalized) with each synonym occurrence replaced by each member of its group.

        Occurrences are found left to right, longest member first, without overlap.
        The original comes first; at most MAX_VARIANTS texts.
        """
        if not self.groups:
            return [text]
        longest = max(map(len, self.groups))
        spans: list[tuple[int, int, tuple[str, ...]]] = []
        i = 0
        while i < len(text):
            for size in range(min(longest, len(text) - i), 0, -1):
                group = self.groups.get(text[i : i + size])
                if group:
                    spans.append((i, i + size, group))
                    i += size
                    break
            else:
                i += 1
        out = [text]
        for choice in itertools.product(*(g for _, _, g in spans)):
            parts, pos = [], 0
            for (s, e, _g), member in zip(spans, choice, strict=True):
                parts += [text[pos:s], member]
                pos = e
            variant = "".join(parts) + text[pos:]
            if len(out) == MAX_VARIANTS:
                break
            if variant not in out:
                out.append(variant)
        return out

    def drop_stopwords(self, text: str) -> str:
        """Unquoted atom text with its stopwords blanked out, unless nothing else would remain."""
        words = words_of(text)
        keep = [w for w in words if w not in self.stopwords]
        if not keep or len(keep) == len(words):
            return text
        out, pos = list(text), 0
        for w in words:
            start = text.find(w, pos)
            if start < 0:
                return text
            if w in self.stopwords:
                out[start : start + len(w)] = " " * len(w)
            pos = start + len(w)
        return "".join(out)

    def apply(self, parsed: Parsed) -> Parsed:
        """The query with stopwords dropped and synonym alternatives added."""
        clauses = [c for c in parsed.clauses if c.negated or not self._only_stopwords(c)]
        if not any(not c.negated for c in clauses):
            clauses = parsed.clauses
        out: list[Clause] = []
        for c in clauses:
            atoms: list[Atom] = []
            for a in c.atoms:
                if a.phrase:
                    atoms.append(a)
                    continue
                text = a.text if c.negated else self.drop_stopwords(a.text)
                atoms += [Atom(v, False, a.fields) for v in self.variants(text)]
            out.append(Clause(atoms, c.negated))
        return Parsed(out, parsed.also)

    def _only_stopwords(self, clause: Clause) -> bool:
        return all(not a.phrase and set(words_of(a.text)) <= self.stopwords for a in clause.atoms)


_cache: dict[tuple, Thesaurus] = {}


_read: dict[tuple, list[str]] = {}  # (path, mtime, size) -> its lines: a search stats the files, reads them once


def read_lines(path: Path | None) -> tuple[list[str], tuple]:
    """Non-comment lines of a UTF-8 file and a key that changes when the file does."""
    try:
        st = path.stat() if path is not None else None
    except OSError:
        st = None
    if st is None or not stat.S_ISREG(st.st_mode):
        return [], (str(path), None)
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _read:
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        lines = [ln.strip() for ln in text.splitlines()]
        if len(_read) > 16:
            _read.clear()
        _read[key] = [ln for ln in lines if ln and not ln.startswith("#")]
    return _read[key], key


def for_config(config: Config) -> Thesaurus:
    """The thesaurus of `config`'s synonym and stopword files (cached until a file changes)."""
    syn_lines, syn_key = read_lines(config.synonyms)
    stop_lines, stop_key = read_lines(config.stopwords)
    key = (syn_key, stop_key)
    if key not in _cache:
        groups: dict[str, tuple[str, ...]] = {}
        for line in syn_lines:
            members = tuple(dict.fromkeys(normalize(w) for w in line.split()))
            if len(members) > 1:
                for m in members:
                    groups[m] = tuple(dict.fromkeys(groups.get(m, ()) + members))
        stops = frozenset(normalize(w) for line in stop_lines for w in line.split())
        if len(_cache) > 16:
            _cache.clear()
        _cache[key] = Thesaurus(groups, stops)
    return _cache[key]
