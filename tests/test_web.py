"""The web UI and JSON API through Flask's test client, over real indexes; and `newssearch serve`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlsplit
from urllib.request import urlopen

import pytest
from markupsafe import escape

from indexer.config import Config
from indexer.normalize import normalize
from indexer.search import Searcher
from indexer.writer import run_index
from search_ui import create_app

from .conftest import EXE, SEEDS, serve, write_jsonl

HOSTILE_ID = 'x/<script>alert(1)</script>#1?a=%41&b="'
HOSTILE = {
    "id": HOSTILE_ID,
    "title": '<script>alert("t")</script>防汛整改 " onmouseover="alert(1)',
    "date": "2021-03-04",
    "source": '<b onclick="x">乙市測試局</b>',
    "url": "javascript:alert(1)",
    "body": '整改落實 </mark><script>alert(2)</script> "><img src=x onerror=alert(3)> \' onmouseover=\'alert(4)',
}
ODD_IDS = ["/abs/path/a.txt", "https://news.example.org/News_Content.aspx?n=1&s=2", "dir/file.jsonl#7",
           "100% 整改", "a/../b", "end/"]


def drill(n: int) -> dict:
    """Distinct, plainly synthetic Traditional-script records (防汛演練 test text), two units, 2019–2021."""
    return {
        "id": f"drill-{n:02d}",
        "title": f"防汛演練第{n}場 測試稿",
        "date": f"{2019 + n % 3}-0{1 + n % 9}-1{n % 10}",
        "source": "乙市測試局" if n % 2 else "乙市測試區公所",
        "url": f"https://news.example.org/News_Content.aspx?n=9&s={n}",
        "body": f"測試正文：第{n}場防汛演練佔位文字，數字{n * 7}沒有含義，這不是新聞。",
    }


@pytest.fixture(scope="module")
def web_config(tmp_path_factory) -> Config:
    d = tmp_path_factory.mktemp("web")
    records = [drill(n) for n in range(1, 26)] + [HOSTILE]
    records += [{**drill(3), "id": "repost-03", "source": "乙市測試處", "date": "2021-09-13"}]
    records += [{"id": i, "title": f"怪編號{k}號公告", "body": f"特殊編號測試第{k}篇，內容不同。", "date": "2020-05-05"}
                for k, i in enumerate(ODD_IDS)]
    write_jsonl(d / "src" / "news.jsonl", records)
    (d / "src" / SEEDS.name).mkdir()
    for f in SEEDS.iterdir():
        (d / "src" / SEEDS.name / f.name).write_bytes(f.read_bytes())
    config = Config.load(d / "index", d / "no-userdict.txt")
    run_index(config, [d / "src"])
    return config


@pytest.fixture(scope="module")
def site_config(web_config):
    return web_config


class Page(HTMLParser):
    """The structure of a page: tags with their attributes, links, and text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def hrefs(self) -> list[str]:
        return [a["href"] for t, a in self.tags if t in ("a", "link") and "href" in a]


def get(client, url: str, status: int = 200) -> str:
    r = client.get(url)
    assert r.status_code == status, (url, r.status_code, r.data[:500])
    return r.get_data(as_text=True)


def assert_safe(html: str) -> None:
    """Nothing from the data became markup: no script, no event handler, no script URL, marks balanced."""
    page = Page(html)
    for tag, attrs in page.tags:
        if tag == "script" and attrs == {"src": "/static/suggest.js", "defer": None}:
            continue  # the site's own static file, the only script
        assert tag not in ("script", "img", "b", "iframe"), tag
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
    for href in page.hrefs():
        assert urlsplit(href).scheme in ("", "http", "https"), href
    assert html.count("<mark>") == html.count("</mark>")


def test_home_has_autofocused_labelled_box_and_security_headers(client):
    r = client.get("/")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert re.search(r'<input id="q" type="search" name="q" value=""[^>]*autofocus', html)
    assert '<label for="q"' in html and 'role="search"' in html and "<main" in html
    assert 'rel="search" type="application/opensearchdescription+xml"' in html
    assert "共收录 34 篇文章" in html and '<html lang="zh-Hans">' in html
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self';" in csp and "unsafe" not in csp
    assert html.count("<script") == 1 and '<script src="/static/suggest.js" defer></script>' in html  # no inline
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Referrer-Policy"] == "same-origin"
    assert client.get("/?q=防汛").headers["Location"].endswith("/search?q=" + quote("防汛"))


def test_simplified_query_finds_traditional_with_marks_facets_and_pages(client):
    html = get(client, "/search?q=防汛演练")
    assert "共找到 <strong>25</strong> 篇文章" in html and re.search(r"用时 \d+\.\d\d 秒", html)
    assert 'value="防汛演练"' in html  # the query stays in the box
    assert "<mark>防汛演練</mark>" in html
    assert html.count('class="hit"') == 10 and '<ol class="hits" start="1">' in html
    assert re.search(r'<p class="meta" lang="zh-Hant">20\d\d-\d\d-\d\d · 乙市', html)
    assert 'href="/article/drill-' in html
    # facets with counts, as filter links
    assert re.search(r'source=%E4%B9%99%E5%B8%82%E6%B8%AC%E8%A9%A6%E5%B1%80"[^>]*>'
                     r'乙市測試局</a> <span class="n">13</span>', html)
    assert re.search(r'since=2019-01-01&amp;until=2019-12-31">2019</a> <span class="n">8</span>', html)
    # sort and pagination
    assert 'href="/search?q=%E9%98%B2%E6%B1%9B%E6%BC%94%E7%BB%83&amp;sort=date"' in html
    assert 'aria-label="第 3 页"' in html and 'rel="next"' in html and 'rel="prev"' not in html
    page3 = get(client, "/search?q=防汛演练&page=3")
    assert page3.count('class="hit"') == 5 and 'start="21"' in page3 and 'rel="next"' not in page3


def test_reposts_are_one_result_that_links_the_others(client):
    html = get(client, "/search?q=" + quote("第3場防汛"))
    assert html.count('class="hit"') == 1
    assert re.search(r'同文另见：\s*<a href="/article/repost-03\?q=[^"]+" lang="zh-Hant">乙市測試處，'
                     r"2021-09-13</a>", html)


def test_filters_and_sort(client):
    html = get(client, "/search?q=防汛&source=乙市測試區公所")
    assert "<strong>12</strong> 篇" in html and "去掉发布单位筛选" in html
    assert "乙市測試局</a>" in html  # other sources stay offered, counted without the source filter
    html = get(client, "/search?q=防汛&since=2020-01-01&until=2020-12-31&sort=date")
    dates = re.findall(r'<p class="meta"[^>]*>(\d{4}-\d\d-\d\d)', html)
    assert dates and all(d.startswith("2020") for d in dates) and dates == sorted(dates, reverse=True)
    assert re.search(r'aria-current="true">2020</a>', html) and 'aria-current="true" href' in html


def did_you_mean(html: str) -> list[str]:
    """The links of the page's did-you-mean line, unescaped."""
    m = re.search(r'<p class="dym">(.*?)</p>', html, re.S)
    return [unescape(h) for h in re.findall(r'<a href="([^"]+)"', m.group(1))] if m else []


def test_zero_results_explain_and_offer_other_searches(client):
    html = get(client, "/search?q=防汛演练 火星基地")
    assert "没有找到" in html and 'class="hit"' not in html
    assert '<q lang="zh-Hans">演练</q> + <q lang="zh-Hans">火星</q> + <q lang="zh-Hans">基地</q>' in html
    assert did_you_mean(html) == ["/search?q=" + quote("防汛演练")]
    assert html.count('href="/search?q=%E9%98%B2%E6%B1%9B%E6%BC%94%E7%BB%83"') == 1  # not offered twice
    html = get(client, "/search?q=防汛&source=不存在的單位")
    link, n = re.search(r'<a href="([^"]+)">去掉筛选条件，搜索同样的词</a>（(\d+) 篇）', html).groups()
    assert "source" not in link and f"共找到 <strong>{n}</strong> 篇" in get(client, unescape(link))


def test_page_past_the_end_is_empty_not_repeated(client):
    html = get(client, "/search?q=防汛演练&page=9")
    assert 'class="hit"' not in html and "超出最后一页" in html
    data = client.get("/api/search?q=防汛演练&page=9").get_json()
    assert data["total"] == 25 and data["hits"] == []


@pytest.mark.parametrize(
    "query",
    ["page=0", "page=abc", "page=1001", "limit=0", "limit=101", "limit=1e3", "sort=votes", "since=2020-13-01",
     "since=20200101", "until=yesterday", "since=2021-01-01&until=2020-01-01", "q=OR",
     "q=" + "長" * 1001],
)
def test_bad_parameters_are_400_in_html_and_json(client, query):
    url = query if query.startswith("q=") else "q=防汛&" + query
    html = get(client, "/search?" + url, 400)
    assert "无法执行这次搜索" in html and "Traceback" not in html
    r = client.get("/api/search?" + url)
    assert r.status_code == 400 and r.is_json and r.get_json()["error"]


def test_article_page_highlights_and_relates(client):
    html = get(client, "/article/drill-07?q=防汛演练")
    assert '<h1 lang="zh-Hant"><mark>防汛演練</mark>第7場 測試稿</h1>' in html
    assert "第7場<mark>防汛演練</mark>佔位文字" in html and "乙市測試局" in html
    assert 'href="https://news.example.org/News_Content.aspx?n=9&amp;s=7" rel="noopener noreferrer nofollow"' in html
    related = re.findall(r'<li><a href="/article/([^"]+)"', html.split("相关文章")[1])
    assert 0 < len(related) <= 5 and "drill-07" not in related
    assert "<mark>" not in get(client, "/article/drill-07")
    get(client, "/article/no-such-article", 404)


def test_misspelled_query_offers_a_suggestion_that_finds_results(client):
    """防汛演连 (a pinyin-input typo for 演练) finds nothing; the suggestion keeps the filter and finds articles."""
    html = get(client, "/search?q=防汛演连&source=乙市測試局")
    assert "没有找到" in html and "您是不是要找" in html
    assert '<q lang="zh-Hans">防汛</q> + <q lang="zh-Hans">演连</q>' in html  # how the query was read
    first = did_you_mean(html)[0]
    assert first == "/search?q=" + quote("防汛演练") + "&source=" + quote("乙市測試局")
    followed = get(client, first)
    assert "共找到 <strong>13</strong> 篇" in followed and "<mark>防汛演練</mark>" in followed
    assert "您是不是要找" not in followed
    assert client.get("/api/search?q=防汛演连").get_json()["suggestions"][0] == "防汛演练"


def test_keywords_under_results_and_on_the_article_run_searches(client, web_config):
    html = get(client, "/search?q=防汛演练")
    shown = [re.findall(r'<a href="/search\?q=[^"]+" lang="[^"]+">([^<]+)</a>', kw)
             for kw in re.findall(r'<p class="kw">(.*?)</p>', html, re.S)]
    s = Searcher(web_config)
    try:
        hits = s.search("防汛演练").hits
        terms = {"防汛", "演练", "防汛演练"}
        assert shown == [[w for w in h.keywords if normalize(w) not in terms][:5] for h in hits] and all(shown)
        assert any(normalize(w) in terms for h in hits for w in h.keywords)  # the query's own words left out
        article_kw = s.article("drill-07")["keywords"]
    finally:
        s.close()
    word = shown[0][0]
    assert "共找到" in get(client, "/search?q=" + quote(word))  # a keyword link finds its article
    page = get(client, "/article/drill-07")
    kw = re.search(r'<p class="kw">(.*?)</p>', page, re.S).group(1)
    assert re.findall(r'>([^<]+)</a>', kw) == article_kw and 'lang="zh-Hant"' in kw  # as written: Traditional


def test_related_articles_come_from_the_engine(client, web_config):
    page = get(client, "/article/drill-07")
    listed = re.findall(r'<li><a href="/article/([^"]+)"', page.split('<h2 id="rel-h">相关文章</h2>')[1])
    s = Searcher(web_config)
    try:
        expected = [h.id for h in s.related("drill-07", n=5)]
    finally:
        s.close()
    assert listed == expected and expected and "drill-07" not in listed


def test_chrome_is_simplified_chinese_and_article_text_says_its_script(client):
    html = get(client, "/search?q=整改")
    assert '<html lang="zh-Hans">' in html and ">搜索</button>" in html and "按相关度" in html and "按日期" in html
    assert "发布单位" in html and "年份" in html and "订阅这个搜索" in html
    titles = re.findall(r'<h2><a href="/article/[^"]+" lang="([^"]+)">(.*?)</a>', html)
    langs = {unescape(t): lang for lang, t in titles}
    assert langs["全市教育實踐活動<mark>整改</mark>推進會召開"] == "zh-Hant"
    script = client.application.jinja_env.filters["script"]
    assert [script(t) for t in ("整改落实 2024", "整改落實", "ABC", None)] == ["zh-Hans", "zh-Hant"] + ["zh-Hans"] * 2


@pytest.mark.parametrize("article_id", ODD_IDS + [HOSTILE_ID])
def test_odd_ids_round_trip_through_links(client, article_id):
    """Ids with slashes, '#', '?', '%', dot segments: the link the results page makes opens the article."""
    q = "特殊編號" if article_id in ODD_IDS else "整改"
    html = get(client, f"/search?q={quote(q)}")
    links = re.findall(r'<h2><a href="(/article/[^"]+)"', html)
    pages = [get(client, unescape(link)) for link in links]
    assert any(f"<code>{escape(article_id)}</code>" in page for page in pages), links
    data = client.get("/api/article/" + quote(article_id, safe="")).get_json()
    assert data["id"] == article_id


def test_hostile_article_and_query_are_escaped(client):
    results = get(client, "/search?q=整改")
    assert_safe(results)
    assert "&lt;script&gt;alert(" in results and "&lt;/script&gt;" in results
    article = get(client, "/article/" + quote(HOSTILE_ID, safe="") + "?q=整改")
    assert_safe(article)
    assert "&lt;/mark&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in article
    assert "javascript:" in article and "不是网页链接" in article  # shown as text, never as a link
    hostile_q = '"><script>alert(9)</script> \' onmouseover=\'x'
    for url in ("/search?q=", "/article/drill-01?q=", "/nope?q="):
        assert_safe(client.get(url + quote(hostile_q)).get_data(as_text=True))
    assert "<script>" not in client.get("/api/search?q=" + quote(hostile_q)).get_data(as_text=True)


def test_api_search_is_the_cli_json_plus_facets(client, web_config):
    data = client.get("/api/search?q=防汛演练&limit=3&page=2&sort=date&since=2019-01-01").get_json()
    facets = data["facets"]
    assert facets["source"] == {"乙市測試局": 13, "乙市測試區公所": 12}
    assert sum(facets["year"].values()) == 25
    env = {**os.environ, "NEWSSEARCH_INDEX": str(web_config.index), "NEWSSEARCH_USERDICT": str(web_config.userdict)}
    out = subprocess.run(
        [str(EXE), "query", "--json", "--limit", "3", "--page", "2", "--sort", "date", "--since", "2019-01-01",
         "防汛演练"], capture_output=True, text=True, env=env, check=True).stdout
    cli = json.loads(out)
    assert {k: v for k, v in data.items() if k in cli} == cli  # the API may add keys (facets, ...), never change one
    assert [h["id"] for h in data["hits"]] and set(data["hits"][0]) >= {"id", "title", "date", "source", "url",
                                                                        "score", "snippet"}


def test_api_article_and_json_errors(client):
    data = client.get("/api/article/drill-03").get_json()
    assert set(data) >= {"id", "title", "date", "source", "url", "reporter", "body"} and data["id"] == "drill-03"
    assert "file" not in data and "digest" not in data
    for url, status in (("/api/article/nope", 404), ("/api/search?q=", 400), ("/api/nothing", 404)):
        r = client.get(url)
        assert r.status_code == status and r.is_json and r.get_json()["status"] == status
    assert client.post("/api/search?q=x").status_code == 405


def test_opensearch_description(client):
    r = client.get("/opensearch.xml")
    assert r.mimetype == "application/opensearchdescription+xml"
    assert 'template="http://localhost/search?q={searchTerms}"' in r.get_data(as_text=True)


def test_missing_index_is_a_friendly_503(tmp_path):
    client = create_app(Config.load(tmp_path / "none", tmp_path / "x.txt")).test_client()
    html = get(client, "/", 503)
    assert "搜索暂不可用" in html and "newssearch index" in html
    r = client.get("/api/search?q=整改")
    assert r.status_code == 503 and r.get_json()["code"] == "index.not_found" and "索引" in r.get_json()["error"]


def test_a_reindex_shows_up_without_a_restart(tmp_path):
    config = Config.load(tmp_path / "ix", tmp_path / "x.txt")
    write_jsonl(tmp_path / "src" / "a.jsonl", [drill(1)])
    run_index(config, [tmp_path / "src"])
    client = create_app(config).test_client()
    assert client.get("/api/search?q=防汛").get_json()["total"] == 1
    assert "共收录 1 篇文章，来自 1 个发布单位" in get(client, "/")
    write_jsonl(tmp_path / "src" / "b.jsonl", [drill(2), drill(3)])
    run_index(config, None)
    assert client.get("/api/search?q=防汛").get_json()["total"] == 3
    assert "共收录 3 篇文章，来自 2 个发布单位" in get(client, "/")  # the cached figures follow the index
    run_index(config, None, rebuild=True)  # a new generation: the searcher reopens
    assert client.get("/api/search?q=防汛").get_json()["total"] == 3


def test_flask_cli_finds_the_app_factory(web_config):
    env = {**os.environ, "NEWSSEARCH_INDEX": str(web_config.index)}
    out = subprocess.run([sys.executable, "-m", "flask", "--app", "search_ui", "routes"], capture_output=True,
                         text=True, env=env, check=True).stdout
    assert "pages.search" in out and "api.article" in out


def test_newssearch_serve_answers_concurrent_requests(web_config, tmp_path: Path):
    with serve(web_config) as base:
        url = f"{base}/api/search?q={quote('防汛演练')}&limit=5"

        def fetch(_):
            with urlopen(url, timeout=30) as r:
                return r.status, r.headers["X-Content-Type-Options"], json.loads(r.read())["total"]

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(fetch, range(16))) == {(200, "nosniff", 25)}


@pytest.mark.parametrize("url", ["/search?q=防汛演練", "/search?q=防汛演練&since=2020&source=測試局",
                                 "/api/search?q=防汛演練&until=2020-12-31"])
def test_a_results_page_evaluates_its_query_once(client, url):
    """Hits, facets (the year facet without the dates too), 相关搜索 and the timeline share one evaluation."""
    with client.application.extensions["newssearch"].use() as s:
        before = s.evaluations
    r = client.get(url)
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "防汛演練" in page and ("timeline" in page or "facets" in page)
    with client.application.extensions["newssearch"].use() as s:
        assert s.evaluations - before == 1
