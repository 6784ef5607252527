"""Recall benchmark (issue 2): newssearch against the naive Whoosh + ChineseAnalyzer build.

Both indexes are built in this run from the same sample of ../shared/corpus,
then measured on queries drawn with a fixed seed:

* substring recall: 2–4-character Han runs taken from an article, unquoted;
  truth is every article whose normalized title+body contains the run.
  "wrong" is the share of returned hits that do not contain it (unquoted words
  are all required but need not be adjacent, so this is not an error).
* phrase recall and precision: quoted 4–8-character spans copied verbatim,
  in four kinds (Han only, with punctuation, with digits/Latin, a lone Han
  character cut off at an edge); truth by substring over normalized text.
* known item: two title words of an article (same script, and converted to the
  other script with full OpenCC s2t/t2s), hit@10 and MRR@10 of that article.

A newssearch result row counts for every repost it lists (Hit.duplicates). The
index run's problems are printed, and so are the first misses (--show N).

Usage: python bench/recall.py [--articles N | --full] [--corpus DIR] [--queries N] [--show N]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import opencc

from bench import corpus
from bench.naive import NaiveIndex
from indexer.analysis import HAN
from indexer.config import Config
from indexer.errors import QueryError
from indexer.normalize import is_han, normalize
from indexer.search import Searcher
from indexer.segmenter import cut
from indexer.writer import run_index

# An engine runs a query and returns its result rows, best first; a row lists the ids it
# stands for (newssearch shows reposts of an article under one result).
Engine = Callable[[str, int | None], list[list[str]]]
_HAN_RUN = re.compile(f"[{HAN}]+")
KINDS = ("han", "punct", "alnum", "edge")


def _text(r: dict) -> str:
    return f"{r.get('title') or ''}\n{r.get('body') or ''}"


def substring_queries(rng: random.Random, docs: list[dict], n: int) -> list[str]:
    """Random 2–4-character Han runs, each taken from a random article."""
    out: list[str] = []
    while len(out) < n:
        text, size = _text(rng.choice(docs)), rng.randint(2, 4)
        starts = [i for m in _HAN_RUN.finditer(text) for i in range(m.start(), m.end() - size + 1)]
        if starts:
            i = rng.choice(starts)
            out.append(text[i : i + size])
    return out


def span_kind(span: str) -> str | None:
    """Which phrase kind a candidate span is, or None if it cannot be a quoted query."""
    if '"' in span or "\n" in span or span != span.strip() or not any(map(is_han, span)):
        return None
    if all(map(is_han, span)):
        return "han"
    if (is_han(span[0]) and not is_han(span[1])) or (is_han(span[-1]) and not is_han(span[-2])):
        return "edge"  # e.g. 息（新闻联播: the article's word 消息 is cut at the span's edge
    if any(c.isalnum() and not is_han(c) for c in span):
        return "alnum"
    return "punct"


def phrase_queries(rng: random.Random, docs: list[dict], n: int) -> list[tuple[str, str]]:
    """(kind, span) pairs, an equal share of each kind, spans within one line of an article."""
    out: list[tuple[str, str]] = []
    for k in range(n):
        want = KINDS[k % len(KINDS)]
        while True:
            lines = [ln for ln in _text(rng.choice(docs)).split("\n") if len(ln) >= 8]
            if not lines:
                continue
            line = rng.choice(lines)
            found = None
            for _ in range(200):
                size = rng.randint(4, 8)
                i = rng.randrange(len(line) - size + 1)
                if span_kind(line[i : i + size]) == want:
                    found = line[i : i + size]
                    break
            if found:
                out.append((want, found))
                break
    return out


def known_items(rng: random.Random, docs: list[dict], n: int) -> list[tuple[str, str, str]]:
    """(article id, same-script query, other-script query): two Han title words of ≥ 2 characters.

    Articles whose title is shared with another article are skipped: their target is ambiguous.
    """
    titles = Counter(normalize(d["title"]) for d in docs)
    convert = {"hans": opencc.OpenCC("s2t"), "hant": opencc.OpenCC("t2s")}
    order = list(range(len(docs)))
    rng.shuffle(order)
    out: list[tuple[str, str, str]] = []
    for k in order:
        d = docs[k]
        norm = normalize(d["title"])
        if titles[norm] > 1:
            continue
        words, seen, pos = [], set(), 0
        for w in cut(norm):
            if len(w) >= 2 and all(map(is_han, w)) and w not in seen:
                seen.add(w)
                words.append(d["title"][pos : pos + len(w)])
            pos += len(w)
        if len(words) < 2:
            continue
        q = " ".join(words[i] for i in sorted(rng.sample(range(len(words)), 2)))
        out.append((d["id"], q, convert[d["_script"]].convert(q)))
        if len(out) == n:
            break
    return out


def _run(engine: Engine, query: str, limit: int | None) -> list[list[str]]:
    try:
        return engine(query, limit)
    except QueryError:
        return []


def _newssearch(searcher: Searcher, query: str, limit: int | None) -> list[list[str]]:
    """Result rows of newssearch (keywords and suggestions off: they do not change what is found)."""
    hits = searcher.search(query, limit=limit or 0, keywords=False, suggest=False).hits
    return [[h.id, *(d["id"] for d in h.duplicates)] for h in hits]


def measure(engine: Engine, norm: dict[str, str], subs, phrases, items, log: list[str]) -> dict[str, float]:
    """All metrics for one engine; `norm` maps article id to its normalized title+body.

    Every missed article, wrong phrase hit and known item that the other-script
    query ranks lower than the same-script one is described in `log`.
    """
    m: dict[str, float] = Counter()
    for q in subs:
        truth = {i for i, t in norm.items() if normalize(q) in t}
        found = {i for row in _run(engine, q, None) for i in row}
        m["sub_truth"] += len(truth)
        m["sub_found"] += len(found & truth)
        m["sub_hits"] += len(found)
        m["sub_wrong"] += len(found - truth)
        if truth - found:
            log.append(f"substring {q}: missed {sorted(truth - found)}")
    for kind, span in phrases:
        truth = {i for i, t in norm.items() if normalize(span) in t}
        found = {i for row in _run(engine, f'"{span}"', None) for i in row}
        for key in ("ph", f"ph_{kind}"):
            m[f"{key}_truth"] += len(truth)
            m[f"{key}_found"] += len(found & truth)
            m[f"{key}_hits"] += len(found)
        m["ph_wrong"] += len(found - truth)
        if truth != found:
            log.append(f'phrase "{span}": missed {sorted(truth - found)} wrong {sorted(found - truth)}')
    for aid, same, other in items:
        ranks = {}
        for key, q in (("same", same), ("cross", other)):
            ranks[key] = next((k for k, row in enumerate(_run(engine, q, 10)[:10], 1) if aid in row), 0)
            if ranks[key]:
                m[f"{key}_hit"] += 1
                m[f"{key}_rr"] += 1 / ranks[key]
        if ranks["cross"] != ranks["same"]:
            log.append(f"known item {aid}: {same} at {ranks['same'] or '>10'}, {other} at {ranks['cross'] or '>10'}")
    return m


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.3f}" if b else "  n/a"


def report(rows: dict[str, dict], times: dict[str, float], n_items: int) -> None:
    head = ["engine    ", "index s", "substr R", "missed", "substr wrong", "phrase R", "phrase P", "missed",
            "wrong", "same h@10", "same MRR", "cross h@10", "cross MRR"]
    print(" | ".join(head))
    for name, m in rows.items():
        cells = [
            f"{name:<10}", f"{times[name]:7.1f}",
            _ratio(m["sub_found"], m["sub_truth"]), f"{int(m['sub_truth'] - m['sub_found'])}",
            _ratio(m["sub_wrong"], m["sub_hits"]),
            _ratio(m["ph_found"], m["ph_truth"]), _ratio(m["ph_found"], m["ph_hits"]),
            f"{int(m['ph_truth'] - m['ph_found'])}", f"{int(m['ph_wrong'])}",
            _ratio(m["same_hit"], n_items), _ratio(m["same_rr"], n_items),
            _ratio(m["cross_hit"], n_items), _ratio(m["cross_rr"], n_items),
        ]
        print(" | ".join(c.rjust(len(h)) for c, h in zip(cells, head, strict=True)))
    print("\nphrase recall / precision by span kind")
    print("engine     | " + " | ".join(f"{k:>13}" for k in KINDS))
    for name, m in rows.items():
        cells = [f"{_ratio(m[f'ph_{k}_found'], m[f'ph_{k}_truth'])} / {_ratio(m[f'ph_{k}_found'], m[f'ph_{k}_hits'])}"
                 for k in KINDS]
        print(f"{name:<10} | " + " | ".join(f"{c:>13}" for c in cells))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    corpus.sample_options(ap, articles=3000)
    ap.add_argument("--show", type=int, default=10, metavar="N", help="list N of newssearch's misses (default 10)")
    args = ap.parse_args(argv)
    data = corpus.load(args.corpus, None if args.full else args.articles, args.seed)
    docs = [{**r, "_script": tag} for tag, recs in data.items() for r in recs]
    norm = {d["id"]: normalize(_text(d)) for d in docs}
    rng = random.Random(args.seed)
    subs = substring_queries(rng, docs, args.queries)
    phrases = phrase_queries(rng, docs, args.queries)
    items = known_items(rng, docs, args.queries)
    print(f"{len(docs)} articles ({', '.join(f'{len(v)} {k}' for k, v in data.items())}), seed {args.seed}: "
          f"{len(subs)} substring, {len(phrases)} phrase, {len(items)} known-item queries")

    with tempfile.TemporaryDirectory(prefix="newssearch-bench-") as tmp:
        src = Path(tmp, "src")
        for tag, recs in data.items():
            corpus.write_jsonl(recs, src / f"{tag}.jsonl")
        config = Config.load(Path(tmp, "index"), Path(tmp, "no-userdict.txt"))
        summary = run_index(config, [src])
        times = {"newssearch": summary.seconds}
        print(f"newssearch index: {summary.line()}")
        for problem in summary.problems:
            print(f"  problem: {problem}")
        naive = NaiveIndex(Path(tmp, "naive"))
        times["naive"] = naive.build(docs)
        searcher = Searcher(config)
        rows = {}
        try:
            start = time.perf_counter()
            log: list[str] = []
            rows["newssearch"] = measure(partial(_newssearch, searcher), norm, subs, phrases, items, log)
            query_s = {"newssearch": time.perf_counter() - start}
            with naive:
                start = time.perf_counter()
                rows["naive"] = measure(lambda q, limit: [[i] for i in naive.search(q, limit)], norm, subs, phrases,
                                        items, [])
                query_s["naive"] = time.perf_counter() - start
        finally:
            searcher.close()
    print()
    report(rows, times, len(items))
    print("\nquery time (all metrics): " + ", ".join(f"{k} {v:.1f}s" for k, v in query_s.items()))
    if log and args.show:
        print(f"\nnewssearch: {len(log)} queries with a miss, a wrong hit or a cross-script difference")
        for line in log[: args.show]:
            print(f"  {line[:300]}")


if __name__ == "__main__":
    main()
