import json
import os
import subprocess

import pytest
from click.testing import CliRunner

from search_ui.cli import main

from .conftest import EXE


@pytest.fixture
def env(tmp_path):
    return {"NEWSSEARCH_INDEX": str(tmp_path / "ix"), "NEWSSEARCH_USERDICT": str(tmp_path / "none.txt")}


def test_index_query_show_stats_with_clirunner(seed_dir, env):
    runner = CliRunner(env=env)
    r = runner.invoke(main, ["index", str(seed_dir)])
    assert r.exit_code == 0 and "added 1" in r.output
    r = runner.invoke(main, ["query", "整改落实"])
    assert r.exit_code == 0 and "全市教育實踐活動整改推進會召開" in r.output and "[整改落實]" in r.output
    r = runner.invoke(main, ["query", "--json", "耀燦"])
    data = json.loads(r.output)
    assert data["total"] == 1 and data["page"] == 1
    hit = data["hits"][0]
    assert set(hit) >= {"id", "title", "date", "source", "url", "score", "snippet"}
    assert hit["date"] is None and "<mark>耀燦</mark>" in hit["snippet"]
    r = runner.invoke(main, ["show", hit["id"]])
    assert r.exit_code == 0 and "孫耀燦" in r.output
    r = runner.invoke(main, ["stats", "--json"])
    assert json.loads(r.output)["articles"] == 1
    r = runner.invoke(main, ["query", "--json", "--limit", "0", "不存在的词语"])
    assert r.exit_code == 0 and json.loads(r.output)["total"] == 0


@pytest.mark.parametrize(
    "args, code, text",
    [
        (["query", "OR"], 2, "OR needs"),
        (["query", "--since", "yesterday", "整改"], 2, "date"),
        (["show", "no-such-id"], 4, "no article"),
    ],
)
def test_errors_are_one_line_with_a_hint(seed_dir, env, args, code, text):
    runner = CliRunner(env=env)
    runner.invoke(main, ["index", str(seed_dir)])
    r = runner.invoke(main, args)
    assert r.exit_code == code, r.output
    assert text in r.output and "Traceback" not in r.output


def test_missing_index_message(env):
    r = CliRunner(env=env).invoke(main, ["query", "整改"])
    assert r.exit_code == 3 and "no newssearch index" in r.output and "hint:" in r.output


@pytest.mark.parametrize("cmd", [[], ["index"], ["query"], ["show"], ["stats"]])
def test_help_everywhere(cmd):
    r = CliRunner().invoke(main, [*cmd, "--help"])
    assert r.exit_code == 0 and "Usage:" in r.output



def test_installed_console_script(seed_dir, env, tmp_path):
    exe = str(EXE)
    run_env = {**os.environ, **env}
    p = subprocess.run([exe, "index", "--quiet", str(seed_dir)], env=run_env, capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("added 1")
    p = subprocess.run([exe, "query", "--json", '"科學發展勇攀登"'], env=run_env, capture_output=True, text=True)
    assert p.returncode == 0
    assert "<mark>科學發展勇攀登</mark>" in json.loads(p.stdout)["hits"][0]["snippet"]
    p = subprocess.run([exe, "query", "整改"], env=run_env, capture_output=True, text=True)
    assert "\x1b[" not in p.stdout and "[整改]" in p.stdout  # plain markers when not a TTY
    p = subprocess.run(
        [exe, "query", "整改"],
        env={**run_env, "NEWSSEARCH_INDEX": str(tmp_path / "none")},
        capture_output=True,
        text=True,
    )
    assert p.returncode == 3 and "Traceback" not in p.stderr and p.stderr.count("\n") == 2


def _cli(index, *args):
    return subprocess.run([EXE, *args], env={**os.environ, "NEWSSEARCH_INDEX": str(index)}, capture_output=True,
                          text=True, timeout=120)


def _total(index, *args) -> int:
    p = _cli(index, "query", "--json", *args)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["total"]


def test_exclusion_needs_no_double_dash(corpus_index):
    ix = corpus_index.index
    p = _cli(ix, "query", "整改", "OR", "落实", "-通报")
    assert p.returncode in (0, 1) and "No such option" not in p.stderr, p.stderr
    both, without = _total(ix, "防疫"), _total(ix, "防疫", "-疫苗")
    assert 0 < without < both
    assert without == _total(ix, "防疫", "NOT", "疫苗") == _total(ix, "--", "防疫", "-疫苗")
    assert _total(ix, "-n", "3", "防疫", "-疫苗", "--sort", "date") == without  # options around the words


@pytest.mark.parametrize("args", [["--since", "2019-13-01"], ["--since", "2019-02-30"], ["--until", "2019-12-32"],
                                  ["--since", "20190101"], ["--since", "2021", "--until", "2020-12"]])
def test_bad_or_reversed_dates_exit_2_naming_the_value(corpus_index, args):
    p = _cli(corpus_index.index, "query", "整改", *args)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert args[1] in p.stderr or "date range is empty" in p.stderr, p.stderr


def test_partial_dates_cover_their_year_or_month(corpus_index):
    ix = corpus_index.index
    assert _total(ix, "防疫", "--since", "2020", "--until", "2020") == _total(
        ix, "防疫", "--since", "2020-01-01", "--until", "2020-12-31") > 0
    assert _total(ix, "防疫", "--since", "2020-02", "--until", "2020-02") == _total(
        ix, "防疫", "--since", "2020-02-01", "--until", "2020-02-29")


def test_a_page_past_the_end_says_how_many_pages(corpus_index):
    total = _total(corpus_index.index, "防疫")
    p = _cli(corpus_index.index, "query", "防疫", "--page", "99")
    pages = -(-total // 10)
    assert p.returncode == 0 and f"on {pages} page(s)" in p.stdout and str(total) in p.stdout, p.stdout
    data = json.loads(_cli(corpus_index.index, "query", "--json", "防疫", "--page", "99").stdout)
    assert (data["hits"], data["pages"], data["total"]) == ([], pages, total)


def test_serve_on_a_busy_port_is_one_line_and_nonzero(corpus_index):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        p = _cli(corpus_index.index, "serve", "--port", str(busy.getsockname()[1]))
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines()[-1].startswith("newssearch: cannot listen on 127.0.0.1:"), p.stderr


def test_web_reads_dates_by_the_same_rules(corpus_index):
    from search_ui import create_app

    client = create_app(corpus_index).test_client()
    r = client.get("/api/search?q=防疫&since=2020&until=2020-12")
    assert r.status_code == 200 and r.get_json()["total"] == _total(corpus_index.index, "防疫", "--since", "2020",
                                                                     "--until", "2020-12")
    for bad in ("since=2019-13-01", "since=2019-02-30", "until=2019-12-32", "since=2021&until=2020"):
        assert client.get(f"/api/search?q=防疫&{bad}").status_code == 400, bad
