"""Turning a file's bytes into text without ever indexing mojibake.

Order: a byte-order mark, then the encoding a page declares (``<meta charset>``,
``http-equiv`` or an XML declaration), then the content itself: strict UTF-8,
then GB18030 and Big5-HKSCS, with charset-normalizer breaking ties.

Every answer must also *look* like Chinese text: wrongly decoded CJK bytes give
rare Han characters and stray scripts (GBK read as UTF-8 gives Greek and
Armenian letters), so at least 75 % of the non-ASCII characters must be frequent
Han (GB2312 or Big5 level 1), punctuation or symbols. Over 3,000 real articles of
each script the lowest share is 0.91 (0.80 for a title alone); Big5 read as
GB18030, which always "succeeds", scores at most 0.46, GBK read as Big5 0.67. A
file that passes no check is reported and skipped.
"""

from __future__ import annotations

import codecs
import re
from functools import lru_cache

from ..errors import IngestError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# GB2312 and GBK are subsets of GB18030: decoding as GB18030 loses nothing.
_ALIASES = {
    "gb2312": "gb18030", "gbk": "gb18030", "cp936": "gb18030", "hz": "gb18030",
    "big5": "big5hkscs", "cp950": "big5hkscs",
}
_LEGACY = ("gb18030", "big5hkscs")
_DECLARED = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)|<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""",
    re.IGNORECASE,
)
# Non-ASCII characters a Chinese news text is made of besides frequent Han: Latin-1, punctuation,
# symbols, enclosed numbers, box drawing, CJK punctuation, Bopomofo, CJK compatibility, full-width forms.
_EXPECTED = ((0xA0, 0xFF), (0x2000, 0x22FF), (0x2460, 0x27BF), (0x3000, 0x303F), (0x3100, 0x312F),
             (0x3200, 0x33FF), (0xFF00, 0xFFEF))
MIN_SHARE = 0.75
MIN_CHARS = 10  # below this many non-ASCII characters a share says little: only a low one is believed


def canonical(encoding: str) -> str:
    enc = codecs.lookup(encoding).name
    return _ALIASES.get(enc, enc)


def sniff_declared(raw: bytes) -> str | None:
    """The encoding an HTML/XML document declares in its first 4 KB, if any."""
    m = _DECLARED.search(raw[:4096])
    if not m:
        return None
    return (m.group(1) or m.group(2)).decode("ascii")


@lru_cache(maxsize=1)
def _common_han() -> frozenset[str]:
    """GB2312 level 1 (3,755 simplified) and Big5 level 1 (5,401 traditional) characters."""
    chars: set[str] = set()
    for enc, leads, trails in (
        ("gb2312", range(0xB0, 0xD8), range(0xA1, 0xFF)),
        ("big5", range(0xA4, 0xC7), [*range(0x40, 0x7F), *range(0xA1, 0xFF)]),
    ):
        for lead in leads:
            for trail in trails:
                if enc == "big5" and lead == 0xC6 and trail > 0x7E:
                    continue  # Big5 level 1 ends at C67E
                try:
                    chars.add(bytes((lead, trail)).decode(enc))
                except UnicodeDecodeError:
                    pass
    return frozenset(chars)


def expected_share(text: str, sample: int = 20000) -> tuple[float, int]:
    """Share of the non-ASCII characters in `text` that Chinese news is made of, and how many there were."""
    common = _common_han()
    odd = [ch for ch in text[:sample] if ch > "\x7f"]
    if not odd:
        return 1.0, 0
    good = sum(ch in common or any(lo <= ord(ch) <= hi for lo, hi in _EXPECTED) for ch in odd)
    return good / len(odd), len(odd)


def looks_right(text: str) -> bool:
    """False for mojibake: wrongly decoded bytes give rare Han characters and stray scripts."""
    share, n = expected_share(text)
    return share >= (MIN_SHARE if n >= MIN_CHARS else 0.5)


def decode_bytes(raw: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode `raw`; return (text, encoding). Raise IngestError when not confident."""
    if not raw.strip():
        raise IngestError("empty file")
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            text = _strict(raw, enc)
            if not looks_right(text):
                raise IngestError(f"{enc} text (byte-order mark) looks like mojibake")
            return text.lstrip("\ufeff"), enc
    if b"\x00" in raw[:4096]:
        raise IngestError("binary file (NUL bytes), not text")
    wrong: list[str] = []
    for enc in (declared, "utf-8"):
        if not enc:
            continue
        try:
            enc = canonical(enc)
            text = raw.decode(enc)
        except (LookupError, UnicodeDecodeError):
            continue  # a wrong declaration is common: judge by the content
        if looks_right(text):
            return text, enc
        wrong.append(enc)
    return _detect(raw, wrong)


def _strict(raw: bytes, enc: str) -> str:
    try:
        return raw.decode(enc)
    except UnicodeDecodeError as exc:
        raise IngestError(f"invalid {enc} at byte {exc.start}") from exc


def _detect(raw: bytes, wrong: list[str]) -> tuple[str, str]:
    """GB18030 and Big5 both decode many byte strings: keep those that read as Chinese."""
    fits: dict[str, tuple[str, float, int]] = {}
    for enc in _LEGACY:
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        share, n = expected_share(text)
        if share >= MIN_SHARE:
            fits[enc] = (text, share, n)
        else:
            wrong.append(enc)
    if not fits:
        if wrong:
            raise IngestError(f"decodes as {', '.join(dict.fromkeys(wrong))} but looks like mojibake")
        raise IngestError("cannot decode confidently: not UTF-8, GB18030 or Big5")
    guess = _detector_says(raw) if len(fits) > 1 or next(iter(fits.values()))[2] < MIN_CHARS else None
    if len(fits) == 1:
        enc = next(iter(fits))
        if fits[enc][2] >= MIN_CHARS or guess == enc:
            return fits[enc][0], enc
        raise IngestError(f"too little text to be sure it is {enc}")
    if guess in fits:
        return fits[guess][0], guess
    enc = max(fits, key=lambda e: fits[e][1])
    return fits[enc][0], enc


def _detector_says(raw: bytes) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(raw, cp_isolation=list(_LEGACY)).best()
    if best is None or best.chaos > 0.2:
        return None
    return canonical(best.encoding)
