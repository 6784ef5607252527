"""SQLite FTS5 baselines: the trigram tokenizer, and the default tokenizer over jieba-segmented text.

Both are built the way a developer would write them first: two columns (title,
body), no script normalization, queries as FTS5 strings ranked by ``bm25``.
The trigram tokenizer treats a quoted string as a substring, so it finds any
run of three or more characters but nothing shorter. The jieba variant stores
words separated by spaces and segments queries the same way.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import warnings
from pathlib import Path


def _jieba():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="invalid escape sequence", category=SyntaxWarning)
        import jieba
    jieba.setLogLevel(logging.WARNING)
    return jieba


def _quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


class FtsIndex:
    """An FTS5 table (id, title, body) in a SQLite file; ``segmented`` stores jieba words."""

    def __init__(self, path: Path, segmented: bool) -> None:
        self.path = path
        self.segmented = segmented
        self.seconds = 0.0
        self._db: sqlite3.Connection | None = None

    def _seg(self, text: str) -> str:
        return " ".join(_jieba().cut(text)) if self.segmented else text

    def build(self, records: list[dict]) -> float:
        """Index `records` (dicts with id, title, body); return the seconds it took."""
        start = time.perf_counter()
        self.path.unlink(missing_ok=True)
        db = sqlite3.connect(self.path)
        tokenize = "unicode61" if self.segmented else "trigram"
        db.execute(f"CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, body, tokenize='{tokenize}')")
        db.executemany(
            "INSERT INTO docs VALUES (?, ?, ?)",
            ((r["id"], self._seg(r.get("title") or ""), self._seg(r.get("body") or "")) for r in records),
        )
        db.commit()
        self._db = db
        self.seconds = time.perf_counter() - start
        return self.seconds

    def match_string(self, terms: list[str], phrase: bool) -> str:
        """The FTS5 query for required `terms`, or for one quoted `phrase`.

        Trigram: each term is a quoted string (a substring match). jieba: the
        terms are segmented like the text; each word is required, and a phrase
        is the FTS5 phrase of its words.
        """
        if not self.segmented:
            return " AND ".join(_quote(t) for t in terms if t.strip())
        words = [[w for w in _jieba().cut(t) if w.strip()] for t in terms]
        if phrase:
            return " ".join(_quote(" ".join(ws)) for ws in words if ws)
        return " AND ".join(_quote(w) for ws in words for w in ws)

    def search(self, terms: list[str], phrase: bool, limit: int | None) -> list[str]:
        """Ids of matching articles, best (lowest bm25) first; every hit if `limit` is None."""
        q = self.match_string(terms, phrase)
        if not q:
            return []
        sql = "SELECT id FROM docs WHERE docs MATCH ? ORDER BY rank"
        args: tuple = (q,)
        if limit is not None:
            sql += " LIMIT ?"
            args = (q, limit)
        try:
            return [row[0] for row in self._db.execute(sql, args)]
        except sqlite3.OperationalError:  # a string FTS5 cannot parse finds nothing
            return []

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
