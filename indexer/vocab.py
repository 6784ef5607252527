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
first request. Each segment's word counts are kept beside the segment
(``<segment>.words.npz``), so a run sums saved counts and reads only its new
segments' terms.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from bisect import bisect_left
from pathlib import Path
from typing import Any

import numpy as np
import zstandard
from whoosh.reading import SegmentReader

from .codec.arrays import TermTable
from .merge_policy import FULL
from .normalize import normalize
from .store import write_atomic, write_json_atomic

FORMAT = 1
# `.words.npz` files: each array's raw bytes compressed with zstd (v1: numpy's zip deflate, ~20x as slow to write
# as zstd's level 1 at ~1.4x the bytes; a fold writes the big segment's counts again, ~0.3 s of its run)
COUNTS_FORMAT = 2
MAX_SUGGESTIONS = 10
MAX_WORD = 8  # longer "words" are runs jieba did not split, not things people type
TITLE_WEIGHT = 2
WORD_FIELDS = ("title", "body")
READ_LATER = 256  # fewer new words than this are listed without pinyin (see `collect`)
BASE_MIN = FULL  # segments this big have their counts summed once (see `_totals`)
_HAN_WORD = re.compile(rf"[\u3400-\u4dbf\u4e00-\u9fff]{{2,{MAX_WORD}}}")
_PINYIN_QUERY = re.compile(r"[a-z' ]+")


def path_for(index_dir: Path, gen: str) -> Path:
    return index_dir / f"{gen}.vocab.json"


Counts = tuple[np.ndarray, np.ndarray]  # words (sorted, '<U8'), the articles holding each
_SAVED = {"words": f"<U{MAX_WORD}", "counts": np.int64}  # a saved Counts' arrays, by name


def _segment_words(leaf: Any, keep: bool) -> dict[str, Counts]:
    """One segment's Han words per word field, with the articles holding each (deleted ones included).

    A segment never changes once written (deletions only mark it), so its counts are
    kept beside it as ``<segment>.words.npz``: Whoosh deletes that file with the
    segment's others. A cron run then reads only its new segments' terms; reading
    every segment's cost ~2.5 s of a 3 s run at 27,000 articles. Only the indexer
    (`keep`) writes them: a web process does not write into the index folder.
    """
    path = _counts_path(getattr(leaf, "_storage", None), getattr(leaf, "_segment", None))
    if path is not None and (got := _load(path)) is not None:
        return got
    counts = {f: _leaf_frequencies(leaf, f) for f in WORD_FIELDS if f in leaf.schema}
    if keep and path is not None:
        _save(path, {}, counts)
    return counts


def _counts_path(storage: Any, segment: Any) -> Path | None:
    """Where a segment's word counts are kept (None: not in a folder)."""
    folder = getattr(storage, "folder", None)
    return Path(folder) / segment.make_filename(".words.npz") if segment and folder else None


def carry_counts(storage: Any, schema: Any, parts: list, purged: list[bool], merged: Any) -> None:
    """Keep the word counts of a segment merged from `parts` as theirs summed, when that is what its terms
    count: no purged part had deleted articles (a kept deleted article's words still count, as in its part).

    Counting a big fold's segment afresh read its whole term table: ~0.5 s of the slowest cron runs.
    A part without saved counts (one this run wrote) is counted here, and its counts saved with it.
    """
    target = _counts_path(storage, merged)
    if target is None or any(p and seg.deleted_count() for seg, p in zip(parts, purged, strict=True)):
        return
    counts = []
    for seg in parts:
        with SegmentReader(storage, schema, seg) as leaf:
            counts.append(_segment_words(leaf, keep=True))
    _save(target, {}, _sum(counts))


def _leaf_frequencies(leaf: Any, field: str) -> Counts:
    """Segment by segment: the combined reader looks every term up in every segment (30× slower)."""
    table = TermTable.of(leaf._terms) if hasattr(leaf, "_terms") else None
    if table is not None:  # the term table read with numpy: ~5x Whoosh's term by term
        terms, counts = table.frequencies(field)
        pairs = zip(terms, counts.tolist(), strict=True)
    else:
        pairs = ((term, info.doc_frequency()) for term, info in leaf.iter_field(field))
    words, dfs = [], []
    for term, n in pairs:
        word = term.decode("utf-8") if isinstance(term, bytes) else term
        if _HAN_WORD.fullmatch(word):
            words.append(word)
            dfs.append(n)
    return np.array(words, dtype=f"<U{MAX_WORD}"), np.array(dfs, dtype=np.int64)


def _plus(a: Counts, b: Counts) -> Counts:
    """Two word counts summed, in one pass over the longer (both sorted, each word once)."""
    if len(a[0]) < len(b[0]):
        a, b = b, a
    words, counts = a[0], a[1].copy()
    at = np.searchsorted(words, b[0])
    found = at < len(words)
    found[found] = words[at[found]] == b[0][found]
    counts[at[found]] += b[1][found]
    new = ~found
    return np.insert(words, at[new], b[0][new]), np.insert(counts, at[new], b[1][new])


def _sum(segments: list[dict[str, Counts]]) -> dict[str, Counts]:
    """Per field, the counts of `segments` added up."""
    out: dict[str, Counts] = {}
    for fields in segments:
        for f, pair in fields.items():
            out[f] = _plus(out[f], pair) if f in out else pair
    return out


def _totals(leaves: list, keep: bool, saved: Path | None) -> dict[str, Counts]:
    """Per field, every segment's counts added up; those of the full segments from a saved sum when it has them.

    Segments of `BASE_MIN` articles or more are rarely rewritten (`indexer.merge_policy`),
    while most cron runs merge some small ones: the sum of two or more is kept as ``<gen>.words.npz``
    with their segment ids, so a run adds only the few small segments to it.
    """
    base = [leaf for leaf in leaves if leaf.doc_count_all() >= BASE_MIN and hasattr(leaf, "_segment")]
    if len(base) < 2:  # one full segment's own counts are its sum
        return _sum([_segment_words(leaf, keep) for leaf in leaves])
    ids = np.array(sorted(leaf._segment.segment_id() for leaf in base), dtype=str)
    total = _load(saved, ids) if saved is not None else None
    if total is None:
        total = _sum([_segment_words(leaf, keep) for leaf in base])
        if keep and saved is not None:
            _save(saved, {"ids": ids}, total)
    return _sum([total, *(_segment_words(leaf, keep) for leaf in leaves if leaf not in base)])


def _load(path: Path, ids: np.ndarray | None = None) -> dict[str, Counts] | None:
    """The counts saved at `path` (for the segments `ids`, when given), or None."""
    try:
        with np.load(path) as saved:
            if int(saved["format"]) != COUNTS_FORMAT or (ids is not None and not np.array_equal(saved["ids"], ids)):
                return None
            fields = [f for f in WORD_FIELDS if f"{f}_words" in saved]
            unzip = zstandard.ZstdDecompressor().decompress
            return {f: tuple(np.frombuffer(unzip(saved[f"{f}_{kind}"].tobytes()), dtype=dtype)
                             for kind, dtype in _SAVED.items()) for f in fields}
    except (OSError, ValueError, KeyError, zstandard.ZstdError):
        return None


def _save(path: Path, extra: dict[str, np.ndarray], counts: dict[str, Counts]) -> None:
    zip_ = zstandard.ZstdCompressor(level=1).compress
    arrays = {f"{f}_{kind}": np.frombuffer(zip_(np.ascontiguousarray(a, dtype=dtype).tobytes()), dtype=np.uint8)
              for f, pair in counts.items() for (kind, dtype), a in zip(_SAVED.items(), pair, strict=True)}
    saved = io.BytesIO()
    np.savez(saved, format=np.int64(COUNTS_FORMAT), **extra, **arrays)
    with contextlib.suppress(OSError):  # a read-only index is still answered, just slower
        write_atomic(path, saved.getvalue())


def _weights(totals: dict[str, Counts], floor: int) -> Counts:
    """Every title word, and body words in `floor` articles or more, by weight (a title counts double), best first."""
    empty = np.zeros(0, dtype=f"<U{MAX_WORD}"), np.zeros(0, dtype=np.int64)
    titles, bodies = totals.get("title", empty), totals.get("body", empty)
    words, weights = _plus((titles[0], titles[1] * TITLE_WEIGHT), bodies)
    titled = np.zeros(len(words), dtype=bool)
    titled[np.searchsorted(words, titles[0])] = True
    keep = titled | (weights >= floor)
    words, weights = words[keep], weights[keep]
    order = np.argsort(-weights, kind="stable")  # ties keep the words' order
    return words[order], weights[order]


def collect(reader: Any, known: dict[str, tuple[str, str]] | None = None, keep: bool = False,
            saved: Path | None = None) -> dict[str, Any]:
    """The vocabulary of an open index: words, weights, pinyin and initials (a JSON-able dict).

    `known` holds the pinyin and initials of words of an earlier list: pypinyin costs
    ~0.1 ms a word, so an incremental run only asks it about new words. And pypinyin
    takes ~0.3 s to import, a third of a cron run that adds a few articles: fewer than
    READ_LATER new words are listed without readings (null), and the searcher that
    loads the list reads them (`Vocabulary`, one import per process). `keep`: save
    each segment's counts beside it (see `_segment_words`), and at `saved` the full
    segments' sum (see `_totals`).
    """
    totals = _totals([leaf for leaf, _offset in reader.leaf_readers()], keep, saved)
    floor = max(1, min(5, reader.doc_count() // 1000))  # body words: in this many articles at least
    words, weights = (a.tolist() for a in _weights(totals, floor))
    known = known or {}
    new = [w for w in words if w not in known]
    if len(new) >= READ_LATER:
        known.update(_readings(new))
    readings = [known.get(w, (None, None)) for w in words]
    return {
        "format": FORMAT,
        "words": words,
        "weights": weights,
        "pinyin": [p for p, _ in readings],
        "initials": [i for _, i in readings],
    }


def _readings(words: list[str]) -> dict[str, tuple[str, str]]:
    """Toneless pinyin and initials of each word."""
    from pypinyin import Style, lazy_pinyin

    out = {}
    for w in words:
        syllables = lazy_pinyin(w, style=Style.NORMAL, errors="ignore")
        out[w] = ("".join(syllables), "".join(s[0] for s in syllables if s))
    return out


def _known(path: Path) -> dict[str, tuple[str, str]]:
    """Pinyin and initials per word of an earlier list (empty when there is none or it is unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") == FORMAT:
            listed = zip(data["words"], data["pinyin"], data["initials"], strict=True)
            return {w: (p, i) for w, p, i in listed if p is not None}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return {}


def write(index_dir: Path, gen: str, reader: Any, previous: str | None = None) -> None:
    """Write generation `gen`'s list, reusing the readings of `gen`'s or the `previous` generation's list."""
    known = _known(path_for(index_dir, gen)) or (_known(path_for(index_dir, previous)) if previous else {})
    listed = collect(reader, known, keep=True, saved=index_dir / f"{gen}.words.npz")
    write_json_atomic(path_for(index_dir, gen), listed)


class Vocabulary:
    """Prefix lookups over the words' own text, full pinyin and initials, best (most articles) first."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.words: list[str] = data["words"]
        weights, pinyin, initials = data["weights"], list(data["pinyin"]), list(data["initials"])
        later = [i for i, p in enumerate(pinyin) if p is None]  # listed without readings (see `collect`)
        if later:
            readings = _readings([self.words[i] for i in later])
            for i in later:
                pinyin[i], initials[i] = readings[self.words[i]]
        entries = sorted(
            (key, i)
            for keys in (self.words, pinyin, initials)
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
