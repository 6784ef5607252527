"""Search quality features: did you mean, keywords, related articles, synonyms and stopwords."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from indexer.config import Config
from indexer.search import Searcher
from indexer.writer import run_index
from search_ui.cli import main

from .conftest import EXE, ROOT, write_jsonl

ARTICLES = [
    # Plainly synthetic records: each says it is test text and carries only the words the tests need.
    # Five about dengue (Traditional), three about rectification (Simplified), renamed bodies in both scripts.
    ("dengue-1", "測試稿一 登革熱防疫",
     "測試正文一：登革熱防疫、積水容器、孳生源清除，這幾個詞只為檢索測試而寫。"),
    ("dengue-2", "測試稿二 登革熱 噴藥",
     "測試正文二：登革熱、噴藥、孳生源，佔位人名張三，這不是新聞。"),
    ("dengue-3", "測試稿三 積水 登革熱",
     "測試正文三：積水容器、登革熱、孳生源清除，佔位單位乙市測試局。"),
    ("dengue-4", "測試稿四 積水容器",
     "測試正文四：積水容器、登革熱防疫、孳生源，佔位人名李四。"),
    ("dengue-5", "測試稿五 登革熱防治",
     "測試正文五：登革熱防治、積水容器、孳生源，這一篇也只是測試文字。"),
    ("fix-1", "测试稿 整改落实",
     "测试正文：整改落实、整改工作，这一句只为检索测试而写。"),
    ("fix-2", "测试稿 整改工作",
     "测试正文：整改工作、责任落实到人，占位人名王五。"),
    ("fix-3", "测试稿 整改通报",
     "测试正文：关于整改工作的测试通报，这不是新闻。"),
    ("land-1", "测试稿 国土资源局",
     "测试正文：国土资源局、土地、检查，占位单位甲市测试处。"),
    ("land-2", "測試稿 自然資源局",
     "測試正文：自然資源局、土地、公告，佔位單位乙市測試處。"),
    ("ndrc-1", "测试稿 发改委",
     "测试正文：发改委、会议，这一句只为检索测试而写。"),
    ("ndrc-2", "測試稿 發展和改革委員會",
     "測試正文：發展和改革委員會、報告，這一句只為檢索測試而寫。"),
    ("taxi-1", "测试稿 出租车",
     "测试正文：出租车、安全检查，这一句只为检索测试而写。"),
]


@pytest.fixture(scope="module")
def quality(tmp_path_factory) -> Config:
    d = tmp_path_factory.mktemp("quality")
    records = [{"id": i, "title": t, "body": b, "date": f"2020-01-{n + 1:02d}"} for n, (i, t, b) in enumerate(ARTICLES)]
    write_jsonl(d / "src" / "articles.jsonl", records)
    config = Config.load(d / "index", d / "no-userdict.txt")
    config = replace(config, synonyms=ROOT / "data" / "synonyms.txt", stopwords=ROOT / "data" / "stopwords.txt")
    run_index(config, [d / "src"])
    return config


@pytest.fixture
def searcher(quality: Config):
    s = Searcher(quality)
    yield s
    s.close()


def ids(result) -> set[str]:
    return {h.id for h in result.hits}


def test_misspelled_word_suggests_the_same_sounding_word_from_the_index(searcher):
    r = searcher.search("整该工作")
    assert r.total == 0
    assert r.suggestions[0] == "整改工作"
    assert searcher.search(r.suggestions[0]).total == 3


def test_misspelled_traditional_query_keeps_its_script(searcher):
    assert "登革熱防疫" in searcher.suggest("登格熱防疫")


def test_regional_wording_is_searched_too_and_said(searcher):
    r = searcher.search("計程車")  # Taiwan usage; the (Simplified) article says 出租车
    assert ids(r) == {"taxi-1"} and "出租车" in r.also
    assert searcher.search('"計程車"').total == 0  # a quoted phrase is never expanded


def test_over_long_query_suggests_dropping_the_term_that_killed_it(searcher):
    r = searcher.search("整改落实 火星探测器")
    assert r.total == 0 and "整改落实" in r.suggestions
    r = searcher.search("登革熱火星探測器")
    assert r.total == 0 and "登革熱" in r.suggestions


def test_no_suggestions_when_the_query_finds_enough(searcher):
    assert searcher.search("登革熱").suggestions == []


def test_keywords_come_from_the_article_as_written(searcher):
    hit = searcher.search("噴藥").hits[0]
    assert hit.id == "dengue-2" and "登革熱" in hit.keywords and "噴藥" in hit.keywords
    assert not any(k in ("的", "是") for k in hit.keywords)
    assert "登革熱" in searcher.article("dengue-1")["keywords"]


def test_keywords_prefer_words_rare_in_this_index(searcher):
    kws = searcher.article("dengue-2")["keywords"]
    # 登革熱 is in every dengue article; 噴藥 only in this one, so it scores higher per occurrence.
    assert kws.index("噴藥") < kws.index("登革熱")


def test_related_articles_share_key_terms_and_exclude_the_article(searcher):
    related = searcher.related("dengue-1", n=3)
    assert len(related) == 3
    assert {h.id for h in related} <= {"dengue-2", "dengue-3", "dengue-4", "dengue-5"}
    assert "整改" not in "".join(h.title for h in related)


@pytest.mark.parametrize("q", ["国土资源局", "國土資源局", "自然资源局", "自然資源局"])
def test_renamed_body_synonyms_in_both_directions_and_scripts(searcher, q):
    assert ids(searcher.search(q)) == {"land-1", "land-2"}


@pytest.mark.parametrize("q", ["发改委", "發改委", "发展和改革委员会", "發展和改革委員會"])
def test_abbreviation_synonyms_in_both_directions_and_scripts(searcher, q):
    r = searcher.search(q)
    assert ids(r) == {"ndrc-1", "ndrc-2"}
    assert all("<mark>" in h.snippet for h in r.hits)  # the synonym is highlighted too


def test_quoted_phrases_are_not_expanded(searcher):
    assert ids(searcher.search('"国土资源局"')) == {"land-1"}


def test_operator_edits_take_effect_without_rebuild(quality: Config, tmp_path: Path):
    syn = tmp_path / "synonyms.txt"
    syn.write_text("# test\n出租車 計程車\n", encoding="utf-8")
    never = tmp_path / "false_friends.txt"  # regional wording would link them anyway
    never.write_text("计程车\n", encoding="utf-8")
    assert Searcher(replace(quality, synonyms=None, false_friends=never)).search("计程车").total == 0
    s = Searcher(replace(quality, synonyms=syn, stopwords=None, false_friends=never))
    try:
        assert ids(s.search("计程车")) == {"taxi-1"}
        assert s.search("国土资源局").total == 1  # the shipped groups are not in this file
    finally:
        s.close()


def test_stopwords_are_dropped_only_while_other_words_remain(searcher):
    assert ids(searcher.search("关于 整改")) == ids(searcher.search("整改"))
    assert ids(searcher.search("關於整改落實")) == ids(searcher.search("整改落实"))
    assert ids(searcher.search("关于")) == {"fix-3"}  # a stopword alone is still searched
    assert ids(searcher.search('"关于整改"')) == {"fix-3"}  # never dropped from a phrase
    hit = searcher.search('"关于整改"').hits[0]
    assert "<mark>关于整改</mark>" in hit.snippet


def test_cli_json_has_suggestions_and_keywords(quality: Config):
    env = {"NEWSSEARCH_SYNONYMS": str(quality.synonyms), "NEWSSEARCH_USERDICT": str(quality.userdict)}
    runner = CliRunner()
    out = runner.invoke(main, ["query", "--index", str(quality.index), "--json", "整该工作"], env=env)
    data = json.loads(out.output)
    assert data["total"] == 0 and data["suggestions"][0] == "整改工作"
    out = runner.invoke(main, ["query", "--index", str(quality.index), "--json", "噴藥"], env=env)
    data = json.loads(out.output)
    assert data["suggestions"] == [] and "登革熱" in data["hits"][0]["keywords"]


def test_installed_cli_prints_suggestions_segmentation_keywords_and_related(quality: Config):
    env = {**os.environ, "NEWSSEARCH_INDEX": str(quality.index), "NEWSSEARCH_USERDICT": str(quality.userdict)}
    out = subprocess.run([str(EXE), "query", "整该工作"], capture_output=True, text=True, env=env, check=True)
    assert "The query was read as:" in out.stdout and "Did you mean: 整改工作" in out.stdout
    out = subprocess.run([str(EXE), "show", "dengue-1"], capture_output=True, text=True, env=env, check=True)
    assert "keywords: " in out.stdout and "登革熱" in out.stdout.split("keywords: ")[1]
    assert "related:" in out.stdout and "(dengue-" in out.stdout.split("related:")[1]
