"""Faults under the real CLI: an unwritable index, a full disk, damaged segments, stale locks.

Each must end in a message and an exit code (never a traceback), leave the last good
index searchable, and lose no article: once the fault is gone, a run indexes everything.
Tests run as root, which ignores file modes, so "read-only" and "disk full" are made
with a private mount namespace (``unshare -m``) or with RLIMIT_FSIZE.
"""

from __future__ import annotations

import json
import random
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from indexer.config import Config
from indexer.search import Searcher
from indexer.writer import run_index
from search_ui.cli import main
from search_ui.web import create_app

from .conftest import EXE, HANS, HANT, CliSite, corpus_records, write_jsonl

LOCKS = {".write.lock"}


def _can_unshare() -> bool:
    try:
        return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0
    except OSError:
        return False


needs_mounts = pytest.mark.skipif(not _can_unshare(), reason="no private mount namespace (unshare -m)")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> tuple[Path, Path, int, int]:
    """Sources and an index of them, built once; b.jsonl is added after, for the faulty runs to read."""
    root = tmp_path_factory.mktemp("faults")
    hans, hant = corpus_records(HANS, 90), corpus_records(HANT, 90)
    src = root / "src"
    write_jsonl(src / "a.jsonl", hans[:60] + hant[:60])
    run_index(Config.load(root / "ix", root / "no-userdict.txt"), [src])
    extra = hans[60:] + hant[60:]
    write_jsonl(src / "b.jsonl", extra)
    return src, root / "ix", 120, 120 + len(extra)


class Site(CliSite):
    """A copy of the template index, and the CLI environment pointing at it."""

    def __init__(self, root: Path, template: tuple[Path, Path, int, int]) -> None:
        self.src, ix, self.before, self.total = template
        super().__init__(Config.load(root / "ix", root / "no-userdict.txt"))
        shutil.copytree(ix, self.config.index)

    def invoke(self, *args: str) -> Result:
        """The same command in this process (quicker); an exception escaping it would be a traceback."""
        r = CliRunner(env=self.env).invoke(main, list(args))
        assert r.exception is None or isinstance(r.exception, SystemExit), r.output
        return r

    def in_namespace(self, script: str) -> str:
        """Run a shell script in a private mount namespace (its mounts vanish with it); return its stdout."""
        p = subprocess.run(["unshare", "-m", "sh", "-c", script], env={**self.env, "EXE": str(EXE)},
                           capture_output=True, text=True, timeout=300)
        assert "Traceback" not in p.stderr + p.stdout, p.stderr
        return p.stdout

    def count(self) -> int:
        s = Searcher(self.config)
        try:
            return s.stats()["articles"]
        finally:
            s.close()

    def files(self) -> set[str]:
        return {p.name for p in self.config.index.iterdir()} - LOCKS

    def recovers(self) -> None:
        """With the fault gone, one ordinary run indexes every article and search works."""
        p = self.cli("index", "--quiet")
        assert p.returncode == 0, p.stderr
        assert self.count() == self.total
        assert json.loads(self.invoke("query", "--json", "新闻").stdout)["total"] > 0


@pytest.fixture
def site(tmp_path: Path, template) -> Site:
    return Site(tmp_path, template)


def test_index_path_is_a_file(tmp_path: Path, site: Site) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    site.env["NEWSSEARCH_INDEX"] = str(blocker)
    p = site.cli("index", str(site.src))
    assert p.returncode == 74 and "cannot write the index" in p.stderr and "hint:" in p.stderr
    assert blocker.read_text() == "not a folder"


def _small_files() -> None:
    """RLIMIT_FSIZE makes writes past 200 kB fail with EFBIG, like a quota or a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the writer
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))


@pytest.mark.parametrize("rebuild", [False, True], ids=["incremental", "rebuild"])
def test_file_size_limit_during_commit(site: Site, rebuild: bool) -> None:
    files = site.files()
    p = site.cli("index", *(["--rebuild"] if rebuild else []), preexec=_small_files)
    assert p.returncode == 74, p.stderr
    assert "cannot write the index" in p.stderr and "File too large" in p.stderr and "hint:" in p.stderr
    assert site.files() == files  # what the failed run wrote is gone, the live generation untouched
    assert site.count() == site.before
    site.recovers()


def test_file_size_limit_during_a_merge(site: Site) -> None:
    """A merge (here --optimize's) that cannot write its segment leaves the segments it was merging live."""
    site.recovers()
    segments = json.loads(site.cli("stats", "--json").stdout)["segments"]
    assert len(segments) == 2
    files = site.files()
    p = site.cli("index", "--optimize", preexec=_small_files)
    assert p.returncode == 74 and "File too large" in p.stderr, p.stderr
    assert site.files() == files and site.count() == site.total
    assert site.cli("index", "--optimize").returncode == 0
    assert json.loads(site.cli("stats", "--json").stdout)["segments"] == [{"articles": site.total, "deleted": 0}]


@needs_mounts
def test_read_only_index(site: Site) -> None:
    ix = site.config.index
    out = site.in_namespace(
        f'mount --bind "{ix}" "{ix}" && mount -o remount,bind,ro "{ix}" || exit 99\n'
        '"$EXE" index 2>&1; echo "rc=$?"\n'
        '"$EXE" query --json 新闻 | head -c 200; echo\n'
    )
    assert "rc=74" in out and "Read-only file system" in out and "hint:" in out, out
    assert '"total": ' in out  # the old index still answers while it cannot be written
    assert site.count() == site.before
    site.recovers()


@needs_mounts
def test_disk_full_during_commit(site: Site) -> None:
    """A tmpfs just larger than the index fills up in the middle of the commit."""
    ix = site.config.index
    size_kb = sum(p.stat().st_size for p in ix.iterdir()) // 1024 + 64
    out = site.in_namespace(
        f'cp -a "{ix}" "{ix}.copy" && mount -t tmpfs -o size={size_kb}k tmpfs "{ix}" || exit 99\n'
        f'cp -a "{ix}.copy/." "{ix}/" && rm -r "{ix}.copy" || exit 98\n'
        'ls -a "$NEWSSEARCH_INDEX" | sort | tr "\\n" " "; echo\n'
        '"$EXE" index 2>&1; echo "rc=$?"\n'
        'ls -a "$NEWSSEARCH_INDEX" | sort | tr "\\n" " "; echo\n'
        '"$EXE" stats --json; echo\n'
        f'mount -o remount,size={size_kb * 4}k "{ix}" && "$EXE" index --quiet; echo "rc=$?"\n'
        '"$EXE" stats --json; echo\n'
    )
    lines = out.splitlines()
    assert "No space left on device" in out and "rc=74" in out, out
    assert lines[0] == lines[lines.index("rc=74") + 1], "a failed run left files behind"
    stats = [json.loads(line) for line in lines if line.startswith("{")]
    assert [s["articles"] for s in stats] == [site.before, site.total]  # kept, then all of them once room is made
    assert [line for line in lines if line.startswith("rc=")] == ["rc=74", "rc=0"]


def _damage(ix: Path, how: str) -> None:
    gen = json.loads((ix / "state.json").read_text())["generation"]
    files = sorted((p for p in ix.iterdir() if p.name.startswith(f"{gen}_") and p.stat().st_size), key=lambda p:
                   p.stat().st_size)
    target = next(ix.glob(f"_{gen}_*.toc")) if how == "truncate-toc" else files[-1]
    data = bytearray(target.read_bytes())
    if how.startswith("truncate"):
        del data[len(data) // 2:]
    elif how == "zero-block":
        start = len(data) // 3
        data[start:start + 4096] = bytes(len(data[start:start + 4096]))
    else:
        rng = random.Random(how)
        for _ in range(200):
            data[rng.randrange(len(data))] = rng.randrange(256)
    target.write_bytes(bytes(data))


def _answer(r: Result) -> list[tuple]:
    """What a `query --json` printed: every hit's id, title and snippet, in order."""
    assert r.exit_code == 0, r.output
    return [(h["id"], h["title"], h["snippet"]) for h in json.loads(r.stdout)["hits"]]


@pytest.mark.parametrize("how", ["truncate-segment", "truncate-toc", "zero-block", "flip-bytes"])
def test_damaged_segment(site: Site, how: str) -> None:
    """Damage is reported (CLI exit 3, HTTP 503), never a traceback, a 500 or a wrong answer; --rebuild restores it.

    A query that reads no damaged byte may answer, but only with what the intact index answers.
    """
    queries = ("新闻", '"经济发展" -會議')
    intact = {q: _answer(site.invoke("query", "--json", "--limit", "0", q)) for q in queries}
    _damage(site.config.index, how)
    codes = []
    for q in queries:
        r = site.invoke("query", "--json", "--limit", "0", q)
        codes.append(r.exit_code)
        if r.exit_code == 3:
            assert "index" in r.output and "newssearch index --rebuild" in r.output
        else:
            assert r.exit_code == 0 and _answer(r) == intact[q], r.output
    if how.startswith("truncate"):  # a truncated file is always read
        assert codes == [3, 3]
    client = create_app(site.config).test_client()
    for url in ("/api/search?q=新闻", "/search?q=会议", "/"):
        assert client.get(url).status_code in (200, 503), url
    r = site.invoke("index")
    assert r.exit_code in (0, 1, 3), r.output  # an incremental run may or may not read the damaged part
    p = site.cli("index", "--rebuild", "--quiet")
    assert p.returncode == 0, p.stderr
    assert site.count() == site.total


_HOLDER = """
import sys, time
from indexer.config import Config
from indexer.writer import run_index
from whoosh import index as windex
from indexer.store import IndexDir
config = Config.load(sys.argv[1], sys.argv[2])
if sys.argv[3] == "filelock":  # a real run, stuck reading files while it holds .write.lock
    def hang(stage, done, total):
        print("holding", flush=True)
        time.sleep(600)
    run_index(config, rebuild=True, progress=hang)
else:  # Whoosh's own WRITELOCK, with half a segment written
    ix, _ = IndexDir(config.index).open()
    w = ix.writer()
    for n in range(50):
        w.add_document(id=f"ghost-{n}", title="zqxghost", body="zqxghost " * 50, file="ghost")
    print("holding", flush=True)
    time.sleep(600)
"""


@pytest.mark.parametrize("lock", ["filelock", "whoosh"])
def test_stale_lock_after_kill_9(site: Site, lock: str) -> None:
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(site.config.index), str(site.config.userdict),
                               lock], env=site.env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        if lock == "filelock":
            p = site.cli("index", "--wait", "0")
            assert p.returncode == 75 and "another newssearch index run" in p.stderr  # the lock is real
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert site.count() == site.before
    site.recovers()
    assert not Searcher(site.config).search("zqxghost").total  # nothing of the killed writer went live


def test_state_file_replaced_by_a_directory(site: Site) -> None:
    state = site.config.index / "state.json"
    saved = state.read_bytes()
    state.unlink()
    state.mkdir()
    for args in (("query", "新闻"), ("index",), ("stats",)):
        r = site.invoke(*args)
        assert r.exit_code == 3 and "state.json" in r.output and "hint:" in r.output
    shutil.rmtree(state)
    state.write_bytes(saved)
    site.recovers()
