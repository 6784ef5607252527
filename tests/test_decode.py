"""Bytes → text: BOM, declared charset, content detection, and no mojibake ever."""

import codecs

import pytest

from indexer.errors import IngestError
from indexer.ingest.decode import decode_bytes, expected_share, looks_right, sniff_declared

from .conftest import HANS, HANT, corpus_records

N = 40


@pytest.fixture(scope="module")
def hans_texts():
    return [r["title"] + "\n" + r["body"] for r in corpus_records(HANS, N)]


@pytest.fixture(scope="module")
def hant_texts():
    texts = [r["title"] + "\n" + r["body"] for r in corpus_records(HANT, N * 2)]
    return [t for t in texts if _encodable(t, "big5")][:N]


def _encodable(text, enc):
    try:
        text.encode(enc)
        return True
    except UnicodeEncodeError:
        return False


@pytest.mark.parametrize(
    "script,write,bom,expected",
    [
        ("hans", "gbk", b"", "gb18030"),
        ("hans", "gb18030", b"", "gb18030"),
        ("hans", "utf-8", b"", "utf-8"),
        ("hans", "utf-8", codecs.BOM_UTF8, "utf-8-sig"),
        ("hant", "big5", b"", "big5hkscs"),
        ("hant", "utf-8", codecs.BOM_UTF8, "utf-8-sig"),
        ("hant", "gb18030", b"", "gb18030"),
        ("hant", "utf-16-le", codecs.BOM_UTF16_LE, "utf-16"),
    ],
)
def test_real_articles_round_trip_undeclared(hans_texts, hant_texts, script, write, bom, expected):
    texts = hans_texts if script == "hans" else hant_texts
    assert len(texts) >= N // 2
    for text in texts:
        assert decode_bytes(bom + text.encode(write)) == (text, expected)


def test_gb18030_four_byte_and_hkscs_characters():
    """Synthetic sentences around characters that only GB18030 (4 bytes) or Big5-HKSCS can encode."""
    gb = "测试文字：𠮷字在GB18030中占四个字节，张三和李四写的这一句不是新闻。"
    assert decode_bytes(gb.encode("gb18030")) == (gb, "gb18030")
    hk = "測試文字：𨋢字只在香港增補字符集中，Big5沒有這個字，王五寫的這一句不是新聞。"
    with pytest.raises(UnicodeEncodeError):
        hk.encode("big5")
    assert decode_bytes(hk.encode("big5hkscs")) == (hk, "big5hkscs")


@pytest.mark.parametrize(
    "declared,write,expected",
    [
        ("gb2312", "gbk", "gb18030"),  # GB2312 pages are read as GB18030
        ("GBK", "gb18030", "gb18030"),
        ("big5", "big5", "big5hkscs"),
        ("gb2312", "utf-8", "utf-8"),  # a site migrated to UTF-8 but kept the old meta tag
        ("gbk", "big5", "big5hkscs"),  # Big5 bytes "decode" as GBK, but into rare characters
        ("utf-8", "gbk", "gb18030"),
        ("x-no-such-charset", "big5", "big5hkscs"),
    ],
)
def test_declared_encoding_is_used_only_when_the_text_reads_right(hant_texts, declared, write, expected):
    """Real Traditional articles that both Big5 and GBK can encode, written in one and declared as another."""
    texts = [t for t in hant_texts if _encodable(t, "gbk")][:10]
    assert len(texts) >= 5
    for text in texts:
        assert decode_bytes(text.encode(write), declared) == (text, expected)


def test_short_gbk_is_not_taken_for_utf8():
    """停水通知 in GBK happens to be valid UTF-8 (Greek and Armenian letters): never index that."""
    raw = "停水通知".encode("gbk")
    raw.decode("utf-8")
    assert decode_bytes(raw) == ("停水通知", "gb18030")


@pytest.mark.parametrize(
    "raw,reason",
    [
        (b"", "empty file"),
        (b" \r\n\t ", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "binary"),
        (bytes(range(256)) * 4, "binary"),
        (bytes(range(0x80, 0x100)) * 8, "cannot decode"),
        ("中文".encode("gbk"), "too little text"),
    ],
)
def test_undecodable_bytes_are_refused(raw, reason):
    with pytest.raises(IngestError, match=reason):
        decode_bytes(raw)


def test_real_text_garbled_once_is_refused(hans_texts, hant_texts):
    """Real articles decoded with the wrong codec once, then saved as UTF-8 (the Big5 ones with a BOM)."""
    for text in hans_texts:
        with pytest.raises(IngestError, match="mojibake"):
            decode_bytes(text.encode().decode("gb18030", "replace").encode())
    for text in hant_texts:
        with pytest.raises(IngestError, match="mojibake"):
            decode_bytes(codecs.BOM_UTF8 + text.encode("big5").decode("gb18030").encode())


def test_mojibake_share_separates_real_text(hans_texts, hant_texts):
    for text in hans_texts + hant_texts:
        assert looks_right(text)
    for text in hant_texts:
        assert expected_share(text.encode("big5").decode("gb18030"))[0] < 0.6


@pytest.mark.parametrize(
    "head,declared",
    [
        (b'<meta charset="gb2312">', "gb2312"),
        (b"<META CHARSET=big5>", "big5"),
        (b'<meta http-equiv="Content-Type" content="text/html; charset=GBK" />', "GBK"),
        (b'<?xml version="1.0" encoding="UTF-8"?><html>', "UTF-8"),
        (b"<html><head><title>x</title></head>", None),
        (b" " * 5000 + b'<meta charset="big5">', None),
    ],
)
def test_sniff_declared(head, declared):
    assert sniff_declared(head) == declared
