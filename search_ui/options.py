"""Click options shared by the ``newssearch`` commands (kept apart so that cli.py and serve.py both import it)."""

from __future__ import annotations

import click

index_option = click.option(
    "--index", "index_dir", metavar="DIR", help="Index directory [env NEWSSEARCH_INDEX; default data/index]."
)
