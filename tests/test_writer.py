import json
import os

import pytest

from indexer.errors import IndexBusy, NewssearchError
from indexer.search import Searcher
from indexer.store import IndexDir
from indexer.writer import run_index

from .conftest import write_jsonl


def rec(i, body="内容", **kw):
    return {"id": f"n{i}", "title": f"标题{i}号", "body": f"{body}{i}", "date": "2020-01-01", **kw}


def total(config, q="标题"):
    s = Searcher(config)
    try:
        return s.search(q, limit=0).total
    finally:
        s.close()


def test_incremental_add_update_remove(config, tmp_path):
    src = tmp_path / "src"
    write_jsonl(src / "a.jsonl", [rec(1), rec(2), rec(3)])
    (src / "b.txt").write_text("第二篇标题\n正文内容", encoding="utf-8")
    first = run_index(config, [src])
    assert (first.added, first.failed) == (4, 0)

    again = run_index(config, [src])
    assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, 4)

    write_jsonl(src / "a.jsonl", [rec(1), rec(2, body="改过的正文"), rec(4)])
    (src / "b.txt").unlink()
    third = run_index(config, [src], allow_mass_removal=True)  # 2 of 4: over the 20 % guard
    assert (third.added, third.updated, third.removed, third.unchanged) == (1, 1, 2, 1)
    s = Searcher(config)
    assert s.search("改过的正文").hits[0].id == "n2"
    assert s.search("第二篇").total == 0
    assert total(config) == 3


def test_touched_file_with_same_content_is_not_reanalyzed(config, tmp_path):
    src = tmp_path / "src"
    write_jsonl(src / "a.jsonl", [rec(1), rec(2)])
    run_index(config, [src])
    os.utime(src / "a.jsonl", ns=(1, 1))
    s = run_index(config, [src])
    assert (s.added, s.updated, s.unchanged) == (0, 0, 2)


def test_bare_run_rescans_remembered_folders(config, tmp_path):
    src = tmp_path / "src"
    write_jsonl(src / "a.jsonl", [rec(1)])
    run_index(config, [src])
    write_jsonl(src / "more" / "b.jsonl", [rec(2)])
    s = run_index(config)
    assert (s.added, s.unchanged) == (1, 1)
    assert IndexDir(config.index).state()["roots"] == [str(src.resolve())]


def test_indexing_another_folder_keeps_the_first(config, tmp_path):
    write_jsonl(tmp_path / "one" / "a.jsonl", [rec(1)])
    write_jsonl(tmp_path / "two" / "b.jsonl", [rec(2)])
    run_index(config, [tmp_path / "one"])
    s = run_index(config, [tmp_path / "two"])
    assert (s.added, s.removed) == (1, 0)
    assert total(config) == 2


def test_bad_files_are_reported_and_the_rest_indexed(config, tmp_path):
    src = tmp_path / "src"
    write_jsonl(src / "good.jsonl", [rec(1), rec(2)])
    (src / "mixed.jsonl").write_text(json.dumps(rec(3), ensure_ascii=False) + "\n{not json\n", encoding="utf-8")
    (src / "empty.txt").write_text("", encoding="utf-8")
    (src / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    (src / "latin1.txt").write_bytes("标题\n正文".encode()[:-1] + b"\xff\xfe\xfa")
    s = run_index(config, [src])
    assert s.added == 3
    assert s.failed == 4
    text = "\n".join(s.problems)
    assert "mixed.jsonl:2" in text and "empty.txt" in text and "binary.txt" in text and "latin1.txt" in text
    assert total(config) == 3


def test_rebuild_swaps_in_a_new_generation(config, tmp_path):
    src = tmp_path / "src"
    write_jsonl(src / "a.jsonl", [rec(1), rec(2)])
    run_index(config, [src])
    store = IndexDir(config.index)
    old = store.state()["generation"]
    reader = Searcher(config)
    assert reader.search("标题").total == 2
    s = run_index(config, rebuild=True)
    new = store.state()["generation"]
    assert new != old and s.added == 2
    assert store.generations() == {new}
    assert reader.search("标题").total == 2  # a long-lived searcher follows the swap
    assert not any(p.name.startswith(f"{old}_") for p in config.index.iterdir())


def test_second_writer_is_refused_while_the_lock_is_held(config, tmp_path):
    from filelock import FileLock

    write_jsonl(tmp_path / "src" / "a.jsonl", [rec(1)])
    config.index.mkdir(parents=True)
    with FileLock(str(config.index / ".write.lock")), pytest.raises(IndexBusy):
        run_index(config, [tmp_path / "src"], wait=0.2)


def test_missing_path_and_nothing_remembered(config, tmp_path):
    with pytest.raises(NewssearchError, match="no such"):
        run_index(config, [tmp_path / "nope"])
    with pytest.raises(NewssearchError, match="no folders"):
        run_index(config)


def test_userdict_change_marks_the_index_stale(tmp_path):
    from indexer.config import Config

    ud = tmp_path / "userdict.txt"
    ud.write_text("泰興市委 10 n\n", encoding="utf-8")
    config = Config.load(tmp_path / "ix", ud)
    write_jsonl(tmp_path / "src" / "a.jsonl", [rec(1)])
    run_index(config, [tmp_path / "src"])
    assert not Searcher(config).stale_analyzer()
    ud2 = tmp_path / "userdict2.txt"
    ud2.write_text("泰興市委 10 n\n孫耀燦 10 nr\n", encoding="utf-8")
    assert Searcher(Config.load(tmp_path / "ix", ud2)).stale_analyzer()


def test_reposts_are_one_result_listing_the_other_places(config, tmp_path):
    body = "測試正文：這一段只用來檢驗轉載去重，甲市的整改是佔位內容，張三和李四是佔位人名。" * 2
    write_jsonl(
        tmp_path / "src" / "a.jsonl",
        [
            {"id": "orig", "title": "整改测试稿", "body": body, "date": "2014-09-10", "url": "http://a.gov.cn/1"},
            {"id": "copy", "title": "转载：整改测试稿", "body": body.replace("，", "， "), "date": "2014-09-11",
             "url": "http://b.gov.cn/2"},
            {"id": "other", "title": "整改另一篇", "body": "完全不同的整改内容"},
        ],
    )
    run_index(config, [tmp_path / "src"])
    r = Searcher(config).search("整改", limit=0)
    assert r.total == 2
    orig = next(h for h in r.hits if h.id == "orig")
    assert [d["url"] for d in orig.duplicates] == ["http://b.gov.cn/2"]
    assert "copy" not in [h.id for h in r.hits]
