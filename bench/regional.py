"""Regional wording across the strait: does a mainland term find Taiwan's articles, and the reverse?

Indexes every Tainan (Traditional) and CCTV (Simplified) article that uses one of
the terms below, plus a random sample of the rest, and prints one table: for each
pair, the share of Traditional articles using the Taiwan term that the mainland
term finds (and the reverse), and the Simplified articles that only mention 公车
(an official car on the mainland) found by 公交车 (a bus). Uses only
Searcher.search, so the same command measures an older checkout for a before/after:
``PYTHONPATH=/path/to/old/checkout python bench/regional.py``.

    python bench/regional.py [--articles 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import DEFAULT_CORPUS, load, sample, write_jsonl  # noqa: E402
from indexer.config import Config  # noqa: E402
from indexer.normalize import normalize  # noqa: E402
from indexer.search import Searcher  # noqa: E402
from indexer.writer import run_index  # noqa: E402

PAIRS = [("出租车", "計程車"), ("软件", "軟體"), ("自行车", "腳踏車"), ("人工智能", "人工智慧"), ("激光", "雷射"),
         ("新西兰", "紐西蘭"), ("信息", "資訊")]
FALSE_FRIEND = ("公交车", "公车")  # a bus on both sides / an official car on the mainland (a listed false friend,
# like 影片: a film there, a video here; so 视频 and 影片 are deliberately not linked)


def _text(r: dict) -> str:
    return normalize(f"{r.get('title') or ''}\n{r.get('body') or ''}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--articles", type=int, default=1000, help="other articles sampled from each file")
    args = ap.parse_args()
    data = load(args.corpus)
    terms = [normalize(t) for pair in PAIRS for t in pair] + [normalize(t) for t in FALSE_FRIEND]
    keep: dict[str, list[dict]] = {}
    for tag, records in data.items():
        using = [r for r in records if any(t in _text(r) for t in terms)]
        rest = [r for r in records if r not in using]
        keep[tag] = using + sample(rest, args.articles)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        for tag, records in keep.items():
            write_jsonl(records, src / f"{tag}.jsonl")
        config = Config.load(Path(tmp) / "index", Path(tmp) / "no-userdict.txt")
        t0 = time.perf_counter()
        run_index(config, [src])
        s = Searcher(config)
        print(f"{sum(map(len, keep.values()))} articles indexed in {time.perf_counter() - t0:.0f} s\n")

        def found(q: str) -> set[str]:
            return {h.id for h in s.search(q, limit=0, keywords=False, suggest=False).hits}

        def users(tag: str, term: str) -> set[str]:
            return {r["id"] for r in keep[tag] if normalize(term) in _text(r)}

        print(f"| {'query':<8} | {'finds articles of the other region using':<12} | {'articles':>8} | {'found':>6} | "
              f"{'recall':>6} |")
        print("|---|---|---:|---:|---:|")
        worst = 1.0
        for mainland, taiwan in PAIRS:
            for q, tag, term in ((mainland, "hant", taiwan), (taiwan, "hans", mainland)):
                want = users(tag, term)
                if not want:
                    continue
                got = len(want & found(q))
                worst = min(worst, got / len(want))
                print(f"| {q:<8} | {term} ({'Traditional' if tag == 'hant' else 'Simplified'}) | {len(want):>8} | "
                      f"{got:>6} | {got / len(want):>6.0%} |")
        bus, car = FALSE_FRIEND
        only_car = {r["id"] for r in keep["hans"] if normalize(car) in _text(r) and normalize(bus) not in _text(r)}
        wrong = len(only_car & found(bus))
        print(f"\nlowest recall: {worst:.0%}; Simplified articles only mentioning {car} found by {bus}: "
              f"{wrong} of {len(only_car)}")
        s.close()


if __name__ == "__main__":
    main()
