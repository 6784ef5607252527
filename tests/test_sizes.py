"""`newssearch stats --sizes`: what each kind of file and each field costs, adding up to the index on disk."""

import json

from indexer.store import IndexDir
from indexer.writer import run_index

from .conftest import HANS, HANT, CliSite, corpus_records, write_jsonl


def test_stats_sizes_add_up_to_the_files_and_terms(config, tmp_path):
    src = tmp_path / "src"
    write_jsonl(src / "a.jsonl", corpus_records(HANS, 300) + corpus_records(HANT, 300))
    run_index(config, [src])
    write_jsonl(src / "b.jsonl", corpus_records(HANT, 400)[300:])  # a second run: a second segment
    run_index(config, [src])
    site = CliSite(config)
    st = json.loads(site.cli("stats", "--sizes", "--json").stdout)
    files, fields = st["sizes"]["files"], st["sizes"]["fields"]
    assert sum(files.values()) == st["size_bytes"]
    on_disk = {k: sum(p.stat().st_size for p in config.index.glob(f"*{k}")) for k in (".trm", ".pst")}
    assert files["term table (.trm)"] == on_disk[".trm"] and files["posting blocks (.pst)"] == on_disk[".pst"]
    # every posting block belongs to one field; term records are the term table less its hash tables and index
    assert sum(f["posting_bytes"] for f in fields.values()) == on_disk[".pst"]
    assert 0.5 * on_disk[".trm"] < sum(f["term_bytes"] for f in fields.values()) < on_disk[".trm"]
    table = st["sizes"]["term_table"]  # what else the term tables hold: a hash slot or more and a position per term
    assert table["records"] == sum(f["term_bytes"] for f in fields.values())
    terms = sum(f["terms"] for f in fields.values())
    assert sum(table.values()) < on_disk[".trm"] and table["hash tables"] > 4 * terms  # 4-byte slots, 1.5 a term
    ix, _state = IndexDir(config.index).open()
    with ix.searcher() as s:
        leaves = [r for r, _off in s.reader().leaf_readers()]
        assert leaves
        for name in ("body_g", "title", "id"):  # terms counted once per segment that holds them
            assert fields[name]["terms"] == sum(sum(1 for _ in r.lexicon(name)) for r in leaves)
    text = site.cli("stats", "--sizes").stdout
    assert "term table (.trm)" in text and "body_g" in text
