"""A result list as CSV, for a spreadsheet: ``newssearch query --format csv`` and the web's /search.csv.

UTF-8 with a byte-order mark, which is how Excel recognises UTF-8 (without it,
Chinese opens as mojibake); one row per hit in the search's order; the snippet is
plain text (no <mark>, no HTML escapes). At most `MAX_ROWS` hits are written.
A text cell that a spreadsheet would run as a formula (=, +, -, @ first) gets a
leading apostrophe, as OWASP advises against CSV injection: article text comes from
the web and must not execute on a reporter's machine.
"""

from __future__ import annotations

import csv
import io

from .results import SearchResult

MAX_ROWS = 10_000
COLUMNS = ("id", "title", "date", "source", "url", "score", "snippet")
BOM = "\ufeff"
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str | None) -> str:
    text = text or ""
    return "'" + text if text.startswith(_FORMULA) else text


def to_csv(result: SearchResult) -> str:
    """The hits of `result` as CSV text, BOM and header row first."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(COLUMNS)
    for hit in result.hits:
        snippet = "".join(text for text, _marked in hit.fragments)
        writer.writerow([*map(_cell, (hit.id, hit.title, hit.date, hit.source, hit.url)), hit.score, _cell(snippet)])
    return out.getvalue()
