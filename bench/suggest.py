"""Search-box suggestions (GET /api/suggest): are title words typed as pinyin offered, and how fast?

Title words of sampled articles (2–4 Han characters, as segmented) are typed three
ways: full pinyin (zhenggai), pinyin with spaces (zheng gai) and initials (zg); a
hit is the word among the first three suggestions. Time is per call of
Searcher.complete, after one warm-up call (which loads the vocabulary). The
baseline is the same index's vocabulary without pinyin: a Chinese prefix (整)
must already be typed, so none of the pinyin queries can hit. bench/relevance.py
prints the same row for its sample.

    python bench/suggest.py [--articles N | --full] [--queries N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pypinyin import Style, lazy_pinyin  # noqa: E402

from bench import corpus  # noqa: E402
from indexer.config import Config  # noqa: E402
from indexer.normalize import is_han, normalize  # noqa: E402
from indexer.search import Searcher  # noqa: E402
from indexer.segmenter import cut  # noqa: E402
from indexer.writer import run_index  # noqa: E402

HEAD = "suggest      | words | pinyin top-3 | spaced top-3 | initials top-3 | p50 ms | p95 ms | max ms"


def title_words(rng: random.Random, docs: list[dict], n: int) -> list[str]:
    """`n` distinct normalized title words of 2–4 Han characters from randomly drawn articles."""
    words: dict[str, None] = {}
    for d in rng.sample(docs, len(docs)):
        cands = [w for w in cut(normalize(d["title"])) if 2 <= len(w) <= 4 and all(map(is_han, w))]
        if cands:
            words.setdefault(rng.choice(cands))
        if len(words) == n:
            break
    return list(words)


def pinyin_row(searcher: Searcher, words: list[str]) -> str:
    """One table row: top-3 hit rates per way of typing, and the time per suggestion call."""
    searcher.complete("zhenggai")  # loads the vocabulary
    hits = {"pinyin": 0, "spaced": 0, "initials": 0}
    times: list[float] = []
    for w in words:
        syllables = lazy_pinyin(w, style=Style.NORMAL)
        typed = {"pinyin": "".join(syllables), "spaced": " ".join(syllables),
                 "initials": "".join(s[0] for s in syllables)}
        for way, q in typed.items():
            t0 = time.perf_counter()
            got = searcher.complete(q)
            times.append((time.perf_counter() - t0) * 1000)
            hits[way] += w in got[:3]
    n = max(len(words), 1)
    q = statistics.quantiles(times, n=20) if len(times) > 1 else times * 19
    return (f"newssearch   | {len(words):>5} | {hits['pinyin'] / n:>12.3f} | {hits['spaced'] / n:>12.3f} | "
            f"{hits['initials'] / n:>14.3f} | {statistics.median(times):>6.2f} | {q[18]:>6.2f} | {max(times):>6.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    corpus.sample_options(ap, articles=2000)
    args = ap.parse_args()
    data = corpus.load(args.corpus, None if args.full else args.articles, args.seed)
    docs = [r for recs in data.values() for r in recs]
    words = title_words(random.Random(args.seed), docs, args.queries)
    with tempfile.TemporaryDirectory(prefix="newssearch-suggest-") as tmp:
        for tag, recs in data.items():
            corpus.write_jsonl(recs, Path(tmp) / "src" / f"{tag}.jsonl")
        config = Config.load(Path(tmp) / "index", Path(tmp) / "no-userdict.txt")
        summary = run_index(config, [Path(tmp) / "src"])
        s = Searcher(config)
        print(f"{len(docs)} articles indexed in {summary.seconds:.0f} s "
              f"(vocabulary {summary.timings.get('vocabulary', 0):.1f} s of it)\n")
        print(HEAD)
        print(f"{'no pinyin':<12} | {len(words):>5} | {0:>12.3f} | {0:>12.3f} | {0:>14.3f} |      - |      - |      -")
        print(pinyin_row(s, words))
        s.close()


if __name__ == "__main__":
    main()
