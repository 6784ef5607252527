"""What a run must do: the source folders as they are now, compared with what the index holds.

Every source file is *read* (new or changed), *unchanged* (same signature as when
last read: its ids are known from the index and the manifest) or *kept* (it could
not be seen: a missing or unlistable folder, an unreadable file; what it held stays).

Ids are unique by one rule: when several files hold an id, the first file in path
order (its first record) holds the indexed copy, and every other copy is
*shadowed*. The manifest (``gN.files.json``) records, per file, its signature and
every id it holds (unreadable files included, with the ids they held when last
read), so that when the indexed copy goes, the next file holding one is read again
and its copy takes over, even though the file itself did not change. The index's
own ``file`` column is not enough: a copy kept because the file that should now
hold it cannot be read still names the file it came from.

The articles read are not held in memory: each file's are parked in a :class:`Spool`
(an unnamed temporary file) and the plan keeps only ids and digests, so a run over a
million articles compares them with the index in bounded memory and the writer reads
them back in batches (`Plan.written`).
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .article import Article
from .readers import file_key, read_file, scan

Progress = Callable[[str, int, int], None]  # (stage, done, total), as indexer.writer.Progress
Indexed = dict[str, tuple[str, str]]  # id -> (file, digest)


class Spool:
    """Articles read by a run, parked on disk until the writer indexes them; one record per source file.

    The file is unnamed (deleted when created), so a killed run leaves nothing behind.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self._file = tempfile.TemporaryFile(dir=directory)
        self._cached: tuple[int, dict[str, Article]] | None = None  # the record read last

    def put(self, articles: list[Article]) -> int:
        """Park `articles`; return where they are (for `get`)."""
        self._file.seek(0, 2)
        offset = self._file.tell()
        pickle.dump(articles, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        return offset

    def get(self, offset: int, aid: str) -> Article:
        """The article `aid` of the record at `offset` (records are read whole, and the last one is kept)."""
        if self._cached is None or self._cached[0] != offset:
            self._file.seek(offset)
            self._cached = (offset, {a.id: a for a in pickle.load(self._file)})
        return self._cached[1][aid]

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._cached = None
        self._file.close()


@dataclass
class Plan:
    to_write: dict[str, tuple[int, str]]  # id -> (where the spool holds its article, digest)
    to_delete: set[str]
    carried: list[str]  # ids a rebuild takes over from the old generation (they cannot be read now)
    removed: set[str]  # ids in the index before the run that will not be after it
    unchanged: int
    manifest: dict  # to save once the commit has landed
    interim: dict  # to hold while the commit is under way
    problems: list[str]
    failed: set[str]  # files and folders that were not (fully) indexed
    spool: Spool

    def written(self) -> Iterator[tuple[Article, str]]:
        """The articles to write and their digests, in plan order (the articles of one file together)."""
        for aid, (offset, digest) in self.to_write.items():
            yield self.spool.get(offset, aid), digest


def file_sig(path: Path) -> str:
    """What changes whenever the file's content may have: `cp -p`, `rsync -t` and tar keep size and mtime,
    but a replaced or rewritten file gets a new inode or a new ctime, which no tool can set back."""
    st = path.stat()
    return f"{st.st_mtime_ns}:{st.st_size}:{st.st_ino}:{st.st_ctime_ns}"


def _under(file: str, roots: Iterable[str | Path]) -> bool:
    return any(file == str(r) or file.startswith(str(r).rstrip("/") + "/") for r in roots)


@dataclass
class _Source:
    """What one source file contributes to a run.

    `kind` is "read" (read now: `articles` holds its digests, `spooled` where its articles are), "unchanged" (same
    signature as when last read: it holds `ids`, known from the index and the
    manifest) or "kept" (it could not be seen: what it held before stays).
    """

    kind: str
    ids: list[str] = field(default_factory=list)  # in file order, each once
    articles: dict[str, str] = field(default_factory=dict)  # id -> digest
    spooled: int = -1  # where the spool holds the articles read
    sig: str | None = None
    remember: bool = False  # a manifest entry may say it need not be read again


def _sig_of(entry: object) -> str | None:
    return entry.get("sig") if isinstance(entry, dict) else None


def _ids_in(entry: object) -> list[str] | None:
    """The ids a manifest entry says its file holds (None for an entry without them, from an older version)."""
    ids = entry.get("ids") if isinstance(entry, dict) else None
    return list(ids) if isinstance(ids, list) else None


def _read(key: str, path: Path, sig: str | None, problems: list[str], failed: set[str], spool: Spool) -> _Source:
    """Read one file into a _Source; an id repeated inside the file keeps its first record."""
    result = read_file(path)
    problems.extend(result.problems)
    if result.problems:
        failed.add(key)
    if result.unseen:
        return _Source("kept")
    src = _Source("read", sig=sig, remember=sig is not None and (bool(result.articles) or not result.problems))
    kept = []
    for a in result.articles:
        if a.id in src.articles:
            problems.append(f"{key}: id {a.id[:200]!r} is repeated in the file: the first record is indexed")
            failed.add(key)
            continue
        src.ids.append(a.id)
        src.articles[a.id] = a.digest()
        kept.append(a)
    src.spooled = spool.put(kept)
    return src


def _held(by_file: dict[str, list[str]], root: str) -> bool:
    return any(_under(f, [root]) for f in by_file)


def _interim_manifest(old: dict, new: dict, sources: dict[str, _Source]) -> dict:
    """The manifest to hold while a commit is under way, right whether the commit lands or not.

    Files read in this run keep their old entries, whose signatures no longer match (so
    they are read again next time); files left unread get their new entries, which
    describe them as they are either way.
    """
    return {**old, **{key: entry for key, entry in new.items() if sources[key].kind != "read"}}


def _look(roots: list[Path], before_by_file: dict[str, list[str]], problems: list[str],
          failed: set[str]) -> tuple[list[tuple[str, Path]], dict[str, str]]:
    """The source files under `roots`, and the folders that are hidden (reported; their articles are kept).

    A folder is hidden when it is missing or cannot be listed, and a root also when it
    is empty although articles came from it (what an unmounted share looks like).
    """
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
        problems.append(f"{h}: {reason}: the {n} articles indexed from it are kept{remedy}")
        failed.add(h)
    return files, hidden


def make_plan(roots: list[Path], forgotten: list[str], before: Indexed, indexed: Indexed, old_manifest: dict,
              manifest: dict, spool: Spool, progress: Progress | None = None) -> Plan:
    """Compare `roots` with the index.

    `before` is what the live index holds, `indexed` what the generation being
    written holds (`before`, or nothing for a rebuild); `old_manifest` is the live
    generation's manifest, `manifest` the one that lets unchanged files go unread.
    Files under `forgotten` folders are treated as gone; files outside `roots` are kept.
    The articles read are parked in `spool`, which `Plan.written` reads them back from.
    """
    before_by_file: dict[str, list[str]] = {}
    for aid, (f, _d) in before.items():
        before_by_file.setdefault(f, []).append(aid)
    problems: list[str] = []
    failed: set[str] = set()
    files, hidden = _look(roots, before_by_file, problems, failed)
    sources = _sources(files, manifest, old_manifest, before_by_file, problems, failed, progress, spool)
    for key in set(before_by_file) | set(old_manifest):
        if key in sources or (forgotten and _under(key, forgotten)):
            continue
        if _under(key, roots) and not _under(key, hidden):
            continue  # gone from a folder that was listed
        sources[key] = _Source("kept", _known(key, old_manifest, before_by_file))  # hidden, or not this run's
    claims = _claims(sources, indexed, dict(files), problems, failed, spool)
    to_write, carried, unchanged = _decide(claims, sources, indexed, before, problems, failed)
    to_delete = set(indexed) - claims.keys()
    final = (set(indexed) - to_delete) | to_write.keys() | set(carried)
    manifest_after = _manifest_after(sources, old_manifest)
    return Plan(to_write, to_delete, carried, set(before) - final, unchanged, manifest_after,
                _interim_manifest(old_manifest, manifest_after, sources), problems, failed, spool)


def _known(key: str, old_manifest: dict, before_by_file: dict[str, list[str]]) -> list[str]:
    """The ids a file held when last read: from its manifest entry, else those indexed from it."""
    ids = _ids_in(old_manifest.get(key))
    return ids if ids is not None else before_by_file.get(key, [])


def _sources(files: list[tuple[str, Path]], manifest: dict, old_manifest: dict,
             before_by_file: dict[str, list[str]], problems: list[str], failed: set[str],
             progress: Progress | None, spool: Spool) -> dict[str, _Source]:
    """Each listed file: unchanged (by signature), read now, or kept as it was when it cannot be read."""
    sources: dict[str, _Source] = {}
    for n, (key, path) in enumerate(files, 1):
        try:
            sig = file_sig(path)
        except OSError as exc:
            problems.append(f"{key}: cannot read: {exc.strerror or exc}")
            failed.add(key)
            sources[key] = _Source("kept", _known(key, old_manifest, before_by_file))
            continue
        entry = manifest.get(key)
        if _sig_of(entry) == sig and (ids := _ids_in(entry)) is not None:
            sources[key] = _Source("unchanged", ids, sig=sig, remember=True)
        else:
            src = _read(key, path, sig, problems, failed, spool)
            sources[key] = src if src.kind == "read" else _Source("kept", _known(key, old_manifest, before_by_file))
        if progress:
            progress("Reading", n, len(files))
    return sources


def _claims(sources: dict[str, _Source], indexed: Indexed, paths_of: dict[str, Path], problems: list[str],
            failed: set[str], spool: Spool) -> dict[str, list[str]]:
    """id -> the files holding it, in path order (the first one's copy is indexed).

    A file that holds a copy which now wins but was not read this run is read, and the claims made again.
    """
    while True:
        claims: dict[str, list[str]] = {}
        for key in sorted(sources):
            for aid in sources[key].ids:
                claims.setdefault(aid, []).append(key)
        stale = {keys[0] for aid, keys in claims.items()
                 if sources[keys[0]].kind == "unchanged" and indexed.get(aid, ("",))[0] != keys[0]}
        if not stale:
            return claims
        for key in stale:
            src = _read(key, paths_of[key], sources[key].sig, problems, failed, spool)
            sources[key] = src if src.kind == "read" else _Source("kept", sources[key].ids)


def _decide(claims: dict[str, list[str]], sources: dict[str, _Source], indexed: Indexed, before: Indexed,
            problems: list[str], failed: set[str]) -> tuple[dict[str, tuple[int, str]], list[str], int]:
    """What to write (id -> spool offset, digest), what a rebuild carries over unread, and how many stay unchanged."""
    to_write: dict[str, tuple[int, str]] = {}
    carried: list[str] = []  # a rebuild re-adds what it cannot read again from the old generation
    unchanged = 0
    for aid, keys in claims.items():
        winner = sources[keys[0]]
        for other in keys[1:]:
            if winner.kind == "read" or sources[other].kind == "read":
                problems.append(f"{other}: id {aid[:200]!r} is also in {keys[0]}, whose copy is indexed "
                                "(a repeated id: the first file in path order wins)")
                failed.add(other)
        if winner.kind == "read":
            d = winner.articles[aid]
            if indexed.get(aid) == (keys[0], d):
                unchanged += 1
            else:
                to_write[aid] = (winner.spooled, d)
        elif aid in indexed:
            unchanged += 1
        elif aid in before:
            carried.append(aid)
    return to_write, carried, unchanged


def _manifest_after(sources: dict[str, _Source], old_manifest: dict) -> dict:
    """The manifest once the commit has landed: each file's signature and the ids it holds."""
    manifest_after: dict = {}
    for key, src in sources.items():
        if src.kind == "kept":  # its old signature, if any: the entry keeps the ids it held
            sig = _sig_of(old_manifest.get(key)) or ""
            if sig or src.ids:
                manifest_after[key] = {"sig": sig, "ids": src.ids}
        elif src.remember and src.sig:
            manifest_after[key] = {"sig": src.sig, "ids": src.ids}
    return manifest_after
