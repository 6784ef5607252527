"""Segmentation benchmark (issue 5): SIGHAN 2005 test sets, scored by character offsets.

Configurations, each run over every line of each test set:

* rjieba raw: rjieba default mode on the text as given;
* rjieba norm: newssearch's normalization first (NFKC, lowercase, per-character
  Traditional → Simplified; one character to one, so offsets map straight back);
* rjieba norm+data dict: normalization plus data/userdict.txt (if it exists),
  loaded with ``indexer.segmenter.load_userdict``;
* rjieba norm+temp dict: on top of that, a temp user dictionary of training-set
  words that jieba's dictionary lacks, written in the corpus's own script (so
  Traditional entries go through load_userdict's normalization);
* jieba raw / jieba norm: jieba 0.42.1 for reference.

Each corpus runs in its own process, because user-dictionary words cannot be
removed from the segmenter once added. Words are compared as spans over the
non-whitespace characters of a line; OOV means "not in *_training_words.utf8".
Lines where gold and input differ after removing whitespace (16 in msr, 1 in
as, see the corpus README) are segmented from the gold's characters instead.

Usage: python bench/segmentation.py [--corpus DIR] [--dict-words N]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import random
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import DEFAULT_CORPUS, ROOT, SEED
from indexer.normalize import is_han, normalize

CORPORA = ("pku", "msr", "as", "cityu")
USERDICT = ROOT / "data" / "userdict.txt"
Span = tuple[int, int]


def read_lines(path: Path) -> list[str]:
    """Lines of a SIGHAN file: BOM and CRLF removed, no trailing empty line."""
    lines = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def spans(tokens: Iterable[str]) -> list[Span]:
    """Spans of tokens over the line's non-whitespace characters (whitespace-only tokens drop out)."""
    out, pos = [], 0
    for tok in tokens:
        n = sum(not c.isspace() for c in tok)
        if n:
            out.append((pos, pos + n))
            pos += n
    return out


@dataclass
class Score:
    gold: int = 0
    pred: int = 0
    correct: int = 0
    oov: int = 0
    oov_correct: int = 0
    seconds: float = 0.0

    def row(self) -> list[float]:
        p = self.correct / self.pred if self.pred else 0.0
        r = self.correct / self.gold if self.gold else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        iv = self.gold - self.oov
        iv_r = (self.correct - self.oov_correct) / iv if iv else 0.0
        return [p, r, f1, self.oov_correct / self.oov if self.oov else 0.0, iv_r, self.oov / self.gold]


def load_test(seg_dir: Path, name: str) -> tuple[list[str], list[list[str]], set[str], int]:
    """Inputs, gold words per line, training vocabulary, and how many inputs were taken from gold."""
    test = read_lines(seg_dir / f"{name}_test.utf8")
    gold = read_lines(seg_dir / f"{name}_test_gold.utf8")
    if len(test) != len(gold):
        raise SystemExit(f"{name}: {len(test)} test lines but {len(gold)} gold lines")
    vocab = {w.strip() for w in read_lines(seg_dir / f"{name}_training_words.utf8") if w.strip()}
    inputs, golds, realigned = [], [], 0
    for line, g in zip(test, gold, strict=True):
        words = g.split()
        if not words:
            continue
        if "".join(line.split()) != "".join(words):
            line, realigned = "".join(words), realigned + 1
        inputs.append(line)
        golds.append(words)
    return inputs, golds, vocab, realigned


def score(segment: Callable[[str], list[str]], inputs: list[str], golds: list[list[str]], vocab: set[str]) -> Score:
    s = Score()
    start = time.perf_counter()
    for line, words in zip(inputs, golds, strict=True):
        pred = set(spans(segment(line)))
        s.pred += len(pred)
        s.gold += len(words)
        for w, sp in zip(words, spans(words), strict=True):
            hit = sp in pred
            s.correct += hit
            if w not in vocab:
                s.oov += 1
                s.oov_correct += hit
    s.seconds = time.perf_counter() - start
    return s


def temp_userdict(vocab: set[str], n: int, path: Path) -> Path:
    """A user dictionary of `n` (0: all) training words of ≥ 2 Han characters that jieba's dictionary lacks."""
    import rjieba

    fresh = sorted(w for w in vocab if len(w) >= 2 and all(map(is_han, w)) and not rjieba.has_word(normalize(w)))
    picked = sorted(random.Random(SEED).sample(fresh, n)) if 0 < n < len(fresh) else fresh
    path.write_text("".join(f"{w}\n" for w in picked), encoding="utf-8")
    return path


def _entries(path: Path) -> int:
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    return sum(1 for ln in lines if ln.strip() and not ln.lstrip().startswith("#"))


def run_corpus(args: tuple[Path, str, int]) -> tuple[str, int, list[tuple[str, Score]]]:
    """Every configuration on one corpus (in a fresh process: the user dictionary is global state)."""
    seg_dir, name, dict_words = args
    import rjieba

    from indexer.segmenter import load_userdict

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="invalid escape sequence", category=SyntaxWarning)
        import jieba
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    inputs, golds, vocab, realigned = load_test(seg_dir, name)
    rows = [
        ("rjieba raw", score(rjieba.cut, inputs, golds, vocab)),
        ("rjieba norm", score(lambda t: rjieba.cut(normalize(t)), inputs, golds, vocab)),
    ]
    if USERDICT.is_file():
        load_userdict(USERDICT)
        label = f"norm+data dict ({_entries(USERDICT)})"
        rows.append((f"rjieba {label}", score(lambda t: rjieba.cut(normalize(t)), inputs, golds, vocab)))
    with tempfile.TemporaryDirectory() as tmp:
        path = temp_userdict(vocab, dict_words, Path(tmp, "userdict.txt"))
        label = f"norm+temp dict ({_entries(path)})"
        load_userdict(path)
    rows.append((f"rjieba {label}", score(lambda t: rjieba.cut(normalize(t)), inputs, golds, vocab)))
    rows.append(("jieba raw", score(lambda t: list(jieba.cut(t)), inputs, golds, vocab)))
    rows.append(("jieba norm", score(lambda t: list(jieba.cut(normalize(t))), inputs, golds, vocab)))
    return name, realigned, rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--dict-words", type=int, default=500,
                    help="temp user dictionary words per corpus (default 500; 0: every one)")
    args = ap.parse_args(argv)
    seg_dir = args.corpus / "segmentation"
    if not seg_dir.is_dir():
        raise SystemExit(f"no SIGHAN data at {seg_dir} (pass --corpus DIR)")
    jobs = [(seg_dir, name, args.dict_words) for name in CORPORA]
    with multiprocessing.get_context("spawn").Pool(2, maxtasksperchild=1) as pool:
        results = pool.map(run_corpus, jobs, chunksize=1)
    head = ["corpus", "configuration" + " " * 17, "P    ", "R    ", "F1   ", "OOV R", "IV R ", "OOV % ", "chars/s"]
    print(" | ".join(head))
    notes = []
    for name, realigned, rows in results:
        chars = sum(len(ln) for ln in load_test(seg_dir, name)[0])
        if realigned:
            notes.append(f"{name}: {realigned} lines segmented from the gold's characters")
        for config, s in rows:
            p, r, f1, oov_r, iv_r, oov_rate = s.row()
            cells = [name, config, f"{p:.3f}", f"{r:.3f}", f"{f1:.3f}", f"{oov_r:.3f}", f"{iv_r:.3f}",
                     f"{100 * oov_rate:.1f}", f"{chars / s.seconds:,.0f}"]
            print(" | ".join(c.ljust(len(h)) if k < 2 else c.rjust(len(h)) for k, (c, h) in enumerate(zip(cells, head,
                                                                                                           strict=True))))
    print("\n" + "; ".join(notes) + (f"; data dict = {USERDICT}" if USERDICT.is_file() else ""))
    print("temp dict = training-set words of ≥ 2 Han characters missing from jieba's dictionary, "
          f"{args.dict_words or 'all'} per corpus (seed {SEED}), applied on top of the data dict")


if __name__ == "__main__":
    main()
