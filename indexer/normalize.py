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

import unicodedata
from functools import lru_cache

_BMP = 0x10000


@lru_cache(maxsize=1)
def _table() -> dict[int, str]:
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
    return table


def normalize(text: str) -> str:
    """Return `text` normalized character by character (same length as `text`)."""
    return text.translate(_table())


def is_han(ch: str) -> bool:
    """True for a CJK ideograph (the characters jieba segments and bigrams cover)."""
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x3134F
    )
