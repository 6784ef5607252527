"""Shared fixtures: real indexes in temp dirs, the shared corpus, the installed CLI."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from indexer.config import Config
from indexer.search import Searcher
from indexer.writer import run_index

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
CORPUS = Path(os.environ.get("NEWSSEARCH_CORPUS", ROOT.parent / "shared" / "corpus"))
HANS = CORPUS / "news-zh-hans.jsonl"
HANT = CORPUS / "news-zh-hant.jsonl"
# The console script of the installed package (the venv pytest runs in), as a user runs it;
# NEWSSEARCH_TEST_EXE points the CLI tests at another build (e.g. an older release, for a before/after).
EXE = Path(os.environ.get("NEWSSEARCH_TEST_EXE") or Path(sys.executable).with_name("newssearch"))


class CliSite:
    """An index in a temp dir, and the installed console script pointed at it (no user dictionary)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.env = {**os.environ, "NEWSSEARCH_INDEX": str(config.index), "NEWSSEARCH_USERDICT": str(config.userdict)}

    def cli(self, *args: str, preexec=None) -> subprocess.CompletedProcess:
        """Run `newssearch ARGS` in a subprocess, as a user or cron does; it must never print a traceback."""
        p = subprocess.run([str(EXE), *args], env=self.env, capture_output=True, text=True, preexec_fn=preexec,
                           timeout=300)
        assert "Traceback" not in p.stderr + p.stdout, p.stderr
        return p


def corpus_records(path: Path, n: int | None = None) -> list[dict]:
    if not path.exists():
        pytest.skip(f"shared corpus not found at {path}")
    with path.open(encoding="utf-8") as f:
        lines = itertools.islice(f, n) if n else f
        return [json.loads(line) for line in lines]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config.load(tmp_path / "index", tmp_path / "no-userdict.txt")


@pytest.fixture
def make_index(config: Config):
    """make_index(records) -> Searcher: plainly synthetic `records` indexed into `config`, opened for searching."""
    opened: list[Searcher] = []

    def make(records: list[dict]) -> Searcher:
        write_jsonl(config.index.parent / "src" / f"{len(opened)}.jsonl", records)
        run_index(config, [config.index.parent / "src"])
        opened.append(Searcher(config))
        return opened[-1]

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def seed_dir(tmp_path: Path) -> Path:
    d = tmp_path / "seeds"
    shutil.copytree(SEEDS, d)
    return d


@pytest.fixture
def seed_searcher(config: Config, seed_dir: Path):
    run_index(config, [seed_dir])
    s = Searcher(config)
    yield s
    s.close()


@pytest.fixture(scope="module")
def client(site_config: Config):
    """Flask's test client of the web UI over `site_config`, the index each test module that uses it defines."""
    from search_ui import create_app

    app = create_app(site_config)
    app.testing = True
    return app.test_client()


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory) -> Config:
    """An index of 1,500 real articles from each script (built once per test session)."""
    d = tmp_path_factory.mktemp("corpus")
    write_jsonl(d / "src" / "hans.jsonl", corpus_records(HANS, 1500))
    write_jsonl(d / "src" / "hant.jsonl", corpus_records(HANT, 1500))
    config = Config.load(d / "index", d / "no-userdict.txt")
    run_index(config, [d / "src"])
    return config


@contextmanager
def serve(config: Config, env: dict[str, str] | None = None) -> Iterator[str]:
    """`newssearch serve` on a free port over `config`'s index; yields its base URL (http://127.0.0.1:PORT)."""
    env = env or {**os.environ, "NEWSSEARCH_USERDICT": str(config.userdict)}
    proc = subprocess.Popen([str(EXE), "serve", "--port", "0", "--index", str(config.index)],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        for line in proc.stderr:
            if m := re.search(r"serving on (http://127\.0\.0\.1:\d+)/", line):
                yield m.group(1)
                break
        else:
            pytest.fail("newssearch serve did not start")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def base_url(corpus_index) -> Iterator[str]:
    """A server over the shared-corpus index, for the browser tests."""
    with serve(corpus_index) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (tests/browser.py), one per module."""
    from .browser import chromium

    with chromium() as b:
        yield b
