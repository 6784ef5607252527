"""Exceptions raised by the engine; the CLI and web layers turn them into messages."""

from __future__ import annotations


class NewssearchError(Exception):
    """Base class: every error the engine raises on purpose. `hint` says what to do.

    `code` names the kind of error for the faces, which map codes to messages in
    their own language (search_ui/messages.py); `params` are the figures a
    message needs. The English text (str(exc), `hint`) is the CLI's.
    """

    hint: str = ""
    code: str = "error"

    def __init__(self, message: str, hint: str = "", code: str = "", **params: object) -> None:
        super().__init__(message)
        if hint:
            self.hint = hint
        if code:
            self.code = code
        self.params = params


class ConfigError(NewssearchError):
    """A setting or operator-editable file is wrong."""

    code = "config"


class IndexNotFound(NewssearchError):
    """There is no index at the given location."""

    code = "index.not_found"
    hint = "build one first: newssearch index PATH  (or point --index / NEWSSEARCH_INDEX at it)"


class IndexCorrupt(NewssearchError):
    """The index exists but cannot be read."""

    code = "index.corrupt"
    hint = "rebuild it: newssearch index --rebuild"


class IndexUnwritable(NewssearchError):
    """The index directory cannot be written (read-only, disk full, not a folder); it is left as it was."""

    code = "index.unwritable"
    hint = "the last good index is still served; make room or fix permissions, then run again"


class IndexBusy(NewssearchError):
    """Another run is writing the index."""

    code = "index.busy"
    hint = "wait for it, or pass --wait SECONDS"


class QueryError(NewssearchError):
    """The query cannot be understood."""

    code = "query"


class ArticleNotFound(NewssearchError):
    """No article has the given id."""

    code = "article.not_found"
    hint = "ids are shown by newssearch query --json"


class IngestError(NewssearchError):
    """One source file cannot be read; the run reports it and goes on."""

    code = "ingest"

class MassRemoval(NewssearchError):
    """A run would remove more than the allowed share of the index; it changed nothing.

    `problems` holds what the run met on the way (a vanished folder is the usual cause).
    """

    code = "index.mass_removal"
    hint = ("if those articles are really gone: newssearch index --allow-mass-removal; "
            "to drop a folder: newssearch index --forget FOLDER")

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems
