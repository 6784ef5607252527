"""Parsing what a searcher types, and turning it into Whoosh queries.

Syntax: words are all required; ``"..."`` is an exact phrase; ``A OR B``;
``-word`` or ``NOT word`` excludes; ``title:word`` and ``source:word`` limit a
term to one field. Everything is normalized like the index, so either script
matches both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from whoosh import query as wq

from . import segment
from .analysis import HAN, gram_tokens
from .errors import QueryError
from .normalize import normalize
from .phrase import GramPhrase

FIELDS = {"title": ("title",), "source": ("source",)}
SCOPES = ("all", "title")  # where words that name no field are looked for: title and body, or the title only
MAX_QUERY_CHARS = 1000
# Every required word is one more intersection: 100 of them took 16 s over 3,000 articles, 200 over a minute.
MAX_WORDS = 32
_LEX = re.compile(r'\s*(?:(-)|(NOT)\s+)?(?:(\w+):)?("([^"]*)("?)|[^\s"]+)')
# A document number such as 南府教字〔2023〕12号 is searched as one exact phrase, quoted or not.
_DOC_NUMBER = re.compile(r"[〔\[(【]\s*(?:19|20)\d\d\s*[〕\])】]\s*第?\s*\d+\s*号")
_WORD_FIELDS = {"title": "title", "body": "body"}
_GRAM_FIELDS = {"title": "title_g", "body": "body_g", "source": "source_g"}
RUN_BOOST = 4.0  # the query as a contiguous run: 2.0 -> 4.0 raised P@10 of unspaced queries 0.977 -> 0.999
_PIECES = re.compile(rf"[{HAN}]+|[^\W_{HAN}]+")


@dataclass
class Atom:
    text: str  # normalized
    phrase: bool
    fields: tuple[str, ...] = ("title", "body")


@dataclass
class Clause:
    atoms: list[Atom] = field(default_factory=list)
    negated: bool = False


@dataclass
class Parsed:
    clauses: list[Clause]

    @property
    def positive(self) -> list[Clause]:
        return [c for c in self.clauses if not c.negated]

    def highlight_terms(self) -> list[str]:
        """Normalized strings to mark in snippets: phrases whole, other atoms word by word."""
        out: list[str] = []
        for c in self.positive:
            for a in c.atoms:
                out.extend([a.text] if a.phrase else [*words_of(a.text), *_PIECES.findall(a.text)])
        return sorted(set(out), key=len, reverse=True)

    def scoped(self, scope: str) -> Parsed:
        """The query with every term that names no field limited to `scope` ("title"; "all" changes nothing).

        The web's 标题 switch: ``整改 -通报`` in titles is ``title:整改 -title:通报``.
        """
        if scope not in SCOPES:
            raise QueryError(f"unknown scope {scope!r}", hint="use " + " or ".join(SCOPES))
        if scope == "all":
            return self
        default = Atom("", False).fields
        return Parsed([replace(c, atoms=[replace(a, fields=FIELDS[scope]) if a.fields == default else a
                                         for a in c.atoms]) for c in self.clauses])


def parse(text: str) -> Parsed:
    """Parse a query string, raising QueryError with a hint when it makes no sense."""
    text = text.strip()
    if not text:
        raise QueryError("empty query", hint="type one or more words, e.g. 整改")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"query too long ({len(text)} characters, at most {MAX_QUERY_CHARS})")
    clauses: list[Clause] = []
    join_next = False
    pos = 0
    while pos < len(text):
        m = _LEX.match(text, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
        neg, notword, fname, token, inner, closing = m.groups()
        if token == "OR" and not (neg or notword or fname):
            if not clauses or clauses[-1].negated or join_next:
                raise QueryError("OR needs a term on each side", hint='e.g. 整改 OR 落实')
            join_next = True
            continue
        if inner is not None and not closing:
            raise QueryError("unbalanced quote", hint='close the phrase: "解放思想再发力"')
        fields = ("title", "body")
        if fname:
            if fname.lower() in FIELDS:
                fields = FIELDS[fname.lower()]
            else:
                token = f"{fname}:{token}"
        raw = inner if inner is not None else token
        norm = normalize(raw)
        atom = Atom(norm, phrase=inner is not None or _DOC_NUMBER.search(norm) is not None, fields=fields)
        if not _PIECES.search(atom.text) and not (atom.phrase and atom.text.strip()):
            if join_next:
                raise QueryError("OR needs a term on each side", hint='e.g. 整改 OR 落实')
            continue  # punctuation alone, e.g. a stray "-" or "（"
        if join_next:
            if neg or notword:
                raise QueryError("cannot combine OR with NOT", hint="put the excluded term on its own: A OR B -C")
            clauses[-1].atoms.append(atom)
            join_next = False
        else:
            clauses.append(Clause([atom], negated=bool(neg or notword)))
    if join_next:
        raise QueryError("OR needs a term on each side", hint="e.g. 整改 OR 落实")
    if not clauses:
        raise QueryError("the query has no searchable characters", hint="type one or more words, e.g. 整改")
    if not any(not c.negated for c in clauses):
        raise QueryError("the query only excludes", hint="add a term to find: 整改 -落实")
    words = sum(1 if a.phrase else len(words_of(a.text)) for c in clauses for a in c.atoms)
    if words > MAX_WORDS:
        raise QueryError(f"the query has too many words ({words}, at most {MAX_WORDS})",
                         hint="keep the few words that matter most")
    return Parsed(clauses)


def words_of(text: str) -> list[str]:
    """Split normalized unquoted text into the words that must each occur.

    Han runs are segmented with jieba; single characters join a neighbour so
    every required piece is at least two characters (a run of ≥ 2 characters
    found anywhere in an article finds it, whatever segmentation did there).
    """
    out: list[str] = []
    for m in _PIECES.finditer(text):
        piece = m.group()
        if not ("\u3400" <= piece[0] and _is_han_run(piece)) or len(piece) <= 2:
            out.append(piece)
            continue
        words: list[str] = []
        for w in segment.cut(piece):
            if words and (len(w) == 1 or len(words[-1]) == 1):
                words[-1] += w
            else:
                words.append(w)
        out.extend(words)
    return out


def _is_han_run(piece: str) -> bool:
    return re.fullmatch(rf"[{HAN}]+", piece) is not None


def gram_phrase(fieldname: str, text: str, boost: float = 1.0) -> tuple[wq.Query, bool]:
    """A query over a gram field for normalized `text`; True if it needs verification.

    The positional phrase is exact except at open edges: a lone Han character at
    the end (the article may continue the run) and letter/digit runs at either
    end (the article's run may be longer). Those are left out of the phrase,
    and the caller checks the candidates against the stored text. When a
    letter/digit run and one trailing Han character are all there is ("38个"),
    the run must be a whole run in the article (so "138个" is not found).
    """
    toks = [(t, s, e) for t, _p, s, e in gram_tokens(text)]
    n = len(text)
    if toks and len(toks[-1][0]) == 1 and _is_han_run(toks[-1][0]) and toks[-1][2] == n:
        if len(toks) >= 2 and toks[-2][2] == n:
            toks.pop()  # covered by the bigram before it
        elif len(toks) == 1:
            return wq.Prefix(fieldname, toks[0][0], boost=boost), False
    verify = False
    if toks and _is_alnum(toks[-1][0]) and toks[-1][2] == n and len(toks) > 1:
        toks.pop()
        verify = True
    if toks and _is_alnum(toks[0][0]) and len(toks) > 1:
        if not (len(toks) == 2 and len(toks[1][0]) == 1 and _is_han_run(toks[1][0]) and toks[1][2] == n):
            toks.pop(0)
        # else the run is the only anchor ("38个": 个 may start any gram): it is matched whole
        verify = True
    if len(toks) > 1 and len(toks[-1][0]) == 1 and _is_han_run(toks[-1][0]) and toks[-1][2] == n:
        toks.pop()
        verify = True
    terms = [t for t, _s, _e in toks]
    if not terms:
        return wq.NullQuery, True
    if len(terms) == 1:
        return wq.Term(fieldname, terms[0], boost=boost), verify
    return GramPhrase(fieldname, terms, boost=boost), verify


def _is_alnum(term: str) -> bool:
    return term.isalnum() and not _is_han_run(term[0])


def atom_query(atom: Atom) -> tuple[wq.Query, bool]:
    """Whoosh query for one atom, and whether its candidates need checking against the text."""
    grams = [_GRAM_FIELDS[f] for f in atom.fields]
    words = [_WORD_FIELDS[f] for f in atom.fields if f in _WORD_FIELDS]
    if atom.phrase:
        parts = [gram_phrase(g, atom.text) for g in grams]
        return wq.Or([q for q, _ in parts]), any(v for _, v in parts)
    required = []
    for w in words_of(atom.text):
        alts = [wq.Term(f, w) for f in words] + [gram_phrase(g, w)[0] for g in grams]
        required.append(wq.Or(alts))
    q: wq.Query = wq.And(required) if len(required) > 1 else required[0]
    runs = [r for r in re.split(r"\W+", atom.text) if len(r) > 2]
    boosts = [gram_phrase(g, r, boost=RUN_BOOST)[0] for r in runs for g in grams if len(words_of(r)) > 1]
    if boosts:
        q = wq.AndMaybe(q, wq.Or(boosts))
    return q, False


def verify(atom: Atom, stored: dict) -> bool:
    """Whether an article's stored fields hold the atom's text (candidates of open-edged phrases)."""
    return any(atom.text in normalize(stored.get(f) or "") for f in atom.fields)
