"""Relevance benchmark (issue 5): newssearch against three baselines built in the same run.

Engines, all over the same sample of ../shared/corpus (both files):

* newssearch: this project (bench/recall.py measures the same build for issue 2);
* naive: Whoosh + ``jieba.analyse.ChineseAnalyzer`` (bench/naive.py);
* fts-trigram: SQLite FTS5 with the trigram tokenizer (bench/fts.py);
* fts-jieba: SQLite FTS5 over jieba-segmented text (bench/fts.py).

Metrics, on queries drawn with a fixed seed:

* known item: two or three words of an article's title (as written), hit@10 and
  MRR@10 of that article; "x" columns: the same queries converted to the other
  script with OpenCC (s2t / t2s).
* substring recall: 2–4-character Han runs from an article; truth is every
  article whose normalized title+body contains the run.
* phrase recall / precision: quoted 4–8-character spans copied from an article
  (Han only, with punctuation, digits/Latin, an edge character); truth by
  substring over normalized text.
* P@10: one or two terms from an article, each a word or two adjacent words
  typed together (2–6 Han characters, as written), that at least 10 articles
  contain; a hit is relevant when its normalized text contains every term.
  Relevant hits in the top 10, divided by 10.
* pinyin suggestions (newssearch only; bench/suggest.py): title words typed as
  full pinyin, pinyin with spaces and initials; top-3 hit rate and time per call.

Usage: python bench/relevance.py [--articles N | --full] [--queries N] [--corpus DIR] [--seed N]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import opencc

from bench import corpus
from bench.fts import FtsIndex
from bench.naive import NaiveIndex
from bench.recall import phrase_queries, substring_queries
from bench.suggest import HEAD, pinyin_row, title_words
from indexer.config import Config
from indexer.errors import QueryError
from indexer.normalize import is_han, normalize
from indexer.search import Searcher
from indexer.segmenter import cut
from indexer.writer import run_index


@dataclass(frozen=True)
class Q:
    """A benchmark query: required terms, or one exact phrase."""

    terms: tuple[str, ...]
    phrase: bool = False

    def text(self) -> str:
        """The query in newssearch / Whoosh syntax."""
        return f'"{self.terms[0]}"' if self.phrase else " ".join(self.terms)


Engine = Callable[[Q, int | None], list[str]]


def _text(r: dict) -> str:
    return f"{r.get('title') or ''}\n{r.get('body') or ''}"


def _han_words(text: str) -> list[tuple[str, int]]:
    """Han words of ≥ 2 characters with their offsets, as written in `text` (segmented on its normalized form)."""
    out, pos = [], 0
    for w in cut(normalize(text)):
        if len(w) >= 2 and all(map(is_han, w)):
            out.append((text[pos : pos + len(w)], pos))
        pos += len(w)
    return out


def known_items(rng: random.Random, docs: list[dict], n: int) -> list[tuple[str, Q, Q]]:
    """(article id, query, other-script query): 2–3 title words; titles shared by two articles are skipped."""
    titles = Counter(normalize(d["title"]) for d in docs)
    convert = {"hans": opencc.OpenCC("s2t"), "hant": opencc.OpenCC("t2s")}
    out: list[tuple[str, Q, Q]] = []
    for d in rng.sample(docs, len(docs)):
        words = list(dict.fromkeys(w for w, _ in _han_words(d["title"])))
        if titles[normalize(d["title"])] > 1 or len(words) < 2:
            continue
        picked = [words[i] for i in sorted(rng.sample(range(len(words)), min(len(words), rng.choice((2, 3)))))]
        other = tuple(convert[d["_script"]].convert(w) for w in picked)
        out.append((d["id"], Q(tuple(picked)), Q(other)))
        if len(out) == n:
            break
    return out


def short_queries(rng: random.Random, docs: list[dict], norm: dict[str, str], n: int) -> list[tuple[Q, set[str]]]:
    """(query, relevant ids): one or two terms from an article, each a word or two adjacent words typed
    together (2–6 Han characters), that at least 10 articles contain every term of (contiguously)."""
    out: list[tuple[Q, set[str]]] = []
    while len(out) < n:
        words = _han_words(rng.choice(docs)["body"] or "")
        terms: list[str] = []
        for _ in range(rng.choice((1, 2))):
            if not words:
                break
            i = rng.randrange(len(words))
            term, start = words[i]
            nxt = words[i + 1] if i + 1 < len(words) else None
            if nxt and nxt[1] == start + len(term) and len(term) + len(nxt[0]) <= 6 and rng.random() < 0.5:
                term += nxt[0]
            terms.append(term)
        keys = [normalize(t) for t in terms]
        truth = {i for i, t in norm.items() if all(k in t for k in keys)}
        if terms and len(set(keys)) == len(keys) and len(truth) >= 10:
            out.append((Q(tuple(terms)), truth))
    return out


def _run(engine: Engine, q: Q, limit: int | None) -> list[str]:
    try:
        return engine(q, limit)
    except QueryError:
        return []


def measure(engine: Engine, norm: dict[str, str], qs: dict) -> Counter:
    """Every metric's numerator and denominator for one engine."""
    m: Counter = Counter()
    for term in qs["substring"]:
        truth = {i for i, t in norm.items() if normalize(term) in t}
        m["sub_truth"] += len(truth)
        m["sub_found"] += len(set(_run(engine, Q((term,)), None)) & truth)
    for _kind, span in qs["phrase"]:
        truth = {i for i, t in norm.items() if normalize(span) in t}
        found = set(_run(engine, Q((span,), phrase=True), None))
        m["ph_truth"] += len(truth)
        m["ph_hits"] += len(found)
        m["ph_found"] += len(found & truth)
    for aid, same, other in qs["known"]:
        for key, q in (("ki", same), ("kx", other)):
            ranked = _run(engine, q, 10)[:10]
            if aid in ranked:
                m[f"{key}_hit"] += 1
                m[f"{key}_rr"] += 1 / (ranked.index(aid) + 1)
    for q, truth in qs["short"]:
        m["p10"] += len(set(_run(engine, q, 10)[:10]) & truth) / 10
    return m


COLUMNS = (
    ("KI h@10", "ki_hit", "known"), ("KI MRR", "ki_rr", "known"),
    ("KI-x h@10", "kx_hit", "known"), ("KI-x MRR", "kx_rr", "known"),
    ("substr R", "sub_found", "sub_truth"), ("phrase R", "ph_found", "ph_truth"),
    ("phrase P", "ph_found", "ph_hits"), ("P@10", "p10", "short"),
)


def report(rows: dict[str, Counter], build_s: dict[str, float], query_s: dict[str, float], qs: dict) -> None:
    """Print one table: a row per engine, then newssearch's difference to each baseline."""
    counts = {k: len(v) for k, v in qs.items()}
    head = ["engine     ", "index s", "query s"] + [c for c, _, _ in COLUMNS]

    def value(m: Counter, num: str, den: str) -> float | None:
        d = counts.get(den, m[den])
        return m[num] / d if d else None

    print(" | ".join(head))
    for name, m in rows.items():
        cells = [f"{name:<11}", f"{build_s[name]:.1f}", f"{query_s[name]:.1f}"]
        cells += [f"{v:.3f}" if (v := value(m, n, d)) is not None else "n/a" for _, n, d in COLUMNS]
        print(" | ".join(c.rjust(len(h)) for c, h in zip(cells, head, strict=True)))
    ours = rows["newssearch"]
    for name, m in rows.items():
        if name == "newssearch":
            continue
        cells = [f"ns - {name:<6}"[:11].ljust(11), "", ""]
        for _, n, d in COLUMNS:
            a, b = value(ours, n, d), value(m, n, d)
            cells.append(f"{a - b:+.3f}" if a is not None and b is not None else "n/a")
        print(" | ".join(c.rjust(len(h)) for c, h in zip(cells, head, strict=True)))


def engines(
    tmp: Path, data: dict[str, list[dict]], docs: list[dict]
) -> tuple[dict[str, Engine], dict, list, Searcher]:
    """Build the four indexes in `tmp`; return search functions, build seconds, things to close, our Searcher."""
    src = tmp / "src"
    for tag, recs in data.items():
        corpus.write_jsonl(recs, src / f"{tag}.jsonl")
    config = Config.load(tmp / "index", tmp / "no-userdict.txt")
    build = {"newssearch": run_index(config, [src]).seconds}
    searcher = Searcher(config)
    naive = NaiveIndex(tmp / "naive")
    build["naive"] = naive.build(docs)
    trigram, segmented = FtsIndex(tmp / "trigram.db", segmented=False), FtsIndex(tmp / "jieba.db", segmented=True)
    build["fts-trigram"] = trigram.build(docs)
    build["fts-jieba"] = segmented.build(docs)
    naive.__enter__()
    funcs: dict[str, Engine] = {
        "newssearch": lambda q, limit: [h.id for h in searcher.search(q.text(), limit=limit or 0, keywords=False).hits],
        "naive": lambda q, limit: naive.search(q.text(), limit),
        "fts-trigram": lambda q, limit: trigram.search(list(q.terms), q.phrase, limit),
        "fts-jieba": lambda q, limit: segmented.search(list(q.terms), q.phrase, limit),
    }
    return funcs, build, [searcher.close, lambda: naive.__exit__(None), trigram.close, segmented.close], searcher


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    corpus.sample_options(ap, articles=2000)
    args = ap.parse_args(argv)
    data = corpus.load(args.corpus, None if args.full else args.articles, args.seed)
    docs = [{**r, "_script": tag} for tag, recs in data.items() for r in recs]
    norm = {d["id"]: normalize(_text(d)) for d in docs}
    rng = random.Random(args.seed)
    qs = {
        "substring": substring_queries(rng, docs, args.queries),
        "phrase": phrase_queries(rng, docs, args.queries),
        "known": known_items(rng, docs, args.queries),
    }
    qs["short"] = short_queries(rng, docs, norm, args.queries)
    print(f"{len(docs)} articles ({', '.join(f'{len(v)} {k}' for k, v in data.items())}), seed {args.seed}; "
          + ", ".join(f"{len(v)} {k}" for k, v in qs.items()) + " queries\n")
    with tempfile.TemporaryDirectory(prefix="newssearch-relevance-") as tmp:
        funcs, build, closers, searcher = engines(Path(tmp), data, docs)
        rows, query_s = {}, {}
        try:
            pinyin = pinyin_row(searcher, title_words(rng, docs, args.queries))
            for name, fn in funcs.items():
                start = time.perf_counter()
                rows[name] = measure(fn, norm, qs)
                query_s[name] = time.perf_counter() - start
        finally:
            for close in closers:
                close()
    report(rows, build, query_s, qs)
    print(f"\n{HEAD}\n{pinyin}")


if __name__ == "__main__":
    main()
