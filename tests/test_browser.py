"""A real headless Chromium against `newssearch serve` over shared-corpus articles in both scripts.

Uses Debian's chromium (installed by .ci/run), not a Playwright-downloaded browser.
Screenshots go to bench/out/screenshots/ (ignored by git; NEWSSEARCH_SCREENSHOTS=DIR puts them elsewhere);
the path is printed.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from .browser import SHOTS, needs_chromium, no_horizontal_scroll, watch

QUERY = "观光"  # Simplified; the Tainan articles write 觀光
UNIT = "新聞及國際關係處新聞傳播科"

pytestmark = needs_chromium


@pytest.fixture(autouse=True)
def show_where_screenshots_are(capsys):
    yield
    with capsys.disabled():
        print(f"\nscreenshots: {SHOTS}")


def test_search_filter_page_and_open_an_article(browser: Browser, base_url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = watch(page)
    page.goto(base_url + "/")
    box = page.get_by_label("搜索新闻")  # a combobox once suggest.js runs
    expect(box).to_be_focused()
    page.screenshot(path=SHOTS / "1-home.png")

    box.fill(QUERY)
    box.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q="))
    expect(page.get_by_role("status")).to_contain_text("共找到")
    expect(box).to_have_value(QUERY)
    hits = page.locator("li.hit")
    expect(hits).to_have_count(10)
    marks = page.locator(".snippet mark").all_inner_texts()
    assert "觀光" in marks, marks  # Simplified query, Traditional text marked
    style = page.locator(".snippet mark").first.evaluate(
        "m => [getComputedStyle(m).fontWeight, getComputedStyle(m).textDecorationLine]")
    assert style == ["700", "underline"]  # more than colour
    page.screenshot(path=SHOTS / "2-results.png", full_page=True)

    page.locator("#filters").get_by_role("link", name=UNIT, exact=True).click()
    page.wait_for_url(re.compile(r"source="))
    expect(page.get_by_role("list", name="当前筛选条件")).to_contain_text(UNIT)
    metas = page.locator("li.hit .meta").all_inner_texts()
    assert len(metas) == 10 and all(UNIT in m for m in metas), metas
    page.screenshot(path=SHOTS / "3-filtered.png", full_page=True)

    page.get_by_role("navigation", name="结果分页").get_by_role("link", name="下一页").click()
    page.wait_for_url(re.compile(r"page=2"))
    assert page.locator("ol.hits").get_attribute("start") == "11"
    expect(page.get_by_role("link", name="第 2 页（当前）")).to_be_visible()
    title = page.locator("li.hit h2 a").first.inner_text()
    page.screenshot(path=SHOTS / "4-page2.png", full_page=True)

    page.locator("li.hit h2 a").first.click()
    page.wait_for_url(re.compile(r"/article/"))
    expect(page.locator("article h1")).to_have_text(title)
    assert "觀光" in page.locator("article mark").all_inner_texts()
    expect(page.get_by_role("complementary", name="相关文章").get_by_role("link")).not_to_have_count(0)
    page.screenshot(path=SHOTS / "5-article.png", full_page=True)
    assert errors == []
    page.close()


def test_phone_width_has_no_horizontal_scroll(browser: Browser, base_url: str):
    context = browser.new_context(viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    errors = watch(page)
    page.goto(base_url + "/")
    no_horizontal_scroll(page)
    page.screenshot(path=SHOTS / "6-phone-home.png")
    page.goto(f"{base_url}/search?q={QUERY}")
    no_horizontal_scroll(page)
    expect(page.get_by_role("button", name="搜索", exact=True)).to_be_in_viewport()
    page.screenshot(path=SHOTS / "7-phone-results.png")
    page.get_by_role("link", name="筛选 ↓").click()  # the filters come after the results on a phone
    expect(page.get_by_label("开始日期")).to_be_in_viewport()
    page.screenshot(path=SHOTS / "8-phone-filters.png")
    page.locator("li.hit h2 a").first.click()
    page.wait_for_url(re.compile(r"/article/"))
    no_horizontal_scroll(page)
    page.screenshot(path=SHOTS / "9-phone-article.png")
    page.goto(f"{base_url}/search?q={QUERY} 火星基地")
    no_horizontal_scroll(page)
    page.screenshot(path=SHOTS / "10-phone-no-results.png")
    assert errors == []
    context.close()


def test_timeline_bar_narrows_the_dates(browser: Browser, base_url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = watch(page)
    page.goto(f"{base_url}/search?q={QUERY}")
    expect(page.locator("figure.timeline figcaption")).to_contain_text("每年文章数")
    feed = page.locator('link[rel="alternate"][type="application/atom+xml"]').get_attribute("href")
    assert page.get_by_role("link", name="订阅这个搜索（Atom）").get_attribute("href") == feed
    bar = page.locator("a.tl-bar").last  # the latest year with hits
    label = bar.get_attribute("aria-label")  # e.g. "2019：123 篇"
    year, count = label[:4], int(label.split("：")[1].split()[0])
    page.screenshot(path=SHOTS / "11-timeline.png")
    bar.click()
    page.wait_for_url(re.compile(rf"since={year}-01-01.*until={year}-12-31"))
    expect(page.locator("#since")).to_have_value(f"{year}-01-01")
    expect(page.locator("#until")).to_have_value(f"{year}-12-31")
    expect(page.get_by_role("status")).to_contain_text(f"{count:,} 篇")
    expect(page.locator("figure.timeline figcaption")).to_contain_text("每月文章数")
    page.screenshot(path=SHOTS / "12-timeline-year.png")
    assert errors == []
    page.close()


def test_did_you_mean_link_runs_the_suggestion(browser: Browser, base_url: str):
    context = browser.new_context(viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    errors = watch(page)
    page.goto(f"{base_url}/search?q=观光旅油")  # 油 for 游: a pinyin-input typo
    expect(page.get_by_role("status")).to_contain_text("没有找到")
    no_horizontal_scroll(page)
    page.screenshot(path=SHOTS / "13-phone-did-you-mean.png")
    page.locator(".dym a").first.click()
    page.wait_for_url(re.compile(r"q=%E8%A7%82%E5%85%89%E6%97%85%E6%B8%B8"))  # 观光旅游
    expect(page.get_by_role("status")).to_contain_text("共找到")
    expect(page.locator("li.hit .kw a").first).to_be_visible()  # keywords under each result
    no_horizontal_scroll(page)
    page.screenshot(path=SHOTS / "14-phone-suggestion-followed.png", full_page=True)
    assert errors == []
    context.close()


def test_search_box_offers_words_typed_in_pinyin(browser: Browser, base_url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = watch(page)
    page.goto(base_url + "/")
    box = page.get_by_role("combobox", name="搜索新闻")  # the script made the search box a combobox
    box.press_sequentially("guanguang", delay=20)
    options = page.get_by_role("listbox", name="搜索建议").get_by_role("option")
    expect(options.first).to_be_visible()
    assert "观光" in options.all_inner_texts()
    page.screenshot(path=SHOTS / "15-suggest-pinyin.png")
    k = options.all_inner_texts().index("观光")
    for _ in range(k + 1):
        box.press("ArrowDown")
    box.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=%E8%A7%82%E5%85%89(&|$)"))  # 观光 (the scope switch may follow)
    expect(page.get_by_role("status")).to_contain_text("共找到")
    assert errors == []
    page.close()


def test_search_box_without_javascript_is_a_plain_form(browser: Browser, base_url: str):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base_url + "/")
    box = page.get_by_role("searchbox", name="搜索新闻")
    box.fill("guanguang")
    box.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=guanguang"))  # searched as typed: pinyin is never matched to text
    expect(page.get_by_role("status")).to_contain_text("没有找到")
    context.close()
