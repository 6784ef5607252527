"""Snippets: a window of the original text with the matched terms marked.

Matching runs on the normalized text, whose offsets equal the original's, so
a Simplified query marks the Traditional characters the article was written in.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable

from .normalize import normalize, pattern

Fragment = tuple[str, bool]  # text, is a match
SCAN_CHARS = 20_000  # snippets come from an article's first 20,000 characters: bounds the work on huge ones
FIRST_SCAN = 400
# What scrapers leave after the last sentence (the seed ends "…出席會議。 |"): kept in the stored text
# as written, but not content, so a snippet never ends on it: the trailing run of spaces and bars, if it
# holds a bar.
BARS = "|｜"


def match_spans(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) spans of normalized `terms` in `text` as written (longest terms win)."""
    taken = bytearray(len(text))
    spans: list[tuple[int, int]] = []
    for term in sorted({t for t in terms if t}, key=len, reverse=True):
        for m in pattern(term).finditer(text):
            s, e = m.span()
            if not any(taken[s:e]):
                taken[s:e] = b"\x01" * (e - s)
                spans.append((s, e))
    return sorted(spans)


def fragments(text: str, terms: Iterable[str], width: int = 120) -> list[Fragment]:
    """The best window of `text` (most distinct terms, then earliest), split into fragments (matched or not).

    The text is matched a growing prefix at a time (normalizing a long article
    costs more than the rest of a hit): a window holding every term, with the
    windows of all earlier matches inside the prefix, cannot be beaten further on.
    """
    text = _without_scraper_tail(text)
    length = len(text)
    text = text[:SCAN_CHARS]
    terms = sorted({t for t in terms if t}, key=len, reverse=True)
    scanned = min(len(text), FIRST_SCAN)
    while True:
        spans = match_spans(text[:scanned], terms)
        if len(text) <= width or not spans:
            best = None
        else:
            best = _best_window(text, spans, width)
        if scanned == len(text) or (best is not None and spans[best][0] + 2 * width <= scanned
                                    and _distinct(text, spans, best, width) == len(terms)):
            break
        scanned = min(len(text), scanned * 4)
    if len(text) <= width:
        start, end = 0, len(text)
    elif best is None:
        start, end = 0, width
    else:
        start = max(0, min(spans[best][0] - width // 5, len(text) - width))
        end = start + width
    out: list[Fragment] = []
    if start > 0:
        out.append(("…", False))
    cur = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        if s > cur:
            out.append((text[cur:s], False))
        out.append((text[s:e], True))
        cur = e
    if cur < end:
        out.append((text[cur:end], False))
    if end < length:
        out.append(("…", False))
    return [(t.replace("\n", " "), m) for t, m in out]


def _without_scraper_tail(text: str) -> str:
    """`text` less its trailing run of spaces and bars when that run holds a bar (a regex took 0.1 ms a hit)."""
    end = len(text)
    while end and (text[end - 1].isspace() or text[end - 1] in BARS):
        end -= 1
    return text[:end] if any(b in text[end:] for b in BARS) else text


def _best_window(text: str, spans: list[tuple[int, int]], width: int) -> int:
    """The span whose window [start, start + width) holds the most distinct terms, earliest on ties.

    One pass with a sliding window (spans are sorted and disjoint): a repetitive
    article can have 100,000 matches, and comparing every pair took hours.
    """
    best, most, j = 0, -1, 0
    inside: Counter[str] = Counter()
    for i, (start, end) in enumerate(spans):
        j = max(j, i)  # when span i-1 did not fit, the window is empty
        while j < len(spans) and spans[j][1] <= start + width:
            inside[text[spans[j][0]:spans[j][1]]] += 1
            j += 1
        if len(inside) > most:
            best, most = i, len(inside)
        if j > i:
            term = text[start:end]
            inside[term] -= 1
            if not inside[term]:
                del inside[term]
    return best


def _distinct(text: str, spans: list[tuple[int, int]], best: int, width: int) -> int:
    """How many distinct normalized terms the window of span `best` holds."""
    limit = spans[best][0] + width
    return len({normalize(text[s:e]) for s, e in spans[best:] if e <= limit})


def to_html(frags: list[Fragment]) -> str:
    """Escape everything; only our own <mark> tags are markup."""
    return "".join(f"<mark>{html.escape(t)}</mark>" if m else html.escape(t) for t, m in frags)


def highlight_html(text: str, terms: Iterable[str]) -> str:
    """The whole of `text`, escaped, with every match marked (for an article page)."""
    out, cur = [], 0
    for s, e in match_spans(text, terms):
        out.append(html.escape(text[cur:s]))
        out.append(f"<mark>{html.escape(text[s:e])}</mark>")
        cur = e
    out.append(html.escape(text[cur:]))
    return "".join(out)
