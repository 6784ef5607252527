"""Regional wording across the strait: 出租车 also finds Taiwan's 計程車, and the other way round.

Per-character script conversion (indexer.normalize) makes 計程車 and 计程车 one
term, but cannot know that mainland text says 出租车 for it. OpenCC's phrase
dictionary for Taiwan (``TWPhrases``: mainland phrase → Taiwan phrase) does. It is
read from the installed ``opencc`` package's data files at first use: the
package ships it compiled (``.ocd2``), which its own ``opencc_dict`` tool turns
back into text (a few milliseconds).

At query time an unquoted term holding a mainland phrase gets an alternative
with the Taiwan phrase, sought only in Traditional articles; a Taiwan phrase gets
the mainland one, sought only in Simplified articles (the article's script is
the ``script`` column, see `script_of`). So a Taiwan word that means something
else on the mainland never pulls in mainland articles. Words listed in the
operator-editable false-friends file (``data/false_friends.txt``: one word per
line, either script) are never expanded: 公车 is a bus in Taiwan and an official
car on the mainland. Quoted phrases are never expanded.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

from . import segmenter
from .config import Config
from .normalize import is_han, normalize
from .query import Atom, Clause, Parsed, pieces
from .synonyms import MAX_VARIANTS, read_lines

HANS, HANT = "hans", "hant"
SCRIPT_SAMPLE = 400  # characters of an old index's stored body that decide its script (title + the start)
DICTIONARIES = ("TWPhrases",)


def script_of(text: str) -> str:
    """"hant" when `text` is written in Traditional characters, else "hans".

    Traditional: at least two characters, and 1 % of the Han characters, that
    per-character conversion changes (a mainland article quoting 臺灣 once stays
    Simplified).
    """
    han = changed = 0
    for a, b in zip(text, normalize(text), strict=True):
        if is_han(a):
            han += 1
            changed += a != b
    return HANT if changed >= max(2, han / 100) else HANS


def _share_dir() -> Path | None:
    import opencc

    share = Path(opencc.__file__).parent / "clib" / "share" / "opencc"
    return share if share.is_dir() else None


def _dictionary_lines(name: str) -> list[str]:
    """The lines of one OpenCC dictionary of the installed package ("key<TAB>value value…"); [] if absent."""
    share = _share_dir()
    if share is None:
        return []
    text_file = share / f"{name}.txt"
    if text_file.is_file():
        return text_file.read_text(encoding="utf-8").splitlines()
    tool = share.parent.parent / "bin" / "opencc_dict"
    compiled = share / f"{name}.ocd2"
    if not (tool.is_file() and os.access(tool, os.X_OK) and compiled.is_file()):
        return []
    with tempfile.TemporaryDirectory(prefix="newssearch-opencc-") as tmp:
        out = Path(tmp) / f"{name}.txt"
        try:
            subprocess.run([str(tool), "-i", str(compiled), "-o", str(out), "-f", "ocd2", "-t", "text"],
                           check=True, capture_output=True, timeout=30)
            return out.read_text(encoding="utf-8").splitlines()
        except (OSError, subprocess.SubprocessError, UnicodeDecodeError):
            return []


@lru_cache(maxsize=1)
def phrase_pairs() -> tuple[tuple[str, str, str, str], ...]:
    """(mainland normalized, mainland as written, Taiwan normalized, Taiwan as written) for every phrase pair."""
    out: dict[tuple[str, str], tuple[str, str, str, str]] = {}
    for name in DICTIONARIES:
        for line in _dictionary_lines(name):
            key, _, values = line.partition("\t")
            mainland = normalize(key.strip())  # keys are OpenCC Traditional: shown in Simplified
            for v in values.split():
                taiwan = normalize(v)
                if len(mainland) >= 2 and len(taiwan) >= 2 and taiwan != mainland:
                    out.setdefault((mainland, taiwan), (mainland, mainland, taiwan, v))
    return tuple(out.values())


@dataclass(frozen=True)
class Regional:
    """Which term finds which counterpart in which script."""

    # normalized term -> (normalized counterpart, as written, script to seek it in)
    counterparts: dict[str, tuple[tuple[str, str, str], ...]] = field(default_factory=dict)

    def apply(self, parsed: Parsed) -> Parsed:
        """The query with regional alternatives added to its unquoted atoms; `also` says what they are."""
        if not self.counterparts:
            return parsed
        also: list[str] = []
        clauses: list[Clause] = []
        for c in parsed.clauses:
            atoms = list(c.atoms)
            for a in c.atoms:
                if a.phrase or a.script:
                    continue
                for variant, shown, script in self.variants(a.text):
                    if len(atoms) >= MAX_VARIANTS * len(c.atoms):
                        break
                    atoms.append(Atom(variant, False, a.fields, script))
                    if not c.negated and shown not in also:
                        also.append(shown)
            clauses.append(Clause(atoms, c.negated))
        return Parsed(clauses, [*parsed.also, *also])

    @cached_property
    def longest(self) -> int:
        """The length of the longest regional term (found once: the table has thousands)."""
        return max(map(len, self.counterparts))

    def variants(self, text: str) -> list[tuple[str, str, str]]:
        """(text with one regional term replaced, the counterpart as written, its script) for each term in `text`.

        Terms are matched longest first at jieba word boundaries (信息 is not sought inside 通信息息相关).
        """
        longest = self.longest
        if not any(text[i : i + size] in self.counterparts
                   for i in range(len(text)) for size in range(2, min(longest, len(text) - i) + 1)):
            return []  # the usual case: no segmenting needed (a cold query does not load jieba for this)
        bounds = _word_bounds(text)
        out: list[tuple[str, str, str]] = []
        i = 0
        while i < len(text):
            for size in range(min(longest, len(text) - i), 1, -1):
                found = self.counterparts.get(text[i : i + size]) if i in bounds and i + size in bounds else None
                if found:
                    out += [(text[:i] + other + text[i + size :], shown, script) for other, shown, script in found]
                    i += size
                    break
            else:
                i += 1
        return out


def _word_bounds(text: str) -> set[int]:
    """Offsets in normalized `text` where a jieba word starts or ends."""
    bounds = {0, len(text)}
    for m in pieces(text):
        pos = m.start()
        bounds.add(pos)
        for w in segmenter.cut(m.group()) if is_han(m.group()[0]) else [m.group()]:
            pos += len(w)
            bounds.add(pos)
    return bounds


def fill_scripts(table, searcher, docs) -> None:
    """Give the articles of mask `docs` in `table` (an indexer.codec.arrays.DocTable) a script, for indexes from
    before the ``script`` column: derived from the stored text, once per open index and article."""

    def derive(d: int) -> str:
        stored = searcher.stored_fields(d)
        return script_of(f"{stored.get('title') or ''}\n{(stored.get('body') or '')[:SCRIPT_SAMPLE]}")

    table.fill_column("script", derive, docs)


_cache: dict[tuple, Regional] = {}


def for_config(config: Config) -> Regional:
    """The regional counterparts, less the false friends of `config` (cached until that file changes)."""
    lines, key = read_lines(config.false_friends)
    if key not in _cache:
        never = {normalize(w) for line in lines for w in line.split()}
        table: dict[str, list[tuple[str, str, str]]] = {}
        for mainland, m_shown, taiwan, t_shown in phrase_pairs():
            if mainland in never or taiwan in never:
                continue
            table.setdefault(mainland, []).append((taiwan, t_shown, HANT))
            table.setdefault(taiwan, []).append((mainland, m_shown, HANS))
        if len(_cache) > 16:
            _cache.clear()
        _cache[key] = Regional({k: tuple(dict.fromkeys(v)) for k, v in table.items()})
    return _cache[key]
