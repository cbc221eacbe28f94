"""Read papers from files and folders of mixed formats into one deduplicated Corpus.

JSONL and Parquet files are read column-wise in Arrow batches where their
values allow (:mod:`paperatlas.corpus.columnar`), the rest row by row; the
papers end up in one Arrow table that the Corpus reads on demand, so a
million papers never become a million Python objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from paperatlas.corpus.columnar import NotColumnar, batches, concat_tables, jsonl_line_numbers, paper_columns, papers_table
from paperatlas.corpus.dedupe import Merge, id_clash, is_derived_id, merge, same_paper_groups
from paperatlas.corpus.model import ALIASES, PAPER_COLUMNS, Corpus, Paper, normalise_title
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
    """What a read found: entries per file, what was skipped and why, what was merged.

    ``merged`` counts records merged away, ``merges`` lists each merge, ``kept_apart`` counts
    papers that share their title with another paper but are not the same paper.
    """

    files: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)
    merged: int = 0
    papers: int = 0
    merges: list[Merge] = field(default_factory=list)
    kept_apart: int = 0
    repaired: list[str] = field(default_factory=list)
    """``file:line`` of each entry whose lone surrogates (``"\\ud800"``) were replaced with U+FFFD."""

    @property
    def entries(self) -> int:
        return sum(self.files.values())

    def summary(self) -> str:
        text = (
            f"read {self.entries} entries from {len(self.files)} file"
            f"{'' if len(self.files) == 1 else 's'}; skipped {len(self.skipped)}; "
            f"merged {self.merged} duplicates; {self.papers} papers"
        )
        if self.kept_apart:
            text += f"; kept {self.kept_apart} papers with a shared title apart"
        if self.repaired:
            count = len(self.repaired)
            text += f"; replaced lone surrogates with U+FFFD in {count} entr{'y' if count == 1 else 'ies'}"
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
    repaired: list[int] = []
    if fmt in ("jsonl", "arxiv"):
        rows = jsonl_rows(path, repaired)
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
    report.repaired += [f"{source}:{number}" for number in repaired]
    if count == 0:
        raise InputError(path, "no entries found")
    if count == len([s for s in report.skipped if s.startswith(f"{source}:")]):
        raise InputError(
            path,
            f"none of its {count} entries has both a title ({fields.title!r}) "
            f"and an abstract ({fields.abstract!r})",
        )


def _columnar_file(path: Path, fmt: str, fields: FieldNames, report: ReadReport):
    """``(table, json_columns, keys)`` of a file read column-wise; :class:`NotColumnar` when it
    cannot be (then nothing was reported)."""
    if fmt not in ("jsonl", "parquet"):
        raise NotColumnar(fmt)
    source = path.as_posix()
    tables, keys, skipped, count = [], [], [], 0
    for batch in batches(path, fmt, fields):
        names = set(batch.schema.names)
        if fmt == "jsonl" and fields == FieldNames() and {"id", "title", "abstract", "categories"} <= names \
                and names & {"update_date", "versions"}:
            raise NotColumnar("arXiv metadata")
        if fields.title not in names or fields.abstract not in names:
            raise NotColumnar("a required field is missing")  # the row reader says which
        table, skips, batch_keys = paper_columns(batch, source, fields)
        if skips and fmt == "jsonl" and any(all(batch.column(i)[row].as_py() is None for i in range(batch.num_columns))
                                            for row, _ in skips):
            raise NotColumnar("a line with no fields")  # `null`, `42` or `{}`: the row reader tells them apart
        skipped += [(count + row, why) for row, why in skips]
        count += batch.num_rows
        tables.append((table, []))
        keys += batch_keys
    if not keys:
        raise NotColumnar("no papers")  # the row reader words this exactly
    if fmt == "jsonl" and skipped:
        lines = jsonl_line_numbers(path, [row for row, _ in skipped])
        skipped = [(lines[row], why) for row, why in skipped]
    else:
        skipped = [(row + 1, why) for row, why in skipped]
    report.files[source] = count
    report.skipped += [f"{source}:{number}: {why}" for number, why in skipped]
    table, json_columns = concat_tables(tables)
    return table, json_columns, keys


def _file_table(path: Path, fmt: str, fields: FieldNames, page_year: int | None, report: ReadReport):
    import pyarrow as pa

    try:
        return _columnar_file(path, fmt, fields, report)
    except (NotColumnar, pa.ArrowException, ValueError):  # e.g. invalid UTF-8: the row reader names the line
        papers = list(_read_file(path, fmt, fields, page_year, report))
        table, json_columns = papers_table(papers)
        return table, json_columns, [normalise_title(paper.title) for paper in papers]


def deduplicated(table, json_columns: list[str], keys: list[str]):
    """``(table, merges, kept_apart)``: records of the same paper merged (first-seen order, the rules
    of :mod:`paperatlas.corpus.dedupe`), each input id kept as the paper's id or an alias; refuses an
    id used by two different titles. Only records that share a title key are compared."""
    import pyarrow as pa

    _check_names(table, keys)
    first: dict[str, int] = {}
    groups: dict[int, list[int]] = {}
    for row, key in enumerate(keys):
        seen = first.setdefault(key, row)
        if seen != row:
            groups.setdefault(seen, [seen]).append(row)
    merges: list[Merge] = []
    kept_apart = 0
    if groups:
        rule_sets = []
        rows = [row for members in groups.values() for row in members]
        names = _names(table, rows)
        abstracts = dict(zip(rows, table.column("abstract").take(rows).to_pylist()))
        clusters = []
        for members in groups.values():
            key = keys[members[0]]
            found = same_paper_groups([names[row] for row in members], [abstracts[row] for row in members],
                                      [is_derived_id(names[row][0], key) for row in members])
            clusters += [[members[i] for i in cluster] for cluster, _ in found if len(cluster) > 1]
            rule_sets += [rules for cluster, rules in found if len(cluster) > 1]
            kept_apart += len(found) if len(found) > 1 else 0
        lazy = Corpus.from_arrow(table, json_columns)
        replacements = [merge(lazy.papers(cluster)) for cluster in clusters]
        merges = [Merge(paper.id, paper.title, paper.aliases, len(cluster), rules)
                  for paper, cluster, rules in zip(replacements, clusters, rule_sets)]
        if any(paper.aliases for paper in replacements) and ALIASES not in table.column_names:
            position = table.column_names.index(PAPER_COLUMNS[-1]) + 1
            table = table.add_column(position, ALIASES, pa.nulls(table.num_rows, pa.list_(pa.string())))
        records = [paper.to_record() for paper in replacements]
        for record in records:
            for name in json_columns:
                if record.get(name) is not None:
                    record[name] = json.dumps(record[name], ensure_ascii=False)
        extra = pa.Table.from_pylist(records, schema=table.schema)
        dropped = {row for cluster in clusters for row in cluster[1:]}
        slot = {cluster[0]: table.num_rows + i for i, cluster in enumerate(clusters)}
        order = [slot.get(row, row) for row in range(table.num_rows) if row not in dropped]
        table = pa.concat_tables([table, extra]).take(order)
    _check_unique_ids(table)
    return table, merges, kept_apart


def _names(table, rows: list[int]) -> dict[int, tuple[str, ...]]:
    """Each row's id followed by its aliases."""
    ids = table.column("id").take(rows).to_pylist()
    if ALIASES not in table.column_names:
        return {row: (paper_id,) for row, paper_id in zip(rows, ids)}
    aliases = table.column(ALIASES).take(rows).to_pylist()
    return {row: (paper_id, *(names or ())) for row, paper_id, names in zip(rows, ids, aliases)}


def _check_names(table, keys: list[str]) -> None:
    """Refuse an id or alias that records of two different titles use."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = table.column("id")
    has_aliases = ALIASES in table.column_names and pc.sum(pc.fill_null(pc.list_value_length(
        table.column(ALIASES)), 0)).as_py()
    if not has_aliases:
        distinct = pc.count_distinct(ids).as_py()
        if distinct == len(ids) or pa.table({"id": ids, "key": pa.array(keys, pa.string())}).group_by(
                ["id", "key"]).aggregate([]).num_rows == distinct:
            return  # each id has one title key
    names = _names(table, list(range(table.num_rows))) if has_aliases else \
        {row: (paper_id,) for row, paper_id in enumerate(ids.to_pylist())}
    owner: dict[str, int] = {}
    for row in range(table.num_rows):
        for name in names[row]:
            seen = owner.setdefault(name, row)
            if keys[seen] != keys[row]:
                titles = table.column("title")
                raise id_clash(name, titles[seen].as_py(), titles[row].as_py())


def _check_unique_ids(table) -> None:
    import pyarrow.compute as pc

    ids = table.column("id")
    if pc.count_distinct(ids).as_py() == len(ids):
        return
    seen: dict[str, int] = {}
    titles = table.column("title")
    for row, paper_id in enumerate(ids.to_pylist()):
        if paper_id in seen:
            raise id_clash(paper_id, titles[seen[paper_id]].as_py(), titles[row].as_py())
        seen[paper_id] = row


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
    parts, keys = [], []
    for path in expand_paths(list(paths), report, format):
        table, json_columns, file_keys = _file_table(path, format or detect_format(path), fields, page_year, report)
        parts.append((table, json_columns))
        keys += file_keys
    if not keys:
        raise PaperatlasError("the inputs hold no papers")
    table, json_columns = concat_tables(parts)
    table, report.merges, report.kept_apart = deduplicated(table, json_columns, keys)
    report.papers = table.num_rows
    report.merged = len(keys) - report.papers
    return Corpus.from_arrow(table, json_columns), report


def read_corpus(paths, format: str | None = None, fields: FieldNames | None = None, page_year: int | None = None) -> Corpus:
    """Like :func:`read_papers`, returning only the Corpus."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    return read_papers(paths, format=format, fields=fields, page_year=page_year)[0]
