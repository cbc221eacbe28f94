"""Reader for Hugging Face Daily Papers page dumps (the text of a saved page).

Two layouts occur:

(a) blocks of ``title``, ``abstract``, a byline (``• N authors`` or an
    organisation), a ``·`` line and a date line with an optional upvote
    count (``Oct 30, 2025 1``, ``Sep 22``);
(b) alternating title / abstract lines after a header whose first title is
    glued to ``Subscribe``.

Year-less dates (``Sep 22``) belong to the page's year. The page shows a year
only for dates outside its own year, so the page's year is taken as one more
than the latest explicit year on the page, unless ``page_year`` is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from paperatlas.corpus.dates import MONTHS, iso_date
from paperatlas.corpus.model import Paper, clean_text, title_id
from paperatlas.corpus.records import short_text
from paperatlas.errors import InputError

_DATE_LINE = re.compile(
    r"^(?P<month>" + "|".join(MONTHS) + r") (?P<day>\d{1,2})(?:, (?P<year>\d{4}))?(?: (?P<votes>\d+))?$"
)
_AUTHORS = re.compile(r"^•?\s*(\d+) authors?$")
_VOTE_DIGITS = 18
"""Upvote counts of more digits do not fit 64 bits: the paper keeps them as ``upvotes_text``."""
_SEPARATOR = "·"
_SUBSCRIBE = "Subscribe"


@dataclass(frozen=True)
class RawEntry:
    """An entry as found on a page, before it becomes a Paper."""

    line: int
    title: str
    abstract: str
    byline: str | None = None
    date_text: str | None = None


@dataclass(frozen=True)
class PageDate:
    month: int
    day: int
    year: int | None
    votes: int | None
    votes_text: str | None = None  # the count as written when it is too large to keep (over 18 digits)


def parse_date_line(text: str) -> PageDate | None:
    match = _DATE_LINE.match(text.strip())
    if not match:
        return None
    year = match.group("year")
    votes = match.group("votes")
    readable = votes is not None and len(votes) <= _VOTE_DIGITS
    return PageDate(
        month=MONTHS[match.group("month")],
        day=int(match.group("day")),
        year=int(year) if year else None,
        votes=int(votes) if readable else None,
        votes_text=None if votes is None or readable else short_text(votes),
    )


def _numbered_lines(text: str) -> list[tuple[int, str]]:
    """Non-blank lines, stripped, with their 1-based line numbers."""
    return [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]


def _byline(text: str) -> str:
    match = _AUTHORS.match(text)
    if match and len(match.group(1)) <= _VOTE_DIGITS:
        count = int(match.group(1))
        return f"{count} author" if count == 1 else f"{count} authors"
    return text


_HEADER_LINES = {
    "new",
    "Get trending papers in your email inbox!",
    "Get trending papers in your email inbox once a day!",
    "Subscribe",
    "Daily Papers",
    "byAK and the research community",
}


def _skip_header(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The lines after the page header; a first title glued to ``Subscribe`` is split off."""
    for i, (number, line) in enumerate(lines):
        if line in _HEADER_LINES or parse_date_line(line) is not None:
            continue
        if line.startswith(_SUBSCRIBE) and i < 8:
            return [(number, line[len(_SUBSCRIBE):].strip())] + lines[i + 1 :]
        return lines[i:]
    return []


def _entries(path: Path, lines: list[tuple[int, str]]) -> list[RawEntry]:
    """Title, abstract, then optionally a byline, a ``·`` line and a date line."""
    entries: list[RawEntry] = []
    i = 0
    while i < len(lines):
        title_number, title = lines[i]
        if i + 1 >= len(lines):
            raise InputError(path, f"title without an abstract: {title[:60]!r}", line=title_number)
        abstract = lines[i + 1][1]
        if title == _SEPARATOR or abstract == _SEPARATOR or len(title) >= len(abstract):
            raise InputError(
                path,
                f"expected a title followed by its longer abstract, found {title[:60]!r}",
                line=title_number,
            )
        byline = date_text = None
        step = 2
        if i + 3 < len(lines) and lines[i + 3][1] == _SEPARATOR:
            if i + 4 >= len(lines) or parse_date_line(lines[i + 4][1]) is None:
                number = lines[i + 3][0] + 1 if i + 4 >= len(lines) else lines[i + 4][0]
                raise InputError(path, "expected a date line after '·'", line=number)
            byline, date_text, step = _byline(lines[i + 2][1]), lines[i + 4][1], 5
        entries.append(RawEntry(title_number, title, abstract, byline, date_text))
        i += step
    return entries


def parse_page(path: Path, text: str) -> list[RawEntry]:
    """The raw entries on a page; ``InputError`` if none can be recognised."""
    lines = _numbered_lines(text)
    body = _skip_header(lines)
    if not body or len(body) == len(lines):
        # a page dump always starts with the site's header
        raise InputError(path, "no recognisable Daily Papers entries on this page")
    return _entries(path, body)


def page_year(entries: list[RawEntry]) -> int | None:
    """One more than the latest explicit year on the page, or ``None`` if it has none."""
    years = [
        parsed.year
        for entry in entries
        if entry.date_text and (parsed := parse_date_line(entry.date_text)) and parsed.year
    ]
    return max(years) + 1 if years else None


def read_page(path: Path, text: str, source: str, year: int | None = None) -> list[tuple[int, Paper]]:
    """Papers on a Daily Papers page, each with the line its entry starts on."""
    entries = parse_page(path, text)
    resolved_year = year if year is not None else page_year(entries)
    papers = []
    for entry in entries:
        date = upvotes = None
        metadata: dict[str, str] = {}
        if entry.date_text:
            parsed = parse_date_line(entry.date_text)
            assert parsed is not None  # checked by the layout parser
            upvotes = parsed.votes
            if parsed.votes_text is not None:
                metadata["upvotes_text"] = parsed.votes_text
            the_year = parsed.year or resolved_year
            if the_year is not None:
                date = iso_date(the_year, parsed.month, parsed.day)
            if date is None:  # no year to give it, or no such day: keep what the page said
                metadata["date_text"] = entry.date_text
        title, abstract = clean_text(entry.title), clean_text(entry.abstract)
        papers.append(
            (
                entry.line,
                Paper(
                    id=title_id(title),
                    title=title,
                    abstract=abstract,
                    date=date,
                    upvotes=upvotes,
                    byline=entry.byline,
                    sources=(source,),
                    metadata=metadata,
                ),
            )
        )
    return papers
