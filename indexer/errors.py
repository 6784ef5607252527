"""Exceptions raised by the engine; the CLI and web layers turn them into messages."""

from __future__ import annotations


class NewssearchError(Exception):
    """Base class: every error the engine raises on purpose. `hint` says what to do."""

    hint: str = ""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint


class ConfigError(NewssearchError):
    """A setting or operator-editable file is wrong."""


class IndexNotFound(NewssearchError):
    """There is no index at the given location."""

    hint = "build one first: newssearch index PATH  (or point --index / NEWSSEARCH_INDEX at it)"


class IndexCorrupt(NewssearchError):
    """The index exists but cannot be read."""

    hint = "rebuild it: newssearch index --rebuild"


class IndexUnwritable(NewssearchError):
    """The index directory cannot be written (read-only, disk full, not a folder); it is left as it was."""

    hint = "the last good index is still served; make room or fix permissions, then run again"


class IndexBusy(NewssearchError):
    """Another run is writing the index."""

    hint = "wait for it, or pass --wait SECONDS"


class QueryError(NewssearchError):
    """The query cannot be understood."""


class ArticleNotFound(NewssearchError):
    """No article has the given id."""

    hint = "ids are shown by newssearch query --json"


class IngestError(NewssearchError):
    """One source file cannot be read; the run reports it and goes on."""


class MassRemoval(NewssearchError):
    """A run would remove more than the allowed share of the index; it changed nothing.

    `problems` holds what the run met on the way (a vanished folder is the usual cause).
    """

    hint = ("if those articles are really gone: newssearch index --allow-mass-removal; "
            "to drop a folder: newssearch index --forget FOLDER")

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems
