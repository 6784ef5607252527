"""Reading source files into articles: plain text, JSON and JSON lines.

Each reader returns the articles it could read and the problems it met, so one
bad record or file is reported and everything else is still indexed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .article import Article
from .decode import decode_bytes
from .errors import IngestError

_DATE = re.compile(r"(?<!\d)((?:19|20)\d\d)[-_./年]?(0[1-9]|1[0-2])[-_./月]?(0[1-9]|[12]\d|3[01])(?!\d)")


@dataclass
class FileResult:
    path: str
    articles: list[Article] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


Reader = Callable[[Path, str], FileResult]
READERS: dict[str, Reader] = {}


def reader(*suffixes: str) -> Callable[[Reader], Reader]:
    """Register a reader for file suffixes."""

    def register(fn: Reader) -> Reader:
        for s in suffixes:
            READERS[s] = fn
        return fn

    return register


def iter_files(root: Path) -> Iterator[Path]:
    """Yield readable source files under `root` (or `root` itself), in sorted order."""
    if root.is_file():
        yield root
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and Path(name).suffix.lower() in READERS:
                yield Path(dirpath, name)


def read_file(path: Path) -> FileResult:
    """Read one file; every failure becomes a problem on the result, never an exception."""
    key = str(path)
    fn = READERS.get(path.suffix.lower())
    if fn is None:
        return FileResult(key, problems=[f"{key}: unsupported file type"])
    try:
        result = fn(path, key)
    except IngestError as exc:
        return FileResult(key, problems=[f"{key}: {exc}"])
    except OSError as exc:
        return FileResult(key, problems=[f"{key}: cannot read: {exc.strerror or exc}"])
    if not result.articles and not result.problems:
        result.problems.append(f"{key}: no article in file")
    return result


def read_text(path: Path) -> str:
    raw = path.read_bytes()
    if not raw.strip():
        raise IngestError("empty file")
    return decode_bytes(raw)[0]


def date_in(text: str) -> str | None:
    """The first full calendar date written in `text` (2014-09-10, 20140910, 2014年9月10日)."""
    m = _DATE.search(text)
    return f"{m.group(1)}-{m.group(2)}-{m.group(3)}" if m else None


@reader(".txt")
def read_txt(path: Path, key: str) -> FileResult:
    """The seed format: first non-empty line is the title, the rest the body."""
    lines = read_text(path).splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise IngestError("empty file")
    title = lines[0].strip()
    body = "\n".join(lines[1:]).strip()
    art = Article(id=key, title=title, body=body, date=date_in(path.name), file=key)
    return FileResult(key, [art])


@reader(".jsonl")
def read_jsonl(path: Path, key: str) -> FileResult:
    result = FileResult(key)
    for n, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            result.problems.append(f"{key}:{n}: malformed JSON: {exc.msg}")
            continue
        _add_record(result, record, f"{key}#{n}", f"{key}:{n}")
    return result


@reader(".json")
def read_json(path: Path, key: str) -> FileResult:
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise IngestError(f"malformed JSON at line {exc.lineno}: {exc.msg}") from exc
    result = FileResult(key)
    records: Iterable = data if isinstance(data, list) else [data]
    for n, record in enumerate(records, 1):
        _add_record(result, record, f"{key}#{n}", f"{key}[{n}]")
    return result


def _add_record(result: FileResult, record: object, fallback_id: str, where: str) -> None:
    try:
        result.articles.append(article_from_record(record, fallback_id, result.path))
    except IngestError as exc:
        result.problems.append(f"{where}: {exc}")


def _text(record: dict, key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise IngestError(f"field {key!r} is {type(value).__name__}, not text")
    return value.strip() or None


def article_from_record(record: object, fallback_id: str, file: str) -> Article:
    """Build an article from a JSON record with id, title, body/content, date, source, url."""
    if not isinstance(record, dict):
        raise IngestError(f"record is {type(record).__name__}, not an object")
    title = _text(record, "title")
    body = _text(record, "body") or _text(record, "content")
    if not title and not body:
        raise IngestError("record has neither title nor body")
    url = _text(record, "url")
    raw_date = _text(record, "date")
    return Article(
        id=_text(record, "id") or url or fallback_id,
        title=title or (body or "")[:40],
        body=body or "",
        date=date_in(raw_date) if raw_date else None,
        source=_text(record, "source"),
        url=url,
        reporter=_text(record, "reporter"),
        file=file,
    )
