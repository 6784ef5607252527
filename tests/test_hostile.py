"""Hostile input, generated with hypothesis: files the indexer must survive, queries everything must answer.

Files: random bytes, wrong and mixed encodings, huge lines, deeply nested or unclosed
HTML, JSON with wrong types, zero-width and control characters, lone surrogates in
JSON escapes. `run_index` may only raise `indexer.errors` exceptions, and every valid
article in the batch (including valid lines inside hostile JSONL files) is indexed.

Queries: unbalanced quotes and brackets, operators alone, unknown fields, 10,000
characters, mixed scripts, emoji, SQL and regex metacharacters — through
`Searcher.search`, the CLI (exit 0 or 2, never a traceback) and the web (never a 500).

The default run tries 100 batches of files (about 330 files) and 150 queries
(HOSTILE_FILE_EXAMPLES, HOSTILE_QUERY_EXAMPLES); ``pytest -m slow`` runs 1,000 of
each. Each test prints how many files or queries it ran.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.config import Config
from indexer.errors import NewssearchError, QueryError
from indexer.search import Searcher
from indexer.writer import run_index
from search_ui.cli import main
from search_ui.web import create_app

from .conftest import HANS, HANT, corpus_records, write_jsonl

FILE_EXAMPLES = int(os.environ.get("HOSTILE_FILE_EXAMPLES", "100"))  # about 3 files each
QUERY_EXAMPLES = int(os.environ.get("HOSTILE_QUERY_EXAMPLES", "150"))
SLOW_EXAMPLES = 1000
SUFFIXES = [".txt", ".json", ".jsonl", ".html", ".htm"]
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u202e\u202d\u00ad\u034f\u180e"
CONTROL = "".join(map(chr, [*range(0x20), 0x7F, 0x85, 0x2028, 0x2029]))
SCRIPTS = "整改落實防汛演练臺南市政府新聞한국어العربيةрусскийελληνικάहिन्दी" + "😀🚒🏛️👩‍👩‍👧🇹🇼" + "\u0301\u20dd"
ENCODINGS = ["utf-8", "utf-8-sig", "gb18030", "gbk", "big5", "big5hkscs", "utf-16", "utf-16-be", "utf-32",
             "shift_jis", "euc-kr", "latin-1", "cp1252", "koi8-r", "hz"]
SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                                        HealthCheck.large_base_example]}


def _sentences() -> list[str]:
    recs = corpus_records(HANS, 40) + corpus_records(HANT, 40)
    return [line for r in recs for line in r["body"].split("\n") if 10 <= len(line) <= 200][:200]


sentence = st.deferred(lambda: st.sampled_from(_sentences()))  # the corpus is read once, when first drawn
odd_text = st.text(st.sampled_from(ZERO_WIDTH + CONTROL + SCRIPTS + "<>&\"'\\/{}[]()"), max_size=40)
salted = st.tuples(sentence, odd_text, st.integers(0, 200)).map(lambda t: t[0][:t[2]] + t[1] + t[0][t[2]:])


# ---- files ---------------------------------------------------------------------------------------------------

def _encode(text: str, enc: str) -> bytes:
    return text.encode(enc, errors="replace")


random_bytes = st.binary(max_size=3000)
wrong_encoding = st.tuples(salted, st.sampled_from(ENCODINGS)).map(lambda t: _encode(t[0], t[1]))
mixed_encodings = st.lists(wrong_encoding, min_size=2, max_size=5).map(b"\n".join)
huge_line = st.tuples(st.sampled_from(["长", "x", "整改 ", "\u200b", "<p>", "a\x00"]),
                      st.integers(10_000, 300_000)).map(lambda t: (t[0] * (t[1] // len(t[0]))).encode())
TAGS = ["div", "p", "span", "table", "tr", "td", "ul", "li", "b", "i", "a", "font", "article", "script", "style",
        "iframe", "svg", "math", "template", "textarea", "title", "noscript", "select", "frameset"]
tag = st.sampled_from(TAGS)
html_bits = st.one_of(
    tag.map(lambda t: f"<{t}>"), tag.map(lambda t: f"</{t}>"), salted,
    st.sampled_from(["<!--", "-->", "<![CDATA[", "]]>", "<!DOCTYPE", "<?xml version='1.0' encoding='big5'?>",
                     '<meta charset="x-unknown">', '<meta charset="utf-16">', '<meta http-equiv="Content-Type" '
                     'content="text/html; charset=gb2312">', "&#xD800;", "&#0;", "&#x110000;", "&nbsp;" * 50,
                     '<a href="javascript:alert(1)">', '<img src=x onerror=alert(1)>', '<div class="',
                     "<title>标题</title>", "<h1>", "发布时间：2023-05-06 来源：市政府办公室", "<br" * 200]),
)
nested_html = st.tuples(tag, st.integers(100, 20_000), salted).map(
    lambda t: f"<html><body>{('<' + t[0] + '>') * t[1]}{t[2]}")
unclosed_html = st.lists(html_bits, max_size=60).map("".join)
html_file = st.tuples(st.one_of(nested_html, unclosed_html), st.sampled_from(ENCODINGS)).map(
    lambda t: _encode(t[0], t[1]))
json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), odd_text, salted),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
FIELDS = ["id", "title", "body", "content", "date", "source", "url", "reporter"]
json_record = st.one_of(json_value, st.dictionaries(st.sampled_from(FIELDS), json_value, max_size=8))
surrogate_text = st.text(st.one_of(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
                                   st.sampled_from("整改落實防汛")), min_size=1, max_size=20)
surrogate_record = st.fixed_dictionaries({"id": surrogate_text, "title": surrogate_text, "body": surrogate_text})
deep_json = st.integers(1000, 200_000).map(lambda n: "[" * n + "]" * n)


json_text = st.one_of(
    json_record.map(json.dumps),  # NaN and Infinity included, as Python writes them
    surrogate_record.map(json.dumps),  # ensure_ascii: lone surrogates become "\ud800" escapes
    st.lists(json_record, max_size=5).map(json.dumps),
    deep_json,
    st.integers(4000, 6000).map(lambda n: '{"title": 1' + "0" * n + "}"),  # more digits than int() takes
)
hostile_file = st.one_of(
    st.tuples(st.sampled_from(SUFFIXES), st.one_of(random_bytes, wrong_encoding, mixed_encodings, huge_line)),
    st.tuples(st.sampled_from([".html", ".htm"]), html_file),
    st.tuples(st.sampled_from([".json", ".jsonl"]), json_text.map(str.encode)),
)
# JSON lines that are each wrong but readable text: a valid record after them must still be indexed.
# (A file that is not text at all is reported and skipped whole: the decoder never guesses.)
bad_lines = st.lists(json_text, min_size=1, max_size=6).map(lambda x: "\n".join(x).encode())
valid_record = st.tuples(salted, st.lists(salted, min_size=1, max_size=3).map("\n".join))


Record = tuple[str, str]  # title, body
# A hostile file, and a valid record to append to it as a last JSONL line (None: leave it as it is).
Batch = tuple[list[tuple[str, bytes, Record | None]], list[Record]]


@st.composite
def batch(draw) -> Batch:
    """Hostile files (some JSONL ones ending in a valid record), plus a file of valid records."""
    files = [(f"f{n}{suffix}", data, None) for n, (suffix, data) in
             enumerate(draw(st.lists(hostile_file, min_size=1, max_size=6)))]
    for n, data in enumerate(draw(st.lists(bad_lines, max_size=2))):
        files.append((f"lines{n}.jsonl", data, draw(valid_record)))
    return files, draw(st.lists(valid_record, min_size=1, max_size=3))


class Batches:
    """Writes each example to its own folder and indexes it incrementally, 8 runs to an index.

    (Whoosh merges small segments at every commit: one index for hundreds of runs
    would spend most of the time merging.)
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.runs = self.files = self.valid = self.problems = 0
        self.folders = itertools.count()

    def check(self, example: Batch) -> None:
        # Hypothesis seeds `random` alike for every example, and Whoosh names new segments with it:
        # run 2 would then write over run 1's segment files. A real run is a fresh process.
        random.seed()
        files, valid = example
        n = next(self.folders)
        self.config = Config.load(self.root / f"ix{n // 8}", self.root / "no-userdict.txt")
        folder = self.root / f"b{n}"
        folder.mkdir()
        ids = []
        for name, data, tail in files:
            if tail:
                ids.append(f"{folder.name}/{name}")
                data += b"\n" + json.dumps({"id": ids[-1], "title": tail[0], "body": tail[1]}).encode()
            (folder / name).write_bytes(data)
        lines = []
        for k, (title, body) in enumerate(valid):
            ids.append(f"{folder.name}/valid{k}")
            lines.append(json.dumps({"id": ids[-1], "title": title, "body": body}))  # escaped: plain ASCII
        (folder / "valid.jsonl").write_text("\n".join(lines), encoding="utf-8")
        try:
            summary = run_index(self.config, [folder])
        except NewssearchError as exc:
            pytest.fail(f"a whole run failed on hostile input: {exc}")
        self.runs += 1
        self.files += len(files)
        self.problems += len(summary.problems)
        s = Searcher(self.config)
        try:
            for aid in ids:
                s.article(aid)  # ArticleNotFound fails the example
            self.valid += len(ids)
        finally:
            s.close()


def _run_files(tmp_path: Path, capsys, examples: int) -> None:
    b = Batches(tmp_path)

    @settings(max_examples=examples, **SETTINGS)
    @given(batch())
    def prop(example: Batch) -> None:
        b.check(example)

    prop()
    with capsys.disabled():
        print(f"\n  hostile files: {b.files} files in {b.runs} runs, {b.valid} valid articles all indexed, "
              f"{b.problems} problems reported")
    assert b.runs >= min(examples, 50)


def test_hostile_files_never_break_a_run(tmp_path: Path, capsys) -> None:
    _run_files(tmp_path, capsys, FILE_EXAMPLES)


@pytest.mark.slow
def test_hostile_files_never_break_a_run_long(tmp_path: Path, capsys) -> None:
    _run_files(tmp_path, capsys, SLOW_EXAMPLES)


# ---- queries -------------------------------------------------------------------------------------------------

query_piece = st.one_of(
    st.sampled_from(['"', '"整改', '整改"', "(", ")", "[", "]", "{", "}", "（", "）", "「", "」", "《", '""', '"""']),
    st.sampled_from(["OR", "AND", "NOT", "-", "+", "|", "&&", "||", "!", "~", "^", "*", "?", ":", "title:",
                     "source:", "body:", "-title:", "NOT -", "OR OR", "- -", "-OR", "title:OR", ":title"]),
    st.tuples(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), st.sampled_from(["整改", "x", '"a b"', ""])).map(
        lambda t: f"{t[0]}:{t[1]}"),
    st.sampled_from(["' OR 1=1 --", '"; DROP TABLE articles; --', "1; SELECT * FROM users", "%", "_", "' OR ''='",
                     ".*", "(a+)+$", "[^a]", "\\", "\\d+", "^$", "(?i)", "{1,1000}", "$(rm -rf /)", "`id`",
                     "<script>alert(1)</script>", "${jndi:ldap://x}", "%00", "%s%n", "../../etc/passwd"]),
    st.text(st.sampled_from(SCRIPTS + ZERO_WIDTH + CONTROL), min_size=1, max_size=12),
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=2),
    sentence.map(lambda s: s[:12]),
    st.text(max_size=10),
)
long_query = st.tuples(st.sampled_from(["整改", "x", '"', "OR ", "( ", "😀", "a" * 9 + " "]),
                       st.integers(900, 10_000)).map(lambda t: (t[0] * (t[1] // len(t[0]) + 1))[: t[1]])
hostile_query = st.one_of(st.lists(query_piece, min_size=1, max_size=8).map(" ".join),
                          st.lists(query_piece, min_size=1, max_size=8).map("".join), long_query)
param_value = st.one_of(st.just(""), st.integers(-5, 10**12).map(str), st.sampled_from(
    ["relevance", "date", "2014-09-10", "2014-02-30", "9999-99-99", "yesterday", "-1", "1e9", "0x10", "NaN"]),
    query_piece)


def _url_safe(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")  # the bytes a browser could send


class Queries:
    def __init__(self, config: Config) -> None:
        self.searcher = Searcher(config)
        self.runner = CliRunner(env={"NEWSSEARCH_INDEX": str(config.index),
                                     "NEWSSEARCH_USERDICT": str(config.userdict)})
        self.client = create_app(config).test_client()
        self.count = 0
        self.rejected = 0

    def check(self, q: str, params: dict[str, str]) -> None:
        self.count += 1
        try:
            r = self.searcher.search(q, limit=10)
            assert r.total >= len(r.hits) and len(r.hits) <= 10
            self.searcher.facets(q)
        except QueryError:
            self.rejected += 1
        res = self.runner.invoke(main, ["query", "--json", "--", q])
        assert res.exception is None or isinstance(res.exception, SystemExit), (q, res.output)
        assert res.exit_code in (0, 2), res.output
        if res.exit_code == 0:
            json.loads(res.output)
        args = "&".join(f"{k}={_url_safe(v)}" for k, v in {"q": q, **params}.items())
        for url in (f"/api/search?{args}", f"/search?{args}", f"/api/article/{_url_safe(q)}",
                    f"/article/{_url_safe(q)}?q={_url_safe(q)}"):
            status = self.client.get(url).status_code
            assert status in (200, 302, 400, 404), (url[:200], status)  # 302: an empty query goes home


def _run_queries(config: Config, capsys, examples: int) -> None:
    queries = Queries(config)
    params = st.dictionaries(st.sampled_from(["page", "limit", "sort", "since", "until", "source", "new"]),
                             param_value, max_size=3)

    @settings(max_examples=examples, **SETTINGS)
    @given(hostile_query, params)
    def prop(q: str, args: dict[str, str]) -> None:
        queries.check(q, args)

    try:
        prop()
    finally:
        queries.searcher.close()
    with capsys.disabled():
        print(f"\n  hostile queries: {queries.count} through engine, CLI and web ({queries.rejected} rejected "
              "with a message)")
    assert queries.count >= min(examples, 50)


@pytest.fixture(scope="module")
def small_index(tmp_path_factory) -> Config:
    """300 real articles and a few hostile ones: every query runs four times, so the index is kept small."""
    d = tmp_path_factory.mktemp("hostile-queries")
    attack = '<script>alert(1)</script>"><img src=x onerror=alert(2)> \' OR 1=1 -- ${jndi:x} '
    odd = [{"id": f"odd-{k}/../{attack}", "title": attack + "整改落实", "body": attack * 3 + "防汛演练整改",
            "source": attack, "url": "javascript:alert(3)", "date": "2020-01-01"} for k in range(3)]
    write_jsonl(d / "src" / "a.jsonl", corpus_records(HANS, 150) + corpus_records(HANT, 150) + odd)
    config = Config.load(d / "index", d / "no-userdict.txt")
    run_index(config, [d / "src"])
    return config


def test_hostile_queries_get_answers_or_messages(small_index: Config, capsys) -> None:
    _run_queries(small_index, capsys, QUERY_EXAMPLES)


@pytest.mark.slow
def test_hostile_queries_get_answers_or_messages_long(small_index: Config, capsys) -> None:
    _run_queries(small_index, capsys, SLOW_EXAMPLES)


def test_known_hostile_inputs(tmp_path: Path) -> None:
    """Regressions the generators found: each once, explicitly."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (src / "lines.jsonl").write_text("[" * 100_000 + "\n" + json.dumps({"id": "ok", "title": "正常", "body": "内容"}))
    (src / "sur.jsonl").write_text('{"id": "s\\ud800", "title": "abc\\udc00 测试", "body": "正文\\ud800内容"}\n')
    (src / "bigint.json").write_text('{"title": 1' + "0" * 5000 + "}")
    (src / "repeat.txt").write_text("长长长\n" + "长" * 200_000)
    config = Config.load(tmp_path / "ix", tmp_path / "no-userdict.txt")
    summary = run_index(config, [src])
    assert summary.added == 3 and summary.failed >= 2
    s = Searcher(config)
    assert s.article("ok")["title"] == "正常"
    assert s.article("s\ufffd")["title"] == "abc\ufffd 测试"
    assert s.search("\ud800测试").total == 1  # a lone surrogate from argv
    assert s.search("长长").total == 1  # 100,000 matches in one article: snippet in one pass
    runner = CliRunner(env={"NEWSSEARCH_INDEX": str(config.index), "NEWSSEARCH_USERDICT": str(config.userdict)})
    r = runner.invoke(main, ["query", "--json", "正文\udcff"])
    assert r.exit_code == 0 and json.loads(r.output)["query"] == "正文\ufffd"
    assert "too many words" in runner.invoke(main, ["query", "--", " ".join(["整改"] * 40)]).output


def test_index_of_only_bad_files_answers(tmp_path: Path) -> None:
    """A first run that read nothing leaves an index with no columns at all: searches still answer."""
    (tmp_path / "bad.json").write_text("{")
    config = Config.load(tmp_path / "ix", tmp_path / "no-userdict.txt")
    assert run_index(config, [tmp_path / "bad.json"]).failed == 1
    s = Searcher(config)
    assert s.search("整改").total == 0 and s.stats()["articles"] == 0
    assert create_app(config).test_client().get("/search?q=整改").status_code == 200
