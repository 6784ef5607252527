"""The ``newssearch`` command: a thin layer that turns engine errors into messages.

Exit codes: 0 success; 1 some files or folders could not be indexed (the rest were; what was
indexed from them is kept), or the run would remove over 20 % of the index and changed nothing;
2 bad usage or query; 3 no index, or an unreadable one; 4 no such article;
74 the index cannot be written (read-only, disk full); 75 another index run holds the lock (try again later).
``index`` lists every file it could not read on stderr as ``error: PATH: reason`` and indexes the rest;
with ``--quiet`` those lines and the summary line are all it prints (for cron mail).
"""

from __future__ import annotations

import json
import sys
from functools import wraps
from pathlib import Path
from typing import Any

import click

from indexer.config import Config
from indexer.errors import (
    ArticleNotFound,
    IndexBusy,
    IndexCorrupt,
    IndexNotFound,
    IndexUnwritable,
    MassRemoval,
    NewssearchError,
    QueryError,
)

from .options import index_option
from .serve import serve

EXIT = {MassRemoval: 1, QueryError: 2, IndexNotFound: 3, IndexCorrupt: 3, ArticleNotFound: 4, IndexUnwritable: 74,
        IndexBusy: 75}


def friendly(fn):
    """Print engine errors as one line with a hint, and exit with the documented code."""

    @wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except NewssearchError as exc:
            for problem in getattr(exc, "problems", []):
                click.echo(f"error: {problem}", err=True)
            click.echo(f"newssearch: {exc}", err=True)
            if exc.hint:
                click.echo(f"hint: {exc.hint}", err=True)
            sys.exit(next((c for t, c in EXIT.items() if isinstance(exc, t)), 2))

    return run


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newssearch")
def main() -> None:
    """Full-text search for Chinese local-government news, in both scripts."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@index_option
@click.option("--rebuild", is_flag=True, help="Build a fresh index beside the old one and swap it in.")
@click.option("--optimize", is_flag=True,
              help="Also merge the index into one segment without deleted articles (searches keep working).")
@click.option("--wait", type=float, default=0, show_default=True, metavar="SECONDS",
              help="Wait this long for another run to finish, then exit 75.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary line and errors (for cron).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--allow-mass-removal", is_flag=True,
              help="Let this run remove more than 20 % of the index (otherwise it stops and exits 1).")
@click.option("--forget", multiple=True, type=click.Path(path_type=Path), metavar="FOLDER",
              help="Stop indexing a remembered FOLDER and remove its articles (repeatable; nothing else is read).")
@friendly
def index(paths: tuple[Path, ...], index_dir: str | None, rebuild: bool, optimize: bool, wait: float, quiet: bool,
          as_json: bool, allow_mass_removal: bool, forget: tuple[Path, ...]) -> None:
    """Index articles from PATHS (files or folders; .txt, .json, .jsonl, .html).

    With no PATHS, re-scan the folders indexed before (what cron runs). A folder
    that is missing, cannot be listed, or is empty though articles came from it,
    is an error (exit 1) and its articles are kept.
    """
    from indexer.writer import run_index

    if forget and (paths or rebuild):
        raise click.UsageError("--forget runs on its own: no PATHS, no --rebuild")

    config = Config.load(index_dir)
    bars: dict[str, Any] = {}  # one bar per stage: reading files, then analyzing articles
    show_bar = not quiet and not as_json and sys.stderr.isatty()

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            for bar in bars.values():
                bar.render_finish()
            bars[stage] = click.progressbar(length=total, label=f"{stage:<8}", file=sys.stderr,
                                            show_pos=True, item_show_func=lambda _: "files" if stage == "Reading"
                                            else "articles")
        bar = bars[stage]
        bar.update(min(done, total) - bar.pos)

    try:
        summary = run_index(config, list(paths) or None, rebuild=rebuild, wait=wait,
                            progress=progress if show_bar else None, allow_mass_removal=allow_mass_removal,
                            forget=forget, optimize=optimize)
    finally:
        for bar in bars.values():
            bar.render_finish()
    for problem in summary.problems:
        click.echo(f"error: {problem}", err=True)
    if as_json:
        click.echo(json.dumps({**summary.as_dict(), "problems": summary.problems}, ensure_ascii=False))
    else:
        click.echo(summary.line())
    sys.exit(1 if summary.failed else 0)


class QueryCommand(click.Command):
    """Reads ``-word`` among the query words as an exclusion, not as an unknown option.

    click would stop at ``-通报`` ("No such option"); every token that is not one of the
    command's own options (with its value) is a query word, in the order typed.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes_value = {name: not p.is_flag for p in self.get_params(ctx) if isinstance(p, click.Option)
                       for name in p.opts + p.secondary_opts}
        options: list[str] = []
        words: list[str] = []
        rest = iter(args)
        for arg in rest:
            if arg == "--":
                words.extend(rest)
                break
            long = arg.startswith("--")
            name = arg.split("=", 1)[0] if long else arg[:2]
            glued_to_flag = not long and len(arg) > 2 and takes_value.get(name) is False  # -hello is a word
            if not long and (name not in takes_value or glued_to_flag):
                words.append(arg)
                continue
            options.append(arg)  # unknown --options stay options, so click reports a typo
            if takes_value.get(name) and arg == name:  # its value is the next token, whatever it looks like
                options.extend(v for v in [next(rest, None)] if v is not None)
        return super().parse_args(ctx, [*options, "--", *words])


@main.command(cls=QueryCommand)
@click.argument("words", nargs=-1, required=True)
@index_option
@click.option("--limit", "-n", type=click.IntRange(0), default=10, show_default=True, help="Hits per page; 0 for all.")
@click.option("--page", type=click.IntRange(1), default=1, show_default=True)
@click.option("--sort", type=click.Choice(["relevance", "date", "date-asc"]),
              help="date: newest first; date-asc: oldest first [default: relevance; date for atom]")
@click.option("--since", metavar="YYYY-MM-DD", help="Only articles published on or after this date.")
@click.option("--until", metavar="YYYY-MM-DD", help="Only articles published on or before this date.")
@click.option("--source", metavar="TEXT", help="Only articles whose publishing unit contains TEXT.")
@click.option("--since-last-run", "new", is_flag=True, help="Only articles the latest index run added or changed.")
@click.option("--timeline", is_flag=True, help="Print hits per month (per year over 3 years) instead of hits.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "atom", "csv"]), default="text", show_default=True,
              help="atom: an Atom feed of the hits, newest first, linking to the web UI at --base-url. "
                   "csv: every hit (at most 10,000; --limit and --page are ignored) for a spreadsheet, UTF-8 with BOM.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--base-url", envvar="NEWSSEARCH_URL", default="http://127.0.0.1:8000/", show_default=True,
              help="Where newssearch serve is reached, for the links in an Atom feed [env NEWSSEARCH_URL].")
@friendly
def query(words: tuple[str, ...], index_dir: str | None, limit: int, page: int, sort: str | None,
          since: str | None, until: str | None, source: str | None, new: bool, timeline: bool, fmt: str,
          as_json: bool, base_url: str) -> None:
    """Search for WORDS: all required; "a phrase"; A OR B; -word; title:word.

    Either script finds both: 整改落实 finds 整改落實.
    """
    from indexer.search import Searcher

    fmt = "json" if as_json else fmt
    if timeline and fmt in ("atom", "csv"):
        raise QueryError(f"--timeline has no {fmt.upper() if fmt == 'csv' else fmt.title()} form",
                         hint="use --format text or json")
    sort = sort or ("date" if fmt == "atom" else "relevance")
    searcher = Searcher(Config.load(index_dir))
    text = " ".join(words)
    filters = {"since": since, "until": until, "source": source, "new": new}
    if fmt == "csv":
        from indexer.export import MAX_ROWS, to_csv

        result = searcher.search(text, limit=MAX_ROWS, sort=sort, keywords=False, suggest=False, **filters)
        sys.stdout.write(to_csv(result))  # no newline translation: rows end in CRLF
        if result.total > MAX_ROWS:
            click.echo(f"warning: {result.total} articles match; the CSV has the first {MAX_ROWS}", err=True)
        return
    with searcher.request():  # the hits and the timeline share one evaluation of the query
        result = searcher.search(text, limit=limit, page=page, sort=sort, **filters)
        tl = searcher.timeline(text, **filters) if timeline else None
    if searcher.stale_analyzer():
        click.echo("warning: the index was built with another analyzer or user dictionary; "
                   "run: newssearch index --rebuild", err=True)
    if fmt == "json":
        click.echo(json.dumps({**result.as_dict(), **({"timeline": tl.as_dict()} if tl else {})}, ensure_ascii=False))
    elif fmt == "atom":
        from .feed import build_feed

        params = {"q": text, **filters, "new": 1 if new else None}
        click.echo(build_feed(result, base_url, params), nl=False)
    elif tl:
        from .render import timeline_bars

        click.echo(f"{result.total} article(s) match, per {tl.unit or 'month'}:")
        click.echo("\n".join(timeline_bars(tl)))
    else:
        from .render import print_result

        print_result(result, color=sys.stdout.isatty())


@main.command()
@click.argument("article_id")
@index_option
@click.option("--json", "as_json", is_flag=True, help="Print the article as JSON.")
@friendly
def show(article_id: str, index_dir: str | None, as_json: bool) -> None:
    """Print the article with ARTICLE_ID (ids are in query --json output)."""
    from indexer.search import Searcher

    searcher = Searcher(Config.load(index_dir))
    art = searcher.article(article_id)
    if as_json:
        click.echo(json.dumps(art, ensure_ascii=False))
        return
    click.echo(click.style(art["title"], bold=True))
    meta = " · ".join(x for x in (art.get("date"), art.get("source"), art.get("reporter")) if x)
    if meta:
        click.echo(meta)
    if art.get("url"):
        click.echo(art["url"])
    click.echo()
    click.echo(art["body"])
    if art.get("keywords"):
        click.echo(f"\nkeywords: {' · '.join(art['keywords'])}")
    related = searcher.related(article_id)
    if related:
        click.echo("\nrelated:")
        for hit in related:
            click.echo(f"  {hit.date or '':10}  {hit.title}  ({hit.id})")


@main.command()
@index_option
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--sizes", is_flag=True, help="Also show what each kind of file and each field costs.")
@friendly
def stats(index_dir: str | None, as_json: bool, sizes: bool) -> None:
    """Count articles, sources and dates; show index size, analyzer version and last run."""
    from indexer.search import Searcher

    st = Searcher(Config.load(index_dir)).stats(sizes=sizes)
    if as_json:
        click.echo(json.dumps(st, ensure_ascii=False))
        return
    from .render import print_stats

    print_stats(st)


main.add_command(serve)
