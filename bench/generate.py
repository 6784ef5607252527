"""Synthetic articles at any scale, recombined from the shared corpus (for ``bench/perf.py --articles N``).

Each generated article takes a real article of the corpus as its template: its
title, source and paragraph shape (sentences per paragraph), and fills every
paragraph with sentences drawn at random from articles of the same script and
source (sources with few sentences draw from their whole script). Ids are fresh
(``synth-<script>-<n>``), urls point to ``synthetic.invalid``, and dates are
spread evenly over ten years, so the articles are plainly synthetic, distinct
(repost grouping, which keys on the normalized body, does not fold them) and
shaped like the real ones. The same seed gives the same articles; they are
streamed to JSON-lines files of `CHUNK` articles without holding them all.

Usage: python bench/generate.py OUT_DIR --articles N [--script hans|hant] [--seed S]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import corpus  # noqa: E402

CHUNK = 1000  # articles per file, like a crawler's daily dumps
MIN_POOL = 400  # a source with fewer sentences draws from its whole script
MIN_SENTENCES = 3  # shorter templates get more: one or two drawn sentences would repeat across a million
LAST_DAY = dt.date(2026, 8, 31)  # the corpus's last month
DAYS = 3652  # ten years back from LAST_DAY
_SENTENCE = re.compile(r"[^。！？\n]*(?:[。！？]+|$)")


def sentences(paragraph: str) -> list[str]:
    """A paragraph cut after each 。！？ (runs of them stay together); empty pieces dropped."""
    return [s for s in _SENTENCE.findall(paragraph) if s.strip()]


@dataclass
class _Template:
    title: str
    source: str | None
    shape: list[int]  # sentences per paragraph
    pool: int  # index into Pools.sentences


class Pools:
    """The corpus cut into sentences, pooled by (script, source), and the articles used as templates."""

    def __init__(self, records_by_script: dict[str, list[dict]]) -> None:
        self.sentences: list[list[str]] = []
        self.templates: list[_Template] = []
        for _tag, records in sorted(records_by_script.items()):
            by_source: dict[str | None, list[str]] = {}
            shapes = []
            for r in records:
                paras = [sentences(p) for p in (r.get("body") or "").split("\n")]
                paras = [p for p in paras if p]
                by_source.setdefault(r.get("source"), []).extend(s for p in paras for s in p)
                shape = [len(p) for p in paras] or [0]
                shape[-1] += max(0, MIN_SENTENCES - sum(shape))
                shapes.append((r, shape))
            whole = [s for pool in by_source.values() for s in pool]
            index = {}
            for source, pool in sorted(by_source.items(), key=lambda kv: kv[0] or ""):
                index[source] = len(self.sentences)
                self.sentences.append(pool if len(pool) >= MIN_POOL else whole)
            self.templates += [_Template(r.get("title") or "", r.get("source"), shape, index[r.get("source")])
                               for r, shape in shapes]


def articles(pools: Pools, n: int, seed: int = corpus.SEED, tag: str = "") -> Iterator[dict]:
    """`n` synthetic articles (dicts with the corpus's keys), the same ones for the same seed."""
    rng = random.Random(seed)
    prefix = f"synth-{tag}-" if tag else "synth-"
    for k in range(n):
        t = rng.choice(pools.templates)
        pool = pools.sentences[t.pool]
        body = "\n".join("".join(rng.choice(pool) for _ in range(count)) for count in t.shape)
        date = LAST_DAY - dt.timedelta(days=rng.randrange(DAYS))
        aid = f"{prefix}{k:07d}"
        yield {"id": aid, "title": t.title, "date": date.isoformat(), "source": t.source,
               "url": f"https://synthetic.invalid/{aid}", "body": body}


def load_pools(corpus_dir: Path = corpus.DEFAULT_CORPUS, script: str | None = None) -> Pools:
    """Pools of both files of the corpus, or of one script ("hans" or "hant")."""
    by_tag = corpus.load(corpus_dir)
    return Pools({tag: rs for tag, rs in by_tag.items() if script in (None, tag)})


def write(out: Path, n: int, corpus_dir: Path = corpus.DEFAULT_CORPUS, script: str | None = None,
          seed: int = corpus.SEED) -> tuple[int, int]:
    """Write `n` articles as ``part-NNNN.jsonl`` files of CHUNK articles; return (articles, characters)."""
    pools = load_pools(corpus_dir, script)
    out.mkdir(parents=True, exist_ok=True)
    chars = 0
    f = None
    try:
        for k, a in enumerate(articles(pools, n, seed, script or "")):
            if k % CHUNK == 0:
                if f:
                    f.close()
                f = (out / f"part-{k // CHUNK:04d}.jsonl").open("w", encoding="utf-8")
            chars += len(a["title"]) + len(a["body"])
            f.write(json.dumps(a, ensure_ascii=False) + "\n")
    finally:
        if f:
            f.close()
    return n, chars


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--articles", type=int, required=True)
    ap.add_argument("--script", choices=sorted(corpus.FILES))
    ap.add_argument("--corpus", type=Path, default=corpus.DEFAULT_CORPUS)
    ap.add_argument("--seed", type=int, default=corpus.SEED)
    args = ap.parse_args(argv)
    n, chars = write(args.out, args.articles, args.corpus, args.script, args.seed)
    print(f"{n:,} articles, {chars:,} characters in {args.out}")


if __name__ == "__main__":
    main()
