"""Performance benchmark (issue 6): newssearch against the naive Whoosh + ChineseAnalyzer build.

Both indexes are built in this run from ../shared/corpus (both files, 27,000 articles;
``--script`` one of them; ``--articles N`` a seeded sample, or beyond the corpus's size
articles recombined from it by `bench.generate`; ``--big`` is ``--articles 100000``),
each build in a child process so its peak memory (PSS of the process tree) can be read.
Then: incremental runs with nothing changed and with 1 % of the articles changed
(spread over the files), index sizes, a fixed query mix timed
with snippets (Whoosh's highlighter for the naive build: it has no other), and the
wall time of a cold ``newssearch query 整改`` process. Every figure is printed beside
the naive one with the ratio. Stage times are CPU seconds summed over worker processes.

Usage: python bench/perf.py [--articles N | --big] [--script hans|hant] [--corpus DIR] [--repeat R]
       [--no-naive] [--keep DIR]
       python bench/perf.py --index DIR [--index DIR ...] [--repeat R]   (existing indexes, side by side)

The million: python bench/perf.py --articles 1000000 --no-naive (the naive build would take hours).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import corpus, generate  # noqa: E402

CHUNK = generate.CHUNK  # articles per source file, like a crawler's daily dumps
BIG = 100_000
# (label, query, search options); "common" rows are the words in most articles.
QUERIES: list[tuple[str, str, dict]] = [
    ("word", "整改", {}),
    ("word", "疫情", {}),
    ("word", "防汛", {}),
    ("word", "观光", {}),
    ("word", "觀光", {}),
    ("word", "乡村振兴", {}),
    ("word", "長照", {}),
    ("name", "黄伟哲", {}),
    ("name", "黃偉哲", {}),
    ("name", "习近平", {}),
    ("name", "赖清德", {}),
    ("phrase", '"全面建成小康社会"', {}),
    ("phrase", '"臺南市政府"', {}),
    ("phrase", '"新闻联播"', {}),
    ("phrase", '"38个"', {}),
    ("two", "疫情 防控", {}),
    ("two", "台南 观光", {}),
    ("two", "經濟 發展", {}),
    ("two", "学校 营养午餐", {}),
    ("filter", "疫情", {"since": "2020-01-01", "until": "2020-12-31"}),
    ("filter", "教育", {"source": "教育局"}),
    ("date", "疫情", {"sort": "date"}),
    ("date", "防疫 OR 疫苗", {"sort": "date"}),
    ("common", "台南", {}),
    ("common", "中国", {}),
    ("common", "发展", {}),
    ("common", "工作", {}),
    ("common", "台南", {"sort": "date"}),
]


def write_source(args, src: Path) -> tuple[int, int]:
    """The benchmark's articles as files of CHUNK in `src`: a seeded sample of the corpus (all of it by
    default), or generated ones (`bench.generate`) when more are asked for than it holds. (articles, characters)"""
    by_tag = corpus.load(args.corpus, per_file=None)
    records = [r for tag in sorted(by_tag) if args.script in (None, tag) for r in by_tag[tag]]
    if args.articles and args.articles > len(records):
        return generate.write(src, args.articles, args.corpus, args.script)
    records = corpus.sample(records, args.articles)
    for i in range(0, len(records), CHUNK):
        corpus.write_jsonl(records[i : i + CHUNK], src / f"part-{i // CHUNK:04d}.jsonl")
    return len(records), sum(len(r.get("title") or "") + len(r.get("body") or "") for r in records)


class PeakPss:
    """Samples the summed PSS of a process tree (shared pages counted once): every 0.2 s, every 1 s after a minute.

    Reading smaps_rollup walks the page tables: at 0.2 s it cost ~8 % of a core during a long build.
    """

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _tree(self) -> list[int]:
        out, todo = [], [self.pid]
        while todo:
            p = todo.pop()
            out.append(p)
            try:
                todo.extend(int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split())
            except (OSError, ValueError):
                pass
        return out

    def _loop(self) -> None:
        start = time.monotonic()
        while not self._stop.wait(0.2 if time.monotonic() - start < 60 else 1.0):
            total = 0
            for p in self._tree():
                try:
                    for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                        if line.startswith("Pss:"):
                            total += int(line.split()[1]) * 1024
                except OSError:
                    pass
            self.peak = max(self.peak, total)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def run_child(args: list[str]) -> dict:
    """Run this script in child mode; return its JSON plus wall time, CPU time and peak memory."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    sampler = PeakPss(proc.pid)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    pss = sampler.stop()
    if proc.returncode:
        raise SystemExit(f"child {args} failed with {proc.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result.update(wall=time.perf_counter() - start, cpu=usage.ru_utime + usage.ru_stime,
                  maxrss=usage.ru_maxrss * 1024, pss=pss)
    print(f"{args[1]} run: {json.dumps(result)}", file=sys.stderr)  # raw figures, kept if a later step fails
    return result


def child_build_newssearch(src: str, index: str) -> None:
    from indexer.config import Config
    from indexer.writer import run_index

    s = run_index(Config.load(index, Path(index).parent / "no-userdict.txt"), [Path(src)])
    print(json.dumps({"added": s.added, "updated": s.updated, "unchanged": s.unchanged, "timings": s.timings}))


def child_build_naive(src: str, index: str) -> None:
    from whoosh import fields
    from whoosh import index as windex

    from bench.naive import chinese_analyzer

    Path(index).mkdir(parents=True)
    schema = fields.Schema(id=fields.ID(stored=True, unique=True),
                           content=fields.TEXT(analyzer=chinese_analyzer(), stored=True))
    writer = windex.create_in(index, schema).writer(limitmb=256)
    n = 0
    for f in sorted(Path(src).glob("*.jsonl")):
        for r in corpus.read_jsonl(f):
            writer.add_document(id=r["id"], content=f"{r.get('title') or ''}\n{r.get('body') or ''}")
            n += 1
    writer.commit()
    print(json.dumps({"added": n}))


def time_queries(search, repeat: int) -> dict[str, list[float]]:
    """Seconds per query by label (the first pass warms caches and is not counted)."""
    times: dict[str, list[float]] = {}
    for rep in range(repeat + 1):
        for label, q, opts in QUERIES:
            t = time.perf_counter()
            search(q, opts)
            if rep:
                times.setdefault(label, []).append(time.perf_counter() - t)
    return times


def compare_indexes(indexes: list[Path], repeat: int) -> None:
    """Time the query mix on existing indexes and print p50/p95/p99 per kind and the ratios to the first index.

    Each query runs on every index in turn (the order flips every pass), so the load of
    a shared machine falls on all alike; the first pass warms caches and is not counted.
    """
    from indexer.config import Config
    from indexer.search import Searcher

    searchers = [Searcher(Config.load(ix, ix.parent / "no-userdict.txt")) for ix in indexes]
    times: list[dict[str, list[float]]] = [{} for _ in indexes]
    try:
        for rep in range(repeat + 1):
            for label, q, opts in QUERIES:
                for i in range(len(indexes))[:: 1 if rep % 2 else -1]:
                    t = time.perf_counter()
                    searchers[i].search(q, **opts)
                    if rep:
                        times[i].setdefault(label, []).append(time.perf_counter() - t)
    finally:
        for s in searchers:
            s.close()
    for k, ix in enumerate(indexes):
        print(f"[{k}] {ix}")
    print(f"\n{'ms p50/p95/p99':<16}" + "".join(f"{f'[{k}]':>22}" for k in range(len(indexes))))
    for label in [*times[0], "all"]:
        cells = []
        for t in times:
            xs = [x for v in t.values() for x in v] if label == "all" else t[label]
            cells.append("/".join(f"{pct(xs, p) * 1000:.1f}" for p in (50, 95, 99)))
        print(f"{label:<16}" + "".join(f"{c:>22}" for c in cells))
    first = [x for v in times[0].values() for x in v]
    for k, t in enumerate(times[1:], 1):
        xs = [x for v in t.values() for x in v]
        print(f"[{k}] / [0]: p50 {pct(xs, 50) / pct(first, 50):.2f}x, p95 {pct(xs, 95) / pct(first, 95):.2f}x")


def newssearch_queries(index: Path, repeat: int) -> dict[str, list[float]]:
    from indexer.config import Config
    from indexer.search import Searcher

    s = Searcher(Config.load(index, index.parent / "no-userdict.txt"))
    try:
        return time_queries(lambda q, o: s.search(q, **o), repeat)
    finally:
        s.close()


def naive_queries(index: Path, repeat: int) -> dict[str, list[float]]:
    from whoosh import index as windex
    from whoosh import query as wq
    from whoosh.qparser import QueryParser

    from bench.naive import chinese_analyzer

    chinese_analyzer()  # jieba's dictionary loads here, not in the first query
    ix = windex.open_dir(str(index))
    parser = QueryParser("content", ix.schema)
    with ix.searcher() as s:
        def search(q: str, opts: dict) -> None:
            query = parser.parse(q)
            if opts.get("source") or opts.get("since"):  # no such fields: filter on a word instead
                query = wq.And([query, parser.parse(opts.get("source") or "2020")])
            hits = s.search(query, limit=10)  # no date field to sort on
            for hit in hits:
                hit.highlights("content")
        return time_queries(search, repeat)


def child_env(userdict: Path) -> dict[str, str]:
    """The environment of a timed `newssearch` process: `userdict` as its user dictionary, bytecode allowed.

    pip compiles an installed package's modules; a shell that sets PYTHONDONTWRITEBYTECODE
    would make every timed process compile ~35 of ours again (~0.1 s each time).
    """
    env = {**os.environ, "NEWSSEARCH_USERDICT": str(userdict)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def cold_query(cmd: list[str], cwd: Path, runs: int = 3) -> float:
    """Median wall time of a new process; the user dictionary is the one the index was built with."""
    env = child_env(cwd / "no-userdict.txt")
    walls = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=cwd, env=env)
        walls.append(time.perf_counter() - t)
    return statistics.median(walls)


NAIVE_COLD = """
import sys, warnings; sys.path.insert(0, {root!r})
from whoosh import index; from whoosh.qparser import QueryParser
from bench.naive import chinese_analyzer
chinese_analyzer(); ix = index.open_dir({index!r})
with ix.searcher() as s:
    for h in s.search(QueryParser("content", ix.schema).parse("整改"), limit=10): print(h.highlights("content"))
"""


def change_one_percent(src: Path, n: int, seed: int) -> int:
    """Append a line to the bodies of 1 % of the `n` articles, picked at random across the files."""
    picked = sorted(random.Random(seed).sample(range(n), max(1, n // 100)))
    by_file: dict[int, set[int]] = {}
    for i in picked:
        by_file.setdefault(i // CHUNK, set()).add(i % CHUNK)
    for k, rows in by_file.items():
        path = src / f"part-{k:04d}.jsonl"
        records = corpus.read_jsonl(path)
        for i in rows:
            records[i] = {**records[i], "body": records[i]["body"] + "\n（更正）"}
        corpus.write_jsonl(records, path)
    return len(picked)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def row(name: str, naive: float | None, ours: float, unit: str, better: str) -> None:
    """One table line; the ratio is how many times better newssearch is (>1 is better)."""
    def fmt(v):
        return "—" if v is None else f"{v:,.3f}" if abs(v) < 10 else f"{v:,.0f}"
    ratio = "—"
    if naive:
        ratio = f"{(ours / naive if better == 'higher' else naive / ours if ours else float('inf')):.2f}×"
    print(f"{name:<38} {fmt(naive):>14} {fmt(ours):>14} {unit:<10} {ratio:>8}")


def measure(args, tmp: Path) -> dict:
    """Build, re-run and query both indexes under `tmp`; every figure the table shows."""
    src, ours_ix, naive_ix = tmp / "src", tmp / "index", tmp / "naive"
    t = time.perf_counter()
    n, chars = write_source(args, src)
    print(f"{n:,} articles, {chars:,} characters written in {time.perf_counter() - t:.0f}s, "
          f"{os.cpu_count()} cores", file=sys.stderr)
    m: dict = {"n": n, "chars": chars}
    m["naive"] = None if args.no_naive else run_child(["--child", "naive", str(src), str(naive_ix)])
    m["ours"] = run_child(["--child", "newssearch", str(src), str(ours_ix)])
    m["again"] = run_child(["--child", "newssearch", str(src), str(ours_ix)])
    m["changed"] = change_one_percent(src, n, corpus.SEED)
    m["inc"] = run_child(["--child", "newssearch", str(src), str(ours_ix)])
    ours, again, inc = m["ours"], m["again"], m["inc"]
    assert again["unchanged"] == ours["added"] and inc["updated"] <= m["changed"], (ours, again, inc)
    exe = Path(sys.executable).with_name("newssearch")
    m["cold"] = cold_query([str(exe), "query", "整改", "--index", str(ours_ix)], tmp)
    print(f"cold query: {m['cold']:.3f}s", file=sys.stderr)
    m["q_ours"] = newssearch_queries(ours_ix, args.repeat)
    m["q_naive"] = None if args.no_naive else naive_queries(naive_ix, args.repeat)
    m["cold_naive"] = None if args.no_naive else cold_query(
        [sys.executable, "-c", NAIVE_COLD.format(root=str(ROOT), index=str(naive_ix))], tmp)
    m["size"], m["size_naive"] = dir_size(ours_ix), None if args.no_naive else dir_size(naive_ix)
    return m


def report(m: dict) -> None:
    """The table: newssearch beside the naive build, with ratios."""
    naive, ours, count, chars = m["naive"], m["ours"], m["n"], m["chars"]
    q_ours, q_naive = m["q_ours"], m["q_naive"]

    def n(key):
        return None if naive is None else naive[key]

    def qs(times, labels=None):
        return [t for k, v in times.items() if labels is None or k in labels for t in v]

    print(f"\n{count:,} articles, {chars / 1e6:.1f} M characters; ratio = times better than naive\n")
    print(f"{'':<38} {'naive':>14} {'newssearch':>14} {'unit':<10} {'ratio':>8}")
    row("indexing rate", n("added") and count / naive["wall"], count / ours["wall"], "art/s", "higher")
    row("indexing rate (characters)", n("added") and chars / naive["wall"], chars / ours["wall"], "chars/s", "higher")
    row("indexing wall time", n("wall"), ours["wall"], "s", "lower")
    row("indexing CPU time (all processes)", n("cpu"), ours["cpu"], "s", "lower")
    row("peak memory, largest process", n("maxrss") and naive["maxrss"] / 2**20, ours["maxrss"] / 2**20, "MiB", "lower")
    row("peak memory, process tree (PSS)", n("pss") and naive["pss"] / 2**20, ours["pss"] / 2**20, "MiB", "lower")
    row("incremental, nothing changed", n("wall"), m["again"]["wall"], "s", "lower")
    row(f"incremental, 1 % changed ({m['changed']:,})", n("wall"), m["inc"]["wall"], "s", "lower")
    row("index size", m["size_naive"] and m["size_naive"] / 2**20, m["size"] / 2**20, "MiB", "lower")
    for p in (50, 95, 99):
        ms = pct(qs(q_ours), p) * 1000
        row(f"query p{p} with snippets", q_naive and pct(qs(q_naive), p) * 1000, ms, "ms", "lower")
    row("query p99, most common words", q_naive and pct(qs(q_naive, {"common"}), 99) * 1000,
        pct(qs(q_ours, {"common"}), 99) * 1000, "ms", "lower")
    row("cold `query 整改` process", m["cold_naive"], m["cold"], "s wall", "lower")
    if naive is None:
        print("\n(naive not built: --no-naive; at a million articles its build would take hours)")
    else:
        print("\n(naive incremental = its full rebuild: it has no incremental mode)")
    print("\nnewssearch per query kind (ms, p50/p95/p99): " + ", ".join(
        f"{k} {pct(v, 50) * 1000:.1f}/{pct(v, 95) * 1000:.1f}/{pct(v, 99) * 1000:.1f}" for k, v in q_ours.items()))
    for name, run in (("first build", ours), ("1 % changed", m["inc"])):
        t = run["timings"]
        total = sum(t.values()) or 1
        print(f"newssearch {name} time split (CPU s, workers summed): " + ", ".join(
            f"{k} {v:.1f} ({v / total:.0%})" for k, v in t.items()))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=corpus.DEFAULT_CORPUS)
    ap.add_argument("--articles", type=int,
                    help="N articles: a seeded sample of the corpus, or generated ones beyond its size")
    ap.add_argument("--big", action="store_true", help=f"the same as --articles {BIG:,}")
    ap.add_argument("--script", choices=sorted(corpus.FILES), help="one script's file only (hant: Tainan)")
    ap.add_argument("--repeat", type=int, default=5, help="timed passes over the query mix (default 5)")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive build (no ratios)")
    ap.add_argument("--keep", type=Path, help="work in this new folder and keep it (sources and indexes)")
    ap.add_argument("--index", type=Path, action="append",
                    help="time the query mix on this existing index (repeat to compare several); nothing is built")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        kind, src, index = args.child
        return (child_build_newssearch if kind == "newssearch" else child_build_naive)(src, index)
    if args.index:
        return compare_indexes(args.index, args.repeat)
    if args.big:
        args.articles = BIG
    if args.keep:
        args.keep.mkdir(parents=True)
        return report(measure(args, args.keep.resolve()))
    with tempfile.TemporaryDirectory(prefix="nsperf-") as tmp:
        m = measure(args, Path(tmp))
    report(m)


if __name__ == "__main__":
    main()
