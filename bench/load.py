"""Load during reindex: concurrent HTTP clients search a live ``newssearch serve`` while
``newssearch index --rebuild`` runs and swaps generations underneath it.

Every response must be a 200 whose total is the query's total before or after the
rebuild (never a mix) and whose hits fill the page. Loopback only; bounded by
--requests per client or --duration (at most an hour).

    python -m bench.load --clients 8 --duration 600 --articles 27000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import urlopen

EXE = str(Path(sys.executable).with_name("newssearch"))
CORPUS = Path(os.environ.get("NEWSSEARCH_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))
QUERIES = ["整改", "经济", "会议", "臺南", "市政府", "新闻联播", "发展 OR 建设", "防疫 -疫苗", "title:主席", "学校",
           '"国务院"', "環境保護", "文化", "農業", "习近平", "交通", "活动", "台南市", "人民", "科技"]
LIMIT = 10
MAX_SECONDS = 3600


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)
    seen: list[tuple[str, int, int]] = field(default_factory=list)  # query, total, hits
    lock: threading.Lock = field(default_factory=threading.Lock)

    def quantile(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else 0.0


def write_sources(src: Path, n: int, skip: int = 0) -> int:
    """n articles, half from each script of the shared corpus, after the first `skip` of each."""
    src.mkdir(parents=True, exist_ok=True)
    count = 0
    with (src / f"part{skip}.jsonl").open("w", encoding="utf-8") as out:
        for name in ("news-zh-hans.jsonl", "news-zh-hant.jsonl"):
            with (CORPUS / name).open(encoding="utf-8") as f:
                for k, line in enumerate(f):
                    if k >= skip + n // 2:
                        break
                    if k >= skip:
                        out.write(line)
                        count += 1
    return count


def start_server(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    """`newssearch serve` on a free loopback port, its error output copied to `log`; returns it and its URL."""
    p = subprocess.Popen([EXE, "serve", "--host", "127.0.0.1", "--port", "0", "--threads", "8"], env=env,
                         stderr=subprocess.PIPE, text=True)
    out = log.open("w", encoding="utf-8")

    def copy() -> None:
        for line in p.stderr:  # type: ignore[union-attr]
            out.write(line)
            out.flush()
        out.close()

    for line in p.stderr:  # type: ignore[union-attr]
        out.write(line)
        if "serving on " in line:
            url = line.split("serving on ")[1].split()[0]
            threading.Thread(target=copy, daemon=True).start()
            return p, url
    raise RuntimeError(f"newssearch serve did not start (see {log})")


def log_tail(log: Path, lines: int = 30) -> list[str]:
    """The server's last error lines (a traceback behind a 500 shows here)."""
    try:
        return log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def search(base: str, q: str) -> tuple[int, int]:
    with urlopen(f"{base}api/search?{urlencode({'q': q, 'limit': LIMIT})}", timeout=60) as r:
        data = json.load(r)
    return data["total"], len(data["hits"])


def totals(base: str) -> dict[str, int]:
    return {q: search(base, q)[0] for q in QUERIES}


def client(base: str, k: int, stats: Stats, more: Callable[[int], bool]) -> None:
    n = 0
    while more(n):
        q = QUERIES[(k * 7 + n) % len(QUERIES)]
        t = time.perf_counter()
        try:
            total, hits = search(base, q)
        except (HTTPError, OSError, ValueError) as exc:
            with stats.lock:
                stats.errors.append(f"{q}: {exc}")
        else:
            with stats.lock:
                stats.latencies.append(time.perf_counter() - t)
                stats.seen.append((q, total, hits))
        n += 1


def run(clients: int, requests: int | None, seconds: float | None, articles: int, extra: int,
        work: Path) -> dict:
    """Index `articles`, serve them, and load the server while rebuilds (with `extra` more articles) run."""
    env = {**os.environ, "NEWSSEARCH_INDEX": str(work / "ix"), "NEWSSEARCH_USERDICT": str(work / "none.txt")}
    src = work / "src"
    write_sources(src, articles)
    subprocess.run([EXE, "index", "--quiet", str(src)], env=env, check=True, capture_output=True)
    log = work / "serve.log"
    server, base = start_server(env, log)
    stats = Stats()
    rebuilds: list[float] = []
    try:
        before = totals(base)
        write_sources(src, extra, skip=articles // 2)  # the rebuild changes every total
        deadline = time.monotonic() + min(seconds or MAX_SECONDS, MAX_SECONDS)
        done = threading.Event()

        def more(n: int) -> bool:
            if time.monotonic() > deadline:
                return False
            return n < requests or not done.is_set() if requests else True

        def reindex() -> None:
            while not rebuilds or (seconds and time.monotonic() < deadline - 1):
                t = time.perf_counter()
                subprocess.run([EXE, "index", "--rebuild", "--quiet"], env=env, check=True, capture_output=True)
                rebuilds.append(time.perf_counter() - t)
            done.set()

        threads = [threading.Thread(target=client, args=(base, k, stats, more)) for k in range(clients)]
        threads.append(threading.Thread(target=reindex))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        after = totals(base)
    finally:
        server.terminate()
        server.wait(timeout=30)
    for q, total, hits in stats.seen:
        if total not in (before[q], after[q]) or hits != min(LIMIT, total):
            stats.partial.append(f"{q}: total {total} (before {before[q]}, after {after[q]}), {hits} hits")
    return {"clients": clients, "requests": len(stats.latencies) + len(stats.errors), "errors": len(stats.errors),
            "partial": len(stats.partial), "p50_ms": stats.quantile(0.5), "p99_ms": stats.quantile(0.99),
            "max_ms": stats.quantile(1.0), "rebuilds": len(rebuilds), "rebuild_s": max(rebuilds, default=0),
            "changed": sum(before[q] != after[q] for q in QUERIES), "examples": stats.errors[:3] + stats.partial[:3],
            "server_log": log_tail(log) if stats.errors else []}


def table(r: dict) -> str:
    rows = [("clients × requests", f"{r['clients']} × {r['requests'] // max(1, r['clients'])} = {r['requests']}"),
            ("errors", r["errors"]), ("partial result sets", r["partial"]),
            ("latency p50 / p99 / max", f"{r['p50_ms']:.0f} / {r['p99_ms']:.0f} / {r['max_ms']:.0f} ms"),
            ("rebuilds during the load", f"{r['rebuilds']} (longest {r['rebuild_s']:.1f} s)"),
            ("queries whose total changed", f"{r['changed']} of {len(QUERIES)}")]
    return "\n".join(f"  {k:<28} {v}" for k, v in rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, help="per client (default: run for --duration)")
    ap.add_argument("--duration", type=float, default=600, help=f"seconds, at most {MAX_SECONDS}")
    ap.add_argument("--articles", type=int, default=27000, help="indexed before the load (half per script)")
    ap.add_argument("--extra", type=int, default=400, help="added by the rebuilds")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        r = run(a.clients, a.requests, None if a.requests else a.duration, a.articles, a.extra, Path(d))
    print(table(r))
    if r["server_log"]:
        print("server's last error output:\n" + "\n".join(r["server_log"]))
    sys.exit(1 if r["errors"] or r["partial"] else 0)


if __name__ == "__main__":
    main()
