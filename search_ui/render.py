"""Terminal rendering of results and figures."""

from __future__ import annotations

import click

from indexer.query import read_as
from indexer.results import SearchResult
from indexer.timeline import Timeline


def _mark(text: str, color: bool) -> str:
    return click.style(text, fg="yellow", bold=True) if color else f"[{text}]"


def print_result(result: SearchResult, color: bool) -> None:
    if result.total and not result.hits:
        click.echo(f"Page {result.page} is past the end: {result.total} article(s) match, "
                   f"on {result.pages} page(s) (--page 1…{result.pages}).")
        return
    if not result.hits:
        click.echo(f"No articles match {result.query!r}.")
        words = " / ".join(read_as(result.query))
        if words:
            click.echo(f"The query was read as: {words}")
        _print_suggestions(result)
        return
    first = (result.page - 1) * max(len(result.hits), 1)
    click.echo(f"{result.total} article(s) match, {result.seconds * 1000:.0f} ms")
    _print_suggestions(result)
    for n, hit in enumerate(result.hits, first + 1):
        click.echo()
        click.echo(f"{n:>3}. " + click.style(hit.title, bold=True) if color else f"{n:>3}. {hit.title}")
        meta = " · ".join(x for x in (hit.date, hit.source) if x)
        if meta:
            click.echo(f"     {meta}")
        snippet = "".join(_mark(t, color) if m else t for t, m in hit.fragments)
        click.echo(f"     {snippet}")
        if hit.keywords:
            click.echo(f"     keywords: {' · '.join(hit.keywords[:6])}")
        click.echo(click.style(f"     {hit.id}", dim=True) if color else f"     {hit.id}")


def _print_suggestions(result: SearchResult) -> None:
    if result.also:
        click.echo("Also searched (regional wording): " + "  |  ".join(result.also))
    if result.suggestions:
        click.echo("Did you mean: " + "  |  ".join(result.suggestions))


def print_stats(st: dict) -> None:
    click.echo(f"index:     {st['index']}")
    click.echo(f"articles:  {st['articles']}")
    click.echo(f"dates:     {st['first_date'] or '-'} … {st['last_date'] or '-'}")
    click.echo(f"size:      {st['size_bytes'] / 1e6:.1f} MB")
    sizes = " + ".join(f"{seg['articles']}" + (f" ({seg['deleted']} deleted)" if seg["deleted"] else "")
                       for seg in st["segments"])
    click.echo(f"segments:  {len(st['segments'])}: {sizes or '-'}")
    click.echo(f"deleted:   {st['deleted']} (kept until a merge rewrites their segment; --optimize drops all)")
    stale = "" if st["analyzer"] == st["analyzer_current"] else "  (stale: run newssearch index --rebuild)"
    click.echo(f"analyzer:  {st['analyzer']}{stale}")
    last = st.get("last_run") or {}
    if last:
        click.echo(
            f"last run:  {last.get('finished')}: added {last.get('added')}, updated {last.get('updated')}, "
            f"removed {last.get('removed')}, unchanged {last.get('unchanged')}, failed {last.get('failed')}"
        )
    click.echo(f"folders:   {', '.join(st['roots']) or '-'}")
    for name, path in st["data_files"].items():
        click.echo(f"{name + ':':<10} {path or '- (none)'}")
    unattributed = f" (and {st['unattributed']} article(s) naming none)" if st.get("unattributed") else ""
    click.echo(f"sources:   {len(st['sources'])}{unattributed}")
    for name, count in list(st["sources"].items())[:10]:
        click.echo(f"  {count:>7}  {name}")
    if "sizes" in st:
        print_sizes(st["sizes"], st["size_bytes"])


def print_sizes(sizes: dict, total: int) -> None:
    """`stats --sizes`: bytes per kind of file, then per field (term records and posting blocks)."""
    mb = 1e6
    click.echo("\nsize by kind of file:")
    for kind, n in sizes["files"].items():
        click.echo(f"  {n / mb:>9.2f} MB  {n / (total or 1):>4.0%}  {kind}")
    parts = sizes.get("term_table") or {}
    click.echo("term table: " + ", ".join(f"{k} {v / mb:.2f} MB" for k, v in parts.items()))
    click.echo("size by field (term table records, posting blocks; the term table also holds hash tables):")
    click.echo(f"  {'field':<12} {'terms':>10} {'term MB':>9} {'posting MB':>11}")
    for name, f in sizes["fields"].items():
        click.echo(f"  {name:<12} {f['terms']:>10,} {f['term_bytes'] / mb:>9.2f} {f['posting_bytes'] / mb:>11.2f}")


def timeline_bars(timeline: Timeline, width: int = 40) -> list[str]:
    """The timeline as lines of a text bar chart (for the terminal)."""
    if not timeline.buckets and not timeline.undated:
        return ["no hits"]
    peak = timeline.peak or 1
    lines = []
    for b in timeline.buckets:
        n = round(b.count / peak * width)
        bar = "█" * n if n or not b.count else "▏"
        lines.append(f"{b.label:<7} {b.count:>6} {bar}")
    if timeline.undated:
        lines.append(f"{'undated':<7} {timeline.undated:>6}")
    return lines
