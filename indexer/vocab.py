"""Words to offer while someone types (联想): the index's own vocabulary, by Chinese prefix or by pinyin.

Built at index time from the word fields: every title word, and body words
found in several articles (names, places, frequent phrases), each weighted by
how many articles have it (a title counts double). Each word is findable by its
own prefix (整 → 整改), its full toneless pinyin typed with or without spaces
(zhenggai, zheng gai, zhengg) and its initials (zg). Pinyin only ever *offers
real index words*: it is never matched against article text, which would flood
results with homophones.

The list is written beside its generation as ``<gen>.vocab.json`` (deleted with
the generation); an index from before it existed gets it built in memory on the
first request.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from pathlib import Path
from typing import Any

import numpy as np

from .normalize import normalize
from .store import write_json_atomic

FORMAT = 1
MAX_SUGGESTIONS = 10
MAX_WORD = 8  # longer "words" are runs jieba did not split, not things people type
TITLE_WEIGHT = 2
_HAN_WORD = re.compile(rf"[\u3400-\u4dbf\u4e00-\u9fff]{{2,{MAX_WORD}}}")
_PINYIN_QUERY = re.compile(r"[a-z' ]+")


def path_for(index_dir: Path, gen: str) -> Path:
    return index_dir / f"{gen}.vocab.json"


def _frequencies(reader: Any, field: str) -> dict[str, int]:
    """Han words of a field and the articles holding each, summed over segments (deleted ones included).

    Segment by segment: the combined reader looks every term up in every segment (30× slower).
    """
    out: dict[str, int] = {}
    if field not in reader.schema:
        return out
    for leaf, _offset in reader.leaf_readers():
        if field not in leaf.schema:
            continue
        for term, info in leaf.iter_field(field):
            word = term.decode("utf-8") if isinstance(term, bytes) else term
            if _HAN_WORD.fullmatch(word):
                out[word] = out.get(word, 0) + info.doc_frequency()
    return out


def collect(reader: Any, known: dict[str, tuple[str, str]] | None = None) -> dict[str, Any]:
    """The vocabulary of an open index: words, weights, pinyin and initials (a JSON-able dict).

    `known` holds the pinyin and initials of words of an earlier list: pypinyin costs
    ~0.1 ms a word, so an incremental run only asks it about new words.
    """
    from pypinyin import Style, lazy_pinyin

    titles = _frequencies(reader, "title")
    bodies = _frequencies(reader, "body")
    floor = max(1, min(5, reader.doc_count() // 1000))  # body words: in this many articles at least
    weights = {w: TITLE_WEIGHT * n + bodies.get(w, 0) for w, n in titles.items()}
    for w, n in bodies.items():
        if n >= floor and w not in weights:
            weights[w] = n
    words = sorted(weights, key=lambda w: (-weights[w], w))
    known = known or {}
    readings: list[tuple[str, str]] = []
    for w in words:
        if w not in known:
            syllables = lazy_pinyin(w, style=Style.NORMAL, errors="ignore")
            known[w] = ("".join(syllables), "".join(s[0] for s in syllables if s))
        readings.append(known[w])
    return {
        "format": FORMAT,
        "words": words,
        "weights": [weights[w] for w in words],
        "pinyin": [p for p, _ in readings],
        "initials": [i for _, i in readings],
    }


def _known(path: Path) -> dict[str, tuple[str, str]]:
    """Pinyin and initials per word of an earlier list (empty when there is none or it is unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") == FORMAT:
            return dict(zip(data["words"], zip(data["pinyin"], data["initials"], strict=True), strict=True))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return {}


def write(index_dir: Path, gen: str, reader: Any, previous: str | None = None) -> None:
    """Write generation `gen`'s list, reusing the readings of `gen`'s or the `previous` generation's list."""
    known = _known(path_for(index_dir, gen)) or (_known(path_for(index_dir, previous)) if previous else {})
    write_json_atomic(path_for(index_dir, gen), collect(reader, known))


class Vocabulary:
    """Prefix lookups over the words' own text, full pinyin and initials, best (most articles) first."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.words: list[str] = data["words"]
        weights = data["weights"]
        entries = sorted(
            (key, i)
            for keys in (self.words, data["pinyin"], data["initials"])
            for i, key in enumerate(keys)
            if key
        )
        self.keys = [k for k, _ in entries]
        self.ids = np.array([i for _, i in entries], dtype=np.int64)
        self.weights = np.array([weights[i] for _, i in entries], dtype=np.float64)

    @classmethod
    def load(cls, path: Path) -> Vocabulary | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return cls(data) if isinstance(data, dict) and data.get("format") == FORMAT else None

    def suggest(self, text: str, n: int = MAX_SUGGESTIONS) -> list[str]:
        """Up to `n` index words that `text` begins: a Chinese prefix, pinyin (spaces and ' ignored) or initials."""
        q = normalize(text.strip()).lower()
        if _PINYIN_QUERY.fullmatch(q):
            q = q.replace(" ", "").replace("'", "")
        if not q or len(q) > 40:
            return []
        lo = bisect_left(self.keys, q)
        hi = bisect_left(self.keys, q + "\U0010ffff", lo)
        if lo == hi:
            return []
        weights = self.weights[lo:hi]
        if hi - lo > 4 * n:  # only the best few need sorting
            best = np.argpartition(-weights, 4 * n)[: 4 * n]
        else:
            best = np.arange(hi - lo)
        exact = np.array([self.keys[lo + j] == q for j in best])
        order = best[np.lexsort((-weights[best], ~exact))]
        out: list[str] = []
        for j in order:
            word = self.words[self.ids[lo + j]]
            if word not in out and word != q:
                out.append(word)
            if len(out) == n:
                break
        return out
