"""Load during reindex: 8 HTTP clients search a live `newssearch serve` while `newssearch index --rebuild`
runs and commits. No errors, no partial result sets; p50/p99 latency is printed (bench/load.py runs longer)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.load import CORPUS, run, table


def _load(tmp_path: Path, capsys, requests: int, articles: int, extra: int) -> None:
    if not CORPUS.exists():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    r = run(clients=8, requests=requests, seconds=None, articles=articles, extra=extra, work=tmp_path)
    with capsys.disabled():
        print("\n" + table(r))
    assert r["errors"] == 0 and r["partial"] == 0, (r["examples"], "\n".join(r["server_log"]))
    assert r["rebuilds"] >= 1 and r["changed"] > 0  # the load did overlap a rebuild that changed results
    assert r["requests"] >= 8 * requests


def test_searches_during_rebuild(tmp_path: Path, capsys) -> None:
    _load(tmp_path, capsys, requests=100, articles=2000, extra=300)


@pytest.mark.slow
def test_searches_during_full_corpus_rebuild(tmp_path: Path, capsys) -> None:
    _load(tmp_path, capsys, requests=500, articles=27000, extra=400)
