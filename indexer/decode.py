"""Turning a file's bytes into text without ever indexing mojibake."""

from __future__ import annotations

import codecs

from .errors import IngestError

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# GB2312 and GBK are subsets of GB18030: decoding as GB18030 loses nothing.
_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "cp936": "gb18030", "big5": "big5hkscs", "cp950": "big5hkscs"}


def canonical(encoding: str) -> str:
    enc = codecs.lookup(encoding).name
    return _ALIASES.get(enc, enc)


def decode_bytes(raw: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode `raw`; return (text, encoding). Raise IngestError if unsure.

    Order: BOM, then a declared encoding (HTML meta) if it decodes cleanly,
    then strict UTF-8, then charset detection limited to confident results.
    """
    if b"\x00" in raw[:4096] and not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise IngestError("binary file (NUL bytes), not text")
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            return _strict(raw, enc), enc
    if declared:
        try:
            enc = canonical(declared)
            return raw.decode(enc), enc
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    enc = _detect(raw)
    if enc is None:
        raise IngestError("cannot decode confidently: not UTF-8, GB18030 or Big5")
    return _strict(raw, enc), enc


def _strict(raw: bytes, enc: str) -> str:
    try:
        return raw.decode(enc)
    except UnicodeDecodeError as exc:
        raise IngestError(f"invalid {enc} at byte {exc.start}") from exc


def _detect(raw: bytes) -> str | None:
    """GB18030 and Big5 both decode many byte strings: let the detector choose."""
    from charset_normalizer import from_bytes

    best = from_bytes(raw, cp_isolation=["gb18030", "big5"]).best()
    if best is None or best.chaos > 0.2:
        return None
    return canonical(best.encoding)
