"""Term record values (`indexer.codec.records`): every layout decodes to the postings written, and the
numpy writer writes what the scalar one does."""

import random

import numpy as np
import pytest
from whoosh.codec.whoosh3 import W3TermInfo

from indexer.codec import records


def _term(rng: random.Random, fixed, n: int, big: bool) -> tuple:
    """Random postings of one term: ascending ids, weights, values of a format with `fixed` value size."""
    top = 10**7 if big else 5000
    ids = sorted(rng.sample(range(top), n))
    floats = rng.random() < 0.2
    weights = [rng.choice([1.5, 0.25, 3.0]) if floats else float(rng.choice([1, 1, 2, 3, 300 if big else 6]))
               for _ in range(n)]
    if rng.random() < 0.3:
        weights = [weights[0]] * n
    if fixed == 0:
        values = [None] * n
    elif fixed == 4:
        values = [rng.randrange(70000 if big else 300).to_bytes(4, "big") for _ in range(n)]
    else:
        values = [b"H" + bytes(rng.randrange(256) for _ in range(2 * rng.randrange(1, 200 if big else 4)))
                  for _ in range(n)]
    lo = rng.choice([0, 3, 120])
    return lo, lo if n == 1 else max(lo, rng.choice([0, 3, 200])), ids, weights, values  # one posting, one length


def _expected(weights: list) -> tuple:
    """Weights as the pickled layout held them: ints when every one of the term's is integral."""
    return tuple(map(int, weights)) if all(w.is_integer() for w in weights) else tuple(weights)


@pytest.mark.parametrize("fixed", [None, 0, 4])
@pytest.mark.parametrize("big", [False, True])
def test_compact_values_round_trip_and_the_numpy_writer_writes_the_same(fixed, big):
    rng = random.Random(f"{fixed}{big}")
    terms = [_term(rng, fixed, rng.choice([1, 1, 2, 3, 7, 32]), big) for _ in range(300)]
    ni = np.array([len(t[2]) for t in terms])
    flat = [x for t in terms for x in zip(*t[2:], strict=True)]
    vlens = np.array([0 if v is None else len(v) for _, _, v in flat])
    vbytes = np.frombuffer(b"".join(v or b"" for _, _, v in flat), dtype=np.uint8)
    plan = records.inline_plan(ni, np.array([t[0] for t in terms]), np.array([t[1] for t in terms]),
                               np.array([d for d, _, _ in flat]), np.array([w for _, w, _ in flat]), vlens, vbytes,
                               fixed)
    out = np.zeros(int(plan["size"].sum()), dtype=np.uint8)
    base = np.cumsum(plan["size"]) - plan["size"]
    records.put_inline(out, base, plan)
    for k, (minl, maxl, ids, weights, values) in enumerate(terms):
        value = records.inline_value(minl, maxl, ids, weights, values, fixed)
        assert out[base[k] : base[k] + plan["size"][k]].tobytes() == value
        assert records.is_compact(value) and records.is_inlined(value)
        info, postings = records.decode(value)
        assert postings == (tuple(ids), _expected(weights), tuple(values))
        assert records.inlined(value) == postings
        # the term info fields the pickled layout holds for these postings
        old = records.INFO.pack(1, sum(weights), len(ids), minl, maxl, max(weights), ids[0], ids[-1])
        assert info == records.INFO.unpack(old) == records.info(value)
        ti, want = records.term_info(value), W3TermInfo.from_bytes(old + b"N.")
        assert (ti.weight(), ti.doc_frequency(), ti.min_length(), ti.max_length(), ti.max_weight(), ti.min_id(),
                ti.max_id()) == (want.weight(), want.doc_frequency(), want.min_length(), want.max_length(),
                                 want.max_weight(), want.min_id(), want.max_id())
        assert ti.inlined_postings() == postings
        assert records.doc_frequency(value) == len(ids)


def test_numpy_statistics_read_every_layout():
    """Document frequencies and first/last documents of pointer, pickled and compact values in one buffer."""
    rng = random.Random(7)
    values, want = [], []
    for k in range(400):
        minl, maxl, ids, weights, vals = _term(rng, None, rng.choice([1, 2, 5]), k % 2 == 0)
        kind = k % 3
        if kind == 0:
            values.append(records.inline_value(minl, maxl, ids, weights, vals, None))
        elif kind == 1:  # the pickled layout of older segments
            import pickle

            values.append(records.INFO.pack(1, sum(weights), len(ids), minl, maxl, max(weights), ids[0], ids[-1])
                          + pickle.dumps((tuple(ids), tuple(weights), tuple(vals)), 2))
        else:
            values.append(records.pointer_value((0, 1.0, 40 + k, minl, maxl, 1.0, ids[0], ids[-1]), 4 * k, 99))
        want.append((len(ids) if kind < 2 else 40 + k, ids[0], ids[-1]))
    starts = np.cumsum([0] + [len(v) for v in values])[:-1]
    u8 = np.frombuffer(b"".join(values), dtype=np.uint8)
    first, last = records.doc_ranges(u8, starts)
    assert list(zip(records.doc_frequencies(u8, starts).tolist(), first.tolist(), last.tolist(), strict=True)) == want
    assert [records.doc_frequency(v) for v in values] == [w[0] for w in want]
    assert records.extent(values[2]) == (8, 99)


@pytest.mark.parametrize("fixed", [None, 0, 4])
@pytest.mark.parametrize("big", [False, True])
def test_groups_of_values_join_with_numpy_as_one_value_each(fixed, big):
    """Two parts' values of the same terms (the second part's documents after the first's) joined."""
    rng = random.Random(f"join{fixed}{big}")
    bufs: list[list[bytes]] = [[], []]
    groups, which, at, counts = [], [], [], []
    for _ in range(200):
        members = rng.choice([[0], [1], [0, 1]])
        split = 10**8
        joined: list = [[], [], [], [], []]
        for p in members:
            minl, maxl, ids, weights, values = _term(rng, fixed, rng.choice([1, 1, 2, 5, 16]), big)
            ids = [d + p * split for d in ids]
            which.append(p)
            at.append(len(bufs[p]))
            bufs[p].append(records.inline_value(minl, maxl, ids, weights, values, fixed))
            joined[0].append((minl, maxl))
            for f, x in zip(joined[1:], (ids, weights, values), strict=False):
                f.extend(x)
        counts.append(len(members))
        spans = [r for r in joined[0] if r != (0, 0)] or [(0, 0)]
        groups.append(records.inline_value(min(r[0] for r in spans), max(r[1] for r in spans), joined[1],
                                           _expected(joined[2]), joined[3], fixed))
    parts = []
    for vs in bufs:
        starts = np.cumsum([0] + [len(v) for v in vs])[:-1]
        parts.append((np.frombuffer(b"".join(vs), dtype=np.uint8), starts))
    got = records.join_values(parts, np.array(which), np.array(at), np.array(counts), fixed)
    assert got == groups
