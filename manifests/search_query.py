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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from manifests.model import Region
from manifests.pagetext import PageText

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
    box: Region


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
class PageWords:
    """A page's words as the index keeps them, ready to match without reading the page text again:
    each word's text, box (x, y, w, h) and line, and the page's tokens folded and exact with the
    word each comes from."""

    texts: Sequence[str]
    boxes: Sequence[int]  # four per word
    lines: Sequence[int]
    folded: Sequence[str]
    exact: Sequence[str]
    token_words: Sequence[int]


@dataclass(frozen=True)
class Span:
    """Where a term matched: the first and last word (reading order) and whether it matched exactly."""

    first: int
    last: int
    exact_diacritics: bool


def page_words(page: PageText, fold_: Callable[[str], str] = fold) -> PageWords:
    """``fold_``: the index passes a memoised ``fold`` (a page repeats words, an archive more so)."""
    texts: list[str] = []
    boxes: list[int] = []
    lines, folded, exact, token_words = [], [], [], []
    for line_index, line in enumerate(page.lines):
        for word in line.words:
            for token in tokens(word.text):
                exact.append(exact_form(token))
                folded.append(fold_(token))
                token_words.append(len(texts))
            texts.append(word.text)
            boxes += [word.box.x, word.box.y, word.box.width, word.box.height]
            lines.append(line_index)
    return PageWords(texts, boxes, lines, folded, exact, token_words)


def find_spans(query: Query, page: PageWords) -> list[Span]:
    """Every match of every term of the query on the page, in reading order. Two terms matching the
    same words (``khanh khánh``) give one match, exact if either is. Cheap: a match's text and
    boxes are only put together by ``match_at`` for the matches an answer shows."""
    spans: dict[tuple[int, int], Span] = {}
    for term in query.terms:
        wanted = list(term.folded)
        size = len(wanted)
        start = -1
        while True:
            try:
                start = page.folded.index(wanted[0], start + 1)
            except ValueError:
                break
            if size > 1 and list(page.folded[start:start + size]) != wanted:
                continue
            first, last = page.token_words[start], page.token_words[start + size - 1]
            exact = list(page.exact[start:start + size]) == list(term.exact)
            if (first, last) not in spans or exact:
                spans[first, last] = Span(first, last, exact)
    return [spans[key] for key in sorted(spans)]


def find_matches(query: Query, page: PageWords) -> list[Match]:
    return [match_at(page, span) for span in find_spans(query, page)]


def match_at(page: PageWords, span: Span) -> Match:
    first, last = span.first, span.last
    by_line: dict[int, list[int]] = {}
    for word in range(first, last + 1):
        by_line.setdefault(page.lines[word], []).append(word)
    parts = tuple(MatchPart(" ".join(page.texts[w] for w in words), _union(page.boxes, words))
                  for words in by_line.values())
    before = page.texts[max(0, first - CONTEXT_WORDS):first]
    after = page.texts[last + 1:last + 1 + CONTEXT_WORDS]
    return Match(
        parts=parts,
        prefix=" ".join(before) + " " if before else "",
        exact=" ".join(page.texts[first:last + 1]),
        suffix=" " + " ".join(after) if after else "",
        exact_diacritics=span.exact_diacritics,
        position=first,
        last=last,
    )


def _union(boxes: Sequence[int], words: Sequence[int]) -> Region:
    left = min(boxes[4 * w] for w in words)
    top = min(boxes[4 * w + 1] for w in words)
    right = max(boxes[4 * w] + boxes[4 * w + 2] for w in words)
    bottom = max(boxes[4 * w + 1] + boxes[4 * w + 3] for w in words)
    return Region(left, top, right - left, bottom - top)
