"""Web security: attack strings in articles and queries are escaped everywhere, hostile links are not
linked, ids cannot reach the file system, responses carry the security headers, sizes are bounded."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest

from indexer.config import Config
from indexer.query import MAX_QUERY_CHARS
from indexer.writer import run_index
from search_ui.params import MAX_LIMIT

from .conftest import write_jsonl

# Each payload carries a marker so a page can be checked for the marker appearing as live markup.
PAYLOADS = [
    '<script>alert("X1")</script>',
    '"><img src=x onerror=alert("X2")>',
    "' onmouseover='alert(\"X3\")' x='",
    '<svg/onload=alert("X4")>',
    '</mark><iframe src="javascript:alert(\'X5\')"></iframe>',
    "{{7*7}}${7*7}<%= 7*7 %>X6",
]
BAD_URLS = ["javascript:alert('X7')", " JaVaScRiPt:alert(1)", "data:text/html,<script>alert('X8')</script>",
            "vbscript:msgbox(1)", "java\tscript:alert(1)"]


def _article(n: int) -> dict:
    p = PAYLOADS[n % len(PAYLOADS)]
    return {"id": f"xss-{n}-{p}", "title": f"防汛整改{n} {p}", "body": f"防汛整改落实 {p} 第{n}条。\n{p}",
            "source": f"水利局{p}", "url": BAD_URLS[n % len(BAD_URLS)], "date": f"20{10 + n}-01-01"}


@pytest.fixture(scope="module")
def site_config(tmp_path_factory):
    d: Path = tmp_path_factory.mktemp("security")
    write_jsonl(d / "src" / "a.jsonl", [_article(n) for n in range(10)] + [
        {"id": "../../../../etc/passwd", "title": "路径测试", "body": "路径穿越测试"},
        {"id": "plain", "title": "普通文章", "body": "整改落实", "url": "https://example.gov.cn/a?b=1&c=<2>"}])
    config = Config.load(d / "ix", d / "no-userdict.txt")
    run_index(config, [d / "src"])
    return config


OUR_SCRIPT = "/static/suggest.js"


class Live(HTMLParser):
    """Collects what a browser would treat as markup: tags, attributes, link targets."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "script" and attrs == [("src", OUR_SCRIPT), ("defer", None)]:
            return  # the site's own static file (search-box suggestions); nothing else may be a script
        self.tags.add(tag)
        self.attrs += [(k, v or "") for k, v in attrs]


def _bad_scheme(url: str) -> bool:
    return re.sub(r"[\s\x00-\x1f]", "", url).lower().startswith(("javascript:", "data:", "vbscript:"))


def _live(html: str) -> Live:
    p = Live()
    p.feed(html)
    return p


def _pages(client) -> dict[str, str]:
    urls = ["/", "/search?q=防汛整改", "/search?q=整改&source=水利局", "/search?q=防汛整改&sort=date",
            "/search?q=整改落实不存在的词", "/feed?q=防汛整改"]
    urls += [f"/search?q={quote(p)}" for p in PAYLOADS] + [f"/search?q=整改+{quote(p)}" for p in PAYLOADS]
    urls += [f"/article/{quote(_article(n)['id'], safe='')}?q={quote(PAYLOADS[n % 6])}" for n in range(10)]
    return {u: client.get(u) for u in urls}


def test_payloads_are_escaped_in_every_page(client) -> None:
    for url, r in _pages(client).items():
        assert r.status_code in (200, 400), url
        html = r.get_data(as_text=True)
        live = _live(html)
        assert not live.tags & {"script", "iframe", "img"}, url  # (the site's own timeline is an inline <svg>)
        assert not [k for k, _ in live.attrs if k.startswith("on")], url
        assert not [v for k, v in live.attrs if k in ("href", "src", "action") and _bad_scheme(v)], url
        if "X6" in html:
            assert "{{7*7}}" in html and "X6" in html, url  # shown as written, not evaluated


def test_hostile_urls_are_never_linked(client) -> None:
    for n in range(5):
        html = client.get(f"/article/{quote(_article(n)['id'], safe='')}").get_data(as_text=True)
        assert "原文链接" not in html  # the original link is left out, not shown as a dead or live link
        assert not [v for k, v in _live(html).attrs if k in ("href", "src") and _bad_scheme(v)]
    html = client.get("/article/plain").get_data(as_text=True)
    assert 'href="https://example.gov.cn/a?b=1&amp;c=&lt;2&gt;"' in html


def test_json_is_json(client) -> None:
    """The API may carry the payloads as text, but only as JSON strings, never as a page."""
    for url in ["/api/search?q=防汛整改", f"/api/search?q={quote(PAYLOADS[0])}",
                f"/api/article/{quote(_article(0)['id'], safe='')}", "/api/article/nope"]:
        r = client.get(url)
        assert r.mimetype == "application/json" and r.headers["X-Content-Type-Options"] == "nosniff", url
        json.loads(r.get_data(as_text=True))
    hits = client.get("/api/search?q=防汛整改&limit=20").get_json()["hits"]
    assert hits and all("<script" not in h["snippet"] and "<img" not in h["snippet"] for h in hits)


@pytest.mark.parametrize("path", [
    "/article/..%2F..%2F..%2F..%2Fetc%2Fpasswd", "/article/../../etc/passwd", "/article/%2e%2e/%2e%2e/etc/passwd",
    "/static/../../../../etc/passwd", "/static/..%2F..%2Fpyproject.toml", "/static/%2e%2e/web.py",
    "/api/article/..%2F..%2F..%2Fetc%2Fpasswd", "/article/%00", "/article/file:%2F%2F%2Fetc%2Fpasswd",
])
def test_ids_cannot_reach_files(client, path: str) -> None:
    r = client.get(path)
    body = r.get_data(as_text=True)
    assert r.status_code in (200, 308, 404) and "root:" not in body and "[project]" not in body and "def " not in body
    if r.status_code == 200:  # only the indexed article whose id is that odd string
        assert "路径穿越测试" in body


def test_security_headers_on_every_kind_of_response(client) -> None:
    for url in ["/", "/search?q=整改", "/search?q=%22", "/api/search?q=整改", "/api/search?q=%22", "/article/nope",
                "/static/style.css", "/opensearch.xml", "/feed?q=整改", "/no-such-page"]:
        h = client.get(url).headers
        csp = h["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self';" in csp and "unsafe" not in csp, url
        assert h["X-Content-Type-Options"] == "nosniff" and h["Referrer-Policy"], url


def test_sizes_are_bounded(client) -> None:
    long_q = "整改" * MAX_QUERY_CHARS
    for url in (f"/api/search?q={long_q}", f"/search?q={long_q}", f"/api/search?q=整改&limit={MAX_LIMIT + 1}",
                "/api/search?q=整改&limit=0", "/api/search?q=整改&page=1001", "/api/search?q=整改&limit=-1",
                "/api/search?q=" + "+".join(["整改"] * 40)):
        r = client.get(url)
        assert r.status_code == 400, url
    r = client.get(f"/api/search?q=整改&limit={MAX_LIMIT}")
    assert r.status_code == 200 and len(r.get_json()["hits"]) <= MAX_LIMIT
    r = client.post("/search?q=整改", data=b"x" * (2 << 20))
    assert r.status_code in (405, 413)
