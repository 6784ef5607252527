"""The README is executed: every ``newssearch …`` command in its code blocks runs as printed.

The commands run in README order from a temporary folder (not this checkout), with the default
index location (``data/index`` there), over ``seeds/`` and a small sample of the shared corpus.
A command fails the test with exit status ≥ 2 or a traceback; 0 and 1 (no hits, a skipped file)
are answers.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import urllib.request

import pytest

from .conftest import EXE, HANS, HANT, ROOT, corpus_records, write_jsonl

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
PLACEHOLDERS = {"ID": None, "PATH": "sample", "FOLDER": "sample", "DIR": "data/index"}


def readme_commands() -> list[list[str]]:
    """Each ``newssearch`` invocation in the README's code blocks, as argv after the program name."""
    commands = []
    for block in FENCE.findall((ROOT / "README.md").read_text(encoding="utf-8")):
        for line in block.splitlines():
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split, lexer.commenters = True, "#"
            try:
                tokens = list(lexer)
            except ValueError:
                continue  # not shell (a crontab field, an ini line with an odd quote)
            argv: list[str] | None = None
            for tok in [*tokens, ";"]:
                if argv is None:
                    if re.fullmatch(r"(?:\S*[/=])?newssearch", tok):
                        argv = []
                elif set(tok) <= set("&;|()<>"):
                    if argv:  # not a folder named newssearch (cd /srv/newssearch)
                        commands.append(argv)
                    argv = None
                else:
                    argv.append(tok)
    return commands


def test_the_readme_shows_the_core_commands():
    cmds = [c[0] for c in readme_commands() if c]
    assert {"index", "query", "show", "stats", "serve"} <= set(cmds), cmds


@pytest.fixture
def workdir(tmp_path):
    work = tmp_path / "work"
    shutil.copytree(ROOT / "seeds", work / "seeds")
    write_jsonl(work / "sample" / "hans.jsonl", corpus_records(HANS, 150))
    write_jsonl(work / "sample" / "hant.jsonl", corpus_records(HANT, 150))
    return work


def _serve(argv: list[str], cwd, env) -> None:
    """Start the server as printed, fetch the home page, a search and the stylesheet, stop it."""
    proc = subprocess.Popen([EXE, *argv], cwd=cwd, env=env, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        for line in proc.stderr:
            if "serving on" in line:
                base = re.search(r"http://\S+/", line)[0]
                break
        else:
            pytest.fail(f"newssearch {shlex.join(argv)} exited {proc.wait()} before serving")
        for path in ("", "search?q=%E6%95%B4%E6%94%B9", "static/style.css"):
            with urllib.request.urlopen(base + path, timeout=30) as r:
                assert r.status == 200, path
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_every_readme_command_runs_as_printed(workdir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSSEARCH_")}
    run = lambda argv: subprocess.run([EXE, *argv], cwd=workdir, env=env, capture_output=True, text=True,  # noqa: E731
                                      timeout=300)
    assert run(["index", "--quiet", "sample"]).returncode == 0
    an_id = json.loads(run(["query", "--json", "整改"]).stdout)["hits"][0]["id"]
    ran = []
    for argv in readme_commands():
        argv = [an_id if a == "ID" else PLACEHOLDERS.get(a) or a for a in argv]
        if argv[:1] == ["serve"]:
            _serve(argv, workdir, env)
        else:
            p = run(argv)
            assert p.returncode < 2 and "Traceback" not in p.stderr, (argv, p.returncode, p.stderr[-2000:])
        ran.append(shlex.join(argv))
    assert len(ran) >= 10, ran
