"""Index runs: incremental by default, a fresh generation with ``rebuild``.

A run compares what is on disk with what the index holds. Files whose size and
mtime are unchanged since the last run are not read at all; articles whose
content digest is unchanged are not re-analyzed. The digests live in the index
itself (columns), so the file manifest is only a cache that a crash can at
worst make stale, never wrong.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout
from whoosh import index as windex

from .article import Article
from .config import Config
from .errors import IndexBusy, IndexCorrupt, IndexUnwritable, MassRemoval, NewssearchError
from .ingest import file_key, read_file, scan
from .schema import make_schema
from .segments import build_segments, commit_segments, discard
from .store import DAMAGE, IndexDir, analyzer_version, userdict_for

Progress = Callable[[int, int], None]
MASS_REMOVAL_SHARE = 0.2  # a run that would remove more of the index stops, unless allowed


def pause_for_tests(stage: str) -> None:
    """NEWSSEARCH_TEST_PAUSE_AT=<stage> parks a run at read, toc, state or swap, so a test can kill it there."""
    if os.environ.get("NEWSSEARCH_TEST_PAUSE_AT") == stage:
        print(f"newssearch: paused at {stage}", file=sys.stderr, flush=True)
        time.sleep(float(os.environ.get("NEWSSEARCH_TEST_PAUSE_SECONDS", "600")))


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
    """What changes whenever the file's content may have: `cp -p`, `rsync -t` and tar keep size and mtime,
    but a replaced or rewritten file gets a new inode or a new ctime, which no tool can set back."""
    st = path.stat()
    return f"{st.st_mtime_ns}:{st.st_size}:{st.st_ino}:{st.st_ctime_ns}"


def _under(file: str, roots: Iterable[str | Path]) -> bool:
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
    allow_mass_removal: bool = False,
    forget: Iterable[Path] = (),
) -> RunSummary:
    """Index `paths` (or the remembered folders) into the index at `config.index`.

    A run never removes what it could not see: articles from a missing, unlistable or
    unreadable folder or file are kept, and a run that would still remove more than
    MASS_REMOVAL_SHARE of the index raises MassRemoval unless `allow_mass_removal`.
    `forget` drops remembered folders and their articles (and indexes nothing).
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
        summary = _run(store, config, paths, rebuild, progress, allow_mass_removal, list(forget))
    except NewssearchError:
        _discard_unfinished(store)  # e.g. the generation a stopped rebuild had begun
        raise
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


@dataclass
class _Source:
    """What one source file contributes to a run.

    `kind` is "read" (read now: `articles` is its content), "unchanged" (same
    signature as when last read: it holds `ids`, known from the index and the
    manifest) or "kept" (it could not be seen: what it held before stays).
    """

    kind: str
    ids: list[str] = field(default_factory=list)  # in file order, each once
    articles: dict[str, tuple[Article, str]] = field(default_factory=dict)  # id -> (article, digest)
    sig: str | None = None
    remember: bool = False  # a manifest entry may say it need not be read again


def _sig_of(entry: object) -> str | None:
    """A manifest entry is the file's signature, or {"sig", "shadowed"} when it holds shadowed copies."""
    return entry if isinstance(entry, str) else entry.get("sig") if isinstance(entry, dict) else None


def _shadowed_in(entry: object) -> list[str]:
    return list(entry.get("shadowed", [])) if isinstance(entry, dict) else []


def _entry(sig: str, shadowed: list[str]) -> str | dict:
    return {"sig": sig, "shadowed": shadowed} if shadowed else sig


def _read(key: str, path: Path, sig: str | None, summary_problems: list[str], failed: set[str]) -> _Source:
    """Read one file into a _Source; an id repeated inside the file keeps its first record."""
    result = read_file(path)
    summary_problems.extend(result.problems)
    if result.problems:
        failed.add(key)
    if result.unseen:
        return _Source("kept")
    src = _Source("read", sig=sig, remember=sig is not None and (bool(result.articles) or not result.problems))
    for a in result.articles:
        if a.id in src.articles:
            summary_problems.append(f"{key}: id {a.id[:200]!r} is repeated in the file: the first record is indexed")
            failed.add(key)
            continue
        src.ids.append(a.id)
        src.articles[a.id] = (a, a.digest())
    return src


def _stored_article(reader, aid: str) -> tuple[Article, str, int]:
    """An indexed article rebuilt from its stored fields (a rebuild keeps what it cannot read again)."""
    with reader.searcher() as s:
        d = s.document(id=aid)
    a = Article(id=aid, title=d.get("title") or "", body=d.get("body") or "", date=d.get("date") or None,
                source=d.get("source") or None, url=d.get("url") or None, reporter=d.get("reporter") or None,
                file=d.get("file") or "")
    return a, d.get("digest") or a.digest(), d.get("added") or 0


def _run(store: IndexDir, config: Config, paths, rebuild, progress, allow_mass_removal=False,
         forget=()) -> RunSummary:
    state = store.state()
    remembered = [Path(p) for p in state.get("roots", [])]
    forgotten = [str(Path(p).resolve()) for p in forget]
    if forgotten:
        unknown = [f for f in forgotten if f not in {str(r) for r in remembered}]
        if unknown:
            raise NewssearchError(f"not a remembered folder: {', '.join(unknown)}",
                                  hint="remembered: " + (", ".join(map(str, remembered)) or "none"))
        roots: list[Path] = []
    else:
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
    version = analyzer_version(config, state)
    userdict = userdict_for(config, state)
    old_gen = state.get("generation")
    summary = RunSummary()
    failed: set[str] = set()
    first_seen = _first_seen(store) if rebuild and old_gen else {}
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
        indexed: dict[str, tuple[str, str]] = {}
        manifest: dict = {}
    else:
        gen, ix, indexed, manifest = old_gen, old_ix, before, old_manifest
    before_by_file: dict[str, list[str]] = {}
    for aid, (f, _d) in before.items():
        before_by_file.setdefault(f, []).append(aid)

    def known(key: str) -> list[str]:
        """The ids a file held when last seen: indexed from it, or shadowed by a copy in another file."""
        return list(dict.fromkeys(before_by_file.get(key, []) + _shadowed_in(old_manifest.get(key))))

    # What the folders hold now; a folder that cannot be listed, or is empty though articles came from it
    # (an unmounted share), is hidden: its articles are kept.
    t_read = time.perf_counter()
    files: list[tuple[str, Path]] = []
    hidden: dict[str, str] = {}
    for root in roots:
        listing = scan(root)
        hidden.update(listing.hidden)
        rkey = file_key(root)
        if not listing.files and not listing.hidden and _held(before_by_file, rkey):
            hidden[rkey] = "the folder is empty (an unmounted share?)"
        files.extend(listing.files)
    for h, reason in hidden.items():
        n = sum(len(ids) for f, ids in before_by_file.items() if _under(f, [h]))
        remedy = f"; if it is gone for good: newssearch index --forget {h}" if h in map(str, roots) else ""
        summary.problems.append(f"{h}: {reason}: the {n} articles indexed from it are kept{remedy}")
        failed.add(h)

    sources: dict[str, _Source] = {}
    paths_of: dict[str, Path] = {}
    for n, (key, path) in enumerate(files, 1):
        paths_of[key] = path
        try:
            sig = _file_sig(path)
        except OSError as exc:
            summary.problems.append(f"{key}: cannot read: {exc.strerror or exc}")
            failed.add(key)
            sources[key] = _Source("kept", known(key))
            continue
        entry = manifest.get(key)
        if entry is not None and _sig_of(entry) == sig:
            sources[key] = _Source("unchanged", known(key), sig=sig, remember=True)
        else:
            src = _read(key, path, sig, summary.problems, failed)
            sources[key] = src if src.kind == "read" else _Source("kept", known(key))
        if progress:
            progress(n, len(files))
    for key in set(before_by_file) | set(old_manifest):
        if key in sources or (forgotten and _under(key, forgotten)):
            continue
        if _under(key, roots) and not _under(key, hidden):
            continue  # gone from a folder that was listed
        sources[key] = _Source("kept", known(key))  # below a hidden folder, or outside this run's folders

    # Ids are unique: when files repeat one, the first file in path order holds the indexed copy. A file
    # that holds a copy which now wins but was not read this run is read, and the plan made again.
    while True:
        claims: dict[str, list[str]] = {}
        for key in sorted(sources):
            for aid in sources[key].ids:
                claims.setdefault(aid, []).append(key)
        stale = {keys[0] for aid, keys in claims.items()
                 if sources[keys[0]].kind == "unchanged" and indexed.get(aid, ("",))[0] != keys[0]}
        if not stale:
            break
        for key in stale:
            src = _read(key, paths_of[key], sources[key].sig, summary.problems, failed)
            sources[key] = src if src.kind == "read" else _Source("kept", sources[key].ids)

    to_write: dict[str, tuple[Article, str]] = {}
    carried: list[str] = []  # a rebuild re-adds what it cannot read again from the old generation
    for aid, keys in claims.items():
        winner = sources[keys[0]]
        for other in keys[1:]:
            if winner.kind == "read" or sources[other].kind == "read":
                summary.problems.append(f"{other}: id {aid[:200]!r} is also in {keys[0]}, whose copy is indexed "
                                        "(a repeated id: the first file in path order wins)")
                failed.add(other)
        if winner.kind == "read":
            a, d = winner.articles[aid]
            if indexed.get(aid) == (keys[0], d):
                summary.unchanged += 1
            else:
                to_write[aid] = (a, d)
        elif aid in indexed:
            summary.unchanged += 1
        elif aid in before:
            carried.append(aid)
    to_delete = set(indexed) - claims.keys()
    final = (set(indexed) - to_delete) | to_write.keys() | set(carried)
    removed = before.keys() - final
    summary.timings["read"] = time.perf_counter() - t_read
    if not forgotten and not allow_mass_removal and len(removed) > MASS_REMOVAL_SHARE * len(before):
        raise MassRemoval(
            f"this run would remove {len(removed)} of the {len(before)} articles in the index "
            f"(over {MASS_REMOVAL_SHARE:.0%}); nothing was changed", summary.problems)

    new_manifest: dict = {}
    for key, src in sources.items():
        if src.kind == "kept":
            if key in old_manifest:
                new_manifest[key] = old_manifest[key]
        elif src.remember and src.sig:
            new_manifest[key] = _entry(src.sig, [aid for aid in src.ids if claims[aid][0] != key])
    pause_for_tests("read")
    now = max(int(time.time()), state.get("last_change_started", 0) + 1)  # runs in one second stay apart
    fresh = 0
    if to_write or to_delete or carried or gen != old_gen:
        if gen == old_gen:
            store.save_manifest(gen, _interim_manifest(old_manifest, new_manifest, sources))
        docs = []
        for aid, (a, d) in to_write.items():
            if aid in indexed:
                to_delete.add(aid)
                summary.updated += 1
            else:
                summary.added += 1
            when = first_seen.get((aid, d), now)
            fresh += when == now
            docs.append(_fields(a, d, when))
        for aid in carried:
            a, d, when = _stored_article(old_ix, aid)
            summary.added += 1
            docs.append(_fields(a, d, when))
        segments, timings = build_segments(ix, docs)
        summary.timings.update(timings)
        t_toc = time.perf_counter()
        pause_for_tests("toc")
        writer = ix.writer()
        try:
            for aid in to_delete:
                writer.delete_by_term("id", aid)
            commit_segments(writer, segments)
        except BaseException:
            _clean_up_failed_commit(writer, ix, segments)
            raise
        summary.timings["toc"] = time.perf_counter() - t_toc
    summary.removed = len(removed)
    summary.failed = len(failed)
    summary.generation = gen
    pause_for_tests("state")
    store.save_manifest(gen, new_manifest)
    all_roots = sorted({str(r) for r in remembered + roots} - set(forgotten))
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


def _held(by_file: dict[str, list[str]], root: str) -> bool:
    return any(_under(f, [root]) for f in by_file)


def _interim_manifest(old: dict, new: dict, sources: dict[str, _Source]) -> dict:
    """The manifest to hold while a commit is under way, right whether the commit lands or not.

    Files read in this run lose their entries (they are read again next time), and a file
    left unread keeps every shadowed copy it was known to hold, before and after: the
    manifest is then the only place that knows a file holds a copy the index has from
    elsewhere, so it must not forget one if the run is killed between commit and save.
    """
    out = {}
    for key, entry in old.items():
        src = sources.get(key)
        if src is not None and src.kind == "read":
            continue
        shadowed = dict.fromkeys(_shadowed_in(entry) + _shadowed_in(new.get(key)))
        out[key] = _entry(_sig_of(entry) or "", list(shadowed)) if shadowed else entry
    return out


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
