"""
Search queries: parsed here, once, into terms; each engine's query language is written from the terms.

A query is words, ``prefix*`` and ``"quoted phrases"``; every term must
match (AND). Words are runs of letters and digits, found the way both
engines' tokenizers find them (SQLite FTS5 ``unicode61``, PostgreSQL's
``simple`` configuration), so anything else in the query (punctuation,
operators, quotes of the other engine's syntax) only separates words and
can never become an operator: ``foo-bar`` is the phrase "foo bar", ``a OR
b`` looks for the three words. The query text itself never reaches SQL;
what reaches the engine is a string we built from the words, passed as a
bound parameter.
"""
import re

from wampchat.chat.errors import INVALID, fail

QUERY_MAX = 500          # characters
TERMS_MAX = 16
PHRASE_WORDS_MAX = 16
PREFIX_MIN = 2           # a one-letter prefix matches half the index
WORD_RE = re.compile(r"[^\W_]+")


class Term:
    """One or more words that must appear in this order; ``prefix``: the last word may continue."""

    __slots__ = ("words", "prefix")

    def __init__(self, words, prefix=False):
        self.words = tuple(words)
        self.prefix = prefix

    def __eq__(self, other):
        return isinstance(other, Term) and (self.words, self.prefix) == (other.words, other.prefix)

    def __repr__(self):
        return f"Term({self.words!r}, prefix={self.prefix})"


class SearchQuery:
    """A parsed query: the terms every hit must contain."""

    __slots__ = ("terms",)

    def __init__(self, terms):
        self.terms = tuple(terms)

    def fts5(self):
        """The FTS5 MATCH expression: each term a quoted phrase (``*`` after it for a prefix), ANDed."""
        parts = []
        for term in self.terms:
            phrase = '"' + " ".join(word.replace('"', '""') for word in term.words) + '"'
            parts.append(phrase + " *" if term.prefix else phrase)
        return " AND ".join(parts)

    def tsquery(self):
        """The PostgreSQL ``to_tsquery`` text: each word a quoted lexeme, phrases joined by ``<->``, ANDed."""
        parts = []
        for term in self.terms:
            lexemes = ["'" + word.replace("'", "''") + "'" for word in term.words]
            if term.prefix:
                lexemes[-1] += ":*"
            phrase = " <-> ".join(lexemes)
            parts.append(f"({phrase})" if len(lexemes) > 1 else phrase)
        return " & ".join(parts)


def _words(text):
    return [word.lower() for word in WORD_RE.findall(text)]


def _term(words, prefix):
    if not words:
        if prefix:
            fail(INVALID, "a * must follow a word, as in hel*")
        return None
    if len(words) > PHRASE_WORDS_MAX:
        fail(INVALID, f"a phrase may have at most {PHRASE_WORDS_MAX} words")
    if prefix and len(words[-1]) < PREFIX_MIN:
        fail(INVALID, f"a prefix needs at least {PREFIX_MIN} characters before the *")
    return Term(words, prefix)


def parse_query(text):
    """A :class:`SearchQuery` from what the user typed, or invalid_argument saying what is wrong.

    Outside quotes, whitespace separates terms; a term's words (``e-mail``
    has two) must appear together, and a ``*`` at its end makes its last
    word a prefix. Inside ``"..."`` the words form one phrase; a ``*`` right
    after the closing quote makes its last word a prefix. A quote that is
    never closed, a query with no word, or one too long is invalid.
    """
    if not isinstance(text, str):
        fail(INVALID, "query must be a string")
    if len(text) > QUERY_MAX:
        fail(INVALID, f"query must be at most {QUERY_MAX} characters")
    terms = []
    position = 0
    while position < len(text):
        char = text[position]
        if char.isspace():
            position += 1
        elif char == '"':
            end = text.find('"', position + 1)
            if end < 0:
                fail(INVALID, "a quoted phrase is not closed")
            prefix = text.startswith("*", end + 1)
            terms.append(_term(_words(text[position + 1:end]), prefix))
            position = end + (2 if prefix else 1)
        else:
            end = position
            while end < len(text) and not text[end].isspace() and text[end] != '"':
                end += 1
            chunk = text[position:end]
            terms.append(_term(_words(chunk), chunk.endswith("*")))
            position = end
    terms = [term for term in terms if term is not None]
    if not terms:
        fail(INVALID, "the query has no words to look for")
    if len(terms) > TERMS_MAX:
        fail(INVALID, f"a query may have at most {TERMS_MAX} terms")
    return SearchQuery(terms)
