"""Following a topic over time: the timeline of a query's hits, and what the latest index run added."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from html import unescape

import pytest
from click.testing import CliRunner

from indexer.config import Config
from indexer.ingest.article import Article
from indexer.normalize import normalize
from indexer.search import Searcher
from indexer.timeline import build
from indexer.writer import run_index
from search_ui import create_app
from search_ui.cli import main

from .conftest import EXE, HANS, HANT, corpus_records, write_jsonl


def labels(tl) -> dict[str, int]:
    return {b.label: b.count for b in tl.buckets}


def test_months_for_short_spans_with_empty_months_filled():
    tl = build(["2020-01-05", "2020-01-31", "2020-04-01", None])
    assert tl.unit == "month"
    assert labels(tl) == {"2020-01": 2, "2020-02": 0, "2020-03": 0, "2020-04": 1}
    assert (tl.buckets[1].since, tl.buckets[1].until) == ("2020-02-01", "2020-02-29")  # a leap year
    assert tl.undated == 1 and tl.total == 4 and tl.peak == 2


def test_years_for_long_spans_and_buckets_clipped_to_the_filters():
    tl = build(["2012-07-02", "2016-03-01", "2016-05-01"], since="2012-06-15")
    assert tl.unit == "year"
    assert labels(tl) == {"2012": 1, "2013": 0, "2014": 0, "2015": 0, "2016": 2}
    assert (tl.buckets[0].since, tl.buckets[-1].until) == ("2012-06-15", "2016-12-31")


def test_a_one_year_filter_shows_all_its_months_but_far_filters_do_not_stretch_the_chart():
    assert len(build(["2020-03-03", "2020-10-10"], "2020-01-01", "2020-12-31").buckets) == 12
    assert labels(build(["2020-03-03"], "1900-01-01", "2999-12-31")) == {f"2020-{m:02d}": int(m == 3)
                                                                         for m in range(1, 13)}
    assert build([None, None]).as_dict() == {"unit": "", "buckets": [], "undated": 2}


def brute_force(records: list[dict], phrase: str, since: str = "", until: str = "9999") -> Counter:
    """Articles containing `phrase` (normalized), one per repost group, counted per month."""
    groups: dict[str, list[dict]] = {}
    for r in records:
        art = Article(r["id"], r["title"], r["body"], r["date"], r.get("source"))
        groups.setdefault(art.dupkey(), []).append(r)
    kept = [min(g, key=lambda r: (r["date"], r["id"])) for g in groups.values()]
    return Counter(r["date"][:7] for r in kept if since <= r["date"] <= until
                   and (phrase in normalize(r["title"]) or phrase in normalize(r["body"])))


@pytest.mark.parametrize("phrase", ["整改", "观光", "人民"])
def test_counts_match_a_brute_force_count_over_the_indexed_articles(corpus_index, phrase):
    records = corpus_records(HANS, 1500) + corpus_records(HANT, 1500)
    expected = brute_force(records, phrase)
    s = Searcher(corpus_index)
    try:
        tl = s.timeline(f'"{phrase}"')
        assert tl.unit == "year" and tl.undated == 0
        by_year = Counter()
        for month, n in expected.items():
            by_year[month[:4]] += n
        assert {k: v for k, v in labels(tl).items() if v} == dict(by_year)
        assert tl.total == s.search(f'"{phrase}"', limit=1).total
        year = max(by_year, key=by_year.get)  # a bar narrows to one year: months now
        narrow = s.timeline(f'"{phrase}"', since=f"{year}-01-01", until=f"{year}-12-31")
        assert narrow.unit == "month" and len(narrow.buckets) == 12
        assert {k: v for k, v in labels(narrow).items() if v} == dict(
            brute_force(records, phrase, f"{year}-01-01", f"{year}-12-31"))
    finally:
        s.close()


def test_cli_prints_a_bar_chart_and_json_has_the_same_counts(corpus_index):
    env = {"NEWSSEARCH_INDEX": str(corpus_index.index), "NEWSSEARCH_USERDICT": str(corpus_index.userdict)}
    runner = CliRunner(env=env)
    text = runner.invoke(main, ["query", "--timeline", "--since", "2019-01-01", "--until", "2019-12-31", "观光"])
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0].endswith("per month:") and len(lines) == 13
    data = json.loads(runner.invoke(main, ["query", "--timeline", "--json", "--since", "2019-01-01",
                                           "--until", "2019-12-31", "观光"]).output)
    assert [f"{b['label']} {b['count']:>6}" for b in data["timeline"]["buckets"]] == [ln[:14] for ln in lines[1:]]
    assert "█" in text.output
    bad = runner.invoke(main, ["query", "--timeline", "--format", "atom", "观光"])
    assert bad.exit_code == 2 and "no Atom form" in bad.output


def article(n: int, **changes) -> dict:
    """A plainly synthetic record (placeholder unit, test text) that the query 防汛整改 finds."""
    return {"id": f"flood-{n}", "title": f"防汛整改測試稿第{n}號", "date": f"2021-0{1 + n % 9}-01",
            "source": "乙市測試局", "body": f"測試正文：第{n}篇防汛整改佔位文字，數字{n * 3}沒有含義。", **changes}


def ids(s: Searcher, **kw) -> set[str]:
    return {h.id for h in s.search("防汛整改", limit=0, **kw).hits}


def test_new_since_last_run_across_index_runs(tmp_path):
    config = Config.load(tmp_path / "index", tmp_path / "none.txt")
    src = tmp_path / "src"
    write_jsonl(src / "a.jsonl", [article(n) for n in range(1, 6)])
    run_index(config, [src])
    s = Searcher(config)
    try:
        assert ids(s, new=True) == ids(s)  # the first run added everything
        write_jsonl(src / "b.jsonl", [article(n) for n in range(6, 9)])
        changed = article(5, body="測試正文：第5篇防汛整改佔位文字，已改過。")
        write_jsonl(src / "a.jsonl", [article(n) for n in range(1, 5)] + [changed])
        run_index(config)
        assert ids(s, new=True) == {"flood-5", "flood-6", "flood-7", "flood-8"}  # added or changed
        assert s.timeline("防汛整改", new=True).total == 4
        assert sum(s.facets("防汛整改", new=True)["year"].values()) == 4
        run_index(config)  # a cron run that finds nothing new keeps showing the last news
        assert ids(s, new=True) == {"flood-5", "flood-6", "flood-7", "flood-8"}
        run_index(config, rebuild=True)  # nor does a rebuild make old articles new
        assert ids(s, new=True) == {"flood-5", "flood-6", "flood-7", "flood-8"}
        assert ids(s, new=True, since="2021-07-01") == {"flood-6", "flood-7", "flood-8"}
    finally:
        s.close()
    env = {**os.environ, "NEWSSEARCH_INDEX": str(config.index), "NEWSSEARCH_USERDICT": str(config.userdict)}
    out = subprocess.run([str(EXE), "query", "--since-last-run", "--json", "-n", "0", "防汛整改"],
                         capture_output=True, text=True, env=env, check=True).stdout
    assert {h["id"] for h in json.loads(out)["hits"]} == {"flood-5", "flood-6", "flood-7", "flood-8"}
    client = create_app(config).test_client()
    api = client.get("/api/search?q=防汛整改&new=1&limit=100").get_json()
    assert {h["id"] for h in api["hits"]} == {"flood-5", "flood-6", "flood-7", "flood-8"}
    page = client.get("/search?q=防汛整改&new=1").get_data(as_text=True)
    assert "<strong>4</strong> 篇" in page and "仅看最近一次索引新增" in page
    assert 'name="new" value="1"' in page  # the date form keeps the filter
    assert "只看最近一次索引新增的文章" in client.get("/search?q=防汛整改").get_data(as_text=True)


def test_search_page_draws_the_timeline_and_a_bar_narrows_the_dates(corpus_index):
    client = create_app(corpus_index).test_client()
    api = client.get("/api/search?q=观光").get_json()["timeline"]
    html = client.get("/search?q=观光").get_data(as_text=True)
    svg = html[html.index('<svg class="tl-chart"'):html.index("</svg>")]
    bars = re.findall(r'<a class="tl-bar" href="([^"]+)" aria-label="([^"]+)"', svg)
    assert [label for _, label in bars] == [f"{b['label']}：{b['count']} 篇" for b in api["buckets"] if b["count"]]
    start = html.index('<details class="tl-counts">')
    text = html[start:html.index("</details>", start)]
    listed = re.findall(r"<li>(?:<a [^>]+>|<span>)([\d-]+)(?:</a>|</span>) <span class=\"n\">([\d,]+)</span>", text)
    assert [(b["label"], f"{b['count']:,}") for b in api["buckets"]] == listed  # the text alternative, empty ones too
    href, label = max(bars, key=lambda b: int(b[1].split("：")[1].split()[0]))
    narrowed = client.get(unescape(href)).get_data(as_text=True)
    count = int(label.split("：")[1].split()[0])
    assert f"<strong>{count:,}</strong> 篇" in narrowed
    year = label[:4]
    assert f'value="{year}-01-01"' in narrowed and f'value="{year}-12-31"' in narrowed
    assert '<figcaption id="tl-cap">每月文章数' in narrowed
