"""A season of cron runs (issue 13): the index many small `newssearch index -q` runs leave, beside a fresh build.

A base index is built from ../shared/corpus (CHUNK articles a file). Then N small
runs, each the cron command (`newssearch index --quiet`, a new process, re-scanning
the remembered folder): every run adds a file of 8 new articles; every 7th run
also rewrites 3 bodies of an earlier file (base or run file); every 11th run also
deletes an earlier run's file. New articles are the corpus articles not in the
base, then corpus articles again under new ids with a marked body (as
`bench/perf.py --big` does). Then the same folder is built fresh in the same
run, and the table compares both: segments, deleted articles, size, query
p50/p95/p99 with snippets (bench/perf.py's mix), and the median and max wall
(and CPU) time of one run, and what the slowest runs merged (each run is
`newssearch index --quiet --json`, whose summary lists its merges: segments, wall
and CPU seconds, phases). Every query of the mix, plus two that find the
rewritten and the copied articles, must return the same articles, totals and
facets in both; the script exits 1 if not.

Usage: python bench/season.py [--base N] [--runs N] [--quick] [--corpus DIR] [--repeat R] [--keep DIR]
Default 27,000 base articles and 1,000 runs (~25 minutes on a shared 2-core machine);
--quick is 600 and 40 (CI).
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import corpus  # noqa: E402
from bench.perf import CHUNK, QUERIES, child_env, dir_size, pct  # noqa: E402

ADD, REWRITE_EVERY, REWRITES, DELETE_EVERY = 8, 7, 3, 11
CHECKS = QUERIES + [("marks", '"更正"', {}), ("marks", '"副本"', {})]


def new_articles(records: list[dict], base: int):
    """The articles runs add: those not in the base, then copies of all under new ids with a marked body."""
    yield from records[base:]
    k = 1
    while True:
        for r in records:
            yield {**r, "id": f"{r['id']}~{k}", "body": f"{r['body']}\n（副本{k}）"}
        k += 1


def byte_compiled() -> None:
    """Byte-compile the project as pip does a wheel's files: run from an editable checkout with
    PYTHONDONTWRITEBYTECODE set, every run would first compile its modules (~0.13 s of a ~0.8 s run)."""
    for package in ("indexer", "search_ui"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.origin is not None:
            compileall.compile_dir(Path(spec.origin).parent, quiet=1)


def timed(cmd: list[str], env: dict) -> tuple[float, float, bytes]:
    """Wall and CPU seconds of a child process (it must succeed), and what it printed."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        printed = out.read()
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(cmd)} failed with {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_utime + usage.ru_stime, printed


def season(src: Path, index: Path, records: list[dict], args, env: dict, exe: str) -> dict:
    """The base build and the runs; the run times and what happened."""
    rng = random.Random(args.seed)
    base = records[: args.base]
    files: list[Path] = []
    for i in range(0, len(base), CHUNK):
        files.append(corpus.write_jsonl(base[i : i + CHUNK], src / f"base-{i // CHUNK:04d}.jsonl"))
    base_wall, _, _ = timed([exe, "index", str(src), "--index", str(index), "--quiet"], env)
    fresh_articles = new_articles(records, args.base)
    run_files: list[Path] = []
    walls, cpus, kinds, merges, rewrites, deletes = [], [], [], [], 0, 0
    for n in range(1, args.runs + 1):
        kind = []
        path = corpus.write_jsonl([next(fresh_articles) for _ in range(ADD)], src / f"run-{n:05d}.jsonl")
        if n % REWRITE_EVERY == 0:
            target = rng.choice(files + run_files)
            recs = corpus.read_jsonl(target)
            for i in rng.sample(range(len(recs)), min(REWRITES, len(recs))):
                recs[i] = {**recs[i], "body": f"{recs[i]['body']}\n（更正{n}）"}
            corpus.write_jsonl(recs, target)
            rewrites += 1
            kind.append("rewrite")
        if n % DELETE_EVERY == 0 and run_files:
            run_files.pop(rng.randrange(len(run_files))).unlink()
            deletes += 1
            kind.append("delete")
        run_files.append(path)
        wall, cpu, printed = timed([exe, "index", "--index", str(index), "--quiet", "--json"], env)
        walls.append(wall)
        cpus.append(cpu)
        summary = json.loads(printed)
        merges.append({"merges": summary["merges"], "timings": summary["timings"]})
        kinds.append(" + ".join(kind + (["merge"] if summary["merges"] else [])) or "plain")
        if n % 50 == 0:
            print(f"run {n}: {wall:.2f} s (median so far {statistics.median(walls):.2f}, max {max(walls):.2f})",
                  file=sys.stderr)
    return {"base_wall": base_wall, "walls": walls, "cpus": cpus, "kinds": kinds, "merges": merges,
            "rewrites": rewrites, "deletes": deletes}


def shape(index: Path) -> dict:
    s = searcher(index)
    try:
        st = s.stats()
    finally:
        s.close()
    return {"articles": st["articles"], "segments": len(st["segments"]), "deleted": st["deleted"],
            "sizes": [seg["articles"] for seg in st["segments"]], "size": dir_size(index)}


def compare(a: Path, b: Path) -> list[str]:
    """The queries whose articles, totals or facets differ between the two indexes."""
    sa, sb = searcher(a), searcher(b)
    bad = []
    try:
        for _label, q, opts in CHECKS:
            ra, rb = (s.search(q, limit=0, keywords=False, suggest=False, **opts) for s in (sa, sb))
            filters = {k: v for k, v in opts.items() if k != "sort"}
            if ({h.id for h in ra.hits} != {h.id for h in rb.hits} or ra.total != rb.total
                    or sa.facets(q, **filters) != sb.facets(q, **filters)):
                bad.append(f"{q} {opts}: {ra.total} vs {rb.total}")
    finally:
        sa.close()
        sb.close()
    return bad


def searcher(index: Path):
    from indexer.config import Config
    from indexer.search import Searcher

    return Searcher(Config.load(index, index.parent / "no-userdict.txt"))


def time_both(a: Path, b: Path, repeat: int) -> tuple[list[float], list[float]]:
    """Seconds per query of bench/perf.py's mix (with snippets) on both indexes.

    Each query runs on one index and then the other (which one first alternates),
    so the load of a shared machine falls on both alike; the first pass warms
    caches and is not counted.
    """
    sa, sb = searcher(a), searcher(b)
    ta: list[float] = []
    tb: list[float] = []
    try:
        for rep in range(repeat + 1):
            for _label, q, opts in QUERIES:
                for s, out in ((sa, ta), (sb, tb)) if rep % 2 else ((sb, tb), (sa, ta)):
                    t = time.perf_counter()
                    s.search(q, **opts)
                    if rep:
                        out.append(time.perf_counter() - t)
    finally:
        sa.close()
        sb.close()
    return ta, tb


def row(name: str, ours, fresh, unit: str) -> None:
    def fmt(v):
        return "—" if v is None else f"{v:,.2f}" if isinstance(v, float) else f"{v:,}"
    ratio = f"{ours / fresh:.2f}×" if isinstance(ours, (int, float)) and fresh else ""
    print(f"{name:<34} {fmt(ours):>14} {fmt(fresh):>14} {unit:<6} {ratio:>7}")


def print_merges(s: dict, runs: list[int]) -> None:
    """The stages of the runs `runs` and what they merged (`newssearch index --json`): per merge its kind,
    segments (live articles, deleted ones in brackets), wall and CPU seconds and the wall seconds of its phases."""
    print("\nwhat the slowest runs merged (live articles [deleted], * purged):")
    for i in runs:
        stages = ", ".join(f"{k} {v:.2f}" for k, v in s["merges"][i]["timings"].items() if v >= 0.01)
        print(f"  #{i + 1} {s['walls'][i]:.1f} s wall {s['cpus'][i]:.1f} s CPU (stages, s: {stages})")
        for m in s["merges"][i]["merges"]:
            segs = " + ".join(f"{live:,}[{gone}]{'*' if p else ''}"
                              for live, gone, p in zip(m["live"], m["deleted"], m["purged"], strict=True))
            phases = ", ".join(f"{k} {v:.2f}" for k, v in m["phases"].items())
            print(f"    {m['kind']}: {segs}: {m['wall']:.2f} s wall {m['cpu']:.2f} s CPU ({phases})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=corpus.DEFAULT_CORPUS)
    ap.add_argument("--base", type=int, default=27_000, help="articles in the base index (default 27,000)")
    ap.add_argument("--runs", type=int, default=1000, help="small runs (default 1,000)")
    ap.add_argument("--quick", action="store_true", help="600 base articles, 40 runs (CI)")
    ap.add_argument("--repeat", type=int, default=20,
                    help="timed passes over the query mix (default 20: p95 of 600 timings, not of 150)")
    ap.add_argument("--seed", type=int, default=corpus.SEED)
    ap.add_argument("--keep", type=Path, metavar="DIR", help="build in DIR (new or empty) and keep both indexes")
    args = ap.parse_args(argv)
    if args.quick:
        args.base, args.runs = 600, 40
    by_tag = corpus.load(args.corpus, per_file=None)
    records = by_tag["hans"] + by_tag["hant"]
    random.Random(args.seed).shuffle(records)  # both scripts in the base and in the runs
    exe = str(Path(sys.executable).with_name("newssearch"))
    byte_compiled()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    with (contextlib.nullcontext(str(args.keep)) if args.keep else tempfile.TemporaryDirectory(prefix="nsseason-")) \
            as tmp:
        tmp = Path(tmp)
        src, ours, fresh = tmp / "src", tmp / "season", tmp / "fresh"
        env = child_env(tmp / "no-userdict.txt")
        print(f"{args.base:,} base articles, {args.runs:,} runs, {os.cpu_count()} cores", file=sys.stderr)
        s = season(src, ours, records, args, env, exe)
        fresh_wall, _, _ = timed([exe, "index", str(src), "--index", str(fresh), "--quiet"], env)
        a, b = shape(ours), shape(fresh)
        bad = compare(ours, fresh)
        q_ours, q_fresh = time_both(ours, fresh, args.repeat)

    walls, cpus = s["walls"], s["cpus"]
    print(f"\n{args.base:,} base articles, then {args.runs:,} runs of {ADD} new articles "
          f"({s['rewrites']} also rewrote {REWRITES} bodies, {s['deletes']} also deleted a run's file); "
          f"base build {s['base_wall']:.0f} s, fresh build {fresh_wall:.0f} s\n")
    print(f"{'':<34} {'after the runs':>14} {'fresh build':>14} {'unit':<6} {'ratio':>7}")
    row("articles", a["articles"], b["articles"], "")
    row("segments", a["segments"], b["segments"], "")
    row("deleted articles kept", a["deleted"], b["deleted"], "")
    row("index size", a["size"] / 2**20, b["size"] / 2**20, "MiB")
    for p in (50, 95, 99):
        row(f"query p{p} with snippets", pct(q_ours, p) * 1000, pct(q_fresh, p) * 1000, "ms")
    row("one run, median wall", statistics.median(walls), None, "s")
    row("one run, max wall", max(walls), None, "s")
    row("one run, median CPU", statistics.median(cpus), None, "s")
    row("one run, max CPU", max(cpus), None, "s")
    print(f"\nsegment sizes (live articles): after the runs {a['sizes']}, fresh {b['sizes']}")
    print("\nruns by what they did: count, median wall / CPU s")
    for kind in sorted(set(s["kinds"]), key=s["kinds"].count, reverse=True):
        of = [i for i, k in enumerate(s["kinds"]) if k == kind]
        print(f"  {kind:<26} {len(of):>5}  {statistics.median(walls[i] for i in of):.2f} / "
              f"{statistics.median(cpus[i] for i in of):.2f}")
    for name, times in (("wall", walls), ("CPU", cpus)):  # on a loaded machine the CPU ones tell the merges
        slowest = sorted(range(len(times)), key=times.__getitem__)[-5:]
        print(f"runs over 1 s {name}: {sum(t > 1 for t in times)}; slowest: "
              + ", ".join(f"#{i + 1} {walls[i]:.1f} s wall {cpus[i]:.1f} s CPU" for i in slowest))
    print_merges(s, sorted(range(len(walls)), key=walls.__getitem__)[-5:])
    if bad:
        print(f"\nDIFFERENT results in {len(bad)} of {len(CHECKS)} queries:\n  " + "\n  ".join(bad))
        return 1
    print(f"\nsame articles, totals and facets for all {len(CHECKS)} queries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
