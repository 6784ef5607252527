"""Cron safety through the installed ``newssearch`` script: overlapping runs, kill -9, searching meanwhile.

A run is parked at a named stage with NEWSSEARCH_TEST_PAUSE_AT (see
``indexer.writer.pause_for_tests``) and killed there with SIGKILL: ``read`` (files
read, nothing written), ``toc`` (new segments on disk, no TOC yet), ``state``
(TOC committed, state.json not yet saved) and ``swap`` (a rebuild's pointer
swapped, old generation not yet deleted). Kills after a delay land inside
segment building, where forked workers run.
"""

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from indexer.config import Config
from indexer.search import Searcher
from indexer.store import IndexDir
from indexer.writer import run_index

from .conftest import EXE, HANS, HANT, CliSite, corpus_records, write_jsonl

PER_FILE = 50
V1_FILES, V1_PER_FILE = 10, 10  # the first version: 100 articles in 10 files
CHANGED = "（本条已更新：第二版）"


@pytest.fixture(scope="module")
def records():
    return corpus_records(HANS, 2 * PER_FILE), corpus_records(HANT, 10 * PER_FILE)


class Site(CliSite):
    """A source folder and an index in one temp dir, with the corpus in two versions."""

    def __init__(self, root: Path, records) -> None:
        super().__init__(Config.load(root / "index", root / "no-userdict.txt"))
        self.root, self.src = root, root / "src"
        self.hans, self.hant = records

    def v1(self) -> int:
        for i in range(V1_FILES):
            write_jsonl(self.src / f"a{i}.jsonl", self.hans[i * V1_PER_FILE:(i + 1) * V1_PER_FILE])
        return len(self.hans)

    def v2(self, files: int) -> int:
        """Change one article, delete one file (10 %, under the mass-removal guard), add `files` files
        (10 are enough to fork workers)."""
        first = [dict(r) for r in self.hans[:V1_PER_FILE]]
        first[0]["body"] += CHANGED
        write_jsonl(self.src / "a0.jsonl", first)
        (self.src / "a1.jsonl").unlink()
        for i in range(files):
            write_jsonl(self.src / "tw" / f"b{i}.jsonl", self.hant[i * PER_FILE:(i + 1) * PER_FILE])
        return len(self.hans) - V1_PER_FILE + files * PER_FILE

    def start(self, *args: str, pause: str | None = None, seconds: float = 600) -> subprocess.Popen:
        env = dict(self.env)
        if pause:
            env.update(NEWSSEARCH_TEST_PAUSE_AT=pause, NEWSSEARCH_TEST_PAUSE_SECONDS=str(seconds))
        err = open(self.root / f"stderr-{time.monotonic_ns()}.txt", "w+")  # noqa: SIM115 - read while it runs
        p = subprocess.Popen([str(EXE), *args], env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        p.errfile = err
        return p

    def contents(self) -> tuple[int, list[str]]:
        """(document count, ids) of the live generation, read the way a searcher does."""
        ix, _ = IndexDir(self.config.index).open()
        with ix.searcher() as s:
            r = s.reader()
            col = r.column_reader("id")
            return r.doc_count(), [col[d] for d in r.all_doc_ids()]

    def check(self, expected: int) -> None:
        """The index answers, holds exactly `expected` articles, each once."""
        count, ids = self.contents()
        assert count == expected and len(set(ids)) == len(ids) == expected
        s = Searcher(self.config)
        try:
            assert s.search("新闻联播", limit=0).total > 0
        finally:
            s.close()


def wait_paused(p: subprocess.Popen, stage: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p.errfile.seek(0)
        if f"paused at {stage}" in p.errfile.read():
            return
        assert p.poll() is None, f"run ended before {stage}: {p.errfile.read()}"
        time.sleep(0.05)
    raise AssertionError(f"run never reached {stage}")


def kill(p: subprocess.Popen) -> None:
    """SIGKILL the run itself (as the OOM killer or a reboot would), not its process group."""
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    assert p.returncode == -signal.SIGKILL


@pytest.fixture
def site(tmp_path, records):
    if not EXE.exists():
        pytest.skip("console script not installed")
    return Site(tmp_path, records)


def _indexed_v1(site: Site, new_files: int = 2) -> tuple[int, int]:
    n1 = site.v1()
    run_index(site.config, [site.src])
    return n1, site.v2(new_files)


@pytest.mark.parametrize(
    "args,stage,visible",
    [
        ((), "read", "old"),
        ((), "toc", "old"),
        ((), "state", "new"),  # the TOC is the commit: readers see the new articles already
        pytest.param(("--rebuild",), "read", "old", marks=pytest.mark.slow),  # same safety as the plain run
        (("--rebuild",), "toc", "old"),
        (("--rebuild",), "state", "old"),  # a rebuild goes live only when state.json points at it
        (("--rebuild",), "swap", "new"),
    ],
)
def test_kill_9_at_each_stage_leaves_a_usable_index(site, args, stage, visible):
    n1, n2 = _indexed_v1(site)
    p = site.start("index", "--quiet", *args, pause=stage)
    wait_paused(p, stage)
    kill(p)
    site.check(n1 if visible == "old" else n2)
    done = site.cli("index", "--quiet")
    assert done.returncode == 0, done.stderr
    site.check(n2)
    s = Searcher(site.config)
    try:
        assert s.search(f'"{CHANGED}"').total == 1
    finally:
        s.close()
    store = IndexDir(site.config.index)
    assert store.generations() == {store.state()["generation"]}  # nothing left over from the killed run


def workers(p: subprocess.Popen, timeout: float = 5) -> list[int]:
    """The run's forked segment builders, once there are any (none if it builds in-process)."""
    children = Path(f"/proc/{p.pid}/task/{p.pid}/children")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and p.poll() is None:
        pids = children.read_text().split() if children.exists() else []
        if pids:
            return [int(x) for x in pids]
        time.sleep(0.02)
    return []


@pytest.mark.parametrize("delay", [0.2, *(pytest.param(d, marks=pytest.mark.slow) for d in (0, 1.0, 2.5))])
@pytest.mark.parametrize("args", [(), ("--rebuild",)])
def test_kill_9_while_segments_are_built(site, args, delay):
    """Killed while forked workers write segment files; orphaned workers must not block or spoil the next run."""
    n1, n2 = _indexed_v1(site, new_files=10)
    p = site.start("index", "--quiet", *args, pause="read", seconds=0)
    wait_paused(p, "read")
    workers(p)
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    assert p.wait(timeout=60) in (-signal.SIGKILL, 0)
    count, _ = site.contents()
    assert count in (n1, n2)
    done = site.cli("index", "--quiet", "--wait", "60")
    assert done.returncode == 0, done.stderr
    site.check(n2)


def test_second_run_exits_75_or_waits(site):
    n1, n2 = _indexed_v1(site)
    first = site.start("index", "--quiet", pause="toc", seconds=3)
    wait_paused(first, "toc")
    busy = site.cli("index", "--quiet")
    assert busy.returncode == 75
    assert "another newssearch index run" in busy.stderr and "--wait" in busy.stderr
    waiter = site.start("index", "--quiet", "--wait", "120")
    assert first.wait(timeout=120) == 0
    assert waiter.wait(timeout=120) == 0
    waiter.stdout.read()
    site.check(n2)


def test_two_runs_started_together(site):
    n = site.v1()
    runs = [site.start("index", "--quiet", str(site.src)) for _ in range(2)]
    codes = sorted(p.wait(timeout=300) for p in runs)
    assert codes in ([0, 0], [0, 75])
    site.check(n)


def test_searching_during_reindex_sees_old_or_new_never_partial(site):
    n1, n2 = _indexed_v1(site)
    queries = ["新闻联播", "臺南", '"第二版"']
    s = Searcher(site.config)
    old = [s.search(q, limit=0).total for q in queries]
    seen: list[tuple[str, int]] = []  # (query or "articles", total): each call is one snapshot
    errors: list[BaseException] = []
    stop = threading.Event()

    def loop() -> None:
        searcher = Searcher(site.config)
        try:
            while not stop.is_set():
                seen.extend((q, searcher.search(q, limit=0).total) for q in queries)
                seen.append(("articles", searcher.stats()["articles"]))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            searcher.close()

    t = threading.Thread(target=loop)
    t.start()
    cli: list[dict] = []
    try:
        for args in (("index", "--quiet"), ("index", "--quiet", "--rebuild"), ("index", "--quiet", "--optimize")):
            p = site.start(*args)
            while p.poll() is None:
                q = site.cli("query", "--json", "--limit", "0", "新闻联播")
                assert q.returncode == 0, q.stderr
                cli.append(json.loads(q.stdout))
            assert p.returncode == 0
    finally:
        stop.set()
        t.join(timeout=60)
    assert not errors, errors
    new = [s.search(q, limit=0).total for q in queries]
    s.close()
    assert old != new and old[2] == 0 and new[2] == 1
    allowed = {("articles", n1), ("articles", n2), *zip(queries, old, strict=True), *zip(queries, new, strict=True)}
    assert set(seen) <= allowed, set(seen) - allowed
    assert len(seen) > 20 and cli
    assert {r["total"] for r in cli} <= {old[0], new[0]}
    site.check(n2)


def test_long_lived_searcher_sees_removals_and_updates(config, tmp_path):
    """A web server's Searcher outlives runs: it must not keep readers with the old commit's deletions."""
    src = tmp_path / "src"
    rec = [{"id": f"n{i}", "title": f"标题{i}号", "body": f"内容{i}", "date": "2020-01-01"} for i in range(20)]
    write_jsonl(src / "a.jsonl", rec[:10])
    write_jsonl(src / "b.jsonl", rec[10:])
    run_index(config, [src])
    s = Searcher(config)
    try:
        assert s.search("标题", limit=0).total == 20
        (src / "b.jsonl").unlink()
        write_jsonl(src / "a.jsonl", [{**rec[0], "body": "改过的正文"}, *rec[1:10]])
        run_index(config, allow_mass_removal=True)  # half of the index: over the guard
        assert (s.search("标题", limit=0).total, s.stats()["articles"]) == (10, 10)
        assert s.search("改过").total == 1 and s.search("内容0").total == 0
    finally:
        s.close()


def test_a_cron_run_over_json_files_loads_no_html_parser_and_no_searcher(tmp_path):
    """What a run of JSON files never needs stays unimported: lxml (~30 ms) and the searcher's modules."""
    src = tmp_path / "src"
    write_jsonl(src / "a.jsonl", corpus_records(HANS, 3))
    run = ("import sys; from search_ui.cli import main\n"
           "try: main(sys.argv[1:])\n"
           "except SystemExit as e: print(sorted(m for m in sys.modules if m.split('.')[0] == 'lxml' or "
           "m in ('indexer.snapshot', 'indexer.evaluate', 'importlib.resources')), e.code)")
    for k in range(2):  # the first run and an incremental one
        write_jsonl(src / f"b{k}.jsonl", [{**corpus_records(HANT, 1)[0], "id": f"b{k}"}])
        out = subprocess.run([sys.executable, "-c", run, "index", str(src), "--index", str(tmp_path / "ix"), "-q"],
                             capture_output=True, text=True, timeout=120)
        assert out.stdout.splitlines()[-1] == "[] 0", out.stdout + out.stderr
