"""The fast segment writer must produce what Whoosh's own writer produces, term for term."""

from collections import Counter

import pytest
from whoosh import index as windex

from indexer import analysis, postings
from indexer.analysis import KEY_SHIFT, gram_positions, gram_tokens, gram_units, word_counts, word_tokens
from indexer.codec import segment_join
from indexer.codec import segment_writer as segments
from indexer.ingest.article import Article
from indexer.normalize import normalize
from indexer.schema import GramPositions, make_schema
from indexer.writer import _fields

from .conftest import HANS, HANT, corpus_records


def _docs(n: int) -> list[dict]:
    recs = corpus_records(HANS, n // 2) + corpus_records(HANT, n - n // 2)
    arts = [Article(r["id"], r["title"], r["body"], r.get("date"), r.get("source"), r.get("url"), file="f.jsonl")
            for r in recs]
    return [_fields(a, a.digest(), 1700000000) for a in arts]


def _postings(ix) -> dict:
    """field -> term -> (term statistics, {article id: (weight, decoded value)}) over every segment."""
    out: dict = {}
    with ix.searcher() as s:
        r = s.reader()
        ids = {d: s.stored_fields(d).get("id") for d in r.all_doc_ids()}
        for fieldname in ix.schema.names():
            field = ix.schema[fieldname]
            if not field.indexed:
                continue
            fmt = field.format
            for term in r.lexicon(fieldname):
                m = r.postings(fieldname, term)
                got = {}
                while m.is_active():
                    v = m.value()
                    decoded = fmt.decode_positions(v) if fieldname.endswith("_g") else v
                    got[ids[m.id()]] = (round(m.weight(), 3), decoded)
                    m.next()
                ti = r.term_info(fieldname, term)
                stats = (ti.doc_frequency(), round(ti.weight(), 3), ti.min_length(), ti.max_length())
                out.setdefault(fieldname, {})[term] = (stats, got)
    return out


def test_gram_positions_group_gram_tokens():
    for r in corpus_records(HANT, 40) + corpus_records(HANS, 40):
        for text in (normalize(r["body"]), r["title"], "息（新聞聯播）38個 COVID-19 a\nb"):
            expected: dict = {}
            for g, p, _s, _e in gram_tokens(text):
                expected.setdefault(g, []).append(p)
            assert gram_positions(text) == expected


MIXED = "息（新聞聯播）38個 COVID-19 a\nb ab abc a中 中a 𠀋𠀋好 x_y ＡＢＣ 2020年 ①② \x00 ｶﾀｶﾅ 한국어"


def test_unit_classes_are_the_unit_class_of_every_bmp_character():
    """The table gram_units classifies characters with, built from runs, against the pattern one character at a time."""
    assert analysis._unit_classes().tolist() == [analysis._unit_class(chr(c)) for c in range(0x10000)]


def test_gram_units_are_gram_positions():
    texts = [MIXED, "", "中", "12", "中\n國", ""]
    for r in corpus_records(HANT, 40) + corpus_records(HANS, 40):
        texts += [normalize(r["body"]), normalize(r["title"]), r["title"]]
    units = gram_units(texts)
    runs = dict(zip(units.run_at.tolist(), units.runs, strict=True))
    low = (1 << KEY_SHIFT) - 1
    at = 0
    for text, count in zip(texts, units.counts.tolist(), strict=True):
        got: dict = {}
        for k in range(at, at + count):
            key = int(units.keys[k])
            term = runs[k] if k in runs else chr(key >> KEY_SHIFT) + (chr(key & low) if key & low else "")
            got.setdefault(term, []).append(int(units.positions[k]))
        assert got == gram_positions(text), text[:40]
        at += count


def test_word_counts_count_word_tokens():
    texts = ["covid-19疫情 a股 2020年9月10日 中华人民共和国教育实践活动 38个问题 ……", "，。"]
    for r in corpus_records(HANT, 60) + corpus_records(HANS, 60):
        texts += [normalize(r["body"]), normalize(r["title"])]
    for text in texts:
        assert word_counts(text) == Counter(w for w, *_ in word_tokens(text))


def test_gram_positions_format_round_trips():
    fmt = GramPositions(field_boost=3.0)
    for poslist in ([0], [5, 9, 300], [70000], [1, 65535, 65536, 10**6]):
        v = fmt.encode(poslist)
        assert fmt.decode_positions(v) == poslist
        assert fmt.decode_frequency(v) == len(poslist)
        assert fmt.decode_weight(v) == 3.0 * len(poslist)


@pytest.mark.parametrize("join_procs", [1, 2])
def test_fast_segments_hold_the_same_postings_as_whoosh(tmp_path, monkeypatch, join_procs):
    monkeypatch.setattr(segments, "PARALLEL_MIN_DOCS", 50)
    monkeypatch.setattr(segment_join, "PARALLEL_MIN_KEYS", 0 if join_procs == 2 else 10**9)
    docs = _docs(160)
    (tmp_path / "a").mkdir()
    reference = windex.create_in(str(tmp_path / "a"), make_schema())
    with reference.writer() as w:
        for d in docs:
            w.add_document(**d)
    (tmp_path / "b").mkdir()
    fast = windex.create_in(str(tmp_path / "b"), make_schema())
    monkeypatch.setattr(segments, "SEGMENT_BUDGET", 1024 * 1024)  # several parts per worker, joined into one
    monkeypatch.setattr(postings, "BLOCK", 32)  # and several blocks per common term
    monkeypatch.setattr(postings, "INLINE_LIMIT", 8)  # and terms of one block
    built, timings = segments.build_segments(fast, docs, procs=2)
    assert len(built) == 1 and set(timings) == set(segments.STAGES) and timings["join"] > 0
    segments.commit_segments(fast.writer(), built)
    assert fast.doc_count() == len(docs)

    want, got = _postings(reference), _postings(fast)
    assert got.keys() == want.keys()
    for fieldname in want:
        assert got[fieldname] == want[fieldname], fieldname
    counts = [len(p) for _, p in got["body_g"].values()]
    # inlined, one-block and multi-block terms
    assert max(counts) > 2 * postings.BLOCK and min(counts) <= postings.INLINE_LIMIT


def test_fast_segments_hold_long_and_mixed_texts_as_whoosh(tmp_path):
    """Letter/digit runs sorted among the grams, characters beyond the BMP, positions past 65,535."""
    docs = _docs(6)
    long_body = ""
    for r in corpus_records(HANT, 200):
        long_body += r["body"] + "\n"
        if len(long_body) > 70_000:
            break
    docs[0] = {**docs[0], "body": long_body, "body_g": long_body}
    docs[1] = {**docs[1], "title": MIXED, "title_g": MIXED, "body_g": MIXED + docs[1]["body_g"]}
    ixs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        ixs.append(windex.create_in(str(tmp_path / name), make_schema()))
    with ixs[0].writer() as w:
        for d in docs:
            w.add_document(**d)
    built, _ = segments.build_segments(ixs[1], docs, procs=1)
    segments.commit_segments(ixs[1].writer(), built)
    want, got = _postings(ixs[0]), _postings(ixs[1])
    assert got == want
    assert max(max(p) for _, ps in got["body_g"].values() for _, p in ps.values()) > 65535


@pytest.mark.parametrize("n", [3, 60])
def test_stored_fields_and_columns_match(tmp_path, monkeypatch, n):
    monkeypatch.setattr(segments, "PARALLEL_MIN_DOCS", 50)
    docs = _docs(n)
    (tmp_path / "b").mkdir()
    ix = windex.create_in(str(tmp_path / "b"), make_schema())
    built, _ = segments.build_segments(ix, docs)
    segments.commit_segments(ix.writer(), built)
    with ix.searcher() as s:
        r = s.reader()
        stored = {s.stored_fields(d)["id"]: s.stored_fields(d) for d in r.all_doc_ids()}
        dates = {r.column_reader("id")[d]: r.column_reader("date")[d] for d in r.all_doc_ids()}
    for d in docs:
        assert stored[d["id"]]["body"] == d["body"] and stored[d["id"]]["added"] == d["added"]
        assert dates[d["id"]] == d["date"]


def test_a_field_longer_than_the_length_byte_scale(tmp_path):
    """Whoosh stores field lengths as a byte that tops out at 106,374 tokens."""
    docs = _docs(2)
    docs[0] = {**docs[0], "body": "整改落实 " * 110_000, "body_g": "整改落实 " * 110_000}
    (tmp_path / "b").mkdir()
    ix = windex.create_in(str(tmp_path / "b"), make_schema())
    built, _ = segments.build_segments(ix, docs)
    segments.commit_segments(ix.writer(), built)
    with ix.searcher() as s:
        assert s.doc_count() == 2
        assert s.reader().doc_frequency("body", "整改") == 1
