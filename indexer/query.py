"""Parsing what a searcher types, and turning it into Whoosh queries.

Syntax: words are all required; ``"..."`` is an exact phrase; ``A OR B``;
``-word`` or ``NOT word`` excludes; ``title:word``, ``body:word`` and
``source:word`` limit a term to one field. Chinese input-method punctuation
works like its ASCII form (see `lex`). Everything is normalized like the index,
so either script matches both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

from whoosh import query as wq

from . import segmenter
from .analysis import HAN, gram_tokens
from .errors import QueryError
from .normalize import normalize
from .phrase import GramPhrase
from .ranges import ColumnRange

FIELDS = {"title": ("title",), "body": ("body",), "source": ("source",)}
SCOPES = ("all", "title")  # where words that name no field are looked for: title and body, or the title only
MAX_QUERY_CHARS = 1000
# Every required word is one more intersection: 100 of them took 16 s over 3,000 articles, 200 over a minute.
MAX_WORDS = 32
# What a Chinese input method types for the syntax characters, mapped one to one onto ASCII (so offsets
# into the mapped text are offsets into what was typed): full-width forms (－＋（）ＯＲ：) and the ideographic space.
# The full-width quote stays itself: it is a phrase quote of its own kind (below).
_SYNTAX = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F) if cp != 0xFF02} | {0x3000: " "}
# Phrase quotes: an opening mark and the marks that close it. Inside a phrase, other quote marks are text.
_QUOTES = {'"': '"', "＂": "＂", "“": "”“", "「": "」", "『": "』"}
_PREFIX = re.compile(r"(-)?(?:([A-Za-z]+):(?=[^\s:]))?")
_WORD = re.compile(r'[^\s"＂“「『]+')
_OPERATORS = frozenset({"or", "and", "not"})
_LATIN = re.compile(r"[A-Za-z0-9]+")
# A document number such as 南府教字〔2023〕12号 is searched as one exact phrase, quoted or not.
_DOC_NUMBER = re.compile(r"[〔\[(【]\s*(?:19|20)\d\d\s*[〕\])】]\s*第?\s*\d+\s*号")
_WORD_FIELDS = {"title": "title", "body": "body"}
_GRAM_FIELDS = {"title": "title_g", "body": "body_g", "source": "source_g"}
_WORD_OF_GRAMS = {g: _WORD_FIELDS[f] for f, g in _GRAM_FIELDS.items() if f in _WORD_FIELDS}
RUN_BOOST = 4.0  # the query as a contiguous run: 2.0 -> 4.0 raised P@10 of unspaced queries 0.977 -> 0.999
_PIECES = re.compile(rf"[{HAN}]+|[^\W_{HAN}]+")


@dataclass
class Atom:
    text: str  # normalized
    phrase: bool
    fields: tuple[str, ...] = ("title", "body")
    script: str | None = None  # "hans" / "hant": sought only in articles of that script (regional wording)


@dataclass
class Clause:
    atoms: list[Atom] = field(default_factory=list)
    negated: bool = False


@dataclass
class Parsed:
    clauses: list[Clause]
    also: list[str] = field(default_factory=list)  # regional counterparts also searched, as written (計程車)

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
            raise QueryError(f"unknown scope {scope!r}", hint="use " + " or ".join(SCOPES), code="param.scope")
        if scope == "all":
            return self
        default = Atom("", False).fields
        return Parsed([replace(c, atoms=[replace(a, fields=FIELDS[scope]) if a.fields == default else a
                                         for a in c.atoms]) for c in self.clauses])


@dataclass(frozen=True)
class Token:
    """One lexed piece of a query, with its span in the text as typed.

    `kind` is "term", "phrase", or an operator: "or", "and", "not". For terms and
    phrases `value` is the word or the phrase's inside as typed (not normalized),
    `field` the field prefix (title/body/source) and `negated` a leading minus.
    """

    kind: str
    start: int
    end: int
    value: str
    field: str | None = None
    negated: bool = False

    def source(self, text: str) -> str:
        """The token as typed in `text`."""
        return text[self.start : self.end]


def lex(text: str) -> list[Token]:
    """Split a query into tokens: the one lexer for everything that reads query text.

    Rules: "…", “…”, 「…」, 『…』 and ＂…＂ are phrases (a quote left open closes at
    the end of the query); full-width characters act like their ASCII forms
    (－ excludes, ＯＲ is OR). OR, AND and NOT in capitals are operators; in any other
    case (or, And) only between two terms neither of which is a Latin word (so
    `rock and roll` stays three words), and `not` only before such a term.
    AND is what two terms mean anyway. `title:`, `body:` and `source:` prefixes
    limit a term to a field; any other `word:` is part of the term.
    """
    typed = text.translate(_SYNTAX)
    raw: list[Token] = []
    pos = 0
    while pos < len(typed):
        if typed[pos].isspace():
            pos += 1
            continue
        m = _PREFIX.match(typed, pos)
        neg, fname = m.group(1), m.group(2)
        field = fname.lower() if fname and fname.lower() in FIELDS else None
        at = m.end() if field else pos + bool(neg)
        if at < len(typed) and typed[at] in _QUOTES:
            close = _QUOTES[typed[at]]
            end = next((i for i in range(at + 1, len(typed)) if typed[i] in close), len(typed))
            raw.append(Token("phrase", pos, min(end + 1, len(typed)), text[at + 1 : end], field, bool(neg)))
            pos = end + 1
            continue
        w = _WORD.match(typed, at)
        if w is None:  # a lone "-" before a space or a quote: a term of punctuation
            at, neg, w = pos, None, _WORD.match(typed, pos)
        raw.append(Token("term", pos, w.end(), text[at : w.end()], field, bool(neg)))
        pos = w.end()
    return [_operator(raw, k) or t for k, t in enumerate(raw)]


def _operator(tokens: list[Token], k: int) -> Token | None:
    """Token k as an operator token, if it is one where it stands (see `lex`)."""
    t = tokens[k]
    word = t.value.translate(_SYNTAX)
    if t.kind != "term" or t.field or t.negated or word.lower() not in _OPERATORS:
        return None
    op = word.lower()
    if word.isupper():
        return Token(op, t.start, t.end, t.value)
    before = tokens[k - 1] if k else None
    after = tokens[k + 1] if k + 1 < len(tokens) else None

    def plain(x: Token | None) -> bool:
        """A term that makes a lowercase operator unambiguous: a phrase, or a word neither Latin nor an operator."""
        if x is None or x.kind == "phrase":
            return x is not None
        w = x.value.translate(_SYNTAX)
        return not _LATIN.fullmatch(w) and w.lower() not in _OPERATORS

    return Token(op, t.start, t.end, t.value) if plain(after) and (op == "not" or plain(before)) else None


def parse(text: str) -> Parsed:
    """Parse a query string, raising QueryError with a hint when it makes no sense."""
    text = text.strip()
    if not text:
        raise QueryError("empty query", hint="type one or more words, e.g. 整改", code="query.empty")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"query too long ({len(text)} characters, at most {MAX_QUERY_CHARS})",
                         code="query.too_long", chars=len(text), limit=MAX_QUERY_CHARS)
    or_sides = QueryError("OR needs a term on each side", hint="e.g. 整改 OR 落实", code="query.or_sides")
    clauses: list[Clause] = []
    join_next = negate_next = False
    for tok in lex(text):
        if tok.kind == "and":
            continue
        if tok.kind == "not":
            negate_next = True
            continue
        if tok.kind == "or":
            if not clauses or clauses[-1].negated or join_next or negate_next:
                raise or_sides
            join_next = True
            continue
        norm = normalize(tok.value)
        phrase = tok.kind == "phrase" or _DOC_NUMBER.search(norm) is not None
        atom = Atom(norm, phrase=phrase, fields=FIELDS[tok.field] if tok.field else ("title", "body"))
        negated, negate_next = tok.negated or negate_next, False
        if not _PIECES.search(atom.text) and not (atom.phrase and atom.text.strip()):
            if join_next:
                raise or_sides
            continue  # punctuation alone, e.g. a stray "-" or "（", or an empty phrase
        if join_next:
            if negated:
                raise QueryError("cannot combine OR with NOT", code="query.or_not",
                                 hint="put the excluded term on its own: A OR B -C")
            clauses[-1].atoms.append(atom)
            join_next = False
        else:
            clauses.append(Clause([atom], negated=negated))
    if join_next:
        raise or_sides
    if not clauses:
        raise QueryError("the query has no searchable characters", hint="type one or more words, e.g. 整改",
                         code="query.nothing")
    if not any(not c.negated for c in clauses):
        raise QueryError("the query only excludes", hint="add a term to find: 整改 -落实", code="query.only_excludes")
    words = sum(1 if a.phrase else len(words_of(a.text)) for c in clauses for a in c.atoms)
    if words > MAX_WORDS:
        raise QueryError(f"the query has too many words ({words}, at most {MAX_WORDS})",
                         hint="keep the few words that matter most", code="query.too_many_words",
                         words=words, limit=MAX_WORDS)
    return Parsed(clauses)


def pieces(text: str):
    """The Han runs and the letter/digit runs of `text`, as regex matches."""
    return _PIECES.finditer(text)


def read_as(text: str) -> list[str]:
    """How a query was read, for people: its phrases whole and the words of its other terms (none if unreadable)."""
    try:
        parsed = parse(text)
    except QueryError:
        return []
    return [w for c in parsed.positive for a in c.atoms for w in ([a.text] if a.phrase else words_of(a.text))]


def words_of(text: str) -> list[str]:
    """Split normalized unquoted text into the words that must each occur.

    Han runs are segmented with jieba; single characters join a neighbour so
    every required piece is at least two characters (a run of ≥ 2 characters
    found anywhere in an article finds it, whatever segmentation did there).
    A query reads the words of its terms several times (parsing, the query tree,
    snippets, did-you-mean): they are segmented once (`_segmented`, cached).
    """
    return list(_segmented(text, segmenter.dictionaries()))


@lru_cache(maxsize=4096)
def _segmented(text: str, _dictionaries: int) -> tuple[str, ...]:
    out: list[str] = []
    for m in _PIECES.finditer(text):
        piece = m.group()
        if not ("\u3400" <= piece[0] and _is_han_run(piece)) or len(piece) <= 2:
            out.append(piece)
            continue
        words: list[str] = []
        for w in segmenter.cut(piece):
            if words and (len(w) == 1 or len(words[-1]) == 1):
                words[-1] += w
            else:
                words.append(w)
        out.extend(words)
    return tuple(out)


def _is_han_run(piece: str) -> bool:
    return re.fullmatch(rf"[{HAN}]+", piece) is not None


def gram_phrase(fieldname: str, text: str, boost: float = 1.0) -> wq.Query:
    """A query over a gram field for normalized `text`: the documents holding it as a run of characters.

    The positional phrase is exact except at open edges, where the article's gram
    may be longer than the query's: a lone Han character at the end (the article may
    continue the run: 个 may be 个人), and letter/digit runs at either end (the
    article's run may be longer: 38 may end 138). Those are left out of the phrase's
    grams and become its `head` (the gram before must be a run ending so) and `tail`
    (the gram after must start so), decided from positions. When a letter/digit run
    and one trailing Han character are all there is ("38个"), the run is matched
    whole (so "138个" is not found).
    """
    toks = [(t, s, e) for t, _p, s, e in gram_tokens(text)]
    n = len(text)
    if toks and len(toks[-1][0]) == 1 and _is_han_run(toks[-1][0]) and toks[-1][2] == n:
        if len(toks) >= 2 and toks[-2][2] == n:
            toks.pop()  # covered by the bigram before it
        elif len(toks) == 1:
            return wq.Prefix(fieldname, toks[0][0], boost=boost)
    head = tail = ""
    if toks and _is_alnum(toks[-1][0]) and toks[-1][2] == n and len(toks) > 1:
        tail = toks.pop()[0]
    if toks and _is_alnum(toks[0][0]) and len(toks) > 1 and not (
        len(toks) == 2 and len(toks[1][0]) == 1 and _is_han_run(toks[1][0]) and toks[1][2] == n
    ):
        head = toks.pop(0)[0]
    if len(toks) > 1 and len(toks[-1][0]) == 1 and _is_han_run(toks[-1][0]) and toks[-1][2] == n:
        tail = toks.pop()[0]
    terms = [t for t, _s, _e in toks]
    if len(terms) == 1 and not (head or tail):
        return wq.Term(fieldname, terms[0], boost=boost)
    word_field = _WORD_OF_GRAMS.get(fieldname)
    implied = (word_field, text) if word_field and _is_han_run(text) else None
    return GramPhrase(fieldname, terms, boost=boost, implied_by=implied, head=head, tail=tail)


def _is_alnum(term: str) -> bool:
    return term.isalnum() and not _is_han_run(term[0])


def atom_query(atom: Atom) -> wq.Query:
    """Whoosh query for one atom."""
    grams = [_GRAM_FIELDS[f] for f in atom.fields]
    words = [_WORD_FIELDS[f] for f in atom.fields if f in _WORD_FIELDS]
    if atom.phrase:
        return wq.Or([gram_phrase(g, atom.text) for g in grams])
    required = []
    for w in words_of(atom.text):
        alts = [wq.Term(f, w) for f in words] + [gram_phrase(g, w) for g in grams]
        required.append(wq.Or(alts))
    q: wq.Query = wq.And(required) if len(required) > 1 else required[0]
    runs = [r for r in re.split(r"\W+", atom.text) if len(r) > 2]
    boosts = [gram_phrase(g, r, boost=RUN_BOOST) for r in runs for g in grams if len(words_of(r)) > 1]
    if boosts:
        q = wq.AndMaybe(q, wq.Or(boosts))
    if atom.script:
        q = wq.And([q, ColumnRange("script", atom.script, atom.script, boost=0.0)])
    return q
