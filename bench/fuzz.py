"""Fuzz the query parser and the HTML ingest.

With atheris (``pip install -e '.[fuzz]'``) the search is coverage-guided over our own
modules; without it, hypothesis drives the generators of tests/test_hostile.py.
Any exception other than ``indexer.errors`` is a crash (atheris saves the input).

    python -m bench.fuzz query -runs=20000
    python -m bench.fuzz html -runs=3000 -max_len=20000
    python -m bench.fuzz html --hypothesis 1000

It prints how many cases ran.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import lxml.html  # noqa: F401  (dependencies load before instrumentation: only our code is traced)
import trafilatura  # noqa: F401
import whoosh.query  # noqa: F401

RUNS = 0


def _runs_wanted(argv: list[str]) -> int:
    return next((int(a.split("=", 1)[1]) for a in argv if a.startswith("-runs=")), 0)


def targets() -> dict[str, Callable[[bytes], None]]:
    from indexer.errors import NewssearchError
    from indexer.ingest.decode import decode_bytes, sniff_declared
    from indexer.ingest.html import parse_page
    from indexer.query import parse, words_of

    def query(data: bytes) -> None:
        text = data.decode("utf-8", "surrogateescape")  # what argv would hand us
        try:
            parsed = parse(text)
        except NewssearchError:
            return
        parsed.highlight_terms()
        for c in parsed.clauses:
            for a in c.atoms:
                words_of(a.text)

    def html(data: bytes) -> None:
        try:
            parse_page(decode_bytes(data, sniff_declared(data))[0], "fuzz.html")
        except NewssearchError:
            return

    return {"query": query, "html": html}


def counted(fn: Callable[[bytes], None], wanted: int) -> Callable[[bytes], None]:
    def one(data: bytes) -> None:
        global RUNS
        fn(data)
        RUNS += 1
        if RUNS % 1000 == 0 or RUNS == wanted:
            print(f"fuzz: {RUNS} cases run without a crash", flush=True)

    return one


def with_hypothesis(name: str, fn: Callable[[bytes], None], n: int) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.test_hostile import hostile_query, html_file

    data = hostile_query.map(lambda q: q.encode("utf-8", "surrogatepass")) if name == "query" else html_file
    run = settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))(
        given(st.one_of(data, st.binary(max_size=4000)))(fn))
    run()
    print(f"fuzz: {RUNS} cases run without a crash (hypothesis)")


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in ("query", "html"):
        sys.exit(__doc__)
    name = sys.argv.pop(1)
    if "--hypothesis" in sys.argv:
        n = int(sys.argv[sys.argv.index("--hypothesis") + 1])
        with_hypothesis(name, counted(targets()[name], n), n)
        return
    try:
        import atheris
    except ImportError:
        with_hypothesis(name, counted(targets()[name], 1000), 1000)
        return
    with atheris.instrument_imports(include=["indexer"]):
        fn = targets()[name]
    atheris.Setup(sys.argv, counted(fn, _runs_wanted(sys.argv)))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
