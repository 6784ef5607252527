"""The source folder as it is in the field, through the installed ``newssearch`` (issue 17's ten cases).

A network share that is not mounted, two scrapers writing the same ids, a FIFO, a file name
that is not UTF-8, files copied with their mtime, huge files, a full disk, a killed run's
workers, an oversized web parameter, an emptied file. Each ends in a message and an exit
code, and loses no article that is still in a source file. Sources are plainly synthetic
("合成…"); the worker test uses the shared corpus for enough text to fork workers.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import quote
from urllib.request import urlopen

import pytest

from indexer.config import Config
from indexer.ingest.readers import MAX_BODY_CHARS, MAX_FILE_BYTES, MAX_TITLE_CHARS
from search_ui.messages import PARAMS

from .conftest import EXE, HANS, corpus_records, serve, write_jsonl
from .fixtures.perms import can_make_unreadable, drop_dac


def recs(prefix: str, n: int, body: str = "合成正文") -> list[dict]:
    return [{"id": f"{prefix}{i}", "title": f"合成标题{prefix}{i}", "body": f"{body}{prefix}{i}"} for i in range(n)]


class Site:
    def __init__(self, root: Path) -> None:
        self.root, self.src = root, root / "src"
        self.env = {**os.environ, "NEWSSEARCH_INDEX": str(root / "ix"), "NEWSSEARCH_USERDICT": str(root / "none.txt")}

    def cli(self, *args: str, timeout: float = 120, preexec=None) -> subprocess.CompletedProcess:
        p = subprocess.run([str(EXE), *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                           preexec_fn=preexec)
        assert "Traceback" not in p.stderr + p.stdout, p.stderr
        return p

    def ids(self) -> set[str]:
        p = self.cli("query", "--json", "--limit", "0", "合成标题")
        assert p.returncode == 0, p.stderr
        return {h["id"] for h in json.loads(p.stdout)["hits"]}

    def body(self, aid: str) -> str:
        p = self.cli("show", "--json", aid)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)["body"]


@pytest.fixture
def site(tmp_path: Path) -> Site:
    if not EXE.exists():
        pytest.skip("console script not installed")
    return Site(tmp_path)


# 1. A remembered folder that is missing, empty or unreadable keeps its articles; the guard; --forget.

def test_missing_or_empty_folder_keeps_its_articles_until_forgotten(site: Site) -> None:
    perm, other = site.src / "perm", site.src / "other"
    write_jsonl(perm / "p.jsonl", recs("p", 25))
    write_jsonl(other / "o.jsonl", recs("o", 5))
    assert site.cli("index", str(perm), str(other)).returncode == 0
    everything = site.ids()
    assert len(everything) == 30

    perm.rename(site.src / "perm.moved")  # the share is not mounted
    p = site.cli("index", "--quiet")
    assert p.returncode == 1
    assert f"error: {perm}: the folder is missing: the 25 articles indexed from it are kept" in p.stderr
    assert f"newssearch index --forget {perm}" in p.stderr
    assert site.ids() == everything

    perm.mkdir()  # an empty mount point
    p = site.cli("index", "--quiet")
    assert p.returncode == 1 and f"{perm}: the folder is empty" in p.stderr and "25 articles" in p.stderr
    assert site.ids() == everything

    p = site.cli("index", "--rebuild", "--quiet")  # a rebuild carries them over from the old generation
    assert p.returncode == 1 and "25 articles indexed from it are kept" in p.stderr
    assert site.ids() == everything

    p = site.cli("index", "--forget", str(perm))
    assert p.returncode == 0 and "removed 25" in p.stdout
    assert site.ids() == {f"o{i}" for i in range(5)}
    p = site.cli("index", "--quiet")
    assert p.returncode == 0 and p.stderr == ""
    assert site.cli("index", "--forget", str(perm)).returncode == 2  # no longer remembered


@pytest.mark.skipif(not can_make_unreadable(), reason="cannot make a folder unreadable here")
def test_unreadable_subfolder_keeps_its_articles(site: Site) -> None:
    write_jsonl(site.src / "a.jsonl", recs("a", 10))
    write_jsonl(site.src / "sub" / "s.jsonl", recs("s", 10))
    assert site.cli("index", str(site.src)).returncode == 0
    (site.src / "sub").chmod(0)
    try:
        p = site.cli("index", "--quiet", preexec=drop_dac)
    finally:
        (site.src / "sub").chmod(0o755)
    assert p.returncode == 1, p.stderr
    assert f"{site.src / 'sub'}: cannot list the folder (Permission denied): the 10 articles" in p.stderr
    assert len(site.ids()) == 20


def test_mass_removal_stops_unless_allowed(site: Site) -> None:
    for n in range(5):
        write_jsonl(site.src / f"f{n}.jsonl", recs(f"f{n}_", 4))
    assert site.cli("index", str(site.src)).returncode == 0
    (site.src / "f0.jsonl").unlink()  # 4 of 20: 20 %, not over
    assert site.cli("index", "--quiet").returncode == 0 and len(site.ids()) == 16
    for n in (1, 2):
        (site.src / f"f{n}.jsonl").unlink()  # 8 of 16: 50 %
    p = site.cli("index", "--quiet")
    assert p.returncode == 1
    assert "would remove 8 of the 16 articles" in p.stderr and "nothing was changed" in p.stderr
    assert "--allow-mass-removal" in p.stderr
    assert len(site.ids()) == 16
    p = site.cli("index", "--quiet", "--allow-mass-removal")
    assert p.returncode == 0 and "removed 8" in p.stdout and len(site.ids()) == 8


# 2. An id repeated in two files: the first file in path order wins; the other copy takes over when it goes.

def test_repeated_id_is_reported_and_never_lost(site: Site) -> None:
    x_in_a = {"id": "X", "title": "合成标题X", "body": "合成正文甲文件的X"}
    x_in_b = {"id": "X", "title": "合成标题X", "body": "合成正文乙文件的X"}
    many = recs("m", 20)  # keep the removals below the mass-removal guard
    write_jsonl(site.src / "a.jsonl", [*recs("A", 2), x_in_a])
    write_jsonl(site.src / "b.jsonl", [x_in_b, *recs("C", 1)])
    write_jsonl(site.src / "m.jsonl", many)
    p = site.cli("index", str(site.src))
    assert p.returncode == 1
    assert f"{site.src / 'b.jsonl'}: id 'X' is also in {site.src / 'a.jsonl'}, whose copy is indexed" in p.stderr
    assert site.body("X") == "合成正文甲文件的X"

    (site.src / "b.jsonl").unlink()
    p = site.cli("index", "--quiet")
    assert p.returncode == 0 and "removed 1" in p.stdout
    assert site.body("X") == "合成正文甲文件的X"
    assert site.cli("index").returncode == 0 and site.body("X") == "合成正文甲文件的X"

    write_jsonl(site.src / "b.jsonl", [x_in_b, *recs("C", 1)])
    assert site.cli("index", "--quiet").returncode == 1
    (site.src / "a.jsonl").unlink()  # now b.jsonl's copy, never read since it was shadowed, takes over
    p = site.cli("index", "--quiet")
    assert p.returncode == 0 and "removed 2" in p.stdout and "updated 1" in p.stdout
    assert site.body("X") == "合成正文乙文件的X"
    assert site.ids() == {"X", "C0", *(r["id"] for r in many)}

    write_jsonl(site.src / "c.jsonl", [{**x_in_a, "body": "合成正文同一文件第一份"}, {**x_in_a, "body": "第二份"}])
    p = site.cli("index", "--quiet")
    assert p.returncode == 1 and f"{site.src / 'c.jsonl'}: id 'X' is repeated in the file" in p.stderr
    assert site.body("X") == "合成正文乙文件的X"  # b.jsonl comes first


def test_repeated_id_survives_a_run_killed_between_commit_and_manifest(site: Site) -> None:
    """The manifest is the only record that b.jsonl holds a shadowed X: a kill must not lose that."""
    write_jsonl(site.src / "b.jsonl", [{"id": "X", "title": "合成标题X", "body": "合成正文乙文件的X"}])
    write_jsonl(site.src / "m.jsonl", recs("m", 20))
    assert site.cli("index", str(site.src)).returncode == 0
    write_jsonl(site.src / "a.jsonl", [{"id": "X", "title": "合成标题X", "body": "合成正文甲文件的X"}])
    env = {**site.env, "NEWSSEARCH_TEST_PAUSE_AT": "state"}
    p = subprocess.Popen([str(EXE), "index", "--quiet"], env=env, stderr=subprocess.PIPE, text=True)
    assert "paused at state" in p.stderr.readline()  # committed: X now comes from a.jsonl
    p.kill()
    p.wait(timeout=30)
    assert site.body("X") == "合成正文甲文件的X"
    (site.src / "a.jsonl").unlink()
    assert site.cli("index", "--quiet").returncode == 0
    assert site.body("X") == "合成正文乙文件的X"


# 3. A FIFO is skipped with a message; the run ends and leaves no lock behind.

def test_fifo_is_skipped(site: Site) -> None:
    write_jsonl(site.src / "a.jsonl", recs("a", 3))
    os.mkfifo(site.src / "pipe.jsonl")
    for _ in range(2):
        p = site.cli("index", "--quiet", str(site.src), timeout=60)
        assert p.returncode == 1
        assert f"error: {site.src / 'pipe.jsonl'}: not a regular file (a FIFO): skipped" in p.stderr
    assert len(site.ids()) == 3


# 4. A file name that is not UTF-8 is indexed under an escaped name, and blocks nothing.

def test_file_name_not_utf8(site: Site) -> None:
    write_jsonl(site.src / "good.jsonl", recs("g", 5))
    raw = os.fsencode(site.src)
    with open(raw + b"/bad\xffrec.jsonl", "wb") as f:
        f.write(json.dumps(recs("bad", 1)[0], ensure_ascii=False).encode() + b"\n")
    with open(raw + b"/\xb0\xfc\xb8\xe6.txt", "wb") as f:  # a GBK file name
        f.write("合成标题GBK名\n合成正文".encode())
    p = site.cli("index", str(site.src))
    assert p.returncode == 0, p.stderr
    assert site.ids() == {*(f"g{i}" for i in range(5)), "bad0", f"{site.src}/\\xb0\\xfc\\xb8\\xe6.txt"}
    assert site.body(f"{site.src}/\\xb0\\xfc\\xb8\\xe6.txt") == "合成正文"
    os.unlink(raw + b"/bad\xffrec.jsonl")
    p = site.cli("index", "--quiet")
    assert p.returncode == 0 and "removed 1" in p.stdout and "bad0" not in site.ids()


# 5. A file replaced with the same size and mtime (cp -p, rsync -t) is read again.

def test_replaced_file_with_same_size_and_mtime(site: Site, tmp_path: Path) -> None:
    target = write_jsonl(site.src / "a.jsonl", [{"id": "a", "title": "合成标题", "body": "合成正文旧的版本"}])
    write_jsonl(site.src / "other.jsonl", recs("o", 3))
    assert site.cli("index", str(site.src)).returncode == 0
    new = write_jsonl(tmp_path / "new" / "a.jsonl", [{"id": "a", "title": "合成标题", "body": "合成正文新的版本"}])
    st = target.stat()
    os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert new.stat().st_size == st.st_size
    subprocess.run(["cp", "-p", str(new), str(target)], check=True)
    assert (target.stat().st_size, target.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    p = site.cli("index", "--quiet")
    assert p.returncode == 0 and "updated 1" in p.stdout
    assert site.body("a") == "合成正文新的版本"


# 6. Caps: a file over MAX_FILE_BYTES is not read (its old articles stay); a longer body or title is cut.

def test_size_caps(site: Site) -> None:
    big = site.src / "big.txt"
    big.parent.mkdir(parents=True)
    big.write_text("合成标题小\n合成正文", encoding="utf-8")
    write_jsonl(site.src / "ok.jsonl", recs("ok", 3))
    assert site.cli("index", str(site.src)).returncode == 0
    with big.open("r+b") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: as large as the cap allows, plus one byte
    write_jsonl(site.src / "long.jsonl", [{"id": "long", "title": "合成标题" * 500, "body": "合成正文" * 250_001}])
    p = site.cli("index", "--quiet")
    assert p.returncode == 1
    assert f"{big}: {MAX_FILE_BYTES + 1:,} bytes, over the {MAX_FILE_BYTES:,}-byte cap on one file" in p.stderr
    assert f"body of 1,000,004 characters cut to the {MAX_BODY_CHARS:,}-character cap" in p.stderr
    assert f"title of 2,000 characters cut to the {MAX_TITLE_CHARS:,}-character cap" in p.stderr
    assert site.ids() == {"ok0", "ok1", "ok2", str(big), "long"}
    assert len(site.body("long")) == MAX_BODY_CHARS


# 7. A full disk at any point of a run: exit 74 with the disk's own error, the old index kept.

def _can_unshare() -> bool:
    try:
        return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0
    except OSError:
        return False


@pytest.mark.skipif(not _can_unshare(), reason="no private mount namespace (unshare -m)")
def test_disk_full_anywhere_exits_74(site: Site) -> None:
    """A tmpfs holding the index with 0 to ~450 KB to spare: every run ends in 0 or 74, never another error."""
    write_jsonl(site.src / "a.jsonl", recs("a", 40))
    assert site.cli("index", str(site.src)).returncode == 0
    write_jsonl(site.src / "b.jsonl", recs("b", 60, body="合成正文" * 40))
    ix = site.root / "ix"
    used = sum(-(-p.stat().st_size // 4096) * 4 for p in ix.iterdir())  # KB in whole tmpfs pages
    script = (
        f'cp -a "{ix}" "{ix}.copy"\n'
        f'for spare in $(seq 4 24 460); do\n'
        f'  mount -t tmpfs -o size=$(( {used} + spare ))k tmpfs "{ix}" && cp -a "{ix}.copy/." "{ix}/" || exit 99\n'
        f'  "$EXE" index --quiet >/dev/null 2>"{site.root}/err"; rc=$?\n'
        f'  echo "spare=$spare rc=$rc $(tr "\\n" " " < "{site.root}/err")"\n'
        f'  umount "{ix}"\n'
        'done\n'
    )
    p = subprocess.run(["unshare", "-m", "sh", "-c", script], env={**site.env, "EXE": str(EXE)},
                       capture_output=True, text=True, timeout=600)
    lines = p.stdout.splitlines()
    assert len(lines) == 20, p.stdout + p.stderr
    codes = {re.search(r"rc=(\d+)", line).group(1) for line in lines}
    assert codes <= {"0", "74"} and "74" in codes, p.stdout
    for line in lines:
        assert "Traceback" not in line and "closed file" not in line, line
        if "rc=74" in line:
            assert "No space left on device" in line and "hint:" in line, line
    assert len(site.ids()) == 40  # the namespace's runs never touched the real index


# 8. Worker processes die with a killed run.

def test_workers_die_with_the_run(site: Site) -> None:
    """Killed while forked workers build segments: they die with it, before writing another file.

    An orphaned worker would go on analyzing its share and then write its segment's postings
    files into the index folder (then fail to hand them over); nothing may appear after the kill.
    """
    write_jsonl(site.src / "a.jsonl", corpus_records(HANS, 1500))
    p = subprocess.Popen([str(EXE), "index", "--quiet", str(site.src)], env=site.env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children = Path(f"/proc/{p.pid}/task/{p.pid}/children")
    workers: list[int] = []
    deadline = time.monotonic() + 120
    while not workers and p.poll() is None and time.monotonic() < deadline:
        workers = [int(x) for x in children.read_text().split()] if children.exists() else []
        time.sleep(0.01)
    assert workers, "the run forked no workers"
    time.sleep(0.5)  # into the analysis
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    ix = site.root / "ix"
    at_kill = {f.name: f.stat().st_size for f in ix.iterdir()}
    deadline = time.monotonic() + 120  # only so that the test cannot hang: the check is on files
    while [w for w in workers if _alive(w)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [w for w in workers if _alive(w)]
    assert {f.name: f.stat().st_size for f in ix.iterdir()} == at_kill, "orphaned workers wrote to the index"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


# 9. Web parameters are length-capped before any work, and not echoed.

def test_web_parameters_are_capped(site: Site) -> None:
    write_jsonl(site.src / "a.jsonl", [{**r, "source": "合成衛生局"} for r in recs("a", 3)])
    assert site.cli("index", str(site.src)).returncode == 0
    with serve(Config.load(site.env["NEWSSEARCH_INDEX"]), env=site.env) as base:
        long_source = quote("衛生局" * 2300)
        for path, name in ((f"/search?q=合成&source={long_source}", "source"),
                           (f"/api/search?q=合成&source={long_source}", "source"),
                           (f"/search?q={quote('合成' * 600)}", "q"),
                           (f"/search?q=合成&since={'2' * 5000}", "since"),
                           (f"/api/search?q=合成&page={'9' * 5000}", "page")):
            with pytest.raises(HTTPError) as err:
                urlopen(base + quote(path, safe="/?=&%"), timeout=30)
            body = err.value.read().decode()
            assert err.value.code == 400 and f"{PARAMS[name]}太长" in body, body[:300]  # 发布单位太长…
            assert len(body) < 8000 and "衛生局衛生局" not in body and "9999999999" not in body
        with urlopen(f"{base}/api/search?q={quote('合成')}&source={quote('衛生局')}", timeout=30) as r:
            assert json.loads(r.read())["total"] == 3


# 10. An emptied .jsonl holds no articles: not an error.

def test_emptied_jsonl_is_no_articles(site: Site) -> None:
    write_jsonl(site.src / "a.jsonl", recs("a", 2))
    write_jsonl(site.src / "b.jsonl", recs("b", 10))
    assert site.cli("index", str(site.src)).returncode == 0
    (site.src / "a.jsonl").write_text("")
    for _ in range(2):
        p = site.cli("index", "--quiet")
        assert p.returncode == 0 and p.stderr == "", p.stderr
    assert site.ids() == {f"b{i}" for i in range(10)}
    (site.src / "c.json").write_text("[]\n")
    assert site.cli("index", "--quiet").returncode == 0
