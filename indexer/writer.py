"""Index runs: incremental by default, a fresh generation with ``rebuild``.

A run compares what is on disk with what the index holds. Files whose size and
mtime are unchanged since the last run are not read at all; articles whose
content digest is unchanged are not re-analyzed. The digests live in the index
itself (columns), so the file manifest is only a cache that a crash can at
worst make stale, never wrong.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout
from whoosh import index as windex

from .article import Article
from .config import Config
from .errors import IndexBusy, IndexCorrupt, IndexUnwritable, NewssearchError
from .ingest import iter_files, read_file
from .schema import make_schema
from .segments import build_segments, commit_segments, discard
from .store import DAMAGE, IndexDir, analyzer_version, userdict_for
from .testhooks import pause_for_tests

Progress = Callable[[int, int], None]


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

    def line(self) -> str:
        return (
            f"added {self.added}, updated {self.updated}, removed {self.removed}, "
            f"unchanged {self.unchanged}, failed {self.failed} in {self.seconds:.1f}s"
        )

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("added", "updated", "removed", "unchanged", "failed", "seconds")}


def _file_sig(path: Path) -> str:
    st = path.stat()
    return f"{st.st_mtime_ns}:{st.st_size}"


def _under(file: str, roots: Iterable[Path]) -> bool:
    return any(file == str(r) or file.startswith(str(r).rstrip("/") + "/") for r in roots)


def _existing(ix) -> dict[str, tuple[str, str]]:
    """id -> (file, digest) for every article in the index, read from columns."""
    with ix.searcher() as s:
        r = s.reader()
        if r.doc_count_all() == 0:
            return {}
        ids = r.column_reader("id")
        files = r.column_reader("file")
        digests = r.column_reader("digest")
        return {ids[d]: (files[d], digests[d]) for d in r.all_doc_ids()}


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
        "source_g": a.source or "",
        "date": a.date or "",
        "source": a.source or "",
        "url": a.url or "",
        "reporter": a.reporter or "",
        "file": a.file,
        "digest": digest,
        "dupkey": a.dupkey(),
        "added": now,
    }


def run_index(
    config: Config,
    paths: list[Path] | None = None,
    rebuild: bool = False,
    wait: float = 0,
    progress: Progress | None = None,
    optimize: bool = False,
) -> RunSummary:
    """Index `paths` (or the remembered folders) into the index at `config.index`.

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
        summary = _run(store, config, paths, rebuild, progress, optimize)
    except DAMAGE as exc:
        raise IndexCorrupt(f"the index at {config.index} is damaged: {type(exc).__name__}: {exc}") from exc
    except OSError as exc:
        _discard_unfinished(store)
        raise IndexUnwritable(f"cannot write the index at {config.index}: {exc.strerror or exc}") from exc
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


def _run(store: IndexDir, config: Config, paths, rebuild, progress, optimize=False) -> RunSummary:
    state = store.state()
    remembered = [Path(p) for p in state.get("roots", [])]
    roots = [p.resolve() for p in paths] if paths else remembered
    if not roots:
        raise NewssearchError("no folders to index", hint="name them once: newssearch index FOLDER")
    missing = [str(r) for r in roots if not r.exists()]
    if missing and paths:
        raise NewssearchError(f"no such file or folder: {', '.join(missing)}")
    version = analyzer_version(config, state)
    userdict = userdict_for(config, state)
    old_gen = state.get("generation")
    summary = RunSummary()
    first_seen = _first_seen(store) if rebuild and old_gen else {}
    if rebuild or not old_gen:
        gen = f"g{int(old_gen[1:]) + 1}" if old_gen else "g1"
        ix = windex.create_in(str(store.path), make_schema(), indexname=gen)
        existing: dict[str, tuple[str, str]] = {}
        manifest: dict[str, str] = {}
    else:
        gen = old_gen
        ix, _ = store.open()
        existing = _existing(ix)
        manifest = store.manifest(gen)

    by_file: dict[str, list[str]] = {}
    for aid, (f, _d) in existing.items():
        by_file.setdefault(f, []).append(aid)
    files = [f for r in roots if r.exists() for f in iter_files(r)]
    seen_files: set[str] = set()
    new_manifest = {k: v for k, v in manifest.items() if not _under(k, roots)}
    to_write: dict[str, tuple[Article, str]] = {}
    to_delete: set[str] = set()
    now = max(int(time.time()), state.get("last_change_started", 0) + 1)  # runs in one second stay apart
    fresh = 0
    t_read = time.perf_counter()
    for n, path in enumerate(files, 1):
        key = str(path)
        seen_files.add(key)
        try:
            sig = _file_sig(path)
        except OSError as exc:
            summary.failed += 1
            summary.problems.append(f"{key}: cannot read: {exc.strerror}")
            continue
        if manifest.get(key) == sig and key in by_file:
            summary.unchanged += len(by_file[key])
            new_manifest[key] = sig
        else:
            result = read_file(path)
            summary.problems.extend(result.problems)
            if not result.articles:
                summary.failed += 1
                to_delete.update(by_file.get(key, []))
            else:
                summary.failed += bool(result.problems)
                new_manifest[key] = sig
                ids = set()
                for a in result.articles:
                    ids.add(a.id)
                    d = a.digest()
                    if existing.get(a.id) == (a.file, d) and a.id not in to_write:
                        summary.unchanged += 1
                    else:
                        to_write[a.id] = (a, d)
                to_delete.update(set(by_file.get(key, [])) - ids)
        if progress:
            progress(n, len(files))
    for f, ids in by_file.items():
        if f not in seen_files and _under(f, roots):
            to_delete.update(ids)
    to_delete -= to_write.keys()

    summary.timings["read"] = time.perf_counter() - t_read
    pause_for_tests("read")
    if to_write or to_delete or gen != old_gen or optimize:
        docs = []
        for aid, (a, d) in to_write.items():
            if aid in existing:
                to_delete.add(aid)
                summary.updated += 1
            else:
                summary.added += 1
            when = first_seen.get((aid, d), now)
            fresh += when == now
            docs.append(_fields(a, d, when))
        segments, timings = build_segments(ix, docs)
        summary.timings.update(timings)
        t_toc = time.perf_counter()
        pause_for_tests("toc")
        writer = ix.writer()
        try:
            for aid in to_delete:
                writer.delete_by_term("id", aid)
            commit_segments(writer, segments, optimize)
        except BaseException:
            if not writer.is_closed:  # a failed commit has closed it already
                writer.cancel()
            discard(ix.storage, segments)
            raise
        summary.timings["toc"] = time.perf_counter() - t_toc
        to_delete -= to_write.keys()
    summary.removed = len(to_delete)
    summary.generation = gen
    pause_for_tests("state")
    store.save_manifest(gen, new_manifest)
    all_roots = sorted({str(r) for r in remembered + roots})
    store.save_state(
        {
            **state,
            "generation": gen,
            "analyzer": version if gen != old_gen else state.get("analyzer", version),
            "roots": all_roots,
            "userdict": str(userdict) if userdict else None,
            "last_run": {"finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **summary.as_dict()},
            **({"last_change_started": now} if fresh else {}),  # what `query --since-last-run` shows
        }
    )
    pause_for_tests("swap")
    if old_gen and gen != old_gen:
        store.remove_generation(old_gen)
    return summary
