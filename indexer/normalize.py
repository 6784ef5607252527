"""Text normalization shared by indexing, querying and highlighting.

Every character maps to exactly one character, so an offset into the normalized
text is the same offset into the original: snippets highlight the article as
written. The map is NFKC (full-width letters and digits), lowercase, then
Traditional → Simplified one character at a time. Converting per character
(rather than with OpenCC's phrase tables) keeps the conversion independent of
context, so a span copied from an article normalizes the same way inside and
outside that article.
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import re
import sys
import unicodedata
from functools import lru_cache
from pathlib import Path

_BMP = 0x10000
# Lone surrogates (a JSON "\ud800" escape, undecodable bytes in argv) cannot be encoded for jieba, OpenCC or Whoosh.
_SURROGATES = dict.fromkeys(range(0xD800, 0xE000), "\ufffd")
_TABLE_FORMAT = 2  # bump when _build_table changes what it computes


@lru_cache(maxsize=1)
def _table() -> dict[int, str]:
    """The translation table, from the user cache when it was built by the same OpenCC and Unicode data.

    Building it costs ~65 ms (every BMP character through NFKC and OpenCC), a
    large share of a cold ``newssearch query``; loading the cached copy ~1 ms.
    """
    path = _cache_path()
    if path is not None:
        try:
            table = marshal.loads(path.read_bytes())
            if isinstance(table, dict):
                return table
        except (OSError, ValueError, EOFError, TypeError):
            pass
    table = _build_table()
    if path is not None:
        _save(path, table)
    return table


def _cache_path() -> Path | None:
    spec = importlib.util.find_spec("opencc")
    if spec is None or not spec.origin:
        return None
    try:
        stamp = os.stat(spec.origin).st_mtime_ns
    except OSError:
        return None
    key = f"{_TABLE_FORMAT}-{unicodedata.unidata_version}-{sys.version_info[0]}.{sys.version_info[1]}-{stamp}"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "newssearch" / f"normalize-{key}.marshal"


def _save(path: Path, table: dict[int, str]) -> None:
    """Write the cache atomically; a read-only home just means no cache."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(marshal.dumps(table))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


def _build_table() -> dict[int, str]:
    import opencc

    chars: list[str] = []
    mapped: list[str] = []
    for cp in range(_BMP):
        if 0xD800 <= cp <= 0xDFFF or cp < 0x20:
            continue
        c = chr(cp)
        n = unicodedata.normalize("NFKC", c).lower()
        chars.append(c)
        mapped.append(n if len(n) == 1 else c.lower() if len(c.lower()) == 1 else c)
    # One OpenCC call over every character, separated by newlines, is far faster
    # than 65k calls; a newline never merges with its neighbours into a phrase.
    converted = opencc.OpenCC("t2s").convert("\n".join(mapped)).split("\n")
    table: dict[int, str] = {}
    for c, m, s in zip(chars, mapped, converted, strict=True):
        out = s if len(s) == 1 else m
        if out != c:
            table[ord(c)] = out
    table.update(_SURROGATES)
    return table


def normalize(text: str) -> str:
    """Return `text` normalized character by character (same length as `text`)."""
    return text.translate(_table())


@lru_cache(maxsize=1)
def _sources() -> dict[str, str]:
    """Normalized character -> every character that normalizes to it (itself included when it maps to itself)."""
    table = _table()
    out: dict[str, list[str]] = {}
    for cp, target in table.items():
        out.setdefault(target, []).append(chr(cp))
    return {target: "".join(chars) + ("" if ord(target) in table else target) for target, chars in out.items()}


@lru_cache(maxsize=4096)
def pattern(term: str) -> re.Pattern[str]:
    """A regex that matches exactly the strings whose normalized form is normalized `term`.

    Searching the text as written with it finds the same spans as searching the
    normalized text for `term` (normalization maps one character to one), without
    normalizing a whole article first: that took most of a page's snippet time.
    """
    sources = _sources()
    parts = []
    for ch in term:
        alts = sources.get(ch, ch if ord(ch) not in _table() else "")
        parts.append(re.escape(alts) if len(alts) == 1 else f"[{''.join(map(_in_class, alts))}]" if alts else "(?!)")
    return re.compile("".join(parts))


def _in_class(ch: str) -> str:
    return "\\" + ch if ch in "\\]^-[" else ch


def scrub(text: str) -> str:
    """`text` with lone surrogates replaced by U+FFFD (same length), so that it can be encoded."""
    return text.translate(_SURROGATES)


def is_han(ch: str) -> bool:
    """True for a CJK ideograph (the characters jieba segments and bigrams cover)."""
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x3134F
    )
