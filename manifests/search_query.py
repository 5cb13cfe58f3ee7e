"""PURE: search queries and where they match a page's words, with Vietnamese diacritics folded.

A reader types ``quoc khanh`` for ``Quốc khánh``: both sides are *folded* (accents and tone marks
removed, đ/Đ read as d, case ignored) before they are compared, and a match whose letters equal
the query's with their diacritics is *exact*, which ranks it first. Folding removes every
combining mark after canonical decomposition, so it serves any Latin-script language alike.

A query is one or more terms separated by spaces; a term in double quotes is a phrase (its words
consecutive). Every term must match on a page for the page to match.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from manifests.pagetext import Box, PageText, Word

MAX_QUERY_LENGTH = 200
MAX_TERMS = 10
# Words of context each side of a match, as search snippets show.
CONTEXT_WORDS = 5
# What a search engine calls a token: a run of letters and digits (what SQLite's unicode61
# tokenizer keeps too). "1/8/1945" is three tokens, "khánh," is one.
_TOKEN = re.compile(r"[^\W_]+")
# Letters that carry a diacritic no canonical decomposition removes.
_UNDECOMPOSABLE = str.maketrans({"đ": "d", "Đ": "d", "ð": "d", "ø": "o", "ł": "l", "ħ": "h"})


class QueryError(ValueError):
    """A query that cannot be searched; the message names the bad part, on one line."""


def fold(text: str) -> str:
    """Lower case without diacritics: ``fold("Quốc Khánh Đà") == "quoc khanh da"``."""
    decomposed = unicodedata.normalize("NFD", text.translate(_UNDECOMPOSABLE))
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return unicodedata.normalize("NFC", stripped).casefold()


def exact_form(text: str) -> str:
    """Lower case with diacritics kept (NFC): what an exact-diacritic match compares."""
    return unicodedata.normalize("NFC", text.casefold())


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class Term:
    """One word, or a phrase of consecutive words, as typed (lower case, NFC) and folded."""

    exact: tuple[str, ...]

    @property
    def folded(self) -> tuple[str, ...]:
        return tuple(fold(token) for token in self.exact)


@dataclass(frozen=True)
class Query:
    terms: tuple[Term, ...]


def parse_query(text: str) -> Query:
    """``quoc "Cách mạng tháng Tám"`` -> Query of a word and a four-word phrase.

    Raises QueryError for an empty query, an unclosed quote, a query of only punctuation, or one too long.
    """
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"q is longer than {MAX_QUERY_LENGTH} characters")
    if text.count('"') % 2:
        raise QueryError("q has a double quote that is not closed")
    terms: list[Term] = []
    for index, part in enumerate(text.split('"')):
        words = tokens(exact_form(part))
        if index % 2:  # inside quotes
            if words:
                terms.append(Term(tuple(words)))
        else:
            terms += [Term((word,)) for word in words]
    if not terms:
        raise QueryError("q has no word to search for" if text.strip() else "q is empty: give words to search for")
    if len(terms) > MAX_TERMS:
        raise QueryError(f"q has {len(terms)} terms; at most {MAX_TERMS} are searched together")
    # The same term twice would only repeat its matches.
    return Query(tuple(dict.fromkeys(terms)))


@dataclass(frozen=True)
class MatchPart:
    """The words of a match on one line: their text and the box around them (canvas pixels)."""

    text: str
    box: Box


@dataclass(frozen=True)
class Match:
    """One place a term matches on a page: one part per line it spans, and its context."""

    parts: tuple[MatchPart, ...]
    prefix: str
    exact: str
    suffix: str
    # The letters equal the query's with their diacritics (case aside): ranks first.
    exact_diacritics: bool
    # Positions of the first and last word on the page (reading order).
    position: int
    last: int


@dataclass(frozen=True)
class _Token:
    folded: str
    exact: str
    word: int  # index of the word in the page's reading order


def page_tokens(page: PageText) -> list[_Token]:
    found = []
    for index, word in enumerate(word for line in page.lines for word in line.words):
        found += [_Token(fold(token), exact_form(token), index) for token in tokens(word.text)]
    return found


def find_matches(query: Query, page: PageText) -> list[Match]:
    """Every match of every term of the query on the page, in reading order. Two terms matching the
    same words (``khanh khánh``) give one match, exact if either is."""
    words = [(line_index, word) for line_index, line in enumerate(page.lines) for word in line.words]
    on_page = page_tokens(page)
    folded = [token.folded for token in on_page]
    matches: dict[tuple[int, int], Match] = {}
    for term in query.terms:
        wanted = list(term.folded)
        for start in range(len(folded) - len(wanted) + 1):
            if folded[start:start + len(wanted)] != wanted:
                continue
            matched = on_page[start:start + len(wanted)]
            first, last = matched[0].word, matched[-1].word
            exact = all(token.exact == typed for token, typed in zip(matched, term.exact, strict=True))
            if (first, last) not in matches or exact:
                matches[first, last] = _match(words, first, last, exact)
    return [matches[span] for span in sorted(matches)]


def _match(words: Sequence[tuple[int, Word]], first: int, last: int, exact: bool) -> Match:
    by_line: dict[int, list[Word]] = {}
    for line_index, word in words[first:last + 1]:
        by_line.setdefault(line_index, []).append(word)
    parts = tuple(MatchPart(" ".join(w.text for w in line_words), _union([w.box for w in line_words]))
                  for line_words in by_line.values())
    before = [word.text for _, word in words[max(0, first - CONTEXT_WORDS):first]]
    after = [word.text for _, word in words[last + 1:last + 1 + CONTEXT_WORDS]]
    return Match(
        parts=parts,
        prefix=" ".join(before) + " " if before else "",
        exact=" ".join(word.text for _, word in words[first:last + 1]),
        suffix=" " + " ".join(after) if after else "",
        exact_diacritics=exact,
        position=first,
        last=last,
    )


def _union(boxes: Sequence[Box]) -> Box:
    left = min(box.x for box in boxes)
    top = min(box.y for box in boxes)
    right = max(box.x + box.width for box in boxes)
    bottom = max(box.y + box.height for box in boxes)
    return Box(left, top, right - left, bottom - top)
