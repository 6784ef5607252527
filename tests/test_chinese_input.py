"""Chinese as people type it: IME punctuation, regional wording, did-you-mean that completes, Chinese messages."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import feedparser
import pytest

from indexer.config import Config
from indexer.normalize import normalize
from indexer.query import lex, parse
from indexer.search import Searcher
from indexer.writer import run_index
from search_ui import create_app

from .conftest import HANS, HANT, corpus_records, write_jsonl

CLI = [sys.executable, "-c", "from search_ui.cli import main; main()"]


def ids(result) -> set[str]:
    return {h.id for h in result.hits}


def cli_json(env: dict, *args: str) -> dict:
    r = subprocess.run([*CLI, "query", "--json", "--limit", "0", *args], capture_output=True, text=True,
                       env={**os.environ, **env}, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def corpus(corpus_index) -> Config:
    """1,500 real articles of each script (the session's shared index)."""
    return corpus_index


@pytest.fixture(scope="module")
def searcher(corpus):
    s = Searcher(corpus)
    yield s
    s.close()


def containing(config: Config, text: str, script: str | None = None) -> set[str]:
    """Ids of the indexed corpus articles whose text holds `text` (normalized), of one script if given."""
    paths = {"hans": HANS, "hant": HANT}
    out = set()
    for tag, path in paths.items():
        if script and tag != script:
            continue
        for r in corpus_records(path, 1500):
            if normalize(text) in normalize(f"{r['title']}\n{r['body']}"):
                out.add(r["id"])
    return out


def test_ime_quotes_are_phrase_quotes_in_cli_and_api(corpus):
    exact = containing(corpus, "推動城市")
    assert exact  # the sample has articles with the phrase
    env = {"NEWSSEARCH_INDEX": str(corpus.index), "NEWSSEARCH_USERDICT": str(corpus.userdict)}
    client = create_app(corpus).test_client()
    for q in ('"推動城市"', "“推動城市”", "「推動城市」", "『推動城市』", "＂推動城市＂"):
        assert {h["id"] for h in cli_json(env, q)["hits"]} == exact, q
        data = client.get("/api/search?limit=100&q=" + quote(q)).get_json()
        assert {h["id"] for h in data["hits"]} == exact, q
    assert len(cli_json(env, "推動城市")["hits"]) > len(exact)  # unquoted: the words anywhere


def test_an_open_quote_closes_at_the_end(corpus, searcher):
    assert ids(searcher.search('防疫"', limit=0)) == ids(searcher.search("防疫", limit=0))
    assert ids(searcher.search("“推動城市", limit=0)) == ids(searcher.search('"推動城市"', limit=0))
    client = create_app(corpus).test_client()
    assert client.get("/search?q=" + quote('防疫"')).status_code == 200
    assert client.get("/api/search?q=" + quote('防疫"')).status_code == 200


def test_full_width_and_lowercase_operators(searcher):
    def same(a: str, b: str) -> None:
        assert ids(searcher.search(a, limit=0)) == ids(searcher.search(b, limit=0)), (a, b)

    same("防疫 －疫苗", "防疫 -疫苗")
    same("防疫 ＯＲ 疫苗", "防疫 OR 疫苗")
    same("防疫 or 疫苗", "防疫 OR 疫苗")
    same("防疫 Or 疫苗", "防疫 OR 疫苗")
    same("防疫 and 疫苗", "防疫 疫苗")
    same("防疫 not 疫苗", "防疫 -疫苗")
    same("防疫 ＮＯＴ 疫苗", "防疫 -疫苗")
    assert searcher.search("防疫 OR 疫苗").total > searcher.search("防疫").total > searcher.search("防疫 -疫苗").total


def test_lowercase_operators_only_where_unambiguous():
    assert [t.kind for t in lex("rock and roll")] == ["term", "term", "term"]  # Latin words on a side
    assert [t.kind for t in lex("整改 or")] == ["term", "term"]  # nothing after it: a word
    assert [t.kind for t in lex("整改 or 落实")] == ["term", "or", "term"]
    assert [t.kind for t in lex('"a or b"')] == ["phrase"]
    assert [(t.kind, t.value) for t in lex("“一把手”「推進會」")] == [("phrase", "一把手"), ("phrase", "推進會")]
    assert parse('"“一把手”推进会"').clauses[0].atoms[0].text == "“一把手”推进会"  # other quotes inside are text


def test_mainland_term_finds_taiwan_wording_and_back(corpus, searcher):
    for mainland, taiwan in (("出租车", "計程車"), ("软件", "軟體"), ("自行车", "腳踏車"), ("激光", "雷射")):
        tw_articles = containing(corpus, taiwan, "hant")
        cn_articles = containing(corpus, mainland, "hans")
        assert tw_articles and cn_articles, (mainland, taiwan)
        r = searcher.search(mainland, limit=0)
        assert len(ids(r) & tw_articles) >= 0.9 * len(tw_articles) and taiwan in r.also
        r = searcher.search(taiwan, limit=0)
        assert len(ids(r) & cn_articles) >= 0.9 * len(cn_articles) and mainland in r.also
        assert not ids(searcher.search(f'"{mainland}"', limit=0)) & (tw_articles - containing(corpus, mainland))


def test_a_taiwan_term_is_not_sought_in_simplified_articles(tmp_path):
    """Plainly synthetic articles: 雷射 is sought for 激光 in Traditional text only; false friends stay put."""
    records = [
        {"id": "cn-laser", "title": "测试文章甲", "body": "这是一篇简体测试文章，提到雷射一词。"},
        {"id": "tw-laser", "title": "測試文章乙", "body": "這是一篇繁體測試文章，提到雷射一詞。"},
        {"id": "cn-car", "title": "测试文章丙", "body": "这是一篇简体测试文章，只提到公车一词。"},
        {"id": "tw-bus", "title": "測試文章丁", "body": "這是一篇繁體測試文章，只提到公車一詞。"},
        {"id": "cn-bus", "title": "测试文章戊", "body": "这是一篇简体测试文章，只提到公交车一词。"},
    ]
    write_jsonl(tmp_path / "src" / "a.jsonl", records)
    config = Config.load(tmp_path / "index", tmp_path / "none.txt")
    run_index(config, [tmp_path / "src"])
    s = Searcher(config)
    assert ids(s.search("激光")) == {"tw-laser"}
    assert ids(s.search("公交车")) == {"cn-bus"}
    r = s.search("公车")  # a false friend: no counterpart is searched
    assert ids(r) == {"cn-car", "tw-bus"} and r.also == []
    s.close()


def test_did_you_mean_completes_and_keeps_field_syntax(seed_dir, tmp_path):
    env = {"NEWSSEARCH_INDEX": str(tmp_path / "ix"), "NEWSSEARCH_USERDICT": str(tmp_path / "none.txt")}
    subprocess.run([*CLI, "index", str(seed_dir)], env={**os.environ, **env}, check=True, capture_output=True)
    data = cli_json(env, "教育实践活跃")
    assert data["total"] == 0 and "教育实践活动" in data["suggestions"][0]
    assert cli_json(env, '"教育实践活跃"')["suggestions"][0] == '"教育实践活动"'
    for q in ("body:教育实践活跃", "title:整该", "source:整该 教育"):
        for s in cli_json(env, q)["suggestions"]:
            assert all(t.kind != "term" or ":" not in t.value for t in lex(s)), (q, s)  # no ":word" fragments


ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[ ,.'-]+[A-Za-z]{2,}){2,}")  # three English words in a row


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_error_pages_speak_chinese_and_keep_the_filters(corpus, tmp_path):
    client = create_app(corpus).test_client()
    filters = "&source=臺南市&since=2020-01-01"
    cases = [
        ("/search?q=OR" + filters, 400), ("/search?q=整改 OR" + filters, 400), ("/search?q=-整改" + filters, 400),
        ("/search?q=（）" + filters, 400), ("/search?q=" + "长" * 1001, 400),
        ("/search?q=" + " ".join(f"词{i}" for i in range(40)), 400),
        ("/search?q=整改&page=abc", 400), ("/search?q=整改&page=0", 400), ("/search?q=整改&limit=1000", 400),
        ("/search?q=整改&sort=votes", 400), ("/search?q=整改&since=yesterday", 400), ("/search?q=整改&new=maybe", 400),
        ("/search?q=整改&since=2021-01-01&until=2020-01-01&source=臺南市", 400), ("/feed", 400),
        ("/article/no-such-article", 404), ("/no/such/page", 404), ("/api/nothing", 404),
    ]
    for url, status in cases:
        r = client.get(url)
        assert r.status_code == status, url
        text = r.get_data(as_text=True)
        if r.is_json:
            data = r.get_json()
            assert data["code"] and not ENGLISH.search(data["error"] + (data["hint"] or "")), (url, data)
            continue
        assert not ENGLISH.search(visible_text(text)), (url, ENGLISH.search(visible_text(text)))
        if "source=" in url:
            assert 'name="source" value="臺南市"' in text  # the filters survive on the error page
        api = client.get("/api" + url if url.startswith("/search") else url)
        if url.startswith("/search"):
            data = api.get_json()
            assert api.status_code == status and data["code"].startswith(("query", "param"))
            assert not ENGLISH.search(data["error"] + (data["hint"] or "")), data
    r = client.post("/search?q=整改")
    assert r.status_code == 405 and not ENGLISH.search(visible_text(r.get_data(as_text=True)))
    missing = create_app(Config.load(tmp_path / "none", tmp_path / "x.txt")).test_client()
    for url in ("/", "/search?q=整改", "/api/search?q=整改"):
        r = missing.get(url)
        assert r.status_code == 503 and not ENGLISH.search(visible_text(r.get_data(as_text=True)))


def test_feed_title_and_subtitle_are_chinese(corpus):
    client = create_app(corpus).test_client()
    feed = feedparser.parse(client.get("/feed?q=防疫&since=2020-01-01").get_data())
    assert feed.feed.title.startswith("政务新闻搜索：防疫") and "2020-01-01" in feed.feed.title
    assert "篇" in feed.feed.subtitle
    assert not ENGLISH.search(feed.feed.title + feed.feed.subtitle)


def test_results_page_and_json_say_what_was_also_searched(corpus):
    client = create_app(corpus).test_client()
    html = client.get("/search?q=出租车").get_data(as_text=True)
    assert re.search(r"也搜索了：.*計程車", html)
    assert "計程車" in client.get("/api/search?q=出租车").get_json()["also_searched"]
    assert client.get("/api/search?q=" + quote('"出租车"')).get_json()["also_searched"] == []


def test_seed_suggest_offers_pinyin(tmp_path: Path, seed_dir):
    config = Config.load(tmp_path / "ix", tmp_path / "none.txt")
    run_index(config, [seed_dir])
    client = create_app(config).test_client()
    for q in ("zhenggai", "zheng gai", "zg", "整"):
        data = client.get("/api/suggest?q=" + quote(q)).get_json()
        assert data["query"] == q and "整改" in data["suggestions"][:3], (q, data)
        assert len(data["suggestions"]) <= 10
    assert client.get("/api/suggest?q=").get_json()["suggestions"] == []


def test_words_a_cron_run_adds_are_offered_by_pinyin(tmp_path: Path, seed_dir):
    """A small run lists its few new words without pinyin (vocab.READ_LATER); the searcher reads them."""
    config = Config.load(tmp_path / "ix", tmp_path / "none.txt")
    run_index(config, [seed_dir])
    first = json.loads(next(config.index.glob("*.vocab.json")).read_text(encoding="utf-8"))
    assert first["pinyin"][first["words"].index("整改")] == "zhenggai"  # the seed brings enough words to read
    extra = tmp_path / "extra"
    write_jsonl(extra / "synthetic.jsonl", [{"id": "synthetic-1", "title": "合成测试条目：蝴蝶标本",
                                            "body": "这是测试用的合成条目，不是新闻。蝴蝶标本。"}])
    run_index(config, [seed_dir, extra])
    listed = json.loads(next(config.index.glob("*.vocab.json")).read_text(encoding="utf-8"))
    assert listed["pinyin"][listed["words"].index("蝴蝶")] is None
    reused = {w: (p, i) for w, p, i in zip(listed["words"], listed["pinyin"], listed["initials"], strict=True)}
    assert all(reused[w] == (p, i) for w, p, i in zip(first["words"], first["pinyin"], first["initials"],
                                                      strict=True))  # the earlier words keep their readings
    client = create_app(config).test_client()
    for q in ("hudie", "hd", "蝴"):
        assert "蝴蝶" in client.get("/api/suggest?q=" + quote(q)).get_json()["suggestions"], q
