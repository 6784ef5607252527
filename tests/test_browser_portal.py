"""The portal features in a real headless Chromium: 高级检索, scope, refine, jump, CSV link, large text, timeline
labels on a phone, and axe-core's accessibility checks on every kind of page (tests/browser.py says where axe
comes from). Screenshots at 375 px and 1280 px go to NEWSSEARCH_SCREENSHOTS (default bench/out/screenshots/).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from .browser import SHOTS, axe_findings, axe_source, needs_chromium, no_horizontal_scroll, watch

pytestmark = needs_chromium
QUERY = "观光"  # Simplified; the Tainan articles write 觀光
UNIT = "新聞及國際關係處新聞傳播科"
PHONE = {"viewport": {"width": 375, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}


def total(page: Page, base_url: str, **args: str) -> int:
    return page.request.get(f"{base_url}/api/search", params={**args, "limit": "1"}).json()["total"]


def shown_total(page: Page) -> int:
    text = page.get_by_role("status").locator("strong").inner_text()
    return int(text.replace(",", ""))


def args_of(page: Page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


# (form fields to fill, the query they must build)
ADVANCED = [
    ({"包含以下全部词语": "观光 活动"}, "观光 活动"),
    ({"包含完整短语": "观光旅游"}, '"观光旅游"'),
    ({"包含以下任意一个词语": "观光 夜市"}, "观光 OR 夜市"),
    ({"包含以下全部词语": "观光", "不包含以下词语": "活动 工厂"}, "观光 -活动 -工厂"),
]


def test_advanced_search_builds_the_query_for_each_field(browser: Browser, base_url: str):
    page = browser.new_page(**DESKTOP)
    errors = watch(page)
    for fields, expected in ADVANCED:
        page.goto(base_url + "/advanced")
        for label, value in fields.items():
            page.get_by_label(label).fill(value)
        page.get_by_role("button", name="检索", exact=True).click()
        page.wait_for_url(re.compile(r"/search\?"))
        assert args_of(page)["q"] == expected
        expect(page.get_by_label("搜索新闻", exact=True)).to_have_value(expected)
        expect(page.locator(".built code")).to_have_text(expected)  # the syntax, shown to learn from
        assert shown_total(page) == total(page, base_url, q=expected) > 0

    # Title only, a unit from the offered list, a custom date range: all become filters of the same search.
    page.goto(base_url + "/advanced")
    page.get_by_label("包含以下全部词语").fill(QUERY)
    page.get_by_label("仅标题").check()
    assert UNIT in page.locator("#adv-units option").evaluate_all("os => os.map(o => o.value)")
    page.get_by_label("发布单位名称含").fill(UNIT)
    page.get_by_label("开始日期").fill("2019-01-01")
    page.get_by_label("结束日期").fill("2020-12-31")
    page.get_by_role("button", name="检索", exact=True).click()
    page.wait_for_url(re.compile(r"/search\?"))
    args = args_of(page)
    assert args == {"q": QUERY, "scope": "title", "source": UNIT, "since": "2019-01-01", "until": "2020-12-31",
                    "from": "advanced"}
    assert shown_total(page) == total(page, base_url, **{k: v for k, v in args.items() if k != "from"}) > 0
    titles = page.locator("li.hit h2").all_inner_texts()
    assert titles and all("观光" in t or "觀光" in t for t in titles), titles
    metas = page.locator("li.hit .meta").all_inner_texts()
    assert all(UNIT in m and m[:4] in ("2019", "2020") for m in metas), metas
    expect(page.get_by_role("list", name="当前筛选条件")).to_contain_text("仅在标题中查找")
    page.screenshot(path=SHOTS / "portal-advanced-results-1280.png", full_page=True)

    # A preset counts back from today; only excluded words is refused, in Chinese, with the form kept.
    page.goto(base_url + "/advanced")
    page.get_by_label("包含以下全部词语").fill(QUERY)
    page.get_by_label("近一年").check()
    page.get_by_role("button", name="检索", exact=True).click()
    page.wait_for_url(re.compile(r"/search\?"))
    assert args_of(page)["since"] == (dt.date.today() - dt.timedelta(days=365)).isoformat()
    page.goto(base_url + "/advanced")
    page.get_by_label("不包含以下词语").fill("活动")
    page.get_by_role("button", name="检索", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("请至少")
    expect(page.get_by_label("不包含以下词语")).to_have_value("活动")
    assert errors == []
    page.close()


def test_scope_refine_jump_and_export_keep_the_filters(browser: Browser, base_url: str):
    page = browser.new_page(**DESKTOP)
    errors = watch(page)
    page.goto(f"{base_url}/search?q={QUERY}&source={UNIT}")
    page.get_by_role("search").first.get_by_label("标题").check()
    page.get_by_role("button", name="搜索", exact=True).click()
    page.wait_for_url(re.compile(r"scope=title"))
    assert args_of(page)["source"] == UNIT  # a new search from the box keeps the filters
    assert shown_total(page) == total(page, base_url, q=QUERY, scope="title", source=UNIT)

    box = page.get_by_label("搜索新闻", exact=True)
    box.fill("观光 旅游")
    box.press("Enter")
    page.wait_for_url(re.compile(r"q=%E8%A7%82%E5%85%89\+%E6%97%85%E6%B8%B8"))
    assert args_of(page)["source"] == UNIT and args_of(page)["scope"] == "title"

    page.goto(f"{base_url}/search?q={QUERY}&source={UNIT}&sort=date-asc")
    before = shown_total(page)
    page.get_by_label("在结果中搜索的词").fill("活动")
    page.get_by_role("button", name="在结果中搜索").click()
    page.wait_for_url(re.compile(r"q=%E8%A7%82%E5%85%89\+%E6%B4%BB%E5%8A%A8"))
    assert args_of(page) == {"q": f"{QUERY} 活动", "source": UNIT, "sort": "date-asc"}
    assert 0 < shown_total(page) < before
    dates = [m[:10] for m in page.locator("li.hit .meta").all_inner_texts()]
    assert dates == sorted(dates), dates  # oldest first

    pages = int(page.locator("#jump-page").get_attribute("max"))
    page.get_by_label("跳到第").fill(str(pages))
    page.get_by_role("button", name="跳转").click()
    page.wait_for_url(re.compile(rf"page={pages}"))
    expect(page.get_by_role("link", name=f"第 {pages} 页（当前）")).to_be_visible()
    assert args_of(page)["source"] == UNIT

    related = page.get_by_role("navigation", name="相关搜索").get_by_role("link")
    expect(related.first).to_be_visible()
    narrowed = related.first.inner_text()
    assert narrowed.startswith(f"{QUERY} 活动 ")

    href = page.get_by_role("link", name="导出 CSV").get_attribute("href")
    response = page.request.get(base_url + href)
    assert response.headers["content-type"].startswith("text/csv")
    body = response.body()
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["id", "title", "date", "source", "url", "score", "snippet"]
    assert len(rows) - 1 == total(page, base_url, q=f"{QUERY} 活动", source=UNIT)
    assert all(UNIT in r[3] and "<mark>" not in r[6] for r in rows[1:])
    assert errors == []
    page.close()


def test_large_text_persists_without_javascript(browser: Browser, base_url: str):
    context = browser.new_context(java_script_enabled=False, **PHONE)
    page = context.new_page()
    page.goto(f"{base_url}/search?q={QUERY}")
    normal = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    page.get_by_role("link", name="大字版").click()
    page.wait_for_url(re.compile(r"/search\?q="))  # back where it was
    large = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert large >= normal * 1.2
    page.locator("li.hit h2 a").first.click()
    page.wait_for_url(re.compile(r"/article/"))
    assert page.evaluate("document.documentElement.className") == "large"  # every page, from the cookie
    no_horizontal_scroll(page)
    page.screenshot(path=SHOTS / "portal-large-article-375.png", full_page=True)
    page.get_by_role("link", name="标准字号").click()
    page.wait_for_url(re.compile(r"/article/"))
    assert page.evaluate("document.documentElement.className") == ""
    context.close()


def visible_ticks(page: Page) -> list[dict]:
    return page.locator("svg.tl-chart text").evaluate_all(
        """ts => ts.filter(t => getComputedStyle(t).display !== 'none').map(t => {
             const r = t.getBoundingClientRect();
             return {text: t.textContent, left: r.left, right: r.right, top: r.top, height: r.height};
           })""")


@pytest.mark.parametrize("span", [("2019-01-01", "2020-12-31"), (None, None)], ids=["months", "years"])
def test_timeline_labels_are_readable_on_a_phone_and_name_months_on_a_desktop(browser: Browser, base_url: str,
                                                                                 span):
    since, until = span
    dates = f"&since={since}&until={until}" if since else ""
    for name, options in (("375", PHONE), ("1280", DESKTOP)):
        context = browser.new_context(**options)
        page = context.new_page()
        page.goto(f"{base_url}/search?q={QUERY}{dates}")
        ticks = visible_ticks(page)
        assert len(ticks) >= 3, ticks
        assert all(t["height"] >= 12 for t in ticks), ticks  # px on screen, not SVG units
        for row in {round(t["top"]) for t in ticks}:
            line = sorted((t for t in ticks if round(t["top"]) == row), key=lambda t: t["left"])
            assert all(a["right"] <= b["left"] for a, b in zip(line, line[1:], strict=False)), line  # no overlap
        if since and name == "1280":
            assert sum("月" in t["text"] for t in ticks) >= 6  # months, not only years
        page.locator("figure.timeline").screenshot(path=SHOTS / f"portal-timeline-{'months' if since else 'years'}"
                                                                f"-{name}.png")
        context.close()


PAGES = [("home", "/"), ("results", f"/search?q={QUERY}&source={UNIT}"), ("article", None),
         ("advanced", "/advanced")]


@pytest.mark.parametrize("width", ["375", "1280"])
def test_axe_finds_nothing_serious_on_any_page(browser: Browser, base_url: str, width: str):
    source = axe_source()
    context = browser.new_context(bypass_csp=True, **(PHONE if width == "375" else DESKTOP))
    page = context.new_page()
    errors = watch(page)
    findings = {}
    for name, path in PAGES:
        if path is None:  # the first hit of the results page
            page.locator("li.hit h2 a").first.click()
            page.wait_for_url(re.compile(r"/article/"))
        else:
            page.goto(base_url + path)
        no_horizontal_scroll(page)
        page.screenshot(path=SHOTS / f"portal-{name}-{width}.png", full_page=True)
        findings[name] = axe_findings(page, source)
        if name == "results":
            page.get_by_role("link", name="大字版").click()  # large text: the same checks
            page.wait_for_url(re.compile(r"/search\?"))
            no_horizontal_scroll(page)
            findings["results, large text"] = axe_findings(page, source)
            page.screenshot(path=SHOTS / f"portal-results-large-{width}.png", full_page=True)
            page.get_by_role("link", name="标准字号").click()
            page.wait_for_url(re.compile(r"/search\?"))
    assert all(not f for f in findings.values()), findings
    assert errors == []
    context.close()
