"""Reading source folders and files into articles: plain text, JSON, JSON lines and HTML pages.

Each reader returns the articles it could read and the problems it met, so one
bad record or file is reported and everything else is still indexed. A file that
could not be *seen* (a listing or read error, not a regular file, over the size
cap) is marked ``unseen``: the writer keeps what it indexed from it before.

File names are kept as text: bytes that are not UTF-8 become ``\\xNN`` escapes
(:func:`file_key`), the same on every run, so such files are indexed like any other.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import IngestError
from ..normalize import scrub
from .article import Article
from .decode import decode_bytes

HEAD_CHARS = 200  # where dates and reporter credits are looked for in a body
# Caps that keep one run's memory bounded by them, not by the input (an article of 1,000,000
# characters peaks at about 260 MB while it is analyzed). A larger file is reported and not read
# (its articles from earlier runs are kept); a longer body or title is cut there and reported.
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_BODY_CHARS = 1_000_000
MAX_TITLE_CHARS = 1_000
RECORD_SUFFIXES = (".json", ".jsonl")  # files of records: holding none is "no articles", not an error

_DATES = (
    re.compile(r"(?<!\d)(?P<y>(?:19|20)\d\d)(?P<s>[-_./])(?P<m>\d{1,2})(?P=s)(?P<d>\d{1,2})(?!\d)"),  # 2014-9-10
    re.compile(r"(?<!\d)(?P<y>(?:19|20)\d\d)\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日"),  # 2014年9月10日
    re.compile(r"(?<!\d)(?P<y>(?:19|20)\d\d)(?P<m>0[1-9]|1[0-2])(?P<d>0[1-9]|[12]\d|3[01])(?!\d)"),  # 20140910
)
# Reporter credits: "（記者 張倫）", "(记者 张伦 通讯员 李明)", "记者：张伦", "記者張倫／臺南報導".
# Bare 记者 is not a credit ("记者从市教育局获悉"), so the credit must be bracketed, have a colon or a slash.
_SEP = r"[ \t\u3000、，,]+"
_NAME = r"(?:(?!通讯员|通訊員|记者|記者|报道|報導|摄|攝)[\u3400-\u9fff·]){2,4}"
_CREDIT = re.compile(rf"(?:记者|記者|通讯员|通訊員)[ \t\u3000]*[:：]?[ \t\u3000]*({_NAME}(?:{_SEP}{_NAME})*)")
_CREDITS = (
    re.compile(r"[（(【\[][ \t\u3000]*(?:本报|本報|本台|本臺|本网|本網)?(?:记者|記者|通讯员|通訊員)"
               r"[^（()）【】\[\]\n]{2,60}[）)】\]]"),
    re.compile(rf"(?:记者|記者|通讯员|通訊員)[ \t\u3000]*[:：][ \t\u3000]*{_NAME}"),
    re.compile(rf"(?:记者|記者)[ \t\u3000]*{_NAME}[ \t\u3000]*[/／]"),
)


@dataclass
class FileResult:
    path: str
    articles: list[Article] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unseen: bool = False  # the file could not be read at all: what it held before is unknown, not gone


@dataclass
class Listing:
    """What a scan of one source folder (or file) saw."""

    files: list[tuple[str, Path]] = field(default_factory=list)  # (key, path), in sorted order
    hidden: dict[str, str] = field(default_factory=dict)  # folder (or root) that could not be listed -> why


class Unseen(IngestError):
    """The file could not be read (I/O error, not a regular file, over the cap): keep its old articles."""


def file_key(path: str | os.PathLike) -> str:
    """The text that names a file in the index: its path, with bytes that are not UTF-8 as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


Reader = Callable[[Path, str], FileResult]
READERS: dict[str, Reader] = {}


def reader(*suffixes: str) -> Callable[[Reader], Reader]:
    """Register a reader for file suffixes."""

    def register(fn: Reader) -> Reader:
        for s in suffixes:
            READERS[s] = fn
        return fn

    return register


def scan(root: Path) -> Listing:
    """The source files under `root` (or `root` itself) with a reader, sorted.

    Names starting with "." are skipped. A folder that cannot be listed (or a root
    that is missing) is named in `hidden` with the reason, so that what was indexed
    from below it is kept: os.walk would silently leave it out.
    """
    out = Listing()
    key = file_key(root)
    try:
        st = root.stat()
    except FileNotFoundError:
        out.hidden[key] = "the folder is missing"
        return out
    except OSError as exc:
        out.hidden[key] = f"cannot read the folder ({exc.strerror or exc})"
        return out
    if not stat.S_ISDIR(st.st_mode):
        out.files.append((key, root))
        return out

    def failed(exc: OSError) -> None:
        out.hidden[file_key(exc.filename) if exc.filename else key] = f"cannot list the folder ({exc.strerror or exc})"

    for dirpath, dirnames, filenames in os.walk(root, onerror=failed):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and Path(name).suffix.lower() in READERS:
                path = Path(dirpath, name)
                out.files.append((file_key(path), path))
    return out


def read_source(path: Path) -> bytes:
    """A source file's bytes, refusing what is not a regular file or is over MAX_FILE_BYTES.

    Opened without blocking and checked on the open descriptor, so a FIFO (which
    would block for ever) or a file swapped for one after listing is never waited on.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise Unseen(f"cannot read: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Unseen(f"not a regular file ({_kind(st.st_mode)}): skipped")
        if st.st_size > MAX_FILE_BYTES:
            raise Unseen(f"{st.st_size:,} bytes, over the {MAX_FILE_BYTES:,}-byte cap on one file: not read")
        try:
            raw = f.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise Unseen(f"cannot read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_FILE_BYTES:  # it grew while we read it
        raise Unseen(f"over the {MAX_FILE_BYTES:,}-byte cap on one file: not read")
    return raw


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a plain file"


def read_file(path: Path) -> FileResult:
    """Read one file; every failure becomes a problem on the result, never an exception."""
    key = file_key(path)
    fn = READERS.get(path.suffix.lower())
    if fn is None:
        return FileResult(key, problems=[f"{key}: unsupported file type"])
    try:
        result = fn(path, key)
    except Unseen as exc:
        return FileResult(key, problems=[f"{key}: {exc}"], unseen=True)
    except IngestError as exc:
        return FileResult(key, problems=[f"{key}: {exc}"])
    except OSError as exc:
        return FileResult(key, problems=[f"{key}: cannot read: {exc.strerror or exc}"], unseen=True)
    except (RecursionError, ValueError) as exc:  # json nested too deeply, an int with more digits than int() takes
        return FileResult(key, problems=[f"{key}: cannot parse: {exc}"[:300]])
    if not result.articles and not result.problems and path.suffix.lower() not in RECORD_SUFFIXES:
        result.problems.append(f"{key}: no article in file")
    for a in result.articles:
        _cap(a, result.problems)
    return result


def _cap(a: Article, problems: list[str]) -> None:
    if len(a.body) > MAX_BODY_CHARS:
        problems.append(f"{a.file}: article {a.id[:200]!r}: body of {len(a.body):,} characters "
                        f"cut to the {MAX_BODY_CHARS:,}-character cap")
        a.body = a.body[:MAX_BODY_CHARS]
    if len(a.title) > MAX_TITLE_CHARS:
        problems.append(f"{a.file}: article {a.id[:200]!r}: title of {len(a.title):,} characters "
                        f"cut to the {MAX_TITLE_CHARS:,}-character cap")
        a.title = a.title[:MAX_TITLE_CHARS]


def read_text(path: Path, empty_ok: bool = False) -> str:
    """The file decoded; an empty (or blank) file is an error unless `empty_ok` (then it is "")."""
    raw = read_source(path)
    if not raw.strip():
        if empty_ok:
            return ""
        raise IngestError("empty file")
    return decode_bytes(raw)[0]


def valid_date(year: int, month: int, day: int) -> str | None:
    """`YYYY-MM-DD` if that day exists, else None."""
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def date_in(text: str) -> str | None:
    """The earliest full calendar date written in `text` (2014-09-10, 20140910, 2014年9月10日)."""
    found = []
    for pattern in _DATES:
        for m in pattern.finditer(text):
            if date := valid_date(int(m["y"]), int(m["m"]), int(m["d"])):
                found.append((m.start(), date))
                break
    return min(found)[1] if found else None


def reporter_in(text: str) -> str | None:
    """Names credited as 记者/記者/通讯员 in `text`, joined with 、 (None when there is no credit)."""
    for pattern in _CREDITS:
        if m := pattern.search(text):
            names = [n for c in _CREDIT.finditer(m.group(0)) for n in re.split(_SEP, c.group(1)) if n]
            if names:
                return "、".join(dict.fromkeys(names))
    return None


@reader(".txt")
def read_txt(path: Path, key: str) -> FileResult:
    """The seed format: first non-empty line is the title, the rest the body.

    The date comes from the file name, else from the title or the body's first
    lines (a date deep in the body is usually about something else); the
    reporter from a credit like "（記者 張倫）" there. A file's mtime is never used.
    """
    lines = read_text(path).splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise IngestError("empty file")
    title = lines[0].strip()
    body = "\n".join(lines[1:]).strip()
    head = title + "\n" + body[:HEAD_CHARS]
    art = Article(id=key, title=title, body=body, date=date_in(path.name) or date_in(head),
                  reporter=reporter_in(body[:HEAD_CHARS]), file=key)
    return FileResult(key, [art])


@reader(".jsonl")
def read_jsonl(path: Path, key: str) -> FileResult:
    result = FileResult(key)
    # not splitlines(): U+2028 and \x85 may be inside a string
    for n, line in enumerate(read_text(path, empty_ok=True).split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            result.problems.append(f"{key}:{n}: malformed JSON: {exc.msg}")
            continue
        except (RecursionError, ValueError):  # nesting too deep, or an int with more digits than int() takes
            result.problems.append(f"{key}:{n}: JSON nested too deeply or with a number too long")
            continue
        _add_record(result, record, f"{key}#{n}", f"{key}:{n}")
    return result


@reader(".json")
def read_json(path: Path, key: str) -> FileResult:
    text = read_text(path, empty_ok=True)
    if not text:
        return FileResult(key)
    try:
        data = json.loads(text)
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
    return scrub(value).strip() or None  # JSON may escape half a surrogate pair: "\ud800"


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

