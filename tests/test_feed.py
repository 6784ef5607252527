"""Atom feeds of a search, read back with a real feed parser."""

from __future__ import annotations

import os
import re
import subprocess
import xml.etree.ElementTree as ET
from html import unescape
from urllib.parse import quote, urlsplit

import feedparser
import pytest

from indexer.config import Config
from indexer.search import Searcher
from indexer.writer import run_index
from search_ui.feed import build_feed, entry_id, feed_id

from .conftest import EXE, HANT, corpus_records, write_jsonl

BASE = "https://news.example.org/ns/"
HOSTILE = {
    "id": 'x/<script>&"1"',
    "title": '<script>alert("t")</script> 防汛 & "引號" \'單引號\' </title>\x0b',
    "date": "2026-08-30",
    "source": '<b>臺南市</b> & "水利局"',
    "body": '防汛落實 </mark><script>alert(2)</script> & <![CDATA[ x ]]> "q"',
}


@pytest.fixture(scope="module")
def feed_index(tmp_path_factory) -> Config:
    d = tmp_path_factory.mktemp("feed")
    records = [r for r in corpus_records(HANT, 1500) if "防汛" in r["body"] or "防汛" in r["title"]][:40]
    assert len(records) >= 10
    undated = {"id": "undated-1", "title": "無日期防汛", "body": "防汛"}
    write_jsonl(d / "src" / "news.jsonl", records + [HOSTILE, undated])
    config = Config.load(d / "index", d / "none.txt")
    run_index(config, [d / "src"])
    return config


def feed_of(config: Config, q: str = "防汛", **kw) -> tuple[bytes, feedparser.FeedParserDict]:
    s = Searcher(config)
    try:
        xml = build_feed(s.search(q, limit=50, sort="date", **kw), BASE, {"q": q, **kw})
    finally:
        s.close()
    parsed = feedparser.parse(xml)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return xml, parsed


def summaries(xml: bytes) -> dict[str, str]:
    """Entry id -> summary as written (feedparser's sanitizer drops <mark>, an HTML5 element)."""
    ns = {"a": "http://www.w3.org/2005/Atom"}
    return {e.find("a:id", ns).text: e.find("a:summary", ns).text for e in ET.fromstring(xml).findall("a:entry", ns)}


def test_entries_have_stable_ids_dates_authors_and_links(feed_index):
    xml, f = feed_of(feed_index)
    marked = summaries(xml)
    s = Searcher(feed_index)
    hits = {h.id: h for h in s.search("防汛", limit=0).hits}
    s.close()
    assert len(f.entries) == len(hits)
    assert f.feed.id == feed_id({"q": "防汛"}) and f.feed.id.startswith("urn:uuid:")
    assert f.feed.links[0].rel == "self" and f.feed.links[0].href == BASE + "feed?q=" + quote("防汛")
    dated = [e for e in f.entries if e.id != entry_id("undated-1")]
    assert [e.published for e in dated] == sorted((e.published for e in dated), reverse=True)  # newest first
    by_id = {entry_id(aid): h for aid, h in hits.items()}
    assert len(by_id) == len(hits)
    for e in f.entries:
        hit = by_id[e.id]
        assert e.link == f"{BASE}article/{quote(hit.id, safe='')}?q={quote('防汛')}"
        assert e.get("author", "newssearch") == (hit.source or "newssearch")
        if hit.date:
            assert e.published.startswith(hit.date + "T00:00:00") and e.updated == e.published
        assert e.summary_detail.type == "text/html" and marked[e.id] == hit.snippet
        assert "<mark>防汛</mark>" in hit.snippet or "<mark>防汛</mark>" in hit.title
    undated = next(e for e in f.entries if e.id == entry_id("undated-1"))
    assert undated.published_parsed.tm_year >= 2026  # when it was indexed


def test_ids_survive_a_rebuild_and_do_not_depend_on_the_search(feed_index):
    xml1, before = feed_of(feed_index)
    run_index(feed_index, rebuild=True)
    xml2, after = feed_of(feed_index)
    assert [e.id for e in before.entries] == [e.id for e in after.entries]
    assert xml1 == xml2
    _, narrow = feed_of(feed_index, since="2020-01-01")
    assert {e.id for e in narrow.entries} < {e.id for e in before.entries}
    assert narrow.feed.id != before.feed.id and "起始 2020-01-01" in narrow.feed.title


def test_hostile_titles_sources_and_bodies_are_escaped(feed_index):
    xml, f = feed_of(feed_index, q='"引號"')
    (e,) = f.entries
    assert e.title == '<script>alert("t")</script> 防汛 & "引號" \'單引號\' </title>'  # text, exactly
    assert e.author == '<b>臺南市</b> & "水利局"'
    root = ET.fromstring(xml)
    assert not root.findall(".//{*}script") and not root.findall(".//{*}b")
    (summary,) = summaries(xml).values()  # the HTML, as text: only our <mark> is markup
    assert "&lt;script&gt;" in summary and "&lt;/mark&gt;" in summary and "<script>" not in summary
    assert e.link.endswith("/article/" + quote(HOSTILE["id"], safe="") + "?q=" + quote('"引號"'))


def test_cli_prints_the_same_feed(feed_index):
    env = {**os.environ, "NEWSSEARCH_INDEX": str(feed_index.index), "NEWSSEARCH_USERDICT": str(feed_index.userdict),
           "NEWSSEARCH_URL": BASE}
    out = subprocess.run([str(EXE), "query", "--format", "atom", "-n", "50", "防汛"],
                         capture_output=True, env=env, check=True).stdout
    assert out == feed_of(feed_index)[0]


@pytest.fixture(scope="module")
def site_config(feed_index):
    return feed_index


def test_web_feed_is_the_cli_feed_and_its_links_open_the_articles(client, feed_index):
    r = client.get("/feed?q=防汛")
    assert r.status_code == 200 and r.mimetype == "application/atom+xml"
    f = feedparser.parse(r.data)
    assert not f.bozo and len(f.entries) > 10
    env = {**os.environ, "NEWSSEARCH_INDEX": str(feed_index.index), "NEWSSEARCH_USERDICT": str(feed_index.userdict),
           "NEWSSEARCH_URL": "http://localhost/"}
    cli = subprocess.run([str(EXE), "query", "--format", "atom", "-n", "50", "防汛"],
                         capture_output=True, env=env, check=True).stdout
    assert r.data == cli
    for e in f.entries:
        link = urlsplit(e.link)
        page = client.get(f"{link.path}?{link.query}")
        assert page.status_code == 200 and e.title in unescape(re.sub(r"<[^>]+>", "", page.get_data(as_text=True)))
    narrow = feedparser.parse(client.get("/feed?q=防汛&since=2020-01-01&limit=2&sort=relevance&new=1").data)
    assert narrow.feed.links[0].href == "http://localhost/feed?q=%E9%98%B2%E6%B1%9B&since=2020-01-01&new=1"
    assert len(narrow.entries) <= 2
    assert client.get("/feed?q=").status_code == 400 and client.get("/feed?q=x&new=maybe").status_code == 400


def test_search_page_links_its_feed(client):
    html = client.get("/search?q=防汛&source=水利").get_data(as_text=True)
    (alt,) = re.findall(r'<link rel="alternate" type="application/atom\+xml"[^>]*href="([^"]+)"', html)
    visible = re.findall(r'<a href="([^"]+)" type="application/atom\+xml">订阅', html)
    assert visible == [alt] and unescape(alt) == "/feed?q=%E9%98%B2%E6%B1%9B&source=%E6%B0%B4%E5%88%A9"
    assert feedparser.parse(client.get(unescape(alt)).data).entries
