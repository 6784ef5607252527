"""Index runs: incremental by default, a fresh generation with ``rebuild``.

A run compares what is on disk with what the index holds (`indexer.ingest.plan`). Files
whose signature (size, mtime, inode, ctime) is unchanged since the last run are not
read at all; articles whose content digest is unchanged are not re-analyzed. The
digests live in the index itself (columns). The file manifest records each file's
signature and ids; it is the only record of which files hold the copies of a repeated
id that are not indexed, so it is saved both before a commit (in a form that is right
whether the commit lands or not) and after.

Memory stays bounded at any scale: the plan parks the articles it reads in a spool
on disk, and the writer analyzes them in batches of about `BATCH_CHARS` characters
(forked workers per batch, each batch's segments written to disk), then makes all
of them live with one TOC commit. Until that commit the new segments are files no
TOC names: a run killed before it leaves the last good index, and the next run
deletes them.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout
from whoosh import index as windex

from . import reposts, vocab
from .codec.arrays import DocTable
from .codec.segment_writer import build_segments, commit_segments, discard
from .config import Config
from .errors import IndexBusy, IndexCorrupt, IndexUnwritable, MassRemoval, NewssearchError
from .ingest.article import Article
from .ingest.plan import Plan, Spool, make_plan
from .ingest.readers import file_key
from .regional import script_of
from .schema import make_schema
from .store import DAMAGE, IndexDir, State, analyzer_version, userdict_for
from .testhooks import pause_for_tests

Progress = Callable[[str, int, int], None]  # (what: Reading files / Indexing articles, done, total)
MASS_REMOVAL_SHARE = 0.2  # a run that would remove more of the index stops, unless allowed
# Characters of text analyzed per batch (NEWSSEARCH_BATCH_CHARS overrides it): about 60,000 articles.
# Peak memory follows the batch, not the run: the parent holds one batch, each worker one segment.
BATCH_CHARS = 40_000_000


@dataclass
class RunSummary:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    generation: str = ""
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage (workers' summed)
    merges: list[dict] = field(default_factory=list)  # what the commit merged (`segment_writer.merge_record`)

    def line(self) -> str:
        return (
            f"added {self.added}, updated {self.updated}, removed {self.removed}, "
            f"unchanged {self.unchanged}, failed {self.failed} in {self.seconds:.1f}s"
        )

    def as_dict(self) -> dict:
        keys = ("added", "updated", "removed", "unchanged", "failed", "seconds", "merges")
        return {**{k: getattr(self, k) for k in keys}, "timings": {k: round(v, 3) for k, v in self.timings.items()}}


def _existing(ix) -> dict[str, tuple[str, str]]:
    """id -> (file, digest) for every article in the index, read from columns a column at a time
    (Whoosh's column readers take ~2 µs a value: ~6 s of a no-change run at a million articles)."""
    with ix.searcher() as s:
        table = DocTable(s)
        live = table.live.tolist()
        ids, files, digests = ([v or "" for v in compress(table.values(c), live)] for c in ("id", "file", "digest"))
        return dict(zip(ids, zip(files, digests, strict=True), strict=True))


def _first_seen(store: IndexDir) -> dict[tuple[str, str], int]:
    """(id, digest) -> when the live generation first indexed it, so a rebuild keeps "new" meaning new."""
    try:
        ix, _ = store.open()
    except NewssearchError:  # a damaged index is what --rebuild repairs
        return {}
    with ix.searcher() as s:
        r = s.reader()
        if r.doc_count_all() == 0:
            return {}
        ids, digests, added = (r.column_reader(c) for c in ("id", "digest", "added"))
        return {(ids[d], digests[d]): added[d] for d in r.all_doc_ids()}


def _fields(a: Article, digest: str, now: int) -> dict:
    return {
        "id": a.id,
        "title": a.title,
        "body": a.body,
        "title_g": a.title,
        "body_g": a.body,
        "title_e": a.title,  # fields the index's schema lacks are left out (`SegmentBuilder.add`)
        "body_e": a.body,
        "source_g": a.source or "",
        "date": a.date or "",
        "source": a.source or "",
        "url": a.url or "",
        "reporter": a.reporter or "",
        "file": a.file,
        "digest": digest,
        "dupkey": a.dupkey(),
        "added": now,
        "script": script_of(f"{a.title}\n{a.body}"),
    }


def run_index(
    config: Config,
    paths: list[Path] | None = None,
    rebuild: bool = False,
    wait: float = 0,
    progress: Progress | None = None,
    allow_mass_removal: bool = False,
    forget: Iterable[Path] = (),
    optimize: bool = False,
) -> RunSummary:
    """Index `paths` (or the remembered folders) into the index at `config.index`.

    A run never removes what it could not see: articles from a missing, unlistable or
    unreadable folder or file are kept, and a run that would still remove more than
    MASS_REMOVAL_SHARE of the index raises MassRemoval unless `allow_mass_removal`.
    `forget` drops remembered folders and their articles (and indexes nothing).
    `optimize` also merges the whole index into one segment without deleted documents.
    """
    start = time.monotonic()
    store = IndexDir(config.index)
    try:
        config.index.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(config.index / ".write.lock"))
        lock.acquire(timeout=wait)
    except Timeout as exc:
        raise IndexBusy(f"another newssearch index run is writing {config.index}") from exc
    except OSError as exc:
        raise IndexUnwritable(f"cannot write the index at {config.index}: {exc.strerror or exc}") from exc
    try:
        _discard_unfinished(store)  # what a killed run (kill -9, power loss) left behind
        summary = _run(store, config, paths, rebuild, progress, allow_mass_removal, list(forget), optimize)
    except NewssearchError:
        _discard_unfinished(store)  # e.g. the generation a stopped rebuild had begun
        raise
    except DAMAGE as exc:
        raise IndexCorrupt(f"the index at {config.index} is damaged: {type(exc).__name__}: {exc}") from exc
    except OSError as exc:
        _discard_unfinished(store)
        raise IndexUnwritable(f"cannot write the index at {config.index}: {exc.strerror or exc}") from exc
    except Exception as exc:  # Whoosh raises ValueError, IndexError … on bytes it cannot parse
        from .snapshot import is_damage  # the searcher's side: imported only when a run fails

        if not is_damage(exc):
            raise
        raise IndexCorrupt(f"the index at {config.index} is damaged: {type(exc).__name__}: {exc}") from exc
    finally:
        lock.release()
    summary.seconds = time.monotonic() - start
    return summary


def _discard_unfinished(store: IndexDir) -> None:
    """After a failed run, delete what it wrote that never went live, so a full disk gets its space back.

    That is a generation being rebuilt, and the segment files of a failed commit
    to the live generation (Whoosh would only clean them up at the next commit).
    """
    try:
        for scratch in store.path.glob("g*.tmp"):  # Whoosh's per-writer scratch folders
            shutil.rmtree(scratch, ignore_errors=True)
        live = store.state().get("generation")
        for gen in store.generations() - {live}:
            store.remove_generation(gen)
        if live:
            ix, _ = store.open()
            windex.clean_files(ix.storage, live, ix.latest_generation(), ix._segments())
    except (OSError, NewssearchError):
        pass  # the directory is unusable; the live generation is untouched either way


def _stored_article(reader, aid: str) -> tuple[Article, str, int]:
    """An indexed article rebuilt from its stored fields (a rebuild keeps what it cannot read again)."""
    with reader.searcher() as s:
        d = s.document(id=aid)
    a = Article(id=aid, title=d.get("title") or "", body=d.get("body") or "", date=d.get("date") or None,
                source=d.get("source") or None, url=d.get("url") or None, reporter=d.get("reporter") or None,
                file=d.get("file") or "")
    return a, d.get("digest") or a.digest(), d.get("added") or 0


def _roots(state: State, paths: list[Path] | None, forget: list[Path]) -> tuple[list[Path], list[str]]:
    """The folders this run scans, and the remembered folders it forgets (then it scans none)."""
    remembered = [Path(p) for p in state.get("roots", [])]
    forgotten = [str(Path(p).resolve()) for p in forget]
    if forgotten:
        unknown = [f for f in forgotten if f not in {str(r) for r in remembered}]
        if unknown:
            raise NewssearchError(f"not a remembered folder: {', '.join(unknown)}",
                                  hint="remembered: " + (", ".join(map(str, remembered)) or "none"))
        return [], forgotten
    roots = [p.resolve() for p in paths] if paths else remembered
    if not roots:
        raise NewssearchError("no folders to index", hint="name them once: newssearch index FOLDER")
    for r in roots:
        if file_key(r) != str(r):
            raise NewssearchError(f"{file_key(r)}: a folder name that is not valid UTF-8 cannot be remembered",
                                  hint="rename it, or index the folder above it")
    missing = [str(r) for r in roots if not os.path.lexists(r)]
    if missing and paths:
        raise NewssearchError(f"no such file or folder: {', '.join(missing)}")
    return roots, []


@dataclass
class _Target:
    """The generation a run writes into, and what the live one held before it."""

    old_gen: str | None
    old_ix: Any  # the live index (None when there is none, or a damaged one being rebuilt)
    before: dict[str, tuple[str, str]]  # what the live generation holds: id -> (file, digest)
    old_manifest: dict
    gen: str
    ix: Any
    indexed: dict[str, tuple[str, str]]  # what the written generation holds so far (empty for a new one)
    manifest: dict

    @property
    def new_generation(self) -> bool:
        return self.gen != self.old_gen


def _open_target(store: IndexDir, state: State, rebuild: bool) -> _Target:
    """The live index, and the generation to write: the live one, or a new one for a rebuild or a first run."""
    old_gen = state.get("generation")
    old_ix = None
    if old_gen:
        try:
            old_ix, _ = store.open()
        except NewssearchError:
            if not rebuild:
                raise  # a damaged index is what --rebuild repairs
    before = _existing(old_ix) if old_ix is not None else {}
    old_manifest = store.manifest(old_gen) if old_gen else {}
    if rebuild or not old_gen:
        gen = f"g{int(old_gen[1:]) + 1}" if old_gen else "g1"
        ix = windex.create_in(str(store.path), make_schema(), indexname=gen)
        return _Target(old_gen, old_ix, before, old_manifest, gen, ix, {}, {})
    return _Target(old_gen, old_ix, before, old_manifest, old_gen, old_ix, before, old_manifest)


def _batch_chars() -> int:
    return int(os.environ.get("NEWSSEARCH_BATCH_CHARS") or BATCH_CHARS)


def _count(t: _Target, plan: Plan, first_seen: dict[tuple[str, str], int], summary: RunSummary) -> bool:
    """Count the articles the run adds and updates; return whether any of them is new (not seen before)."""
    summary.updated = sum(1 for aid in plan.to_write if aid in t.indexed)
    summary.added = len(plan.to_write) - summary.updated + len(plan.carried)
    return any((aid, d) not in first_seen for aid, (_, d) in plan.to_write.items())


def _batches(t: _Target, plan: Plan, first_seen: dict[tuple[str, str], int], now: int) -> Iterator[list[dict]]:
    """The documents to add (read back from the plan's spool), in batches of about _batch_chars() characters."""
    def articles() -> Iterator[tuple[Article, str, int]]:
        for a, d in plan.written():
            yield a, d, first_seen.get((a.id, d), now)
        for aid in plan.carried:
            yield _stored_article(t.old_ix, aid)

    limit = _batch_chars()
    batch, size = [], 0
    for a, d, when in articles():
        batch.append(_fields(a, d, when))
        size += len(a.title) + len(a.body)
        if size >= limit:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _build(t: _Target, batches: Iterable[list[dict]], total: int, progress: Progress | None,
           summary: RunSummary) -> list:
    """Segments (on disk, in no TOC yet) holding every batch; deleted again if the run fails on the way."""
    segments: list = []
    done = 0
    try:
        for docs in batches:
            built, timings = build_segments(
                t.ix, docs, progress=(lambda k, base=done: progress("Indexing", base + k, total)) if progress else None)
            segments += built
            done += len(docs)
            if progress:
                progress("Indexing", done, total)
            pause_for_tests("batch")
            for k, v in timings.items():
                summary.timings[k] = summary.timings.get(k, 0.0) + v
            del docs  # before the next batch is read: one batch in memory at a time
    except BaseException:
        discard(t.ix.storage, segments)
        raise
    return segments


def _docnums(ix, ids: set[str]) -> list[int]:
    """The live documents with these ids, from one read of the id column (Whoosh's delete_by_term opens
    a searcher per id: ~15 ms each, minutes for the 1 % of a million that a day may change)."""
    if not ids:
        return []
    with ix.searcher() as s:
        table = DocTable(s)
        hit = np.isin(table.column("id"), np.array(sorted(ids), dtype=str)) & table.live
    return np.flatnonzero(hit).tolist()


def _commit(t: _Target, segments: list, deleted: set[str], optimize: bool, summary: RunSummary) -> None:
    """Delete the old documents, and make that and the new segments live with one TOC."""
    t_toc = time.perf_counter()
    pause_for_tests("toc")
    docnums = _docnums(t.ix, deleted)  # the writer below sees the same commit: this run holds the lock
    writer = t.ix.writer()
    try:
        for d in docnums:
            writer.delete_document(d)
        summary.merges = commit_segments(writer, segments, optimize)
    except BaseException:
        _clean_up_failed_commit(writer, t.ix, segments)
        raise
    summary.timings["toc"] = time.perf_counter() - t_toc


def _run(store: IndexDir, config: Config, paths: list[Path] | None, rebuild: bool, progress: Progress | None,
         allow_mass_removal: bool, forget: list[Path], optimize: bool = False) -> RunSummary:
    state = store.state()
    roots, forgotten = _roots(state, paths, forget)
    version = analyzer_version(config, state)
    summary = RunSummary()
    first_seen = _first_seen(store) if rebuild and state.get("generation") else {}
    t = _open_target(store, state, rebuild)
    with Spool(store.path) as spool:
        plan = _plan(store, t, roots, forgotten, allow_mass_removal, progress, spool, summary)
        now = max(int(time.time()), state.get("last_change_started", 0) + 1)  # runs in one second stay apart
        fresh = False
        committed = bool(plan.to_write or plan.to_delete or plan.carried or t.new_generation or optimize)
        if committed:
            if not t.new_generation:
                store.save_manifest(t.gen, plan.interim)  # right whether the commit lands or not
            fresh = _count(t, plan, first_seen, summary)
            total = len(plan.to_write) + len(plan.carried)
            segments = _build(t, _batches(t, plan, first_seen, now), total, progress, summary)
            _commit(t, segments, plan.to_delete | (plan.to_write.keys() & t.indexed.keys()), optimize, summary)
    summary.removed = len(plan.removed)
    summary.failed = len(plan.failed)
    summary.generation = t.gen
    if plan.to_write or plan.to_delete or t.new_generation or not vocab.path_for(store.path, t.gen).exists():
        t_vocab = time.perf_counter()
        with t.ix.reader() as reader:
            vocab.write(store.path, t.gen, reader, previous=t.old_gen)
        summary.timings["vocabulary"] = time.perf_counter() - t_vocab
    if committed or not reposts.path_for(store.path, t.gen).exists():
        t_reposts = time.perf_counter()
        reposts.write(store.path, t.gen, t.ix)
        summary.timings["reposts"] = time.perf_counter() - t_reposts
    pause_for_tests("state")
    if plan.manifest != t.manifest or committed:  # a million articles' manifest is tens of MB of JSON
        store.save_manifest(t.gen, plan.manifest)
    store.save_state(_next_state(state, config, t, version, roots, forgotten, summary, now if fresh else None))
    pause_for_tests("swap")
    if t.old_gen and t.new_generation:
        store.remove_generation(t.old_gen)
    return summary


def _plan(store: IndexDir, t: _Target, roots: list[Path], forgotten: list[str], allow_mass_removal: bool,
          progress: Progress | None, spool: Spool, summary: RunSummary) -> Plan:
    """What this run does (MassRemoval if it would remove too much), its articles parked in `spool`."""
    t_read = time.perf_counter()
    plan = make_plan(roots, forgotten, t.before, t.indexed, t.old_manifest, t.manifest, spool, progress)
    summary.problems, summary.unchanged = plan.problems, plan.unchanged
    summary.timings["read"] = time.perf_counter() - t_read
    if not forgotten and not allow_mass_removal and len(plan.removed) > MASS_REMOVAL_SHARE * len(t.before):
        raise MassRemoval(
            f"this run would remove {len(plan.removed)} of the {len(t.before)} articles in the index "
            f"(over {MASS_REMOVAL_SHARE:.0%}); nothing was changed", plan.problems)
    pause_for_tests("read")
    return plan


def _next_state(state: State, config: Config, t: _Target, version: str, roots: list[Path], forgotten: list[str],
                summary: RunSummary, changed_at: int | None) -> State:
    """state.json after this run: the generation it wrote, the folders to scan again, and its summary."""
    remembered = [Path(p) for p in state.get("roots", [])]
    userdict = userdict_for(config, state)
    new: State = {
        **state,
        "generation": t.gen,
        "analyzer": version if t.new_generation else state.get("analyzer", version),
        "roots": sorted({str(r) for r in remembered + roots} - set(forgotten)),
        "userdict": str(userdict) if userdict else None,
        "last_run": {"finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **summary.as_dict()},
    }
    if changed_at is not None:
        new["last_change_started"] = changed_at  # what `query --since-last-run` shows
    return new


def _clean_up_failed_commit(writer, ix, segments: list) -> None:
    """Undo what a failed commit wrote; the clean-up failing (disk full) must not hide the first error."""
    try:
        if not writer.is_closed:  # a failed commit has closed it already
            writer.cancel()
    except Exception:  # the commit's own error is the one to report
        pass
    try:
        discard(ix.storage, segments)
    except OSError:
        pass  # _discard_unfinished tries again
