"""The operator's data files: the package's defaults, overridden beside the index or by the environment,
the same from any working directory."""

from __future__ import annotations

import json
import os
import subprocess

from indexer.config import Config, packaged

from .conftest import EXE, HANT, corpus_records, write_jsonl


def _stats(index, cwd, **env) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NEWSSEARCH_")}
    p = subprocess.run([EXE, "stats", "--json", "--index", str(index)], cwd=cwd, env={**clean, **env},
                       capture_output=True, text=True, check=True)
    return json.loads(p.stdout)["data_files"]


def test_package_defaults_are_the_repositorys_data_files():
    for name in ("userdict.txt", "synonyms.txt", "stopwords.txt"):
        assert packaged(name).is_file() and "newssearch" in packaged(name).read_text(encoding="utf-8")


def test_files_beside_the_index_override_the_defaults_from_any_folder(tmp_path):
    data = tmp_path / "site" / "data"
    write_jsonl(tmp_path / "src" / "a.jsonl", corpus_records(HANT, 5))
    subprocess.run([EXE, "index", "--quiet", "--index", str(data / "index"), str(tmp_path / "src")], check=True,
                   capture_output=True, env={k: v for k, v in os.environ.items() if not k.startswith("NEWSSEARCH_")})
    default = _stats(data / "index", cwd=tmp_path)
    assert default["synonyms"] == str(packaged("synonyms.txt").resolve())
    (data / "synonyms.txt").write_text("# ours\n整改 整顿\n", encoding="utf-8")
    for cwd in (tmp_path, tmp_path / "site", data):
        assert _stats(data / "index", cwd=cwd)["synonyms"] == str((data / "synonyms.txt").resolve())
    mine = tmp_path / "mine.txt"
    mine.write_text("的\n", encoding="utf-8")
    assert _stats(data / "index", cwd=tmp_path, NEWSSEARCH_STOPWORDS=str(mine))["stopwords"] == str(mine.resolve())


def test_synonyms_beside_the_index_change_what_a_query_finds(tmp_path):
    from indexer.search import Searcher
    from indexer.writer import run_index

    records = corpus_records(HANT, 400)
    write_jsonl(tmp_path / "src" / "a.jsonl", records)
    config = Config.load(tmp_path / "data" / "index")
    run_index(config, [tmp_path / "src"])
    before = Searcher(config).search("登革熱", limit=0).total
    (tmp_path / "data" / "synonyms.txt").write_text("登革熱 疫苗\n", encoding="utf-8")
    after = Searcher(Config.load(tmp_path / "data" / "index")).search("登革熱", limit=0).total
    assert after > before > 0
