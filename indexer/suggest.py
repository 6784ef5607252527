"""Did you mean: better queries for a query that finds few or no articles.

Four kinds of suggestion, in this order, each kept only if it finds more
articles than the query did:

* a completion: a word of a multi-word term or of a quoted phrase replaced by a
  vocabulary word one edit away such that the whole term occurs as a contiguous
  run in the index (教育实践活跃 → 教育实践活动), most occurrences first;
* a near spelling: a query word that finds (almost) nothing is replaced by a
  word of the index's own vocabulary (the title and body word fields) one edit
  away: words whose changed character sounds the same first (most Chinese typos
  come from a pinyin input method: 整该 → 整改), then same-length words, then
  the most frequent;
* the other script's form with the regional vocabulary converted too (OpenCC
  tw2sp / s2twp: 軟體 ↔ 软件), which per-character normalization cannot do;
* a shorter query: without the term that finds the fewest articles (the one
  that killed it), a whole term when there are several, else a word of the only one.
"""

from __future__ import annotations

import unicodedata
import weakref
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from .errors import QueryError
from .normalize import is_han, normalize
from .query import Token, lex, parse, words_of

FEW = 3  # suggest for queries finding fewer articles than this
MAX_SUGGESTIONS = 3
MAX_RESPELL = 12  # longer "words" (runs of single characters that joined up) are not respelled
COMPLETE_WORDS = 4  # words of a term tried for a completion, each with this many respellings:
COMPLETE_TRIES = 6

MAX_RESPELLED = 10_000  # respellings kept per open index: a word's costs ~1,000 vocabulary lookups
Count = Callable[[str], int]
Respell = Callable[[str], list[str]]


@lru_cache(maxsize=4)
def _converter(config: str):
    import opencc

    return opencc.OpenCC(config)


@lru_cache(maxsize=1)
def _homophones() -> tuple[dict[str, frozenset[str]], dict[str, list[str]]]:
    """Toneless pinyin readings per Han character, and the characters per reading."""
    from pypinyin.pinyin_dict import pinyin_dict

    readings: dict[str, frozenset[str]] = {}
    chars: dict[str, list[str]] = {}
    for cp, raw in pinyin_dict.items():
        bare = "".join(c for c in unicodedata.normalize("NFKD", raw) if not unicodedata.combining(c))
        ch = chr(cp)
        if normalize(ch) != ch:
            continue  # the index holds Simplified forms only
        readings[ch] = frozenset(bare.split(","))
        for r in readings[ch]:
            chars.setdefault(r, []).append(ch)
    return readings, chars


def _sound_alikes(ch: str) -> set[str]:
    readings, chars = _homophones()
    return {c for r in readings.get(ch, ()) for c in chars[r]} - {ch}


def _one_edit(a: str, b: str) -> bool:
    """True if `b` is one substitution, insertion or deletion away from `a`."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :]
    return a[i:] == b[i + 1 :] if len(b) > len(a) else a[i + 1 :] == b[i:]


_respelled: weakref.WeakKeyDictionary[Any, dict[str, list[str]]] = weakref.WeakKeyDictionary()  # table -> memo


def respellings(table: Any, word: str) -> list[str]:
    """Words of the index vocabulary one edit from normalized `word`, likeliest first.

    Candidates: every same-sounding character in each position (looked up
    directly), and the vocabulary sharing the word's first characters (one
    edit away). Ranked: same sound, then same length, then document frequency.
    `table` is the index's `indexer.codec.arrays.DocTable`.
    """
    if len(word) > MAX_RESPELL:  # no vocabulary word is that long; each character costs dozens of lookups
        return []
    sounds = [word[:i] + alt + word[i + 1 :] for i, ch in enumerate(word) for alt in _sound_alikes(ch) if is_han(ch)]
    prefix = word[: max(1, len(word) - 2)]
    reader = table.searcher.reader()
    near = [w for field in ("title", "body") for raw in reader.expand_prefix(field, prefix)
            if len(w := raw.decode("utf-8") if isinstance(raw, bytes) else raw) >= 2 and _one_edit(word, w)]
    cands = list(dict.fromkeys(sounds + near))
    df = np.maximum(table.doc_frequencies("title", cands), table.doc_frequencies("body", cands)).tolist()
    sound = set(sounds)
    found = {c: (c in sound, n) for c, n in zip(cands, df, strict=True) if n or c not in sound}
    return sorted(found, key=lambda c: (not found[c][0], len(c) != len(word), -found[c][1], c))


def _is_traditional(text: str) -> bool:
    return any(is_han(c) and n != c for c, n in zip(text, normalize(text), strict=True))


def in_script_of(typed: str, word: str) -> str:
    """Normalized (Simplified) `word` in Traditional characters when `typed` is Traditional."""
    return _converter("s2t").convert(word) if _is_traditional(typed) else word


def _replace_word(text: str, word: str, new: str) -> str:
    """`text` with the first occurrence of normalized `word` replaced by `new` in `text`'s script."""
    start = normalize(text).find(word)
    if start < 0:
        return text
    return text[:start] + in_script_of(text, new) + text[start + len(word) :]


def _plain_words(text: str) -> list[str]:
    """The required words of the unquoted, positive terms of a query."""
    parsed = parse(text)
    return [w for c in parsed.positive for a in c.atoms if not a.phrase for w in words_of(a.text)]


def _spelling(respell: Respell, text: str, count: Count) -> list[str]:
    out: list[str] = []
    for word in dict.fromkeys(_plain_words(text)):
        if count(word) < FEW:
            out += [_replace_word(text, word, cand) for cand in respell(word)[:2]]
    return out


def _other_script(text: str) -> list[str]:
    conv = "tw2sp" if _is_traditional(text) else "s2twp"
    other = _converter(conv).convert(text)
    return [other] if normalize(other) != normalize(text) else []


def _with_value(text: str, tok: Token, value: str) -> str:
    """`text` with the token's word or phrase replaced by `value` (a phrase comes back in ASCII quotes)."""
    if tok.kind == "phrase":
        field = f"{tok.field}:" if tok.field else ""
        return f'{text[: tok.start]}{"-" if tok.negated else ""}{field}"{value}"{text[tok.end :]}'
    return text[: tok.end - len(tok.value)] + value + text[tok.end :]


def _completions(respell: Respell, text: str, count: Count) -> list[str]:
    """The query with one word of a term or phrase respelled so that the term occurs as a contiguous run."""
    found: list[tuple[int, str]] = []
    for tok in lex(text):
        if tok.kind not in ("term", "phrase") or tok.negated:
            continue
        norm = normalize(tok.value)
        words = words_of(norm)
        if len(words) < (1 if tok.kind == "phrase" else 2):
            continue
        pos = 0
        for word in words[:COMPLETE_WORDS]:
            start = norm.find(word, pos)
            if start < 0:
                break
            pos = start + len(word)
            for cand in respell(word)[:COMPLETE_TRIES]:
                run = norm[:start] + cand + norm[pos:]
                if n := count(f'"{run}"'):
                    found.append((n, _with_value(text, tok, _replace_word(tok.value, word, cand))))
    return [q for _n, q in sorted(found, key=lambda f: -f[0])]


def _droppable(tokens: list[Token], k: int) -> bool:
    """True if token k is a plain positive term (not an operator, an exclusion or an OR side)."""
    t = tokens[k]
    near = tokens[max(k - 1, 0) : k + 2]
    return (t.kind in ("term", "phrase") and not t.negated and all(n.kind != "or" for n in near)
            and (k == 0 or tokens[k - 1].kind != "not"))


def _shorter(text: str, total: int, count: Count) -> list[str]:
    """Drop the term with the fewest hits, then the next, until the query finds more than `total`."""
    tokens = lex(text)
    if len(tokens) > 1:
        keep = [k for k in range(len(tokens)) if _droppable(tokens, k)]
        hits = {k: count(tokens[k].source(text)) for k in keep}
        dropped: set[int] = set()
        for k in sorted(keep, key=hits.__getitem__)[:-1]:
            dropped.add(k)
            cand = " ".join(t.source(text) for j, t in enumerate(tokens) if j not in dropped)
            if count(cand) > total:
                return [cand]
        return []
    if not tokens or tokens[0].kind != "term":
        return []
    tok = tokens[0]
    value = tok.value
    norm = normalize(value)
    words = list(dict.fromkeys(words_of(norm)))
    hits = {w: count(w) for w in words}
    chars = list(value)
    for w in sorted(words, key=hits.__getitem__)[:-1]:
        start = norm.find(w)
        chars[start : start + len(w)] = " " * len(w)
        cand = " ".join("".join(chars).split())
        if tok.field:  # every remaining word keeps the field
            cand = " ".join(f"{tok.field}:{w}" for w in cand.split())
        if count(cand) > total:
            return [cand]
    return []


def suggest(table: Any, text: str, total: int, count: Count) -> list[str]:
    """Up to MAX_SUGGESTIONS better queries for `text`, which found `total` articles.

    `table` is the index's `indexer.codec.arrays.DocTable` (for its vocabulary); `count(query)`
    returns how many articles a query finds with the same filters.
    """
    if total >= FEW:
        return []
    count = lru_cache(maxsize=None)(count)
    known = _respelled.setdefault(table, {})
    if len(known) > MAX_RESPELLED:
        known.clear()

    def respell(word: str) -> list[str]:
        if word not in known:
            known[word] = respellings(table, word)
        return known[word]

    makers: list[Callable[[], list[str]]] = [
        lambda: _completions(respell, text, count),
        lambda: _spelling(respell, text, count),
        lambda: _other_script(text),
        lambda: _shorter(text, total, count),
    ]
    out: list[str] = []
    seen = {normalize(text)}
    for make in makers:
        try:
            group = make()
        except QueryError:
            return out
        for cand in group:
            key = normalize(cand)
            if key in seen or not cand.strip():
                continue
            seen.add(key)
            try:
                n = count(cand)
            except QueryError:
                continue
            if n > total:
                out.append(cand)
            if len(out) == MAX_SUGGESTIONS:
                return out
    return out
