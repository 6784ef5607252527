"""The shared corpus for benchmarks: locating it, loading it, sampling it reproducibly.

The corpus lives outside the repository (``../shared/corpus`` from the repo root)
and is never copied into it; benchmarks write any derived files to temp dirs.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
# script tag -> file name; "hans" is CCTV (Simplified), "hant" is Tainan (Traditional).
FILES = {"hans": "news-zh-hans.jsonl", "hant": "news-zh-hant.jsonl"}
SEED = 20250601


def sample_options(ap, articles: int) -> None:
    """The options of a benchmark that samples the corpus and runs a number of queries per metric."""
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--articles", type=int, default=articles,
                    help=f"articles sampled from each file (default {articles})")
    ap.add_argument("--full", action="store_true", help="index every article of both files")
    ap.add_argument("--queries", type=int, default=300, help="queries per metric (default 300)")
    ap.add_argument("--seed", type=int, default=SEED)


def read_jsonl(path: Path) -> list[dict]:
    """Every record of a JSON-lines file, in file order."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def sample(records: list[dict], n: int | None, seed: int = SEED) -> list[dict]:
    """`n` records drawn at random with `seed`, kept in file order; all of them if `n` is None or too big."""
    if n is None or n >= len(records):
        return list(records)
    keep = sorted(random.Random(seed).sample(range(len(records)), n))
    return [records[i] for i in keep]


def load(corpus: Path = DEFAULT_CORPUS, per_file: int | None = None, seed: int = SEED) -> dict[str, list[dict]]:
    """Records of both news files keyed by script tag, `per_file` sampled from each (None: all)."""
    missing = [str(corpus / name) for name in FILES.values() if not (corpus / name).is_file()]
    if missing:
        raise SystemExit(f"shared corpus not found: {', '.join(missing)} (pass --corpus DIR)")
    return {tag: sample(read_jsonl(corpus / name), per_file, seed) for tag, name in FILES.items()}


def write_jsonl(records: list[dict], path: Path) -> Path:
    """Write records as JSON lines (for indexing a sample from a temp dir)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path
