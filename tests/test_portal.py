"""The portal features without a browser: scope, 高级检索, refine, date presets and oldest-first sort, 热点词,
相关搜索, jump to page, CSV export (web and CLI), large text, and units (over real indexes)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import subprocess
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from indexer.config import Config
from indexer.export import MAX_ROWS, to_csv
from indexer.normalize import normalize
from indexer.results import SearchResult, make_hit
from indexer.search import Searcher
from indexer.timeline import build
from indexer.writer import run_index
from search_ui import create_app
from search_ui.advanced import build_query
from search_ui.follow import MAX_TICKS, chart
from search_ui.params import SearchParams

from .conftest import EXE, write_jsonl

UNIT = "新聞及國際關係處新聞傳播科"


@pytest.fixture(scope="module")
def site_config(corpus_index):
    return corpus_index


@pytest.fixture(scope="module")
def corpus_searcher(corpus_index):
    s = Searcher(corpus_index)
    yield s
    s.close()


def cli(config: Config, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NEWSSEARCH_INDEX": str(config.index), "NEWSSEARCH_USERDICT": str(config.userdict)}
    return subprocess.run([str(EXE), "query", *args], capture_output=True, env=env, check=True)


def page_total(html: str) -> int:
    return int(re.search(r"共找到 <strong>([\d,]+)</strong>", html).group(1).replace(",", ""))


def location_args(response) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def test_title_scope_matches_the_title_syntax_in_both_scripts(client, corpus_index, corpus_searcher):
    html = client.get("/search?q=观光&scope=title").get_data(as_text=True)  # Simplified; the titles write 觀光
    cli_total = json.loads(cli(corpus_index, "--json", "title:观光").stdout)["total"]
    assert page_total(html) == cli_total > 10
    hits = client.get("/api/search?q=观光&scope=title&limit=100").get_json()
    assert hits["total"] == cli_total and all("观光" in normalize(h["title"]) for h in hits["hits"])
    assert any("觀光" in h["title"] for h in hits["hits"])
    assert page_total(client.get("/search?q=观光").get_data(as_text=True)) > cli_total  # the body counts with all
    assert client.get("/search?q=观光&scope=body").status_code == 400
    # a field named in the query is kept; exclusions are scoped too
    s = corpus_searcher
    assert s.search("观光 source:新聞", scope="title").total == s.search("title:观光 source:新聞").total
    assert s.search("观光 -活动", scope="title").total == s.search("title:观光 -title:活动").total


def test_advanced_form_builds_an_ordinary_query():
    assert build_query("整改 落实", "巡视 反馈", "环保 生态", "通报") == '整改 落实 "巡视 反馈" 环保 OR 生态 -通报'
    assert build_query(any_words="防汛") == "防汛"
    # what the box would read as syntax is taken as words
    assert build_query('-整改 "落实', "", "OR title:x", "-通报") == '整改 落实 "OR" OR "title:x" -通报'
    assert build_query() == ""


def test_advanced_page_lands_on_the_results_with_its_filters(client):
    form = client.get("/advanced").get_data(as_text=True)
    assert f'<option value="{UNIT}">' in form and 'name="scope" value="title"' in form
    r = client.get("/advanced", query_string={"all": "观光", "none": "活动", "scope": "title", "source": UNIT,
                                              "date": "custom", "since": "2019-01-01", "until": "", "go": "1"})
    assert r.status_code == 303
    assert location_args(r) == {"q": "观光 -活动", "scope": "title", "source": UNIT, "since": "2019-01-01",
                                "from": "advanced"}
    shown = client.get(r.headers["Location"]).get_data(as_text=True)
    assert '高级检索生成的检索式：<code lang="zh-Hans">观光 -活动</code>' in shown
    r = client.get("/advanced", query_string={"all": "观光", "date": "365d", "go": "1"})
    assert location_args(r)["since"] == (dt.date.today() - dt.timedelta(days=365)).isoformat()
    refused = client.get("/advanced", query_string={"none": "活动", "go": "1"})
    assert refused.status_code == 200 and "请至少在前三栏中填写" in refused.get_data(as_text=True)
    bad = client.get("/advanced", query_string={"all": "观光", "since": "2020-01-01", "until": "2019-01-01", "go": "1"})
    assert "无法执行这次检索" in bad.get_data(as_text=True)


def test_refine_and_a_new_query_keep_every_filter(client):
    r = client.get("/search", query_string={"q": "观光", "source": UNIT, "since": "2019-01-01", "sort": "date-asc",
                                            "scope": "title", "page": "3", "within": "活动"})
    assert r.status_code == 302
    assert location_args(r) == {"q": "观光 活动", "source": UNIT, "since": "2019-01-01", "sort": "date-asc",
                                "scope": "title"}
    html = client.get("/search", query_string={"q": "观光", "source": UNIT, "since": "2019-01-01"}).get_data(
        as_text=True)
    box = html[html.index('<form class="searchbox"'):html.index("</form>")]
    assert f'name="source" value="{UNIT}"' in box and 'name="since" value="2019-01-01"' in box  # kept by the box
    assert 'name="page"' not in box


def test_date_presets_count_back_from_today_and_the_sort_goes_both_ways(client, corpus_index, corpus_searcher):
    html = unescape(client.get("/search?q=观光").get_data(as_text=True))
    week = (dt.date.today() - dt.timedelta(days=7)).isoformat()
    assert f"since={week}" in html and "近一周" in html and "近一月" in html and "近一年" in html
    assert SearchParams(q="x", since=week).presets(dt.date.today())[0][2]  # the current preset is marked
    s = corpus_searcher
    old = [h.date for h in s.search("观光", sort="date-asc", limit=50).hits]
    new = [h.date for h in s.search("观光", sort="date", limit=50).hits]
    assert old == sorted(old) and new == sorted(new, reverse=True) and old[0] < new[0]
    lines = cli(corpus_index, "--sort", "date-asc", "--json", "-n", "5", "观光").stdout
    assert [h["date"] for h in json.loads(lines)["hits"]] == old[:5]


def test_oldest_first_puts_undated_articles_last(tmp_path):
    config = Config.load(tmp_path / "index", tmp_path / "none.txt")
    write_jsonl(tmp_path / "src" / "a.jsonl", [
        {"id": "undated", "title": "防汛演练（无日期）", "body": "没有日期的防汛演练通知。"},
        {"id": "new", "title": "防汛演练", "body": "今年的防汛演练。", "date": "2024-05-01"},
        {"id": "old", "title": "防汛演练", "body": "去年的防汛演练。", "date": "2023-05-01"},
    ])
    run_index(config, [tmp_path / "src"])
    s = Searcher(config)
    assert [h.id for h in s.search("防汛", sort="date-asc").hits] == ["old", "new", "undated"]
    assert [h.id for h in s.search("防汛", sort="date").hits] == ["new", "old", "undated"]


def article(i: int, unit: str, date: str, body: str) -> dict:
    return {"id": f"{unit}-{i}", "title": f"第{i}号通知", "date": date, "source": unit, "body": f"第{i}号。{body}"}


def test_trending_terms_rose_against_the_units_that_still_publish(tmp_path):
    """Plainly synthetic: unit A goes on publishing (会议 as ever, then 登革热); unit B stopped in the baseline."""
    start = dt.date(2024, 1, 10)
    day = lambda k: (start + dt.timedelta(days=k)).isoformat()  # noqa: E731
    records = [article(i, "甲单位", day(i * 15), f"市政府召开会议，研究道路建设和桥梁维修第{i}期。") for i in range(10)]
    records += [article(i, "乙单位", day(i * 15), f"城管部门检查市场秩序第{i}轮。") for i in range(10)]
    records += [article(20 + i, "甲单位", day(200 + i), f"市政府召开会议，部署登革热防治和登革热病媒蚊清除第{i}次。")
                for i in range(5)]
    write_jsonl(tmp_path / "src" / "a.jsonl", records)
    config = Config.load(tmp_path / "index", tmp_path / "none.txt")
    run_index(config, [tmp_path / "src"])
    tr = Searcher(config).trending()
    assert (tr.since, tr.until) == (day(204 - 29), day(204))
    assert tr.articles == 5 and tr.baseline_articles == 10  # 乙单位 published nothing recently: not compared
    terms = [t.term for t in tr.terms]
    dengue = next(t for t in tr.terms if t.term == "登革热")
    assert (dengue.articles, dengue.baseline, dengue.score) == (5, 0, tr.terms[0].score)  # top (tied with 媒蚊)
    assert "会议" not in terms and "城管" not in terms  # as common as before; a stopped feed's word


def test_trending_api_and_home_page_on_the_corpus(client):
    data = client.get("/api/trending").get_json()
    assert data["terms"] and data["articles"] > 0 and data["since"] < data["until"]
    first = data["terms"][0]
    assert first["share"] > first["baseline_share"] and first["articles"] >= 3
    assert [t["score"] for t in data["terms"]] == sorted((t["score"] for t in data["terms"]), reverse=True)
    home = unescape(client.get("/").get_data(as_text=True))
    assert f'>{first["term"]}</a> <span class="n">{first["articles"]} 篇</span>' in home
    found = client.get("/search", query_string={"q": first["term"], "since": data["since"]}).get_data(as_text=True)
    assert page_total(found) >= first["articles"]  # the link finds the articles it counted


def test_related_searches_narrow_the_query(client, corpus_index, corpus_searcher):
    s = corpus_searcher
    words = s.refinements("观光", source=UNIT)
    total = s.search("观光", source=UNIT).total
    assert len(words) >= 3 and not any("观光" in normalize(w) for w in words)
    for w in words[:3]:
        assert 0 < s.search(f"观光 {w}", source=UNIT).total < total
    html = unquote(unescape(client.get("/search", query_string={"q": "观光", "source": UNIT}).get_data(as_text=True)))
    assert "相关搜索" in html and f"/search?q=观光+{words[0]}&source={UNIT}" in html


def test_jump_to_page_keeps_the_filters(client):
    html = client.get("/search", query_string={"q": "观光", "source": UNIT, "sort": "date"}).get_data(as_text=True)
    jump = html[html.index('<form class="jump"'):]
    jump = jump[:jump.index("</form>")]
    assert f'name="source" value="{UNIT}"' in jump and 'name="sort" value="date"' in jump
    assert re.search(r'type="number" name="page" min="1" max="\d+"', jump)


def test_csv_export_on_the_web_and_the_cli(client, corpus_index):
    page = client.get("/search?q=整改").get_data(as_text=True)
    assert 'href="/search.csv?q=%E6%95%B4%E6%94%B9"' in page
    r = client.get("/search.csv?q=整改")
    assert r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    assert r.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert rows[0] == ["id", "title", "date", "source", "url", "score", "snippet"]
    assert len(rows) - 1 == page_total(page) == int(r.headers["X-Total-Count"])
    assert all("<mark>" not in row[6] and "&lt;" not in row[6] for row in rows[1:])
    filtered = client.get("/search.csv", query_string={"q": "观光", "source": UNIT, "sort": "date-asc"}).data
    rows = list(csv.reader(io.StringIO(filtered.decode("utf-8-sig"))))[1:]
    assert all(UNIT in row[3] for row in rows) and [r[2] for r in rows] == sorted(r[2] for r in rows)
    out = cli(corpus_index, "--format", "csv", "整改").stdout
    assert out.startswith("\ufeff".encode()) and out.decode("utf-8") == r.data.decode("utf-8")
    assert client.get("/search.csv").status_code == 400


def test_csv_cells_cannot_run_as_formulas():
    hit = make_hit({"id": "=1+1", "title": "@SUM(A1)", "body": "-2+3 整改", "source": "+x"}, 1.0, ["整改"])
    row = list(csv.reader(io.StringIO(to_csv(SearchResult("整改", 1, 1, [hit], 0.0, [])).lstrip("\ufeff"))))[1]
    assert row[:2] == ["'=1+1", "'@SUM(A1)"] and row[3] == "'+x" and row[6].startswith("'-2+3")


def test_cli_help_states_the_csv_cap():
    out = subprocess.run([str(EXE), "query", "--help"], capture_output=True, text=True, check=True).stdout
    assert f"{MAX_ROWS:,}" in " ".join(out.split())


def test_large_text_is_a_cookie_set_by_a_link(client):
    html = client.get("/search?q=观光").get_data(as_text=True)
    link = unescape(re.search(r'<a href="([^"]+)">大字版</a>', html).group(1))
    r = client.get(link)
    assert r.status_code == 303 and r.headers["Location"] == "/search?q=%E8%A7%82%E5%85%89"
    assert "textsize=large" in r.headers["Set-Cookie"]
    large = client.get("/advanced").get_data(as_text=True)
    assert '<html lang="zh-Hans" class="large">' in large and "标准字号" in large
    client.get("/display?size=normal&next=/")
    assert '<html lang="zh-Hans">' in client.get("/").get_data(as_text=True)
    for elsewhere in ("//evil.example/", "https://evil.example/", "/\\evil.example", "/\t/evil.example"):
        assert client.get("/display", query_string={"size": "large", "next": elsewhere}).headers["Location"] == "/"
    client.get("/display?size=normal&next=/")
    assert client.get("/display?size=huge").status_code == 400


def test_no_source_is_not_a_unit(tmp_path: Path):
    config = Config.load(tmp_path / "index", tmp_path / "none.txt")
    write_jsonl(tmp_path / "src" / "a.jsonl", [
        {"id": "a", "title": "防汛", "body": "防汛演练一。", "source": "水利局", "date": "2024-05-01"},
        {"id": "b", "title": "防汛", "body": "防汛演练二。", "date": "2024-05-02"},
    ])
    run_index(config, [tmp_path / "src"])
    st = Searcher(config).stats()
    assert st["sources"] == {"水利局": 1} and st["unattributed"] == 1
    home = create_app(config).test_client().get("/").get_data(as_text=True)
    assert "来自 1 个发布单位（另有 1 篇未注明）" in home


@pytest.mark.parametrize("span", [("2019-01-01", "2021-12-31"), ("2020-03-01", "2020-08-31"),
                                  ("2012-01-01", "2026-12-31")])
def test_timeline_labels_never_crowd(span):
    since, until = span
    first, last = dt.date.fromisoformat(since), dt.date.fromisoformat(until)
    days = [(first + dt.timedelta(days=k)).isoformat() for k in range(0, (last - first).days, 9)]
    tl = build(days, since, until)
    bars = chart(tl, SearchParams(q="x"))
    for size, most in MAX_TICKS.items():
        shown = [b.ticks[size] for b in bars if b.ticks[size]]
        assert 2 <= len(shown) <= most
    if tl.unit == "month":
        assert all(b.ticks["wide"] in ("", f"{int(b.label[5:])}月") for b in bars)
        assert [b.year for b in bars if b.year][-1] == until[:4]
