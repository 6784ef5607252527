"""The naive baseline: Whoosh with ``jieba.analyse.ChineseAnalyzer`` over title + body.

This is the build most people would write first: one text field analyzed by
jieba's Whoosh analyzer, queried with Whoosh's QueryParser. It does no script
normalization, and the analyzer sets token positions to character offsets.
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

from whoosh import fields
from whoosh import index as windex
from whoosh.qparser import QueryParser


def chinese_analyzer():
    """jieba's Whoosh analyzer, imported without jieba's SyntaxWarnings and log chatter."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="invalid escape sequence", category=SyntaxWarning)
        import jieba
        from jieba.analyse import ChineseAnalyzer
    jieba.setLogLevel(logging.WARNING)
    return ChineseAnalyzer()


class NaiveIndex:
    """A Whoosh index of articles with one ``content`` field (title, newline, body)."""

    FIELD = "content"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ix = None
        self.seconds = 0.0

    def build(self, records: list[dict]) -> float:
        """Index `records` (dicts with id, title, body); return the seconds it took."""
        start = time.perf_counter()
        self.path.mkdir(parents=True, exist_ok=True)
        schema = fields.Schema(id=fields.ID(stored=True, unique=True), content=fields.TEXT(analyzer=chinese_analyzer()))
        self.ix = windex.create_in(str(self.path), schema)
        writer = self.ix.writer(limitmb=256)
        for r in records:
            writer.add_document(id=r["id"], content=f"{r.get('title') or ''}\n{r.get('body') or ''}")
        writer.commit()
        self.seconds = time.perf_counter() - start
        return self.seconds

    def __enter__(self) -> NaiveIndex:
        self._searcher = self.ix.searcher()
        self._parser = QueryParser(self.FIELD, self.ix.schema)
        return self

    def __exit__(self, *exc) -> None:
        self._searcher.close()

    def search(self, text: str, limit: int | None = None) -> list[str]:
        """Ids of the articles matching `text` (Whoosh query syntax), best first; every hit if `limit` is None."""
        q = self._parser.parse(text)
        return [hit["id"] for hit in self._searcher.search(q, limit=limit)]

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())
