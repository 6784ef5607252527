import io

import pytest

from indexer.config import Config
from indexer.errors import IndexNotFound, QueryError
from indexer.search import Searcher

TITLE = "全市教育實踐活動整改推進會召開"


def ids(result):
    return [h.id for h in result.hits]


@pytest.mark.parametrize(
    "q",
    [
        "整改",
        "整改落实",
        "整改落實",
        "教育实践活动",
        "孙耀灿",
        "孫耀燦",
        "耀燦",
        "耀灿",
        '"解放思想再发力"',
        '"科學發展勇攀登"',
        '"科学发展勇攀登"',
        "泰兴",
        "title:整改",
        '"38个问题"',
        '"38个"',
        '"“一把手”"',
        "38",
        "興",
    ],
)
def test_seed_found_in_either_script(seed_searcher, q):
    r = seed_searcher.search(q)
    assert r.total == 1 and r.hits[0].title == TITLE


@pytest.mark.parametrize(
    "q", ['"整改落实一阵风无影踪"', '"一把手推进会"', "title:孙耀灿", "整改 -落实", "不存在的词语", '"解放思想 再发力"']
)
def test_seed_not_found(seed_searcher, q):
    assert seed_searcher.search(q).total == 0


def test_snippet_marks_the_original_traditional_text(seed_searcher):
    hit = seed_searcher.search("整改落实").hits[0]
    assert "<mark>整改落實</mark>" in hit.snippet
    hit = seed_searcher.search("耀灿").hits[0]
    assert "孫<mark>耀燦</mark>" in hit.snippet


@pytest.fixture
def small(make_index):
    records = [
        {
            "id": "a",
            "title": "測試稿召開會議",
            "body": "測試正文：會議討論了“一把手”推進會的安排，共有38個問題。",
            "date": "2020-01-02",
            "source": "臺甲市政府測試處",
        },
        {
            "id": "b",
            "title": "一把手推进会召开",
            "body": "一把手推进会测试稿。仿语料开头：央视网消息（新闻联播）：测试",
            "date": "2021-03-04",
            "source": "甲市测试台",
        },
        {
            "id": "c",
            "title": "中华人民共和国测试稿",
            "body": "测试正文：人民共和国，国人138个问题，COVID-19疫情。",
            "date": "2019-10-01",
            "source": "乙县测试社",
        },
        {"id": "d", "title": "无日期", "body": "息息相关的消息", "source": None},
    ]
    return make_index(records)


@pytest.mark.parametrize(
    "q, expected",
    [
        ('"“一把手”推进会"', ["a"]),  # punctuation inside a phrase is exact
        ('"一把手推进会"', ["b"]),
        ('"「一把手」推进会"', []),  # other quote marks are other characters
        ('"38个问题"', ["a", "c"]),  # "138个问题" contains "38个问题"
        ('"8个问题"', ["a", "c"]),  # an open head: the run before may be longer (38, 138)
        ('"共有3"', ["a"]),  # an open tail: the run after may be longer (38)
        ('"19疫情"', ["c"]),
        ('"38个"', ["a"]),  # a run and one character: the run is matched whole (not 138个)
        ('"138个"', ["c"]),
        ('"息（新闻联播"', ["b"]),  # punctuation cuts one character off the edge
        ('"消息（"', ["b"]),
        ('"息"', ["b", "d"]),
        ("和国", ["c"]),  # a sub-word buried in 中华人民共和国
        ("民共", ["c"]),  # crosses a word boundary
        ("covid", ["c"]),
        ('"COVID-19疫情"', ["c"]),
        ("会议 OR 疫情", ["a", "c"]),
        ("会议 NOT 问题", []),
        ("title:召开", ["a", "b"]),
        ("息息", ["d"]),
    ],
)
def test_recall_and_phrase_semantics(small, q, expected):
    assert sorted(ids(small.search(q, limit=0))) == expected


def test_filters_sort_and_paging(small):
    assert ids(small.search("问题 OR 召开 OR 无日期", sort="date", limit=0)) == ["b", "a", "c", "d"]
    assert ids(small.search("问题 OR 召开", since="2020-01-01", limit=0, sort="date")) == ["b", "a"]
    assert ids(small.search("问题 OR 召开", until="2020-12-31", limit=0, sort="date")) == ["a", "c"]
    assert ids(small.search("问题 OR 召开", source="臺甲", limit=0)) == ["a"]
    assert ids(small.search("问题 OR 召开", source="台甲市政府", limit=0)) == ["a"]
    p1 = small.search("问题 OR 召开", limit=1, page=1, sort="date")
    p2 = small.search("问题 OR 召开", limit=1, page=2, sort="date")
    assert p1.total == p2.total == 3 and ids(p1) == ["b"] and ids(p2) == ["a"]


def test_title_matches_rank_above_body_matches(make_index):
    s = make_index(
        [
            {"id": "body", "title": "测试稿甲", "body": "测试正文：召开。测试文字召开，再召开一次。"},
            {"id": "title", "title": "测试稿召开", "body": "测试正文：占位文字，没有别的。"},
        ],
    )
    assert ids(s.search("召开")) == ["title", "body"]


def test_contiguous_run_ranks_above_scattered_words(make_index):
    s = make_index(
        [
            {"id": "scattered", "title": "报告", "body": "整改工作很多。另外，落实责任也很重要。整改。"},
            {"id": "run", "title": "报告", "body": "今天开会，研究整改落实。"},
        ],
    )
    assert ids(s.search("整改落实")) == ["run", "scattered"]


@pytest.mark.parametrize("q", ["", "   ", '"', "“ ”", "OR", "整改 OR", "-整改", "（）", "a" * 2000])
def test_bad_queries_raise_query_error_with_message(small, q):
    with pytest.raises(QueryError) as exc:
        small.search(q)
    assert str(exc.value)


def test_bad_dates_are_query_errors(small):
    with pytest.raises(QueryError):
        small.search("问题", since="2020/01/01")


def test_missing_index(tmp_path):
    with pytest.raises(IndexNotFound):
        Searcher(Config.load(tmp_path / "nothing")).search("整改")


def test_exact_total_beyond_the_page(corpus_index):
    s = Searcher(corpus_index)
    full = s.search("台南", limit=0)
    page = s.search("台南", limit=5)
    assert page.total == full.total == len(full.hits) > 5


def test_document_numbers_are_exact_even_unquoted(make_index):
    s = make_index(
        [
            {"id": "doc", "title": "測試通知", "body": "甲府測字〔2023〕12號，測試正文："},
            {"id": "other", "title": "2023年工作", "body": "第12号文件在〔2022〕年印发，2023年执行。"},
        ],
    )
    assert ids(s.search("〔2023〕12号")) == ["doc"]
    assert ids(s.search("甲府測字〔2023〕12號")) == ["doc"]


def test_the_seeds_scraper_separator_is_kept_but_not_shown(seed_searcher):
    # The seed's body ends "…出席會議。 |": the stored text keeps it, snippets and keywords do not.
    hit = seed_searcher.search('"督导组正副组长出席会议"').hits[0]
    assert seed_searcher.article(hit.id)["body"].endswith("出席會議。 |")
    assert hit.snippet.endswith("出席會議</mark>。") and "|" not in hit.snippet
    assert hit.keywords and not any("|" in k for k in hit.keywords)


def test_only_failures_reading_index_files_count_as_damage(small):
    """A bug in our code is raised as it is; what Whoosh raises on bytes it cannot parse is damage (IndexCorrupt)."""
    from whoosh.filedb.structfile import StructFile

    from indexer.snapshot import is_damage

    with pytest.raises(KeyError) as bug:
        {}["generation"]
    assert not is_damage(bug.value)
    with pytest.raises(Exception) as bad_bytes:
        StructFile(io.BytesIO(b"\x01")).read_long()  # a truncated file
    assert is_damage(bad_bytes.value)
    assert small.search("问题").total  # and the searcher is unaffected
