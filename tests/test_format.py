"""The on-disk format: the class paths Whoosh pickles stay put, and an index built before the moves still answers."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import pytest

from indexer.config import Config
from indexer.search import Searcher

PRIOR = Path(__file__).parent / "fixtures" / "prior_index"
# Whoosh pickles these classes by module path: the schema's analyzers and format in every TOC,
# PackedValues in every posting block, and the codec of each segment (StoredCodec since stored fields
# are block-compressed) in the TOC. Renaming any of them makes every existing index unreadable.
PICKLED = ["indexer.analysis.WordTokenizer", "indexer.analysis.GramTokenizer", "indexer.schema.GramPositions",
           "indexer.analysis.EdgeTokenizer",
           "indexer.postings.PackedValues", "indexer.codec.stored.StoredCodec"]


@pytest.mark.parametrize("dotted", PICKLED)
def test_pickled_class_paths_are_pinned(dotted):
    module, _, name = dotted.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    assert f"{cls.__module__}.{cls.__qualname__}" == dotted  # what new indexes write, too


def test_the_prior_index_names_those_classes():
    toc = next((PRIOR / "index").glob("_*.toc")).read_bytes()
    for dotted in PICKLED[:3]:
        module, _, name = dotted.rpartition(".")
        assert module.encode() in toc and name.encode() in toc
    assert next((PRIOR / "index").glob("*.pst")).stat().st_size  # posting blocks (PackedValues), not only inlined


@pytest.fixture
def prior(tmp_path: Path):
    shutil.copytree(PRIOR / "index", tmp_path / "index")
    s = Searcher(Config.load(tmp_path / "index", tmp_path / "no-userdict.txt"))
    yield s
    s.close()


@pytest.mark.parametrize("asked", json.loads((PRIOR / "answers.json").read_text(encoding="utf-8"))["answers"],
                         ids=lambda a: a["q"])
def test_an_index_built_before_the_moves_opens_and_answers(prior, asked):
    r = prior.search(asked["q"], limit=0, **asked["options"])
    assert r.total == asked["total"] and [h.id for h in r.hits] == asked["ids"]
    assert {h.id: [d["id"] for d in h.duplicates] for h in r.hits if h.duplicates} == asked["duplicates"]
    assert not prior.stale_analyzer() and prior.stats()["articles"] == 14
