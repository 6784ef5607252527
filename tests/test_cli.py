import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from search_ui.cli import main


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


def _script():
    exe = os.path.join(os.path.dirname(sys.executable), "newssearch")
    if not os.path.exists(exe):
        pytest.skip("console script not installed")
    return exe


def test_installed_console_script(seed_dir, env, tmp_path):
    exe = _script()
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
