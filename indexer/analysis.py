"""The analysis pipeline: one place that turns text into index terms.

Two token streams come from the same normalized text:

* **words**: jieba segmentation. At index time sub-words of long words (search
  mode) share their parent's position. Used for ranking (BM25F).
* **grams**: one token per character position. A Han character followed by
  another Han character gives the bigram of the two; a Han character followed
  by anything else gives itself; a run of letters/digits gives the run; every
  other character (punctuation, spaces) gives itself. Positions count those
  units, so a quoted phrase is an exact positional phrase over grams, and any
  run of characters is findable whatever segmentation did with it.

Offsets are into the original text: normalization maps one character to one.
The Whoosh tokenizers here are pickled into the index schema by import path,
so they must stay in this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache, lru_cache
from typing import Any, NamedTuple

from whoosh.analysis import Token, Tokenizer

from . import segmenter
from .normalize import normalize

ANALYZER_VERSION = "1"

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
# A Han run, a run of other letters/digits, or any other single character.
_UNITS = re.compile(rf"([{HAN}]+)|([^\W_{HAN}]+)|(\S|\s)")
_WORD_PART = re.compile(rf"[^\W_{HAN}]+|[{HAN}]+")

GramToken = tuple[str, int, int, int]  # term, position, start char, end char


def gram_tokens(text: str) -> Iterator[GramToken]:
    """Yield the gram tokens of normalized text."""
    pos = 0
    for m in _UNITS.finditer(text):
        start, end = m.span()
        if m.lastindex == 1:
            for i in range(start, end - 1):
                yield text[i : i + 2], pos, i, i + 2
                pos += 1
            yield text[end - 1], pos, end - 1, end
        else:
            yield m.group(), pos, start, end
        pos += 1


def edge_tokens(text: str) -> Iterator[GramToken]:
    """Yield, for each letter/digit run that a Han character follows, the run and that character ("38个"),
    at the run's position among the gram tokens of normalized text (`gram_tokens`).

    A phrase such as "38个" is the run 38 and then any gram that starts with 个 (个人, 个月, …:
    ~1,300 grams in a segment, each with its own postings); one term of an edge field
    (`indexer.schema`) finds it instead.
    """
    pos = 0
    run = None  # (run, position, start) of the letter/digit run just before
    for m in _UNITS.finditer(text):
        start, end = m.span()
        if m.lastindex == 1:
            if run is not None:
                yield run[0] + text[start], run[1], run[2], start + 1
            run = None
            pos += end - start
        else:
            run = (m.group(), pos, start) if m.lastindex == 2 else None
            pos += 1


def gram_positions(text: str) -> dict[str, list[int]]:
    """The positions of each gram term of normalized text: `gram_tokens` grouped by term, faster."""
    out: dict[str, list[int]] = {}
    get = out.get
    pos = 0
    for m in _UNITS.finditer(text):
        if m.lastindex == 1:
            run = m.group()
            n = len(run)
            for k in range(n - 1):
                g = run[k : k + 2]
                lst = get(g)
                if lst is None:
                    out[g] = [pos + k]
                else:
                    lst.append(pos + k)
            g = run[-1]
            pos += n
        else:
            g = m.group()
            pos += 1
        lst = get(g)
        if lst is None:
            out[g] = [pos - 1]
        else:
            lst.append(pos - 1)
    return out


KEY_SHIFT = 21  # a gram of one or two characters as one number: first << 21 | second (0 if none)


class GramUnits(NamedTuple):
    """The gram tokens of several normalized texts (`gram_units`), one entry per token, text after text.

    A term of one or two characters is a `keys` entry, (first code point << KEY_SHIFT) | second (0 for
    none), which sorts like the terms' UTF-8; a letter/digit run is `runs[k]` at index `run_at[k]`
    (its `keys` entry is undefined). Arrays are numpy's.
    """

    keys: Any  # uint64
    positions: Any  # uint32, within each text
    counts: Any  # tokens per text
    run_at: Any
    runs: list[str]
    han_after: Any  # per run: the Han character that starts the next token of its text (code point), or 0


def gram_units(texts: list[str]) -> GramUnits:
    """`gram_positions` of several texts at once, with numpy: a C pass per text rather than a Python step per token."""
    import numpy as np  # loaded by the indexer, not by every query

    big = "".join(texts)
    n = len(big)
    cps = np.frombuffer(big.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    cls = np.append(_unit_classes()[np.minimum(cps, 0xFFFF)], np.uint8(0))
    astral = np.flatnonzero(cps > 0xFFFF)
    cls[astral] = [_unit_class(big[i]) for i in astral.tolist()]
    first = np.zeros(n + 1, dtype=bool)  # the character starts a text (index n: past the end)
    lens = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    first[np.cumsum(lens) - lens] = True
    run = cls == 2
    run[1:] &= run[:-1]
    run &= ~first  # the character continues a letter/digit run
    at = np.flatnonzero(~run[:n])  # where each token starts
    nxt = at + 1
    keys = cps[at].astype(np.uint64) << KEY_SHIFT
    pair = (cls[at] == 1) & (cls[nxt] == 1) & ~first[nxt]
    keys[pair] |= cps[nxt[pair]]
    counts = np.bincount(np.searchsorted(np.cumsum(lens), at, side="right"), minlength=len(texts))
    positions = (np.arange(len(at)) - np.repeat(np.cumsum(counts) - counts, counts)).astype(np.uint32)
    run_at = np.flatnonzero(cls[at] == 2)
    ends = np.append(at, n)[run_at + 1]
    runs = [big[s:e] for s, e in zip(at[run_at].tolist(), ends.tolist(), strict=True)]
    after = np.append(at, n)[run_at + 1]  # where the token after each run starts (n: none)
    han_after = np.where((cls[after] == 1) & ~first[after], np.append(cps, 0)[after], 0)
    return GramUnits(keys, positions, counts, run_at, runs, han_after)


def _unit_class(ch: str) -> int:
    """1 for a Han character, 2 for a letter/digit (not Han), 3 for any other (`_UNITS`'s groups)."""
    m = _UNITS.match(ch)
    assert m is not None and m.lastindex is not None
    return m.lastindex


@cache
def _unit_classes():
    """`_unit_class` of every BMP character, built once per process from the runs of Han and of letters/digits
    in the BMP (~8 ms; a call per character took twice that)."""
    import numpy as np

    out = np.full(0x10000, 3, dtype=np.uint8)
    for m in _UNITS.finditer("".join(map(chr, range(0x10000)))):
        if m.lastindex != 3:
            out[m.start() : m.end()] = m.lastindex
    return out


def is_word(token: str) -> bool:
    """True if a segmenter token is worth indexing (not space or punctuation)."""
    return _WORD_PART.search(token) is not None


def word_tokens(text: str, search: bool = True) -> list[GramToken]:
    """Segment normalized text into (word, position, start, end).

    With ``search`` (index time), sub-words from jieba's search mode get the
    position of the word that contains them, so a query segmented in default
    mode lines up with the index. Tokens mixing letters and punctuation
    (``covid-19``) are split into their letter/digit parts.
    """
    raw = segmenter.tokenize(text, search=search)
    top = [True] * len(raw)
    if search:
        # Sub-words come right before their parent: scan backwards and mark
        # every token inside the last top-level span as a sub-word.
        pstart = pend = -1
        for k in range(len(raw) - 1, -1, -1):
            _, s, e = raw[k]
            if pstart <= s and e <= pend and (s, e) != (pstart, pend):
                top[k] = False
            else:
                pstart, pend = s, e
    out: list[GramToken] = []
    append = out.append
    pos = -1
    pending: list[tuple[str, int, int]] = []
    for (word, s, e), is_top in zip(raw, top, strict=True):
        if not is_top:
            pending.append((word, s, e))
            continue
        pieces = _pieces(word)
        if pieces is None:  # the usual case: the token is one word part
            pos += 1
            for w, ws, _we in pending:
                out.extend((p, pos, ps, pe) for p, ps, pe in _split(w, ws) if (p, ps, pe) != (word, s, e))
            pending.clear()
            append((word, pos, s, e))
            continue
        parts = [(p, s + ps, s + pe) for p, ps, pe in pieces]
        if not parts:
            pending.clear()
            continue
        pos += 1
        for w, ws, _we in pending:
            out.extend((p, pos, ps, pe) for p, ps, pe in _split(w, ws) if (p, ps, pe) not in parts)
        pending.clear()
        for k, (p, ps, pe) in enumerate(parts):
            append((p, pos + k, ps, pe))
        pos += len(parts) - 1
    return out


def word_counts(text: str) -> dict[str, int]:
    """How often each index-time word occurs in normalized text: `word_tokens` counted, in one pass.

    The indexer needs no word positions (the word fields rank, the gram fields
    find phrases), so it skips building a tuple per token.
    """
    raw = segmenter.tokenize(text, search=True)
    counts: dict[str, int] = {}
    get = counts.get
    pstart = pend = -1
    full = True  # the current parent token is a single word part
    parts: list[tuple[str, int, int]] = []
    for k in range(len(raw) - 1, -1, -1):
        word, s, e = raw[k]
        if pstart <= s and e <= pend and (s, e) != (pstart, pend):  # a sub-word of the parent
            if full:
                for p, _ps, _pe in _split(word, s):
                    counts[p] = get(p, 0) + 1
            else:
                for part in _split(word, s):
                    if parts and part not in parts:
                        counts[part[0]] = get(part[0], 0) + 1
            continue
        pstart, pend = s, e
        pieces = _pieces(word)
        full = pieces is None
        if full:
            counts[word] = get(word, 0) + 1
            continue
        parts = [(p, s + ps, s + pe) for p, ps, pe in pieces]
        for p, _ps, _pe in parts:
            counts[p] = get(p, 0) + 1
    return counts


@lru_cache(maxsize=1 << 17)
def _pieces(word: str) -> tuple[tuple[str, int, int], ...] | None:
    """The letter/digit and Han parts of a token with offsets into it; None if it is all one part."""
    if _WORD_PART.fullmatch(word):
        return None
    return tuple((m.group(), m.start(), m.end()) for m in _WORD_PART.finditer(word))


def _split(word: str, start: int) -> list[tuple[str, int, int]]:
    pieces = _pieces(word)
    if pieces is None:
        return [(word, start, start + len(word))]
    return [(p, start + ps, start + pe) for p, ps, pe in pieces]


class NormalizingTokenizer(Tokenizer):
    """Base for the Whoosh tokenizers: normalize, then emit our tokens."""

    def _tokens(self, text: str, mode: str) -> list[GramToken] | Iterator[GramToken]:
        raise NotImplementedError

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs,
    ) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for term, pos, s, e in self._tokens(normalize(value), mode):
            t.text = term
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = value[s:e]
            if positions:
                t.pos = start_pos + pos
            if chars:
                t.startchar = start_char + s
                t.endchar = start_char + e
            yield t


class WordTokenizer(NormalizingTokenizer):
    """jieba words; search-mode sub-words at index time."""

    def _tokens(self, text: str, mode: str) -> list[GramToken]:
        return word_tokens(text, search=mode != "query")


class GramTokenizer(NormalizingTokenizer):
    """One token per character position (see the module docstring)."""

    def _tokens(self, text: str, mode: str) -> Iterator[GramToken]:
        return gram_tokens(text)


class EdgeTokenizer(NormalizingTokenizer):
    """A letter/digit run followed by a Han character, as one token at the run's gram position (`edge_tokens`)."""

    def _tokens(self, text: str, mode: str) -> Iterator[GramToken]:
        return edge_tokens(text)
