"""Reading sources into articles: folders and files (`readers`), saved web pages (`html`), encodings
(`decode`), the `Article` record, and the plan of what an index run reads, replaces and removes (`plan`)."""

from . import html  # noqa: F401  (registers the .html/.htm reader with readers.reader; html imports readers, not back)
