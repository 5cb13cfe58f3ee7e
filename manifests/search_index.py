"""The build's full-text index of page texts: one SQLite file with an FTS5 table, written by the
build inside its atomic output and read by the Content Search service and the archive search page.

SQLite FTS5 rather than Tantivy (README "Search" has the figures): on 10,000 generated pages both
answer in about a millisecond, FTS5 ships with Python (no dependency, no native wheel to trust),
and one file is published by the build's folder swap like the manifests are.

Each page is one FTS row with two columns: its tokens folded (what a query matches) and its tokens
in exact form (which match exactly ranks first). The words themselves, with their boxes and
tokens, are kept per page (``PageWords``) so a match resolves to canvas regions without reading
the page text files or folding anything again.
"""

from __future__ import annotations

import array
import functools
import json
import sqlite3
from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from manifests.pagetext import PageText
from manifests.search_query import Match, PageWords, Query, Span, exact_form, find_spans, fold, match_at, page_words

INDEX_FILE = "search.sqlite"
PAGE_COLUMNS = "p.document, p.page, p.texts, p.boxes, p.lines, p.folded, p.exact, p.token_words"
SCHEMA = """
-- A page's PageWords in the forms quickest to read back: word texts as a JSON list, tokens
-- space-separated (they are letters and digits only), numbers as packed 32-bit arrays.
CREATE TABLE pages (id INTEGER PRIMARY KEY, document TEXT NOT NULL, page INTEGER NOT NULL, texts TEXT NOT NULL,
                    boxes BLOB NOT NULL, lines BLOB NOT NULL, folded TEXT NOT NULL, exact TEXT NOT NULL,
                    token_words BLOB NOT NULL);
CREATE INDEX pages_by_document ON pages (document, page);
-- Contentless: the columns are only matched, never read back, so their text is not stored twice.
CREATE VIRTUAL TABLE page_tokens USING fts5 (folded, exact, content='', tokenize='unicode61 remove_diacritics 0');
CREATE TABLE terms (document TEXT NOT NULL, folded TEXT NOT NULL, value TEXT NOT NULL, total INTEGER NOT NULL,
                    PRIMARY KEY (document, folded, value)) WITHOUT ROWID;
"""


def searchable_documents(page_texts: Mapping[str, Sequence[PageText | None]]) -> frozenset[str]:
    """The documents with text on at least one page: their manifests get a search service."""
    return frozenset(document for document, pages in page_texts.items()
                     if any(page is not None and page.lines for page in pages))


def write_index(page_texts: Mapping[str, Sequence[PageText | None]], folder: Path) -> Path:
    """Write ``folder/search.sqlite`` from every page's text (document id -> one entry per page)."""
    path = folder / INDEX_FILE
    path.unlink(missing_ok=True)
    fold_ = functools.lru_cache(maxsize=1 << 16)(fold)
    with closing(sqlite3.connect(path)) as connection:
        connection.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + SCHEMA)
        with connection:
            for document, pages in sorted(page_texts.items()):
                terms: Counter[tuple[str, str]] = Counter()
                for number, page in enumerate(pages, start=1):
                    if page is None or not page.lines:
                        continue
                    words = page_words(page, fold_)
                    terms.update(zip(words.folded, words.exact))
                    row = connection.execute(
                        "INSERT INTO pages (document, page, texts, boxes, lines, folded, exact, token_words) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (document, number, json.dumps(words.texts, ensure_ascii=False), _packed(words.boxes),
                         _packed(words.lines), " ".join(words.folded), " ".join(words.exact),
                         _packed(words.token_words)))
                    connection.execute("INSERT INTO page_tokens (rowid, folded, exact) VALUES (?, ?, ?)",
                                       (row.lastrowid, " ".join(words.folded), " ".join(words.exact)))
                connection.executemany("INSERT INTO terms VALUES (?, ?, ?, ?)",
                                       [(document, folded, value, total) for (folded, value), total in terms.items()])
            connection.execute("INSERT INTO page_tokens (page_tokens) VALUES ('optimize')")
    return path


@dataclass(frozen=True)
class PageMatches:
    """Where a query matches on one page of a document (page numbers count from 1)."""

    document: str
    page: int
    words: PageWords
    spans: tuple[Span, ...]

    @property
    def exact_diacritics(self) -> bool:
        return any(span.exact_diacritics for span in self.spans)

    def matches(self) -> tuple[Match, ...]:
        return tuple(match_at(self.words, span) for span in self.spans)


@dataclass(frozen=True)
class Suggestion:
    """A word of a document that starts like the typed text, and how often it occurs."""

    value: str
    total: int


@dataclass(frozen=True)
class ArchiveResults:
    """One page of an archive-wide search: the matching pages on it, and how many match in all."""

    pages: tuple[PageMatches, ...]
    total_pages: int


class SearchIndex:
    """Read access to one index file. Each call opens its own read-only connection, so any thread
    may call, and a build that swaps the folder is seen by the next call."""

    def __init__(self, path: Path) -> None:
        # Absolute: SQLite opens it by file URI, and `serve --presentation public/iiif` is relative.
        self.path = path.absolute()

    def exists(self) -> bool:
        return self.path.is_file()

    def has_document(self, document: str) -> bool:
        with closing(self._connect()) as connection:
            return connection.execute("SELECT 1 FROM pages WHERE document = ? LIMIT 1", (document,)).fetchone() is not None

    def search_document(self, document: str, query: Query) -> list[PageMatches]:
        """Every page of the document where every term matches, pages with an exact-diacritic match first."""
        sql = (f"SELECT {PAGE_COLUMNS} FROM pages p JOIN page_tokens t ON t.rowid = p.id "
               f"WHERE t.page_tokens MATCH ? AND p.document = ? ORDER BY p.page")
        with closing(self._connect()) as connection:
            rows = connection.execute(sql, (_fts_query("folded", query), document)).fetchall()
        found = [_page_matches(query, *row) for row in rows]
        return sorted(found, key=lambda page: not page.exact_diacritics)

    def search_archive(self, query: Query, offset: int, limit: int) -> ArchiveResults:
        """Matching pages of every document, exact-diacritic pages first, then by document and page."""
        folded, exact = _fts_query("folded", query), _fts_query("exact", query)
        matching = "SELECT rowid FROM page_tokens WHERE page_tokens MATCH ?"
        with closing(self._connect()) as connection:
            total = connection.execute(f"SELECT count(*) FROM ({matching})", (folded,)).fetchone()[0]
            rows = connection.execute(
                f"SELECT {PAGE_COLUMNS} FROM pages p WHERE p.id IN ({matching}) "
                f"ORDER BY p.id IN ({matching}) DESC, p.document, p.page LIMIT ? OFFSET ?",
                (folded, exact, limit, offset)).fetchall()
        return ArchiveResults(tuple(_page_matches(query, *row) for row in rows), total)

    def suggest(self, document: str, typed: str, minimum: int = 1, limit: int = 20) -> list[Suggestion]:
        """Words of the document starting with ``typed`` (diacritics folded), the typed form's own
        words first, then the most frequent."""
        prefix = fold(typed.strip())
        if not prefix:
            return []
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        with closing(self._connect()) as connection:
            rows = connection.execute(
                "SELECT value, sum(total) FROM terms WHERE document = ? AND folded >= ? AND folded < ? "
                "GROUP BY value HAVING sum(total) >= ?", (document, prefix, upper, minimum)).fetchall()
        typed_form = exact_form(typed.strip())
        ranked = sorted(rows, key=lambda row: (not row[0].startswith(typed_form), -row[1], fold(row[0]), row[0]))
        return [Suggestion(value, total) for value, total in ranked[:limit]]

    def _connect(self) -> sqlite3.Connection:
        # immutable: a published index never changes (a rebuild writes a new file), so SQLite need not lock it.
        return sqlite3.connect(f"{self.path.as_uri()}?mode=ro&immutable=1", uri=True)


def _fts_query(column: str, query: Query) -> str:
    """An FTS5 expression: every term as a quoted phrase (tokens are letters and digits only, so
    quoting cannot be escaped), all required."""
    phrases = [" ".join(term.folded if column == "folded" else term.exact) for term in query.terms]
    return f"{column} : (" + " AND ".join(f'"{phrase}"' for phrase in phrases) + ")"


def _packed(numbers: Sequence[int]) -> bytes:
    return array.array("i", numbers).tobytes()


def _unpacked(data: bytes) -> array.array:
    numbers = array.array("i")
    numbers.frombytes(data)
    return numbers


def _page_matches(query: Query, document: str, page: int, texts: str, boxes: bytes, lines: bytes, folded: str,
                  exact: str, token_words: bytes) -> PageMatches:
    words = PageWords(json.loads(texts), _unpacked(boxes), _unpacked(lines), folded.split(" "), exact.split(" "),
                      _unpacked(token_words))
    return PageMatches(document, page, words, tuple(find_spans(query, words)))
