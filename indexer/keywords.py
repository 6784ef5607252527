"""Keywords per article and related articles ("more like this").

Keywords are TF-IDF over jieba words of the normalized title and body (title
words count twice), with the IDF taken from this index's own document
frequencies in the word fields, so a word common in this collection (臺南,
新闻联播) does not come first the way it would with jieba's general-purpose
IDF table. Only content words count: nouns (verbal nouns too), abbreviations, idioms and
Latin words of two or more characters that are not stopwords or numbers. A
keyword is shown as written in the article (Traditional stays Traditional).

Keywords are computed when asked for (a page of hits, one article): segmenting
an article takes about a millisecond, and document frequencies are cached per
open index.
"""

from __future__ import annotations

import math
import weakref
from collections import Counter
from typing import Any

from whoosh import query as wq

from . import segment
from .normalize import normalize

TITLE_WEIGHT = 2
KEEP_POS = ("n", "vn", "j", "l", "i", "eng")  # jieba tag prefixes of content words: nouns, not verbs
RELATED_TERMS = 12

_df_cache: weakref.WeakKeyDictionary[Any, dict[str, int]] = weakref.WeakKeyDictionary()


def _doc_frequency(s, word: str) -> int:
    cache = _df_cache.setdefault(s, {})
    if word not in cache:
        r = s.reader()
        cache[word] = max(r.doc_frequency("body", word), r.doc_frequency("title", word))
    return cache[word]


def _content_words(text: str) -> list[tuple[str, int]]:
    """(normalized word, start offset) of the content words of `text` (already normalized)."""
    out, pos = [], 0
    for word, tag in segment.tag(text):
        start = text.find(word, pos)
        pos = start + len(word) if start >= 0 else pos
        if len(word) >= 2 and tag.startswith(KEEP_POS) and not word.isdigit():
            out.append((word, start))
    return out


def scored(s, stored: dict[str, Any], stopwords: frozenset[str] = frozenset()) -> list[tuple[str, str, float]]:
    """(normalized word, word as written, score) of an article's keywords, best first.

    `s` is an open Whoosh searcher of the index the article is in.
    """
    title, body = stored.get("title") or "", stored.get("body") or ""
    original = f"{title}\n{body}"
    text = normalize(original)
    tf: Counter[str] = Counter()
    written: dict[str, str] = {}
    for word, start in _content_words(text):
        if word in stopwords:
            continue
        tf[word] += TITLE_WEIGHT if start < len(title) else 1
        written.setdefault(word, original[start : start + len(word)])
    n = max(s.doc_count(), 1)
    out = []
    for word, count in tf.items():
        df = _doc_frequency(s, word)
        out.append((word, written[word], count * math.log(1 + (n - df + 0.5) / (df + 0.5))))
    out.sort(key=lambda t: (-t[2], t[0]))
    return out


def keywords(s, stored: dict[str, Any], n: int = 8, stopwords: frozenset[str] = frozenset()) -> list[str]:
    """An article's top `n` keywords, as written in it."""
    return [w for _, w, _ in scored(s, stored, stopwords)[:n]]


def related(
    s, docnum: int, n: int = 5, mask: set[int] | None = None, stopwords: frozenset[str] = frozenset()
) -> list[tuple[int, float, list[str]]]:
    """(doc number, score, normalized key terms) of the `n` articles most like `docnum`.

    The query ORs the article's top key terms over the title and body word
    fields, each weighted by its keyword score; the article itself and `mask`
    (reposts) are left out.
    """
    terms = scored(s, s.stored_fields(docnum), stopwords)[:RELATED_TERMS]
    if not terms:
        return []
    top = terms[0][2]
    q = wq.Or([wq.Term(f, w, boost=score / top) for w, _, score in terms for f in ("title", "body")])
    exclude = {docnum} | (mask or set())
    results = s.search(q, limit=n, mask=exclude)
    words = [w for w, _, _ in terms]
    return [(r.docnum, r.score, words) for r in results]
