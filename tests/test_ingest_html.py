"""HTML pages and plain text → articles: title, date, source, reporter, URL and a clean body."""

import codecs
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from indexer.ingest import date_in, read_file, reporter_in
from indexer.search import Searcher
from indexer.writer import run_index
from search_ui.cli import main

from .fixtures.pages import CITY_CHROME, COUNTY_CHROME, city_page, county_page

HANS_BODY = [
    "（记者 张伦 通讯员 李明）5月6日上午，我市召开安全生产工作推进会，通报前一阶段工作情况，部署下一阶段重点任务。",
    "王海指出，安全生产事关人民群众生命财产安全，各地各部门要压紧压实安全生产责任，全面排查整治各类风险隐患。",
    "会议要求，要聚焦重点行业领域，深入开展安全生产大检查，对发现的问题隐患建立台账、限期整改，确保整改到位。",
]
HANT_BODY = [
    "（記者 林怡君）臺南市政府教育局今（6）日於安南區海佃國小舉辦校園食農教育成果發表，市長到場與學童一同體驗插秧。",
    "市長表示，市府持續推動食農教育，讓孩子從產地到餐桌認識臺南農業，培養珍惜食物的態度。",
    "教育局指出，今年度共有六十所學校參與，學生人數超過一萬人，明年將擴大辦理。",
]


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
    page = county_page("我市召开安全生产工作推进会", HANS_BODY,
                       canonical="https://www.taixing.gov.cn/art/2023/5/6/art_123_456.html")
    art = read_one(write(tmp_path / "a.html", page, "gbk"))
    assert art.title == "我市召开安全生产工作推进会"
    assert (art.date, art.source, art.reporter) == ("2023-05-06", "市政府办公室", "张伦、李明")
    assert art.url == art.id == "https://www.taixing.gov.cn/art/2023/5/6/art_123_456.html"
    assert art.body.splitlines() == HANS_BODY
    assert_clean(art.body, COUNTY_CHROME)


def test_city_page_big5_roc_date(tmp_path):
    art = read_one(write(tmp_path / "b.htm", city_page("臺南市推動校園食農教育 市長親赴學校示範", HANT_BODY), "big5"))
    assert art.title == "臺南市推動校園食農教育 市長親赴學校示範"
    assert (art.date, art.source, art.reporter) == ("2023-05-06", "臺南市政府教育局", "林怡君")
    assert art.id == art.url == "https://www.tainan.gov.tw/News_Content.aspx?n=13370&s=8123456"
    assert art.body.splitlines() == HANT_BODY
    assert_clean(art.body, CITY_CHROME)


def test_county_layout_in_traditional_script_gb18030(tmp_path):
    """A mainland county page shown in Traditional, saved as GB18030, with a 發布機構 label and a 4-byte character."""
    body = ["（記者 王五）5月8日，泰興市召開整改落實推進會，部署下一階段任務，𠮷野家門店負責人列席會議。",
            "會議強調，要堅持邊學邊查邊改，確保群眾反映強烈的問題得到有效解決。"]
    page = county_page("泰興市召開整改落實推進會", body, charset="gb18030",
                       info="發布時間：2023年5月8日&nbsp;&nbsp;發布機構：泰興市人民政府辦公室")
    art = read_one(write(tmp_path / "c.html", page, "gb18030"))
    assert (art.title, art.date, art.source, art.reporter) == (
        "泰興市召開整改落實推進會", "2023-05-08", "泰興市人民政府辦公室", "王五")
    assert art.body.splitlines() == body
    assert art.id == str(tmp_path / "c.html") and art.url is None


def test_city_layout_in_simplified_utf8_bom(tmp_path):
    """A city page in Simplified, UTF-8 with a BOM and no declared charset, date in 年月日 and 民国 form."""
    body = ["（记者 陈静）台南市政府卫生局今日公布流感疫苗接种安排，各区卫生所自下周一起开放预约。",
            "卫生局提醒，六十五岁以上长者及慢性病患者应尽早接种，减少重症风险。"]
    page = city_page("台南市流感疫苗开放预约", body, charset=None, date_line="发布日期：民国112年10月2日",
                     unit_line="发布单位：台南市政府卫生局", og_url=None)
    art = read_one(write(tmp_path / "d.html", page, "utf-8", codecs.BOM_UTF8))
    assert (art.title, art.date, art.source, art.reporter) == (
        "台南市流感疫苗开放预约", "2023-10-02", "台南市政府卫生局", "陈静")
    assert art.body.splitlines() == body
    assert art.url is None


def test_meta_tags_fill_in_when_the_page_prints_nothing(tmp_path):
    page = county_page("政府常务会议研究部署重点工作", HANS_BODY[1:], info="",
                       meta={"ArticleTitle": "市政府常务会议研究部署重点工作", "PubDate": "2022-12-30 09:00",
                             "ContentSource": "市政府办公室"})
    art = read_one(write(tmp_path / "e.html", page, "utf-8"))
    assert (art.title, art.date, art.source, art.reporter) == (
        "市政府常务会议研究部署重点工作", "2022-12-30", "市政府办公室", None)


def test_broken_html_still_yields_the_article(tmp_path):
    page = ("<meta charset=utf-8><h1>县政府召开防汛工作会议</h1><div class=info>发布时间：2021-07-01 来源：县应急管理局"
            "<div id=zoom><p>（记者 赵六）7月1日，县政府召开防汛工作会议。<p>会议要求各乡镇做好防汛准备，落实值班制度，"
            "确保安全度汛。</b></i></div></div></span><table><tr><td>")
    art = read_one(write(tmp_path / "broken.html", page, "utf-8"))
    assert (art.title, art.date, art.source, art.reporter) == (
        "县政府召开防汛工作会议", "2021-07-01", "县应急管理局", "赵六")
    assert "确保安全度汛" in art.body and "发布时间" not in art.body


@pytest.mark.parametrize(
    "name,data,reason",
    [
        ("empty.html", b"", "empty file"),
        ("blank.htm", b"  \r\n\t", "empty file"),
        ("binary.html", bytes(range(256)) * 8, "binary"),
        ("noise.html", bytes(range(128, 256)) * 40, "cannot decode"),
        ("mojibake.html", county_page("我市召开安全生产工作推进会", HANS_BODY, charset="utf-8")
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
    write(src / "county.html", county_page("我市召开安全生产工作推进会", HANS_BODY), "gbk")
    write(src / "city.htm", city_page("臺南市推動校園食農教育", HANT_BODY), "big5")
    (src / "empty.html").write_bytes(b"")
    (src / "junk.htm").write_bytes(os.urandom(64) + b"\x00")
    summary = run_index(config, [src])
    assert (summary.added, summary.failed) == (2, 2)
    assert sorted(p.split(": ")[0] for p in summary.problems) == [str(src / "empty.html"), str(src / "junk.htm")]
    s = Searcher(config)
    try:
        hit = s.search("食农教育").hits[0]  # Simplified query, Traditional page
        assert (hit.title, hit.date, hit.source) == ("臺南市推動校園食農教育", "2023-05-06", "臺南市政府教育局")
        assert s.search("安全生产大检查").total == 1 and s.search("分享到").total == 0
        assert s.article(hit.id)["reporter"] == "林怡君"
    finally:
        s.close()


def test_cli_lists_failures_and_exits_1(tmp_path):
    src = tmp_path / "src"
    write(src / "good.html", county_page("我市召开安全生产工作推进会", HANS_BODY), "gbk")
    (src / "bad.html").write_bytes(b"\x00\x01binary")
    env = {"NEWSSEARCH_INDEX": str(tmp_path / "ix"), "NEWSSEARCH_USERDICT": str(tmp_path / "none.txt")}
    r = CliRunner(env=env).invoke(main, ["index", "--quiet", str(src)])
    assert r.exit_code == 1
    assert f"error: {src / 'bad.html'}: binary file" in r.output
    assert r.output.strip().splitlines()[-1].startswith("added 1, updated 0, removed 0, unchanged 0, failed 1")


def test_txt_reporter_and_date_from_text(tmp_path):
    text = "泰興市召開推進會\n\n（記者 張倫）2014年9月10日上午，泰興市召開推進會。\n"
    path = write(tmp_path / "taixing.txt", text, "utf-8")
    art = read_one(path)
    assert (art.title, art.date, art.reporter) == ("泰興市召開推進會", "2014-09-10", "張倫")


@pytest.mark.parametrize("name", ["2014-09-10-a.txt", "20140910_a.txt", "a_2014年9月10日.txt"])
def test_txt_date_from_file_name(tmp_path, name):
    art = read_one(write(tmp_path / name, "标题\n正文没有完整日期，只有9月10日。", "utf-8"))
    assert art.date == "2014-09-10" and art.reporter is None


def test_txt_without_a_date_is_not_dated_by_mtime(tmp_path):
    path = write(tmp_path / "note.txt", "标题\n9月10日上午，记者从市教育局获悉。", "gbk")
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
    [(county_page, "5月8日8时至18时，城区部分路段停水，请提前储水。"),
     (city_page, "5月8日城區部分路段停水，請提前儲水。")],
)
def test_short_notices_keep_only_their_text(tmp_path, layout, body):
    art = read_one(write(tmp_path / "n.html", layout("停水通知", [body]), "utf-8"))
    assert art.body == body and art.date == "2023-05-06"
