"""HTML ingest: pages per second, and what decoding and extraction make of each encoding.

Real corpus articles are rendered into county-style (Simplified) and city-style
(Traditional, ROC dates) government pages, saved in each encoding with and
without a declaration, mislabelled, and as mojibake, in a temp dir. Every page
then goes through the real reader; the table says how each was decoded, how
many were skipped, and how many came back with exactly the title, date, source
and body they were made from. Speed is compared with reading the same articles
as .txt files in the same process.

    python -m bench.html_ingest [--per-file 300]
"""

from __future__ import annotations

import argparse
import codecs
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.corpus import DEFAULT_CORPUS, load
from indexer.errors import IngestError
from indexer.ingest.decode import decode_bytes, sniff_declared
from indexer.ingest.readers import read_file
from tests.fixtures.pages import record_page

# (name, script, layout, encoding written, charset declared, BOM)
CASES = [
    ("gbk, declared gb2312", "hans", "county", "gbk", "gb2312", b""),
    ("gbk, undeclared", "hans", "county", "gbk", None, b""),
    ("gb18030, declared", "hans", "county", "gb18030", "gb18030", b""),
    ("utf-8, declared", "hans", "county", "utf-8", "utf-8", b""),
    ("utf-8 + BOM, undeclared", "hans", "county", "utf-8", None, codecs.BOM_UTF8),
    ("utf-8, mislabelled gb2312", "hans", "county", "utf-8", "gb2312", b""),
    ("mojibake (utf-8 read as gbk)", "hans", "county", "mojibake", "utf-8", b""),
    ("big5, declared", "hant", "city", "big5", "big5", b""),
    ("big5, undeclared", "hant", "city", "big5", None, b""),
    ("big5, mislabelled gbk", "hant", "city", "big5", "gbk", b""),
    ("utf-8 + BOM, declared", "hant", "city", "utf-8", "utf-8", codecs.BOM_UTF8),
    ("gb18030, undeclared", "hant", "city", "gb18030", None, b""),
]


def encode(page: str, enc: str, bom: bytes) -> bytes:
    if enc == "mojibake":
        return page.encode("utf-8").decode("gb18030", "replace").encode("utf-8")
    return bom + page.encode(enc, "xmlcharrefreplace")  # what a CMS does with characters outside Big5


def exact(art, rec: dict) -> bool:
    body = "\n".join(p.strip() for p in rec["body"].split("\n") if p.strip())
    return (art.title, art.date, art.source, art.body) == (rec["title"], rec["date"], rec.get("source"), body)


def run(per_file: int, corpus: Path) -> None:
    records = load(corpus, per_file)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        txt = []
        for tag, recs in records.items():
            for i, rec in enumerate(recs):
                p = root / "txt" / f"{tag}{i}.txt"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(f"{rec['title']}\n{rec['body']}", encoding="utf-8")
                txt.append(p)
        for p in txt[:20]:
            read_file(p)  # warm up imports and caches
        t = time.perf_counter()
        for p in txt:
            read_file(p)
        txt_rate = len(txt) / (time.perf_counter() - t)

        print(f"{'case':32} {'pages':>5} {'decoded as':24} {'skipped':>7} {'exact':>6} {'pages/s':>8}")
        total_pages, total_time = 0, 0.0
        for name, script, layout, enc, declared, bom in CASES:
            recs = records[script]
            paths = []
            for i, rec in enumerate(recs):
                p = root / name.replace(" ", "_") / f"{i}.html"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(encode(record_page(rec, layout, declared), enc, bom))
                paths.append(p)
            seen: Counter[str] = Counter()
            skipped = good = 0
            t = time.perf_counter()
            results = [read_file(p) for p in paths]
            took = time.perf_counter() - t
            total_pages, total_time = total_pages + len(paths), total_time + took
            for rec, res in zip(recs, results, strict=True):
                if not res.articles:
                    skipped += 1
                    continue
                good += exact(res.articles[0], rec)
            for p in paths:
                raw = p.read_bytes()
                try:
                    seen[decode_bytes(raw, sniff_declared(raw))[1]] += 1
                except IngestError:
                    pass  # counted as skipped above
            decoded = ", ".join(f"{k} {v}" for k, v in seen.most_common()) or "-"
            print(f"{name:32} {len(paths):5} {decoded:24} {skipped:7} {good:6} {len(paths) / took:8.0f}")
        html_rate = total_pages / total_time
        print()
        print(f"{'ingest':32} {'pages/s':>8} {'ratio':>6}")
        print(f"{'.txt (baseline)':32} {txt_rate:8.0f} {1.0:6.2f}")
        print(f"{'.html (decode + extract)':32} {html_rate:8.0f} {html_rate / txt_rate:6.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-file", type=int, default=300, help="articles drawn from each corpus file")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = ap.parse_args()
    run(args.per_file, args.corpus)


if __name__ == "__main__":
    main()
