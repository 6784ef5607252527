"""高级检索: a form whose fields become an ordinary query string, then the results page.

The query is shown on the results page, so the form teaches the syntax the search box
takes (words, "phrase", A OR B, -word); the form needs no script.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from indexer.errors import QueryError
from indexer.query import SCOPES, parse

from .engine import EXTENSION
from .messages import for_error
from .params import DATE_PRESETS, parse_args

bp = Blueprint("advanced", __name__)
WORD_FIELDS = ("all", "phrase", "any", "none")
PRESETS = {f"{days}d": (label, days) for label, days in DATE_PRESETS}
_OPERATORS = ("OR", "NOT")


def _word(token: str) -> str:
    """One typed word as a query term: quotes and a leading minus dropped; an operator or field: quoted."""
    token = token.replace('"', "").lstrip("-")
    return f'"{token}"' if token and (token in _OPERATORS or ":" in token) else token


def _words(text: str) -> list[str]:
    return [w for w in map(_word, text.split()) if w]


def build_query(all_words: str = "", phrase: str = "", any_words: str = "", none_words: str = "") -> str:
    """The query string for the form's four word fields: 所有词 / 完整短语 / 任一词 / 不含词.

    >>> build_query("整改 落实", "巡视组", "环保 生态", "通报")
    '整改 落实 "巡视组" 环保 OR 生态 -通报'
    """
    parts = _words(all_words)
    exact = " ".join(phrase.replace('"', " ").split())
    if exact:
        parts.append(f'"{exact}"')
    alternatives = _words(any_words)
    if alternatives:
        parts.append(" OR ".join(alternatives))
    parts += [f"-{w}" for w in _words(none_words)]
    return " ".join(parts)


def _since(form: Mapping[str, str], today: dt.date) -> tuple[str | None, str | None]:
    """The date range the form asks for: a preset counts back from today; else the dates typed, if any."""
    preset = form.get("date", "")
    if preset in PRESETS:
        return (today - dt.timedelta(days=PRESETS[preset][1])).isoformat(), None
    return form.get("since") or None, form.get("until") or None


@bp.get("/advanced")
def advanced():
    form = {k: (v or "").strip() for k, v in request.args.items()}
    error = None
    if "go" in form:
        q = build_query(*(form.get(k, "") for k in WORD_FIELDS))
        since, until = _since(form, dt.date.today())
        args: dict[str, Any] = {"q": q, "scope": form.get("scope") or "all", "source": form.get("source"),
                                "since": since, "until": until}
        try:
            if not any(form.get(k) for k in WORD_FIELDS[:3]):
                raise QueryError("the advanced form has only words to exclude", code="advanced.no_words")
            parse(q)
            p = parse_args({k: v for k, v in args.items() if v})
        except QueryError as exc:
            error = "".join(for_error(exc))
        else:
            return redirect(url_for("pages.search", **p.link(), **{"from": "advanced"}), code=303)
    units = list(current_app.extensions[EXTENSION].stats()["sources"])
    return render_template("advanced.html", form=form, error=error, units=units, presets=PRESETS, scopes=SCOPES)
