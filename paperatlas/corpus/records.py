"""Turn generic records (JSONL/CSV/Parquet rows, arXiv metadata) into Papers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from paperatlas.corpus.dates import parse_date
from paperatlas.corpus.model import ALIASES, PAPER_COLUMNS, Paper, as_aliases, clean_text, title_id


@dataclass(frozen=True)
class FieldNames:
    """Which input fields hold the title, abstract, id and date."""

    title: str = "title"
    abstract: str = "abstract"
    id: str = "id"
    date: str = "date"


class SkipEntry(Exception):
    """An entry that cannot become a paper (for example an empty abstract)."""


def _absent(value: Any) -> bool:
    """A field value that says nothing: missing, empty text or NaN (JSON ``NaN``, an empty table cell)."""
    return value is None or (isinstance(value, str) and value == "") or (isinstance(value, float) and value != value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from a table
        return ""
    return clean_text(safe_str(value))


INT64_MAX = 2**63 - 1


def whole_number(value: Any) -> int | None:
    """An upvote count as an int: ``None`` for a missing value and for one that is not a finite number
    within 64-bit range (``1e19``, ``Infinity``, ``"1e400"``, 5,000 digits, ``true``); fractions are truncated."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -INT64_MAX <= value <= INT64_MAX else None
    try:
        number = float(value if isinstance(value, float) else str(value)[:400])
    except (TypeError, ValueError):
        return None
    if number != number or abs(number) >= 2.0**63:  # NaN, infinite or out of range
        return None
    return int(number)


def source_list(value: Any) -> list[str] | None:
    """The ``sources`` of an input record: a list, or JSON list text; ``None`` when it is neither."""
    if isinstance(value, str) and value.startswith("["):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return None
    if isinstance(value, (list, tuple)) and value:
        return [safe_str(item) for item in value]
    return None


def _sources(value: Any, source: str) -> tuple[str, ...]:
    return tuple(source_list(value) or (source,))


def paper_from_fields(record: Mapping[str, Any], source: str, names: FieldNames) -> Paper:
    """A Paper from one row; extra fields are kept as metadata.

    Raises :class:`SkipEntry` when the title or abstract is empty.
    """
    title = _text(record.get(names.title))
    abstract = _text(record.get(names.abstract))
    if not title:
        raise SkipEntry(f"empty title (field {names.title!r})")
    if not abstract:
        raise SkipEntry(f"empty abstract (field {names.abstract!r})")
    used = {names.title, names.abstract, names.id, names.date, "content_hash", "sources", ALIASES}
    used.update(PAPER_COLUMNS)
    metadata = {key: value for key, value in record.items() if key not in used and not _absent(value)}
    raw_date = record.get(names.date)
    date = parse_date(raw_date)
    if raw_date not in (None, "") and date is None:
        metadata["date_text"] = safe_str(raw_date)
    raw_upvotes = record.get("upvotes")
    upvotes = whole_number(raw_upvotes)
    if raw_upvotes not in (None, "") and upvotes is None:
        metadata["upvotes_text"] = short_text(raw_upvotes)
    raw_id = _text(record.get(names.id))
    arxiv_id = _text(record.get("arxiv_id")) or None
    return Paper(
        id=raw_id or (arxiv_id or title_id(title)),
        title=title,
        abstract=abstract,
        date=date,
        upvotes=upvotes,
        byline=_text(record.get("byline")) or None,
        url=_text(record.get("url")) or None,
        arxiv_id=arxiv_id,
        sources=_sources(record.get("sources"), source),
        metadata=metadata,
        aliases=as_aliases(record.get(ALIASES)),
    )


def safe_str(value: Any) -> str:
    """``str(value)``, also for an int too long for Python to print (over 4,300 digits)."""
    try:
        return str(value)
    except ValueError:
        return f"(a number of about {int(value.bit_length() * 0.30103)} digits)"


UPVOTES_TEXT_CHARS = 100
"""An unreadable ``upvotes`` value is kept as ``upvotes_text``, cut to this many characters."""


def short_text(value: Any) -> str:
    """``str(value)`` cut to :data:`UPVOTES_TEXT_CHARS` characters (``…`` marks a cut)."""
    from paperatlas.text_table import cut

    return cut(safe_str(value), UPVOTES_TEXT_CHARS)


def is_arxiv_record(record: Mapping[str, Any]) -> bool:
    """Whether a JSON object follows the public arXiv metadata snapshot schema."""
    return {"id", "title", "abstract", "categories"} <= record.keys() and (
        "update_date" in record or "versions" in record
    )


def _first_version_date(record: Mapping[str, Any]) -> str | None:
    versions = record.get("versions")
    if isinstance(versions, list) and versions and isinstance(versions[0], Mapping):
        return parse_date(versions[0].get("created"))
    return None


def _author_count(record: Mapping[str, Any]) -> int | None:
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        return len(parsed)
    authors = _text(record.get("authors"))
    if not authors:
        return None
    return len([a for a in authors.replace(" and ", ", ").split(",") if a.strip()])


def paper_from_arxiv(record: Mapping[str, Any], source: str) -> Paper:
    """A Paper from an arXiv metadata record (line breaks and double spaces normalised)."""
    title = _text(record.get("title"))
    abstract = _text(record.get("abstract"))
    if not title:
        raise SkipEntry("empty title")
    if not abstract:
        raise SkipEntry("empty abstract")
    arxiv_id = _text(record.get("id"))
    count = _author_count(record)
    keep = ("categories", "authors", "doi", "journal-ref", "comments", "license", "update_date")
    metadata = {key: record[key] for key in keep if not _absent(record.get(key))}
    if isinstance(metadata.get("authors"), str):
        metadata["authors"] = _text(metadata["authors"])
        if not metadata["authors"]:
            del metadata["authors"]
    return Paper(
        id=arxiv_id,
        title=title,
        abstract=abstract,
        date=_first_version_date(record) or parse_date(record.get("update_date")),
        byline=None if count is None else f"{count} author{'s' if count != 1 else ''}",
        url=f"https://arxiv.org/abs/{arxiv_id}",
        arxiv_id=arxiv_id,
        sources=(source,),
        metadata=metadata,
    )
