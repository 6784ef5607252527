"""HTML pages and plain text → articles: title, date, source, reporter, URL and a clean body."""

import codecs
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from indexer.ingest.readers import date_in, read_file, reporter_in
from indexer.search import Searcher
from indexer.writer import run_index
from search_ui.cli import main

from .conftest import HANS, HANT, corpus_records
from .fixtures.pages import CITY_CHROME, COUNTY_CHROME, city_page, county_page, record_page

# Plainly synthetic article text (the pages' chrome is synthetic too, see fixtures/pages.py): each
# body still carries what the reader must find, a bracketed byline with reporter and correspondent,
# a date without a year, paragraphs, one searchable phrase per script.
HANS_BODY = [
    "（记者 张三 通讯员 李四）5月6日上午，测试正文第一段。本段只为检验网页正文的抽取而写，不是新闻。",
    "测试正文第二段：甲市和文中的人名都是占位符，段落之间的换行应当原样保留，页面的导航和页脚不应进入正文。",
    "测试正文第三段：检索测试词“安全生产大检查”只写在这一页，用来确认这一页已被索引。",
]
HANT_BODY = [
    "（記者 王五）測試正文第一段。本段只為檢驗網頁正文的抽取而寫，不是新聞。",
    "測試正文第二段：乙市和文中的人名都是佔位符，段落之間的換行應當原樣保留。",
    "測試正文第三段：檢索測試詞「食農教育」只寫在這一頁，用來以簡體查詢繁體網頁。",
]
HANS_TITLE = "甲市测试网页标题"
HANT_TITLE = "乙市測試網頁標題"


def write(path: Path, text: str, encoding: str, bom: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bom + text.encode(encoding))
    return path


def read_one(path: Path):
    result = read_file(path)
    assert not result.problems, result.problems
    (art,) = result.articles
    return art


def assert_clean(body: str, chrome: tuple[str, ...]) -> None:
    for word in chrome:
        assert word not in body, f"{word!r} leaked into the body"


def test_county_page_gbk(tmp_path):
    page = county_page(HANS_TITLE, HANS_BODY, canonical="https://www.example.org/art/2023/5/6/art_123_456.html")
    art = read_one(write(tmp_path / "a.html", page, "gbk"))
    assert art.title == HANS_TITLE
    assert (art.date, art.source, art.reporter) == ("2023-05-06", "市政府办公室", "张三、李四")
    assert art.url == art.id == "https://www.example.org/art/2023/5/6/art_123_456.html"
    assert art.body.splitlines() == HANS_BODY
    assert_clean(art.body, COUNTY_CHROME)


def test_city_page_big5_roc_date(tmp_path):
    art = read_one(write(tmp_path / "b.htm", city_page(HANT_TITLE + " 繁體樣例", HANT_BODY), "big5"))
    assert art.title == HANT_TITLE + " 繁體樣例"
    assert (art.date, art.source, art.reporter) == ("2023-05-06", "乙市政府測試局", "王五")
    assert art.id == art.url == "https://news.example.org/News_Content.aspx?n=1&s=2"
    assert art.body.splitlines() == HANT_BODY
    assert_clean(art.body, CITY_CHROME)


def test_county_layout_in_traditional_script_gb18030(tmp_path):
    """A mainland county page shown in Traditional, saved as GB18030, with a 發布機構 label and a 4-byte character."""
    body = ["（記者 張三）5月8日，測試正文第一段：𠮷字在GB18030中佔四個位元組，它必須原樣讀出。",
            "測試正文第二段：甲市和乙縣都是佔位名稱，這一頁不是新聞。"]
    page = county_page("甲市繁體測試標題", body, charset="gb18030",
                       info="發布時間：2023年5月8日&nbsp;&nbsp;發布機構：甲市測試辦公室")
    art = read_one(write(tmp_path / "c.html", page, "gb18030"))
    assert (art.title, art.date, art.source, art.reporter) == (
        "甲市繁體測試標題", "2023-05-08", "甲市測試辦公室", "張三")
    assert art.body.splitlines() == body
    assert art.id == str(tmp_path / "c.html") and art.url is None


def test_city_layout_in_simplified_utf8_bom(tmp_path):
    """A city page in Simplified, UTF-8 with a BOM and no declared charset, date in 年月日 and 民国 form."""
    body = ["（记者 赵六）测试正文第一段：这一页用简体写成，检验民国纪年的发布日期。",
            "测试正文第二段：乙市测试局是占位名称，这一页不是新闻。"]
    page = city_page("乙市简体测试标题", body, charset=None, date_line="发布日期：民国112年10月2日",
                     unit_line="发布单位：乙市测试局", og_url=None)
    art = read_one(write(tmp_path / "d.html", page, "utf-8", codecs.BOM_UTF8))
    assert (art.title, art.date, art.source, art.reporter) == ("乙市简体测试标题", "2023-10-02", "乙市测试局", "赵六")
    assert art.body.splitlines() == body
    assert art.url is None


def test_meta_tags_fill_in_when_the_page_prints_nothing(tmp_path):
    page = county_page("测试标题页面版", HANS_BODY[1:], info="",
                       meta={"ArticleTitle": "甲市测试标题元数据版", "PubDate": "2022-12-30 09:00",
                             "ContentSource": "甲市测试办公室"})
    art = read_one(write(tmp_path / "e.html", page, "utf-8"))
    assert (art.title, art.date, art.source, art.reporter) == (
        "甲市测试标题元数据版", "2022-12-30", "甲市测试办公室", None)


def test_broken_html_still_yields_the_article(tmp_path):
    page = ("<meta charset=utf-8><h1>乙县测试标题</h1><div class=info>发布时间：2021-07-01 来源：乙县测试局"
            "<div id=zoom><p>（记者 赵六）7月1日，测试正文第一段。<p>测试正文第二段：标签没有闭合，"
            "残缺的网页也要读出正文。</b></i></div></div></span><table><tr><td>")
    art = read_one(write(tmp_path / "broken.html", page, "utf-8"))
    assert (art.title, art.date, art.source, art.reporter) == ("乙县测试标题", "2021-07-01", "乙县测试局", "赵六")
    assert "残缺的网页也要读出正文" in art.body and "发布时间" not in art.body


def _plain_record(rec: dict, encoding: str) -> bool:
    """A record the page round trip can reproduce exactly: encodable, a title of 4+ characters (shorter ones
    cannot be told from the site name), a body that does not repeat the title and has no HTML entities (the
    corpus keeps some, e.g. ``&gt;``; a page reader unescapes them as a browser does)."""
    try:
        (rec["title"] + rec["body"]).encode(encoding)
    except UnicodeEncodeError:
        return False
    return len(rec["title"]) >= 4 and "&" not in rec["body"] and not rec["body"].startswith(rec["title"])


@pytest.mark.parametrize("path,layout,encoding", [(HANS, "county", "gbk"), (HANT, "city", "big5")],
                         ids=["county-gbk", "city-big5"])
def test_real_articles_come_out_whole(tmp_path, path, layout, encoding):
    """Real articles from the shared corpus in a page layout: title, date, source, URL and every paragraph."""
    records = [r for r in corpus_records(path, 200) if _plain_record(r, encoding)][:30]
    assert len(records) == 30
    for n, rec in enumerate(records):
        art = read_one(write(tmp_path / f"{n}.html", record_page(rec, layout, encoding), encoding))
        paragraphs = [p.strip() for p in rec["body"].split("\n") if p.strip()]
        assert (art.title, art.date, art.source, art.url) == (rec["title"], rec["date"], rec["source"], rec["url"])
        assert art.body.splitlines() == paragraphs, rec["id"]


@pytest.mark.parametrize(
    "name,data,reason",
    [
        ("empty.html", b"", "empty file"),
        ("blank.htm", b"  \r\n\t", "empty file"),
        ("binary.html", bytes(range(256)) * 8, "binary"),
        ("noise.html", bytes(range(128, 256)) * 40, "cannot decode"),
        ("mojibake.html", county_page(HANS_TITLE, HANS_BODY, charset="utf-8")
         .encode("utf-8").decode("gb18030", "replace").encode("utf-8"), "mojibake"),
        ("nav-only.html", "<html><body><div class=nav><a>首页</a></div></body></html>".encode(), "no article"),
    ],
)
def test_bad_pages_are_reported_with_a_reason(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    result = read_file(path)
    assert not result.articles
    assert len(result.problems) == 1 and result.problems[0].startswith(f"{path}: ") and reason in result.problems[0]


def test_bad_files_are_listed_and_the_rest_indexed(config, tmp_path):
    src = tmp_path / "src"
    write(src / "county.html", county_page(HANS_TITLE, HANS_BODY), "gbk")
    write(src / "city.htm", city_page(HANT_TITLE, HANT_BODY), "big5")
    (src / "empty.html").write_bytes(b"")
    (src / "junk.htm").write_bytes(os.urandom(64) + b"\x00")
    summary = run_index(config, [src])
    assert (summary.added, summary.failed) == (2, 2)
    assert sorted(p.split(": ")[0] for p in summary.problems) == [str(src / "empty.html"), str(src / "junk.htm")]
    s = Searcher(config)
    try:
        hit = s.search("食农教育").hits[0]  # Simplified query, Traditional page
        assert (hit.title, hit.date, hit.source) == (HANT_TITLE, "2023-05-06", "乙市政府測試局")
        assert s.search("安全生产大检查").total == 1 and s.search("分享到").total == 0
        assert s.article(hit.id)["reporter"] == "王五"
    finally:
        s.close()


def test_cli_lists_failures_and_exits_1(tmp_path):
    src = tmp_path / "src"
    write(src / "good.html", county_page(HANS_TITLE, HANS_BODY), "gbk")
    (src / "bad.html").write_bytes(b"\x00\x01binary")
    env = {"NEWSSEARCH_INDEX": str(tmp_path / "ix"), "NEWSSEARCH_USERDICT": str(tmp_path / "none.txt")}
    r = CliRunner(env=env).invoke(main, ["index", "--quiet", str(src)])
    assert r.exit_code == 1
    assert f"error: {src / 'bad.html'}: binary file" in r.output
    assert r.output.strip().splitlines()[-1].startswith("added 1, updated 0, removed 0, unchanged 0, failed 1")


def test_txt_reporter_and_date_from_text(tmp_path):
    text = "甲市測試標題\n\n（記者 張三）2014年9月10日上午，測試正文。\n"
    path = write(tmp_path / "sample.txt", text, "utf-8")
    art = read_one(path)
    assert (art.title, art.date, art.reporter) == ("甲市測試標題", "2014-09-10", "張三")


@pytest.mark.parametrize("name", ["2014-09-10-a.txt", "20140910_a.txt", "a_2014年9月10日.txt"])
def test_txt_date_from_file_name(tmp_path, name):
    art = read_one(write(tmp_path / name, "测试标题\n测试正文没有完整日期，只有9月10日。", "utf-8"))
    assert art.date == "2014-09-10" and art.reporter is None


def test_txt_without_a_date_is_not_dated_by_mtime(tmp_path):
    path = write(tmp_path / "note.txt", "测试标题\n9月10日上午，记者从甲市测试局获悉：这是测试正文。", "gbk")
    os.utime(path, (1410307200, 1410307200))
    art = read_one(path)
    assert (art.date, art.reporter) == (None, None)


def test_seed_file_gets_reporter_and_no_invented_date(seed_dir):
    # The seed says 9月10日 without a year, and its file name carries no date: no date is guessed.
    art = read_one(next(seed_dir.glob("*.txt")))
    assert (art.date, art.reporter) == (None, "張倫")


@pytest.mark.parametrize(
    "text,date",
    [("2014-09-10", "2014-09-10"), ("20140910", "2014-09-10"), ("2014年9月10日", "2014-09-10"),
     ("2014/9/1", "2014-09-01"), ("2014-02-30", None), ("电话20231301", None), ("2014-0910", None)],
)
def test_date_forms(text, date):
    assert date_in(text) == date


@pytest.mark.parametrize(
    "text,names",
    [("（記者 張倫）9月10日", "張倫"), ("本报讯（记者 张伦 通讯员 李明）", "张伦、李明"), ("（记者 张伦 摄）", "张伦"),
     ("記者張倫／臺南報導", "張倫"), ("记者：王五 5月6日", "王五"), ("（通訊員 陳小明、林大同）", "陳小明、林大同"),
     ("记者从市教育局获悉", None), ("接受记者采访时说", None), ("（據記者了解）", None)],
)
def test_reporter_credits(text, names):
    assert reporter_in(text) == names


@pytest.mark.parametrize(
    "layout,body",
    [(county_page, "测试通知：5月8日8时至18时是示例时段，本句只是测试文字。"),
     (city_page, "測試通知：5月8日是示例日期，本句只是測試文字。")],
)
def test_short_notices_keep_only_their_text(tmp_path, layout, body):
    art = read_one(write(tmp_path / "n.html", layout("测试通知", [body]), "utf-8"))
    assert art.body == body and art.date == "2023-05-06"
