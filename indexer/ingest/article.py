"""The article record that ingest produces and the index stores."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass
class Article:
    id: str
    title: str
    body: str
    date: str | None = None
    source: str | None = None
    url: str | None = None
    reporter: str | None = None
    file: str = ""

    def dupkey(self) -> str:
        """Equal for reposts of one article (转载): the normalized body, or title and body when short."""
        from ..normalize import normalize

        text = "".join(normalize(self.body).split())
        if len(text) < 50:
            text = "".join(normalize(self.title).split()) + "\x00" + text
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()

    def digest(self) -> str:
        """A hash of everything that is indexed: equal digests need no re-analysis."""
        h = hashlib.blake2b(digest_size=12)
        for part in (self.title, self.body, self.date, self.source, self.url, self.reporter):
            h.update((part or "").encode("utf-8", "surrogatepass"))
            h.update(b"\x00")
        return h.hexdigest()
