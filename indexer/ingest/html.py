"""Saved government news pages (.html/.htm) → articles.

trafilatura finds the main text; our own rules read what Chinese government
sites print around it, in both scripts: the info line
(``发布时间：2023-05-06 10:21  来源：市政府办公室``, ``發布日期：112-05-06`` in
ROC years, ``發布單位``/``发布机构``), the standard ``ArticleTitle``/``PubDate``/
``ContentSource`` meta tags, reporter credits and the canonical URL. Navigation,
headers, footers and share/print bars are cut before extraction, and the info
line is kept out of the body. Nothing here touches the network.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from ..errors import IngestError
from .article import Article
from .decode import decode_bytes, sniff_declared
from .readers import HEAD_CHARS, FileResult, date_in, read_source, reader, reporter_in, valid_date

_SP = r"[ \t\u3000\xa0]*"
_DATE_LABEL = (
    r"发布时间|发布日期|發布時間|發布日期|发表时间|發表時間|发文日期|發文日期|成文日期|上稿時間|上稿日期|公告日期"
)
_SOURCE_LABEL = r"发布机构|發布機構|发布单位|發布單位|信息来源|資料來源|文章来源|文章來源|稿件来源|来源|來源"
_OTHER_LABEL = (
    r"更新日期|更新時間|更新时间|修改日期|作者|编辑|編輯|责任编辑|責任編輯|浏览|瀏覽|点击|點擊|阅读|閱讀|字体|字號|字号"
    r"|分享|打印|列印|访问|訪問|人气|人氣|次数|次數|日期|时间|時間|发布|發布|索引号|索引號|文号|文號"
)
_INFO_LABEL = (
    r"更新日期|更新時間|更新时间|修改日期|浏览次数|瀏覽次數|点击数|點擊數|點閱次數|点击率|字体|字體|(?<!文)字號|(?<!文)字号"
)
_DATE_VALUE = r"(?P<roc>民國|民国)?(?P<y>\d{2,4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})"
_LABELED_DATE = (
    re.compile(rf"(?:{_DATE_LABEL}){_SP}[:：]{_SP}{_DATE_VALUE}"),
    re.compile(rf"(?<![更修新改止至名])(?:日期|时间|時間){_SP}[:：]{_SP}{_DATE_VALUE}"),
)
_LABELED_SOURCE = re.compile(
    rf"(?:{_SOURCE_LABEL}){_SP}[:：]{_SP}(?P<v>[^\s|｜丨【】\[\]:：]{{2,40}}?)"
    rf"(?=[\s|｜丨【】\[\]]|$|(?:{_DATE_LABEL}|{_SOURCE_LABEL}|{_OTHER_LABEL}){_SP}[:：])"
)
# Lines of the page chrome that extraction sometimes keeps.
_CHROME_LINE = re.compile(
    rf"^{_SP}(?:.{{0,30}}(?:{_INFO_LABEL}){_SP}[:：]"
    r"|【?(?:打印本页|打印|列印|关闭窗口|關閉視窗|關閉|返回顶部|回到頁首)】?|分享到|當前位置|当前位置|您现在的位置|上一篇|下一篇)"
)
# An info line that survived: a date label and a source label on one short line.
_INFO_LINE = re.compile(rf"(?:{_DATE_LABEL}){_SP}[:：].*(?:{_SOURCE_LABEL}){_SP}[:：]|"
                        rf"(?:{_SOURCE_LABEL}){_SP}[:：].*(?:{_DATE_LABEL}){_SP}[:：]")
_CHROME_CLASS = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|menu|header|top|topbar|footer|foot|bottom|share|bdshare|bshare|jiathis|fenxiang"
    r"|breadcrumb|crumb|path|position|location|weizhi|dqwz|sidebar|side|print|toolbar|tools|related|xgxx|xglj|copyright"
    r"|search|login|banner)(?:$|[\s_-])",
    re.IGNORECASE,
)
_CHROME_TAGS = ("nav", "header", "footer", "aside", "script", "style", "noscript", "form", "iframe", "select")
_BLOCK = {"p", "div", "li", "tr", "td", "th", "br", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "dd", "dt"}


@reader(".html", ".htm")
def read_html(path: Path, key: str) -> FileResult:
    raw = read_source(path)
    text, _enc = decode_bytes(raw, sniff_declared(raw))
    return FileResult(key, [parse_page(text, key)])


def _document(page: str):
    """lxml's tree of a page; ValueError when it is not one.

    lxml is imported here, on the first page (~30 ms): a cron run that reads only JSON files never needs it.
    """
    import lxml.html
    from lxml import etree

    try:
        return lxml.html.document_fromstring(page)
    except etree.ParserError as exc:
        raise ValueError(str(exc)) from exc


def parse_page(page: str, file: str) -> Article:
    """One article from a decoded HTML page; IngestError when the page has no article text."""
    try:
        tree = _document(page)
    except ValueError as exc:
        raise IngestError(f"not an HTML page: {exc}") from exc
    meta = _meta(tree)
    url = _canonical(tree, meta)
    info = "\n".join(_lines(tree))
    title = _title(tree, meta)
    date = _date(info, meta) or _markup_date(page)
    _drop_info_lines(tree)
    _strip_chrome(tree)
    body = _clean_body(_extract(tree)) or _clean_body("\n".join(_lines(tree)))
    if title and body.startswith(title):
        body = body[len(title):].lstrip()
    if not body and not title:
        raise IngestError("no article text in page")
    return Article(
        id=url or file,
        title=title or body[:40],
        body=body,
        date=date,
        source=_source(info, meta),
        url=url,
        reporter=reporter_in(body[:HEAD_CHARS]) or reporter_in(info),
        file=file,
    )


def _meta(tree) -> dict[str, str]:
    """name/property (lower case) → content of the page's meta tags."""
    out: dict[str, str] = {}
    for m in tree.iter("meta"):
        key = (m.get("name") or m.get("property") or "").strip().lower()
        value = (m.get("content") or "").strip()
        if key and value and key not in out:
            out[key] = value
    return out


def _canonical(tree, meta: dict[str, str]) -> str | None:
    for link in tree.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split():
            href = (link.get("href") or "").strip()
            if href.startswith(("http://", "https://")):
                return href
    og = meta.get("og:url", "")
    return og if og.startswith(("http://", "https://")) else None


def _lines(tree) -> list[str]:
    """The page's visible text, one line per block element."""
    parts: list[str] = []
    body = tree.find("body")
    root = body if body is not None else tree
    from lxml import etree  # loaded by _document

    for event, el in etree.iterwalk(root, events=("start", "end")):
        if not isinstance(el.tag, str) or el.tag in ("script", "style", "noscript"):
            if event == "end" and el.tail:
                parts.append(el.tail)
            continue
        if event == "start":
            if el.tag in _BLOCK:
                parts.append("\n")
            if el.text:
                parts.append(el.text)
        else:
            if el.tag in _BLOCK:
                parts.append("\n")
            if el.tail:
                parts.append(el.tail)
    text = "".join(parts).replace("\xa0", " ")
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def _title(tree, meta: dict[str, str]) -> str | None:
    """The headline: ArticleTitle/og:title meta, else the longest heading that the <title> contains,
    else the page's only <h1>, else the longest part of the <title> ("标题_某某市人民政府")."""
    for key in ("articletitle", "og:title"):
        if meta.get(key):
            return _squash(meta[key])
    page_title = _squash(tree.findtext(".//title") or "")
    best = ""
    for el in tree.iter("h1", "h2", "h3", "h4"):
        text = _squash(el.text_content())
        if len(text) > len(best) and len(text) >= 4 and text in page_title:
            best = text
    if best:
        return best
    h1 = [_squash(el.text_content()) for el in tree.iter("h1")]
    h1 = [t for t in h1 if len(t) >= 4]
    if len(h1) == 1:
        return h1[0]
    parts = re.split(r"\s*(?:[_|｜—－–]|--?)\s*", page_title)
    return max(parts, key=len) or None


def _squash(text: str) -> str:
    """Whitespace runs become one space; a lone ideographic space (common in headlines) stays."""
    return re.sub(r"\s+", lambda m: m[0] if m[0] == "\u3000" else " ", text).strip()


def _own_text(el) -> str:
    """Text of `el` and its inline descendants, without nested blocks."""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str) and child.tag not in _BLOCK:
            parts.append(child.text_content())
        parts.append(child.tail or "")
    return "".join(parts)


def _drop_info_lines(tree) -> None:
    """Remove the first block printing a labeled date and the first printing a source (the info line).

    In a list (``<ul class=info><li>發布日期…``) the whole short list goes; a
    block that also holds content (broken HTML) loses only its own text.
    """
    found: set[int] = set()
    candidates: dict = {}  # elements holding a text node with a colon, in document order
    for node in tree.xpath("//body//text()[contains(., '：') or contains(., ':')]"):
        el = node.getparent()
        if node.is_tail:
            el = el.getparent()
        if el is not None:
            candidates.setdefault(el, None)
    for el in candidates:
        if el.tag in ("body", "script", "style"):
            continue
        own = _own_text(el)
        if len(own) > 200:
            continue
        hits = {i for i, pat in enumerate((*_LABELED_DATE[:1], _LABELED_SOURCE)) if i not in found and pat.search(own)}
        if not hits:
            continue
        found |= hits
        parent = el.getparent()
        if parent is None:
            continue  # inside a block dropped already
        if el.tag in ("li", "dd", "dt", "td") and len(parent.text_content()) < 300:
            if parent.getparent() is not None:
                parent.drop_tree()
        elif any(isinstance(c.tag, str) and c.tag in _BLOCK for c in el):
            el.text = None
            for child in [c for c in el if not (isinstance(c.tag, str) and c.tag in _BLOCK)]:
                child.drop_tree()
        else:
            el.drop_tree()
        if len(found) == 2:
            return


def _strip_chrome(tree) -> None:
    """Drop navigation, headers, footers, share and print bars before extraction.

    A class name is only a hint: an element holding over half the page's text,
    paragraphs included, is the content (some sites wrap everything in
    ``<div id="top">``) and stays.
    """
    total = len(tree.text_content())
    doomed = [el for el in tree.iter(*_CHROME_TAGS)]
    for el in tree.iter():
        if not isinstance(el.tag, str) or el.tag in ("html", "body"):
            continue
        marks = f"{el.get('class') or ''} {el.get('id') or ''}".strip()
        if marks and _CHROME_CLASS.search(marks) and not _is_content(el, total):
            doomed.append(el)
    for el in doomed:
        parent = el.getparent()
        if parent is not None:
            el.drop_tree()


def _is_content(el, total: int) -> bool:
    return len(el.text_content()) * 2 > total and any(len(t.strip()) >= 40 for t in el.itertext())


@lru_cache(maxsize=1)
def _config():
    from trafilatura.settings import use_config

    config = use_config()
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")
    # 250 characters (the default) is a short English page but a long Chinese notice: below the
    # threshold trafilatura falls back to coarser extractors that keep the info line and chrome.
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "60")
    return config


def _extract(tree) -> str:
    """The main text as trafilatura sees it (metadata is ours: its extraction costs half the time)."""
    from trafilatura import bare_extraction

    doc = bare_extraction(tree, include_comments=False, include_tables=True, config=_config())
    return (doc.text or "") if doc is not None else ""


def _markup_date(page: str) -> str | None:
    """A date from the page's markup (<time>, JSON-LD, dated URLs) by htmldate, never guessed from text.

    htmldate gets a parsed tree: given a string that looks like a URL it would download it.
    """
    from htmldate import find_date

    try:
        return find_date(_document(page), extensive_search=False, original_date=True)
    except ValueError:
        return None


def _clean_body(text: str) -> str:
    lines = [ln.strip() for ln in text.replace("\xa0", " ").splitlines()]
    return "\n".join(ln for ln in lines if ln and not (len(ln) < 80 and _is_chrome(ln)))


def _is_chrome(line: str) -> bool:
    return bool(_CHROME_LINE.match(line) or _INFO_LINE.search(line))


def _date(info: str, meta: dict[str, str]) -> str | None:
    """The publication date from the info line (ROC years too), else from PubDate-style meta tags."""
    for pattern in _LABELED_DATE:
        for m in pattern.finditer(info):
            year = int(m["y"])
            if m["roc"] or year < 1000:
                year += 1911
            if date := valid_date(year, int(m["m"]), int(m["d"])):
                return date
    for key in ("pubdate", "publishdate", "article:published_time", "firstpublishedtime", "dc.date"):
        if meta.get(key) and (date := date_in(meta[key])):
            return date
    return None


def _source(info: str, meta: dict[str, str]) -> str | None:
    """The publishing unit (发布机构 / 發布單位 / 来源), else the ContentSource meta tag."""
    m = _LABELED_SOURCE.search(info)
    if m:
        return m["v"]
    return meta.get("contentsource") or None
