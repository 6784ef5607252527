"""What a user installs is what the tests test: the wheel holds every file the packages read."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

import indexer
import search_ui

from .conftest import ROOT


def _editable() -> bool:
    # The metadata in site-packages: an editable install also leaves newssearch.egg-info in the checkout.
    (dist,) = metadata.Distribution.discover(name="newssearch", path=[sysconfig.get_paths()["purelib"]])
    direct = dist.read_text("direct_url.json")
    return bool(direct and json.loads(direct).get("dir_info", {}).get("editable"))


def test_suite_runs_against_the_installed_package():
    """CI installs a built wheel; then the engine must come from site-packages, not this checkout."""
    if _editable():
        pytest.skip("an editable install runs the checkout by design")
    for pkg in (indexer, search_ui):
        where = Path(pkg.__file__).resolve().parent
        assert where != ROOT / pkg.__name__ and where.parent.name == "site-packages", where


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> set[str]:
    """The wheel `pip install .` would build, built from a copy so the checkout gets no build/ folder."""
    out = tmp_path_factory.mktemp("wheel")
    src = out / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "index", "index.*",
                                                             "__pycache__", ".pytest_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)],
                   check=True, capture_output=True)
    (whl,) = out.glob("newssearch-*.whl")
    return set(zipfile.ZipFile(whl).namelist())


def test_wheel_holds_every_file_the_packages_read(wheel):
    # Every non-Python file beside the code (templates, static files) and the default data files.
    wanted = {p.relative_to(ROOT).as_posix() for pkg in ("indexer", "search_ui") for p in (ROOT / pkg).rglob("*")
              if p.is_file() and p.suffix not in (".py", ".pyc")}
    wanted |= {f"indexer/defaults/{p.name}" for p in (ROOT / "data").glob("*.txt")}
    assert wanted and not wanted - wheel, sorted(wanted - wheel)
    assert {"indexer/defaults/synonyms.txt", "indexer/defaults/stopwords.txt",
            "indexer/defaults/userdict.txt", "search_ui/static/style.css"} <= wheel


def test_wheel_holds_every_module_of_every_subpackage(wheel):
    modules = {p.relative_to(ROOT).as_posix() for pkg in ("indexer", "search_ui") for p in (ROOT / pkg).rglob("*.py")}
    assert {"indexer/codec/arrays.py", "indexer/ingest/readers.py"} <= modules
    assert not modules - wheel, sorted(modules - wheel)  # a subpackage missing from pyproject's packages list


def test_every_template_and_static_file_named_in_code_is_in_the_wheel(wheel):
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "search_ui").rglob("*") if p.suffix in
                     (".py", ".html", ".xml"))
    templates = set(re.findall(r"render_template\(\s*[\"']([^\"']+)", code))
    templates |= set(re.findall(r"{%-?\s*(?:extends|include|import|from)\s+[\"']([^\"']+)", code))
    statics = set(re.findall(r"url_for\(\s*[\"']static[\"'],\s*filename=[\"']([^\"']+)", code))
    assert templates and statics
    missing = {f"search_ui/templates/{t}" for t in templates} | {f"search_ui/static/{s}" for s in statics}
    assert not missing - wheel, sorted(missing - wheel)
