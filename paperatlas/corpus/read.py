"""Read papers from files and folders of mixed formats into one deduplicated Corpus."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from paperatlas.corpus.dedupe import dedupe
from paperatlas.corpus.model import Corpus, Paper
from paperatlas.corpus.pages import read_page
from paperatlas.corpus.records import (
    FieldNames,
    SkipEntry,
    is_arxiv_record,
    paper_from_arxiv,
    paper_from_fields,
)
from paperatlas.corpus.row_readers import csv_rows, jsonl_rows, parquet_rows
from paperatlas.corpus.textfile import read_text
from paperatlas.errors import InputError, PaperatlasError

FORMATS = ("pages", "jsonl", "arxiv", "csv", "parquet")
_SUFFIX_FORMATS = {
    ".txt": "pages",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
}


@dataclass
class ReadReport:
    """What a read found: entries per file, what was skipped and why, what was merged."""

    files: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)
    merged: int = 0
    papers: int = 0

    @property
    def entries(self) -> int:
        return sum(self.files.values())

    def summary(self) -> str:
        text = (
            f"read {self.entries} entries from {len(self.files)} file"
            f"{'' if len(self.files) == 1 else 's'}; skipped {len(self.skipped)}; "
            f"merged {self.merged} duplicates; {self.papers} papers"
        )
        if self.ignored_files:
            text += f"; ignored {len(self.ignored_files)} files of unknown type"
        return text


def detect_format(path: Path) -> str:
    """The reader for a file, from its suffix (a ``.gz`` suffix is looked through)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    fmt = _SUFFIX_FORMATS.get(suffixes[-1] if suffixes else "")
    if fmt is None:
        raise InputError(
            path, f"unknown file type; pass --format ({'|'.join(FORMATS)})"
        )
    return fmt


def _is_known(path: Path) -> bool:
    try:
        detect_format(path)
    except InputError:
        return False
    return True


def expand_paths(paths: Iterable[str | Path], report: ReadReport, fmt: str | None) -> list[Path]:
    """Files named directly, and the readable files inside named folders (sorted)."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(
                p for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            for candidate in inside:
                if fmt is not None or _is_known(candidate):
                    files.append(candidate)
                else:
                    report.ignored_files.append(str(candidate))
        elif path.exists():
            files.append(path)
        else:
            raise InputError(path, "no such file or folder")
    if not files:
        raise PaperatlasError("no input files found in " + ", ".join(str(p) for p in paths))
    return files


def _read_file(path: Path, fmt: str, fields: FieldNames, page_year: int | None, report: ReadReport) -> Iterator[Paper]:
    source = path.as_posix()
    required = (fields.title, fields.abstract)
    if fmt == "pages":
        found = read_page(path, read_text(path), source, year=page_year)
        report.files[source] = len(found)
        yield from (paper for _, paper in found)
        return
    if fmt in ("jsonl", "arxiv"):
        rows = jsonl_rows(path)
    elif fmt == "csv":
        rows = csv_rows(path, required)
    elif fmt == "parquet":
        rows = parquet_rows(path, required)
    else:
        raise PaperatlasError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    count = 0
    arxiv = fmt == "arxiv"
    for number, record in rows:
        if count == 0 and fmt == "jsonl":
            arxiv = is_arxiv_record(record) and fields == FieldNames()
        count += 1
        try:
            if arxiv:
                yield paper_from_arxiv(record, source)
            else:
                yield paper_from_fields(record, source, fields)
        except SkipEntry as why:
            report.skipped.append(f"{source}:{number}: {why}")
    report.files[source] = count
    if count == 0:
        raise InputError(path, "no entries found")
    if count == len([s for s in report.skipped if s.startswith(f"{source}:")]):
        raise InputError(
            path,
            f"none of its {count} entries has both a title ({fields.title!r}) "
            f"and an abstract ({fields.abstract!r})",
        )


def read_papers(
    paths: Iterable[str | Path],
    format: str | None = None,
    fields: FieldNames | None = None,
    page_year: int | None = None,
) -> tuple[Corpus, ReadReport]:
    """Read, validate and deduplicate papers from files or folders.

    Parameters
    ----------
    paths: files or folders; folders are searched for known file types.
    format: force one reader (``pages``, ``jsonl``, ``arxiv``, ``csv``, ``parquet``)
        instead of choosing by suffix.
    fields: input field names for title, abstract, id and date.
    page_year: the year of year-less dates on Daily Papers pages (default: inferred
        per page as one more than its latest explicit year).
    """
    if format is not None and format not in FORMATS:
        raise PaperatlasError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    fields = fields or FieldNames()
    report = ReadReport()
    papers: list[Paper] = []
    for path in expand_paths(list(paths), report, format):
        papers.extend(_read_file(path, format or detect_format(path), fields, page_year, report))
    unique, report.merged = dedupe(papers)
    if not unique:
        raise PaperatlasError("the inputs hold no papers")
    report.papers = len(unique)
    return Corpus(unique), report


def read_corpus(paths, format: str | None = None, fields: FieldNames | None = None, page_year: int | None = None) -> Corpus:
    """Like :func:`read_papers`, returning only the Corpus."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    return read_papers(paths, format=format, fields=fields, page_year=page_year)[0]
