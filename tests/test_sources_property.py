"""Property: after every index run the index holds exactly the ids of the readable source files.

Random sequences of file operations on a source folder of tiny synthetic JSON-lines files:
add, rewrite, rewrite keeping size and mtime (``cp -p``), empty, delete, move, repeat an id
held by another file, make a subfolder unreadable and readable again. After each operation
the folder is indexed (one run in ten with --rebuild) and checked against a model of it:

- the index holds exactly the ids in the readable files, plus every id that a file below an
  unreadable folder held when it was last seen (never removed while it cannot be seen);
- an id held by several readable files is indexed from the first file in path order (its
  first record there), with that record's body; a run never loses it whichever copy goes;
- a folder that held articles and now holds no file at all is kept whole (an unmounted share);
- a run that would remove more than 20 % of the index stops and changes nothing, and only
  then; the same run with allow_mass_removal goes through.

The default runs ``run_index`` in this process (5 sequences x 40 runs); ``-m slow`` runs
many more sequences, and the same property through the installed ``newssearch`` CLI.
"""

from __future__ import annotations

import json
import os
import random
import stat
import subprocess
from pathlib import Path

import pytest

from indexer.config import Config
from indexer.errors import MassRemoval
from indexer.store import IndexDir
from indexer.writer import MASS_REMOVAL_SHARE, run_index

from .conftest import EXE
from .fixtures.perms import can_make_unreadable, drop_dac, without_dac

FOLDERS = ("", "d0", "d1", "d1/e")  # "" is the indexed folder itself; it stays readable
IDS = [f"i{n}" for n in range(14)]  # a small pool, so that files repeat ids by chance as well

pytestmark = pytest.mark.skipif(not can_make_unreadable(), reason="cannot make a folder unreadable here")


class Model:
    """The source folder as the test sees it: file (relative path) -> records [(id, body)]."""

    def __init__(self, root: Path, rng: random.Random) -> None:
        self.root, self.rng = root, rng
        self.files: dict[str, list[tuple[str, str]]] = {}
        self.unreadable: set[str] = set()
        self.known: dict[str, list[str]] = {}  # file -> ids, as the last run saw it
        self.serial = 0
        self.log: list[str] = []
        for f in FOLDERS[1:]:
            (root / f).mkdir(parents=True, exist_ok=True)

    # --- what is where ---
    def hidden(self, rel: str) -> bool:
        return any(rel.startswith(f + "/") for f in self.unreadable)

    def readable_files(self) -> list[str]:
        return sorted(f for f in self.files if not self.hidden(f))

    def readable_folders(self) -> list[str]:
        return [f for f in FOLDERS if not any(f == u or f.startswith(u + "/") for u in self.unreadable)]

    def key(self, rel: str) -> str:
        return str(self.root / rel)

    def body(self) -> str:
        self.serial += 1
        return f"合成正文第{self.serial:06d}号"  # fixed width: rewrites of the same shape keep the file size

    def write(self, rel: str, records: list[tuple[str, str]]) -> None:
        self.files[rel] = records
        text = "".join(json.dumps({"id": i, "title": f"合成标题{i}", "body": b}, ensure_ascii=False) + "\n"
                       for i, b in records)
        (self.root / rel).write_text(text, encoding="utf-8")

    def records(self) -> list[tuple[str, str]]:
        return [(self.rng.choice(IDS), self.body()) for _ in range(self.rng.randint(1, 3))]

    # --- operations ---
    def step(self) -> None:
        ops = ["add", "add"]
        if self.readable_files():
            ops += ["rewrite", "same_size", "delete", "move", "duplicate", "empty"]
        if len(self.unreadable) < 2:
            ops.append("hide")
        if self.unreadable:
            ops += ["show", "show"]
        getattr(self, f"op_{self.rng.choice(ops)}")()

    def op_add(self) -> None:
        folder = self.rng.choice(self.readable_folders())
        rel = f"{folder}/f{self.serial:06d}.jsonl".lstrip("/")
        self.write(rel, self.records())
        self.log.append(f"add {rel} {self.files[rel]}")

    def op_rewrite(self) -> None:
        rel = self.rng.choice(self.readable_files())
        keep = [r for r in self.files[rel] if self.rng.random() < 0.5]
        self.write(rel, keep + self.records())
        self.log.append(f"rewrite {rel} {self.files[rel]}")

    def op_same_size(self) -> None:
        """New bodies, same length, mtime put back: what cp -p, rsync -t and tar do."""
        rel = self.rng.choice(self.readable_files())
        path = self.root / rel
        st = path.stat()
        self.write(rel, [(i, self.body()) for i, _ in self.files[rel]])
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert path.stat().st_size == st.st_size
        self.log.append(f"same_size {rel} {self.files[rel]}")

    def op_empty(self) -> None:
        rel = self.rng.choice(self.readable_files())
        self.write(rel, [])
        self.log.append(f"empty {rel}")

    def op_delete(self) -> None:
        rel = self.rng.choice(self.readable_files())
        (self.root / rel).unlink()
        del self.files[rel]
        self.log.append(f"delete {rel}")

    def op_move(self) -> None:
        rel = self.rng.choice(self.readable_files())
        folder = self.rng.choice(self.readable_folders())
        new = f"{folder}/m{self.serial:06d}.jsonl".lstrip("/")
        self.serial += 1
        (self.root / rel).rename(self.root / new)
        self.files[new] = self.files.pop(rel)
        self.log.append(f"move {rel} -> {new}")

    def op_duplicate(self) -> None:
        """Repeat an id another file holds (with another body), in a readable file."""
        held = [i for f in self.files for i, _ in self.files[f]]
        if not held:
            return self.op_add()
        rel = self.rng.choice(self.readable_files())
        records = list(self.files[rel])
        records.insert(self.rng.randint(0, len(records)), (self.rng.choice(held), self.body()))
        self.write(rel, records)
        self.log.append(f"duplicate {rel} {self.files[rel]}")

    def op_hide(self) -> None:
        folder = self.rng.choice([f for f in self.readable_folders() if f])
        (self.root / folder).chmod(0)
        self.unreadable.add(folder)
        self.log.append(f"hide {folder}")

    def op_show(self) -> None:
        folder = self.rng.choice(sorted(self.unreadable))
        (self.root / folder).chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        self.unreadable.discard(folder)
        self.log.append(f"show {folder}")

    def rebuild(self) -> bool:
        """One run in ten is a --rebuild, which must keep the same articles."""
        if self.rng.random() < 0.1:
            self.log.append("(--rebuild)")
            return True
        return False

    def reveal(self) -> None:
        for folder in sorted(self.unreadable):
            (self.root / folder).chmod(0o755)

    # --- what the index must hold ---
    def expected(self, before: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str] | None]:
        """id -> (file key, body) it must be indexed from, or None where any copy will do (unreadable)."""
        if not self.files and not self.unreadable:
            return dict.fromkeys(before)  # the folder holds no file at all: kept as it was
        out: dict[str, tuple[str, str] | None] = {}
        for rel in sorted(self.files, key=self.key):
            for i, b in self.files[rel]:
                if not self.hidden(rel) and i not in out:
                    out[i] = (self.key(rel), b)
        # never fewer than before below an unreadable folder: what its files held when last seen
        for rel, ids in self.known.items():
            if self.hidden(rel):
                out.update(dict.fromkeys(ids))
        return out

    def seen(self) -> None:
        """After a run: what the indexer knows of each file (a folder that looked unmounted taught it nothing)."""
        if not self.files and not self.unreadable:
            return
        self.known = {rel: ids for rel, ids in self.known.items() if self.hidden(rel)}
        self.known.update({rel: [i for i, _ in recs] for rel, recs in self.files.items() if not self.hidden(rel)})


def indexed(config: Config) -> dict[str, tuple[str, str]]:
    """id -> (file, body) of every article in the live generation."""
    store = IndexDir(config.index)
    if not store.state().get("generation"):
        return {}
    ix, _ = store.open()
    with ix.searcher() as s:
        return {d["id"]: (d["file"], d["body"]) for d in s.documents()}


def check(model: Model, before: dict, after: dict, stopped: bool) -> None:
    want = model.expected(before)
    history = "\n".join(model.log[-12:])
    assert set(after) == set(want), (
        f"missing {sorted(set(want) - set(after))}, extra {sorted(set(after) - set(want))}\n{history}")
    for i, copy in want.items():
        if copy is not None:
            assert after[i] == copy, f"{i}: indexed {after[i]}, expected {copy}\n{history}"
    removed = set(before) - set(want)
    assert stopped == (len(removed) > MASS_REMOVAL_SHARE * len(before)), (
        f"guard {'fired' if stopped else 'silent'} removing {len(removed)} of {len(before)}\n{history}")
    model.seen()


def in_process(model: Model, config: Config, first: bool) -> None:
    before = indexed(config)
    paths = [model.root] if first else None
    rebuild = model.rebuild()
    stopped = False
    with without_dac():
        try:
            run_index(config, paths, rebuild=rebuild)
        except MassRemoval:
            stopped = True
    if stopped:
        assert indexed(config) == before, "a stopped run changed the index"
        with without_dac():
            run_index(config, paths, rebuild=rebuild, allow_mass_removal=True)
    check(model, before, indexed(config), stopped)


def through_cli(model: Model, config: Config, first: bool) -> None:
    env = {**os.environ, "NEWSSEARCH_INDEX": str(config.index), "NEWSSEARCH_USERDICT": str(config.userdict)}
    before = indexed(config)
    args = [str(EXE), "index", "--quiet", *([str(model.root)] if first else []),
            *(["--rebuild"] if model.rebuild() else [])]

    def run(*extra: str) -> subprocess.CompletedProcess:
        p = subprocess.run([*args, *extra], env=env, capture_output=True, text=True, preexec_fn=drop_dac)
        assert "Traceback" not in p.stderr and p.returncode in (0, 1), p.stderr
        return p

    p = run()
    stopped = "would remove" in p.stderr
    if stopped:
        assert p.returncode == 1 and indexed(config) == before
        run("--allow-mass-removal")
    check(model, before, indexed(config), stopped)


def run_sequences(tmp_path: Path, seeds: range, steps: int, runner) -> int:
    runs = 0
    for seed in seeds:
        rng = random.Random(seed)
        model = Model(tmp_path / f"src{seed}", rng)
        config = Config.load(tmp_path / f"ix{seed}", tmp_path / "no-userdict.txt")
        try:
            model.op_add()
            for n in range(steps):
                if n:
                    model.step()
                runner(model, config, n == 0)
                runs += 1
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}, step {len(model.log)}: {exc}") from None
        finally:
            model.reveal()
    return runs


def test_index_equals_readable_sources_after_every_run(tmp_path: Path) -> None:
    assert run_sequences(tmp_path, range(5), 40, in_process) >= 200


@pytest.mark.slow
def test_index_equals_readable_sources_long(tmp_path: Path) -> None:
    assert run_sequences(tmp_path, range(100, 160), 40, in_process) >= 2000


@pytest.mark.slow
def test_index_equals_readable_sources_through_the_cli(tmp_path: Path) -> None:
    assert run_sequences(tmp_path, range(200, 206), 20, through_cli) >= 120
