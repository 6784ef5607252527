"""Keywords per article and related articles ("more like this").

Keywords are TF-IDF over jieba words of the normalized title and body (title
words count twice), with the IDF taken from this index's own document
frequencies in the word fields, so a word common in this collection (臺南,
新闻联播) does not come first the way it would with jieba's general-purpose
IDF table. Only content words count: nouns (verbal nouns too), abbreviations, idioms and
Latin words of two or more characters that are not stopwords or numbers. A
keyword is shown as written in the article (Traditional stays Traditional).

Tagging an article takes about a millisecond, too much for every hit of every
search (and it loads the segmenter into a cold process), so the indexer stores
each article's `CANDIDATES` most frequent content words in its ``keywords``
field; a search only weighs them with the current document frequencies, which
are cached per open index. Articles indexed before that field existed are
tagged when shown.
"""

from __future__ import annotations

import math
import weakref
from collections import Counter
from itertools import accumulate
from operator import itemgetter
from typing import Any

import numpy as np
from whoosh import query as wq

from . import segmenter
from .normalize import normalize

TITLE_WEIGHT = 2
CANDIDATES = 20  # stored per article; a page shows SHOWN after stopwords are dropped and IDF reorders them
SHOWN = 8
KEEP_POS = ("n", "vn", "j", "l", "i", "eng")  # jieba tag prefixes of content words: nouns, not verbs
RELATED_TERMS = 12

_df_cache: weakref.WeakKeyDictionary[Any, tuple[int, dict[str, int]]] = weakref.WeakKeyDictionary()


def _doc_frequencies(table, words: list[str]) -> tuple[int, list[int]]:
    """The index's document count (at least 1), and each word's document frequency in the title or body word
    field (the larger), cached per open index and looked up in one batch per field (`DocTable.doc_frequencies`):
    a page's hits have ~150 keyword candidates, which Whoosh looked up one field and segment at a time
    (~30,000 lookups for a cold page at a hundred segments)."""
    if table not in _df_cache:
        _df_cache[table] = (max(table.searcher.doc_count(), 1), {})
    n, cache = _df_cache[table]
    new = list(dict.fromkeys(w for w in words if w not in cache))
    if new:
        found = np.maximum(table.doc_frequencies("body", new), table.doc_frequencies("title", new))
        cache.update(zip(new, found.tolist(), strict=True))
    return n, [cache[w] for w in words]


def _content_words(text: str) -> list[tuple[str, int]]:
    """(normalized word, start offset) of the content words of `text` (already normalized)."""
    tagged = segmenter.tag(text)
    words = list(map(itemgetter(0), tagged))
    if "".join(words) == text:  # the tagger's words cover the text in order: offsets are running sums
        starts = accumulate(map(len, words), initial=0)
        return [(w, s) for (w, tag), s in zip(tagged, starts, strict=False) if len(w) > 1 and tag.startswith(KEEP_POS)
                and not w.isdigit()]
    out, pos = [], 0
    for word, tag in tagged:
        start = text.find(word, pos)
        pos = start + len(word) if start >= 0 else pos
        if len(word) >= 2 and tag.startswith(KEEP_POS) and not word.isdigit():
            out.append((word, start))
    return out


def candidates(title: str, body: str) -> str:
    """An article's most frequent content words as written, one ``word<TAB>count`` per line (for the index)."""
    original = f"{title}\n{body}"
    text = normalize(original)
    tf: Counter[str] = Counter()
    written: dict[str, str] = {}
    for word, start in _content_words(text):
        tf[word] += TITLE_WEIGHT if start < len(title) else 1
        written.setdefault(word, original[start : start + len(word)])
    return "\n".join(f"{written[w]}\t{n}" for w, n in tf.most_common(CANDIDATES))


def listed(stored: dict[str, Any], stopwords: frozenset[str] = frozenset()) -> list[tuple[str, str, int]]:
    """(normalized word, word as written, count) of an article's keyword candidates, stopwords left out."""
    text = stored.get("keywords")
    if text is None:
        text = candidates(stored.get("title") or "", stored.get("body") or "")
    pairs = [line.rpartition("\t") for line in text.splitlines()]
    if not pairs:
        return []
    normalized = normalize("\n".join(written for written, _, _ in pairs)).split("\n")  # one call, not one a word
    return [(word, written, int(count)) for (written, _, count), word in zip(pairs, normalized, strict=True)
            if word not in stopwords]


def scored(table, stored: dict[str, Any], stopwords: frozenset[str] = frozenset()) -> list[tuple[str, str, float]]:
    """(normalized word, word as written, score) of an article's keywords, best first.

    `table` is the `indexer.codec.arrays.DocTable` of the open index the article is in.
    """
    words = listed(stored, stopwords)
    n, dfs = _doc_frequencies(table, [word for word, _, _ in words])
    out = []
    for (word, written, count), df in zip(words, dfs, strict=True):
        out.append((word, written, count * math.log(1 + (n - df + 0.5) / (df + 0.5))))
    out.sort(key=lambda t: (-t[2], t[0]))
    return out


def keywords(table, stored: dict[str, Any], n: int = SHOWN, stopwords: frozenset[str] = frozenset()) -> list[str]:
    """An article's top `n` keywords, as written in it."""
    return [w for _, w, _ in scored(table, stored, stopwords)[:n]]


def related_query(
    table, stored: dict[str, Any], stopwords: frozenset[str] = frozenset()
) -> tuple[wq.Query | None, list[str]]:
    """"More like this": a query for the articles sharing an article's key terms, and those terms.

    It ORs the article's top key terms over the title and body word fields,
    each weighted by its keyword score (None when the article has none).
    """
    terms = scored(table, stored, stopwords)[:RELATED_TERMS]
    if not terms:
        return None, []
    top = terms[0][2]
    q = wq.Or([wq.Term(f, w, boost=score / top) for w, _, score in terms for f in ("title", "body")])
    return q, [w for w, _, _ in terms]
