"""The merge a cron run pays for (issue 13): small segments folded into a bigger first one, kept verbatim.

Builds, from ../shared/corpus (both files shuffled, as bench/season.py does),
for each shape a first segment (1 % of its articles deleted: kept marked) and
small segments after it (halving sizes, 5 % deleted: purged), as the merge
policy's fold merges them. Then merges each shape alternately through the
term-by-term merge (``merge_segments(..., bulk=False)``, the baseline) and the
bulk copy of the first segment's records with the others' terms written in
bulk (the default), --repeat times each, and prints the median wall and CPU
seconds of one merge and whether both hold the same: the same files but the
stored fields' column (the bulk copy compresses with the first segment's
dictionary: compared decoded), the term table and the postings (the bulk path
appends other blocks: the same keys, and every term whose record or blocks
differ with the same statistics and postings).

With --queries R it then merges each shape both ways into copies of the
index and times bench/perf.py's query mix on each (R passes, by turns): the
bulk path's short blocks must not make queries slower.

With --folds K it instead plays a season's big folds (issue 13) on each shape:
the first segment alone, then K times `small` new articles (in halving
segments, 5 % deleted) folded into it the bulk way, as the merge policy's big
fold does; it prints the wall and CPU seconds of the folds and the blocks the
terms end with (a fold that appends short blocks leaves every common term a
trail of them). With --queries R it also builds the same live articles fresh
and times the query mix on both.

Usage: python bench/merge.py [--shapes 230+24,3000+500] [--repeat 3] [--corpus DIR] [--keep DIR] [--queries R]
                             [--folds K]
--keep DIR builds the segments in DIR once and reuses them on later runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import pickle
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from whoosh import index as windex  # noqa: E402
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3Codec  # noqa: E402
from whoosh.reading import SegmentReader  # noqa: E402
from whoosh.system import pack_ushort, unpack_int  # noqa: E402

from bench import corpus, perf  # noqa: E402
from bench.season import new_articles  # noqa: E402
from indexer import postings as postings_mod  # noqa: E402
from indexer.codec import records as records_codec  # noqa: E402
from indexer.codec import segment_merge  # noqa: E402
from indexer.codec.forking import cpu_seconds  # noqa: E402
from indexer.codec.segment_join import Records  # noqa: E402
from indexer.codec.segment_writer import build_range, build_segments, discard  # noqa: E402
from indexer.codec.stored import COLUMN  # noqa: E402
from indexer.ingest.article import Article  # noqa: E402
from indexer.schema import make_schema  # noqa: E402
from indexer.store import STATE  # noqa: E402
from indexer.writer import _fields  # noqa: E402

FIRST_DELETED, SMALL_DELETED = 0.01, 0.05


def _docs(records: list[dict]) -> list[dict]:
    arts = [Article(r["id"], r["title"], r["body"], r.get("date"), r.get("source"), r.get("url"), file="f.jsonl")
            for r in records]
    return [_fields(a, a.digest(), 1700000000) for a in arts]


def small_sizes(total: int) -> list[int]:
    """Halving sizes adding up to `total`, none below 8 (one cron run's worth)."""
    sizes, left = [], total
    while left >= 16:
        sizes.append(left // 2)
        left -= sizes[-1]
    return [*sizes, left] if left else sizes


def build(path: Path, name: str, first: int, small: int, records: list[dict], seed: int) -> None:
    """The first segment and the small ones, committed as they are (no merge), with deleted articles."""
    more = new_articles(records, first)
    extra = [next(more) for _ in range(small)]
    path.mkdir(parents=True, exist_ok=True)
    ix = windex.create_in(str(path), make_schema(), indexname=name)
    rng = random.Random(seed)
    big = build_segments(ix, _docs(records[:first]), procs=1)[0]
    add_small(ix, big, extra, rng, rng.sample(records[:first], max(1, int(first * FIRST_DELETED))))


def add_small(ix, segments: list, batch: list[dict], rng: random.Random, gone: list[dict]) -> None:
    """Commit `segments` and `batch` as halving segments (no merge), then delete `gone` and 5 % of each."""
    docs, segs, start = _docs(batch), list(segments), 0
    for n in small_sizes(len(batch)):
        segs += build_range(ix, docs, start, start + n)[0]
        gone = gone + rng.sample(batch[start : start + n], max(1, int(n * SMALL_DELETED)))
        start += n
    _commit(ix, segs)
    w = ix.writer()
    for r in gone:
        w.delete_by_term("id", r["id"])
    w._close_segment()
    w._commit_toc(w.segments)
    w._finish()


def timed_merge(ix, segments: list, bulk: bool):
    """One merge (the first segment kept, the others purged): wall and CPU seconds (its forked processes'
    included); the new segment."""
    gc.collect()
    c0, t0 = cpu_seconds(), time.perf_counter()
    new = segment_merge.merge_segments(ix, segments, [False] + [True] * (len(segments) - 1), bulk=bulk)
    return {"wall": time.perf_counter() - t0, "cpu": cpu_seconds() - c0}, new


def contents(ix, seg) -> dict:
    """A segment's files but its term table and postings (stored fields decoded), and its term records
    (`records`)."""
    prefix = seg.make_filename("")
    files = {n[len(prefix) :]: ix.storage.open_file(n).read() for n in seg.list_files(ix.storage)
             if COLUMN not in n and not n.endswith((W3Codec.TERMS_EXT, W3Codec.POSTS_EXT))}
    reader = SegmentReader(ix.storage, ix.schema, seg)
    files["stored"] = [reader.stored_fields(d) for d in range(seg.doc_count_all())]
    reader.close()
    return files


def records(ix, seg) -> tuple[list[bytes], list[tuple], dict[bytes, str]]:
    """Every term record of a segment: keys, (value without its blocks' offset, blocks), field by key prefix."""
    reader = SegmentReader(ix.storage, ix.schema, seg)
    fieldmap = reader._terms._fieldmap
    t = Records(SimpleNamespace(reader=reader), fieldmap)
    got = []
    for k in range(len(t.keys)):
        value = t.value(k)
        got.append((value, None) if value[0] else (value[: -records_codec.EXTENT.size], t.blob(value)))
    reader.close()
    return t.keys, got, {pack_ushort(n): name for name, n in fieldmap.items()}


def term_postings(reader: SegmentReader, schema, name: str, text: bytes) -> tuple:
    """A term's statistics and postings (document, weight, value) in one segment, deleted documents included."""
    ti = reader.term_info(name, text)
    m = reader._terms.matcher(name, text, schema[name].format)
    got = []
    while m.is_active():
        got.append((m.id(), round(m.weight(), 3), m.value()))
        m.next()
    return ((ti.doc_frequency(), round(ti.weight(), 3), ti.min_length(), ti.max_length(),
             round(ti.max_weight(), 3), ti.min_id(), ti.max_id()), got)


def postings(ix, seg, keys: list[bytes], fields: dict[bytes, str]) -> list:
    """`term_postings` of the terms `keys` (field number prefix and term)."""
    reader = SegmentReader(ix.storage, ix.schema, seg)
    try:
        return [term_postings(reader, ix.schema, fields[key[:2]], key[2:]) for key in keys]
    finally:
        reader.close()


def same_segments(ix, old, new) -> bool:
    """Whether two merges hold the same: files but the term table and postings alike, the same keys, and
    each term whose record or blocks differ with the same statistics and postings."""
    if contents(ix, old) != contents(ix, new):
        return False
    (ok, ov, fields), (nk, nv, _) = records(ix, old), records(ix, new)
    if ok != nk:
        return False
    differ = [k for k, a, b in zip(ok, ov, nv, strict=True) if a != b]
    return postings(ix, old, differ, fields) == postings(ix, new, differ, fields)


def measure(ix, repeat: int) -> tuple[dict, dict, bool]:
    """Median of `repeat` merges each way, alternating; whether both hold the same (checked once)."""
    segs = sorted(ix._segments(), key=lambda s: -s.doc_count_all())
    runs: dict[bool, list[dict]] = {False: [], True: []}
    same = None
    for _ in range(repeat):
        old, old_seg = timed_merge(ix, segs, False)
        new, new_seg = timed_merge(ix, segs, True)
        runs[False].append(old)
        runs[True].append(new)
        if same is None:
            same = same_segments(ix, old_seg, new_seg)
        discard(ix.storage, [old_seg, new_seg])
    med = {b: {k: statistics.median(r[k] for r in rs) for k in ("wall", "cpu")} for b, rs in runs.items()}
    return med[False], med[True], same


def query_times(path: Path, tmp: Path, repeat: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """p50 and p95 ms of the query mix on two copies of `path`, its segments merged term by term and in bulk
    (one segment each), timed by turns."""
    copies = []
    for bulk in (False, True):
        copy = tmp / f"{path.name}-{'bulk' if bulk else 'terms'}"
        shutil.copytree(path, copy)
        ix = windex.open_dir(str(copy), indexname=path.name)
        segs = sorted(ix._segments(), key=lambda s: -s.doc_count_all())
        _commit(ix, [segment_merge.merge_segments(ix, segs, [False] + [True] * (len(segs) - 1), bulk=bulk)])
        (copy / STATE).write_text(json.dumps({"generation": path.name}), encoding="utf-8")
        copies.append(copy)
    return tuple(query_pair(copies, repeat))


def _commit(ix, segments: list) -> None:
    """Make `segments` the index's segments (no merge)."""
    w = ix.writer()
    w._close_segment()
    w._commit_toc(segments)
    w._finish()


def _fold(ix, batch: list[dict], rng: random.Random) -> dict:
    """Add `batch` as halving segments (5 % of each deleted) and fold them into the first segment, timed."""
    add_small(ix, ix._segments(), batch, rng, [])
    segs = sorted(ix._segments(), key=lambda s: -s.doc_count_all())
    took, new = timed_merge(ix, segs, True)
    _commit(ix, [new])
    return took


def block_shape(ix) -> dict:
    """The posting blocks of the index's one segment: how many, how many short (< BLOCK / 8 postings),
    the terms with blocks, and those of the common terms (more than BLOCK postings: what queries decode most)."""
    keys, got, _fields = records(ix, ix._segments()[0])
    terms = [block_counts(blob) for value, blob in got if blob is not None]
    common = [c for c in terms if sum(c) > postings_mod.BLOCK]
    return {"terms": len(terms), "blocks": sum(map(len, terms)), "short": sum(n < postings_mod.BLOCK // 8
                                                                              for c in terms for n in c),
            "common": len(common), "common blocks": sum(map(len, common)),
            "common postings": sum(map(sum, common))}


def block_counts(blob: bytes) -> list[int]:
    """The posting count of each block of a term's blocks."""
    pos, out = len(WHOOSH3_HEADER_MAGIC), []
    while pos < len(blob):
        (size,) = unpack_int(blob[pos : pos + 4])
        out.append(pickle.loads(blob[pos + 4 : pos + 4 + abs(size)])[0])
        pos += 4 + abs(size)
    return out


def fold_season(path: Path, tmp: Path, first: int, small: int, folds: int, records: list[dict],
                seed: int) -> tuple[list[dict], Path, list[dict]]:
    """K folds of `small` new articles into a copy of the first segment at `path`: each fold's times, the
    copy, and the live articles it holds."""
    work = tmp / f"{path.name}-folded"
    shutil.copytree(path, work)
    ix = windex.open_dir(str(work), indexname=path.name)
    more, rng, times, used = new_articles(records, first), random.Random(seed), [], records[:first]
    for k in range(folds):
        batch = [next(more) for _ in range(small)]
        used += batch
        times.append(_fold(ix, batch, rng))
        print(f"fold {k + 1}: {times[-1]['wall']:.2f} s wall, {times[-1]['cpu']:.2f} s CPU", file=sys.stderr)
    with windex.open_dir(str(work), indexname=path.name).searcher() as s:
        live = {s.stored_fields(d)["id"] for d in s.document_numbers()}
    (work / STATE).write_text(json.dumps({"generation": path.name}), encoding="utf-8")
    return times, work, [r for r in used if r["id"] in live]


def fresh_build(tmp: Path, name: str, live: list[dict]) -> Path:
    """A fresh one-segment index of `live` (what a rebuild of the same articles writes)."""
    path = tmp / f"{name}-fresh"
    path.mkdir()
    ix = windex.create_in(str(path), make_schema(), indexname=name)
    _commit(ix, build_segments(ix, _docs(live))[0])
    (path / STATE).write_text(json.dumps({"generation": name}), encoding="utf-8")
    return path


def print_folds(shape: tuple[int, int], times: list[dict], blocks: list[tuple[str, dict]],
                queries: list[tuple[str, tuple[float, float]]]) -> None:
    first, small = shape
    walls, cpus = [t["wall"] for t in times], [t["cpu"] for t in times]
    last = times[-5:]
    print(f"\n{len(times)} folds of {small:,} articles into {first:,}: median {statistics.median(walls):.2f} s wall "
          f"{statistics.median(cpus):.2f} s CPU; max {max(walls):.2f} s wall {max(cpus):.2f} s CPU; last five "
          f"median {statistics.median(t['wall'] for t in last):.2f} s wall "
          f"{statistics.median(t['cpu'] for t in last):.2f} s CPU")
    for what, b in blocks:
        print(f"  {what:<8} {b['terms']:>8,} terms with blocks, {b['blocks']:>8,} blocks, {b['short']:>8,} short; "
              f"{b['common']:,} common terms: {b['common blocks']:,} blocks of {b['common postings']:,} postings")
    for what, (p50, p95) in queries:
        print(f"  {what:<8} query p50 {p50:.2f} ms, p95 {p95:.2f} ms")


def shuffled(args) -> list[dict]:
    """The corpus, both files shuffled as bench/season.py does."""
    by_tag = corpus.load(args.corpus, per_file=None)
    records = by_tag["hans"] + by_tag["hant"]
    random.Random(args.seed).shuffle(records)
    return records


def play_folds(args, shapes: list[tuple[int, int]]) -> int:
    """--folds: each shape's fold season (`fold_season`), its blocks and (--queries) a fresh build's."""
    records = shuffled(args)
    with tempfile.TemporaryDirectory(prefix="nsfolds-") as tmp:
        for first, small in shapes:
            path = (args.keep or Path(tmp)) / f"f{first}"
            if not (path.is_dir() and windex.exists_in(str(path), indexname=path.name)):
                build(path, path.name, first, 0, records, args.seed)
            times, work, live = fold_season(path, Path(tmp), first, small, args.folds, records, args.seed)
            blocks, queries = [("folded", block_shape(windex.open_dir(str(work), indexname=path.name)))], []
            if args.queries:
                fresh = fresh_build(Path(tmp), path.name, live)
                blocks.append(("fresh", block_shape(windex.open_dir(str(fresh), indexname=path.name))))
                queries = query_pair([work, fresh], args.queries)
            print_folds((first, small), times, blocks, list(zip(("folded", "fresh"), queries, strict=False)))
            shutil.rmtree(work)
    return 0


def query_pair(indexes: list[Path], repeat: int) -> list[tuple[float, float]]:
    """p50 and p95 ms of the query mix on each of `indexes`, timed by turns."""
    times: list[list[float]] = [[] for _ in indexes]
    for _ in range(2):
        for k, path in enumerate(indexes):
            times[k] += [t for ts in perf.newssearch_queries(path, max(1, repeat // 2)).values() for t in ts]
    return [(perf.pct(sorted(t), 50) * 1000, perf.pct(sorted(t), 95) * 1000) for t in times]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=corpus.DEFAULT_CORPUS)
    ap.add_argument("--shapes", default="230+24,3000+500", help="first+small articles, comma-separated")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=corpus.SEED)
    ap.add_argument("--keep", type=Path, metavar="DIR", help="build the segments in DIR once and reuse them")
    ap.add_argument("--queries", type=int, default=0, metavar="R",
                    help="also time bench/perf.py's query mix (R passes) on each shape merged each way")
    ap.add_argument("--folds", type=int, default=0, metavar="K", help="play K big folds on each shape instead")
    args = ap.parse_args(argv)
    shapes = [tuple(map(int, shape.split("+"))) for shape in args.shapes.split(",")]
    if args.folds:
        return play_folds(args, shapes)
    rows, queries = [], {}
    with tempfile.TemporaryDirectory(prefix="nsmerge-") as tmp:
        paths = {(first, small): (args.keep or Path(tmp)) / f"m{first}_{small}" for first, small in shapes}
        missing = [s for s, p in paths.items() if not (p.is_dir() and windex.exists_in(str(p), indexname=p.name))]
        if missing:  # the corpus is not held while merges are timed (its objects would slow the collector)
            records = shuffled(args)
            for first, small in missing:
                build(paths[first, small], paths[first, small].name, first, small, records, args.seed)
            del records
        for (first, small), path in paths.items():
            ix = windex.open_dir(str(path), indexname=path.name)
            rows.append((ix, first, small, len(ix._segments()), *measure(ix, args.repeat)))
            if args.queries:
                queries[first, small] = query_times(path, Path(tmp), args.queries)
    print(f"\nmedian of {args.repeat} merges each; first segment kept (1 % deleted), small ones purged (5 %)\n")
    print(f"{'first + small (segments)':<26} {'merge':<14} {'wall s':>7} {'CPU s':>7} "
          f"{'x wall':>7} {'same postings':>14}")
    for _ix, first, small, nseg, old, new, same in rows:
        label = f"{first:,} + {small:,} ({nseg})"
        for what, r in (("term by term", old), ("bulk copy", new)):
            ratio = f"{r['wall'] / old['wall']:.2f}"
            print(f"{label:<26} {what:<14} {r['wall']:>7.3f} {r['cpu']:>7.3f} {ratio:>7} "
                  f"{('yes' if same else 'NO') if r is new else '':>14}")
            label = ""
    if queries:
        print(f"\nquery mix of bench/perf.py on the merged segment, {args.queries} passes each, alternating\n")
        print(f"{'first + small':<26} {'merge':<14} {'p50 ms':>7} {'p95 ms':>7} {'x p50':>7} {'x p95':>7}")
        for (first, small), (old, new) in queries.items():
            label = f"{first:,} + {small:,}"
            for what, (p50, p95) in (("term by term", old), ("bulk copy", new)):
                print(f"{label:<26} {what:<14} {p50:>7.2f} {p95:>7.2f} {p50 / old[0]:>7.2f} {p95 / old[1]:>7.2f}")
                label = ""
    return 0 if all(row[-1] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
