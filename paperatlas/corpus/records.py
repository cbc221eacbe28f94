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


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from a table
        return ""
    return clean_text(str(value))


def _optional_int(value: Any) -> int | None:
    try:
        return None if value in (None, "") else int(float(value))
    except (TypeError, ValueError):
        return None


def _sources(value: Any, source: str) -> tuple[str, ...]:
    if isinstance(value, str) and value.startswith("["):
        value = json.loads(value)
    if isinstance(value, (list, tuple)) and value:
        return tuple(str(item) for item in value)
    return (source,)


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
    metadata = {
        key: value
        for key, value in record.items()
        if key not in used and value is not None and value != ""
    }
    raw_date = record.get(names.date)
    date = parse_date(raw_date)
    if raw_date not in (None, "") and date is None:
        metadata["date_text"] = str(raw_date)
    raw_id = _text(record.get(names.id))
    arxiv_id = _text(record.get("arxiv_id")) or None
    return Paper(
        id=raw_id or (arxiv_id or title_id(title)),
        title=title,
        abstract=abstract,
        date=date,
        upvotes=_optional_int(record.get("upvotes")),
        byline=_text(record.get("byline")) or None,
        url=_text(record.get("url")) or None,
        arxiv_id=arxiv_id,
        sources=_sources(record.get("sources"), source),
        metadata=metadata,
        aliases=as_aliases(record.get(ALIASES)),
    )


def is_arxiv_record(record: Mapping[str, Any]) -> bool:
    """Whether a JSON object follows the public arXiv metadata snapshot schema."""
    return {"id", "title", "abstract", "categories"} <= record.keys() and (
        "update_date" in record or "versions" in record
    )


def _first_version_date(record: Mapping[str, Any]) -> str | None:
    versions = record.get("versions") or []
    if versions and isinstance(versions[0], Mapping):
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
    metadata = {key: record[key] for key in keep if record.get(key) not in (None, "")}
    if isinstance(metadata.get("authors"), str):
        metadata["authors"] = _text(metadata["authors"])
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
