"""Large JSONL and Parquet inputs read as Arrow record batches, turned into paper columns a batch at a time.

The row readers (:mod:`paperatlas.corpus.records`) define what a paper is; this
module computes the same columns for a whole batch with Arrow compute kernels
(whitespace cleaning, title keys) and short Python loops only where Arrow has no
kernel (content hashes, date spellings, ids derived from titles). A file whose
values Arrow cannot carry faithfully (nested objects, inferred timestamps,
mixed types, JSON arrays) raises :class:`NotColumnar`, and the caller reads it
row by row instead: same papers, same errors, only slower. CSV is always read
row by row (Python's strict reader catches unclosed quotes that Arrow's accepts).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from paperatlas.corpus.dates import parse_date
from paperatlas.corpus.model import ALIASES, PAPER_COLUMNS, as_aliases, normalise_title
from paperatlas.corpus.records import FieldNames, short_text, source_list, whole_number

if TYPE_CHECKING:
    import pyarrow as pa

BATCH_BYTES = 16 << 20
"""JSON lines are parsed in blocks of this many bytes."""
UNTIDY = (r"[\t\n\x0b\x0c\r\x1c-\x1f\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
          r"|  |^ | $")
"""Text that ``clean_text`` changes: any whitespace Python's ``str.isspace`` knows but the plain
space, two spaces in a row, or a space at either end (RE2 syntax)."""


class NotColumnar(Exception):
    """This file cannot be read column-wise faithfully; read it row by row."""


def _string_like(data_type) -> bool:
    import pyarrow as pa

    return pa.types.is_string(data_type) or pa.types.is_large_string(data_type) or pa.types.is_null(data_type)


def _check_types(schema, fields: FieldNames) -> None:
    """Refuse types whose Python values the row path would see differently."""
    import pyarrow as pa

    text_fields = {fields.title, fields.abstract, fields.id, "arxiv_id", "byline", "url"}
    for field in schema:
        kind = field.type
        if field.name in text_fields and not (_string_like(kind) or pa.types.is_integer(kind)):
            raise NotColumnar(f"field {field.name!r} is {kind}")
        nested_or_inferred = (pa.types.is_timestamp(kind) or pa.types.is_struct(kind) or pa.types.is_map(kind)
                              or pa.types.is_dictionary(kind))
        if nested_or_inferred or (pa.types.is_boolean(kind) and field.name == "upvotes"):
            raise NotColumnar(f"field {field.name!r} is {kind}")
        if pa.types.is_list(kind) or pa.types.is_large_list(kind):
            if not (_string_like(kind.value_type) or pa.types.is_integer(kind.value_type)
                    or pa.types.is_floating(kind.value_type)):
                raise NotColumnar(f"field {field.name!r} is {kind}")


def batches(path: Path, fmt: str, fields: FieldNames) -> Iterator[pa.RecordBatch]:
    """Record batches of a JSONL or Parquet file (gzip-compressed or not)."""
    import pyarrow as pa

    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            handle = pq.ParquetFile(str(path))
            _check_types(handle.schema_arrow, fields)
            for batch in handle.iter_batches(batch_size=65_536):
                batch.validate(full=True)  # invalid UTF-8 in a string column: the row reader refuses the file
                yield batch
            return
        if fmt == "jsonl":
            _refuse_deep_lines(path)
        stream = pa.input_stream(str(path), compression="detect")
        if fmt == "jsonl":
            import pyarrow.json as pj

            reader = pj.open_json(stream, read_options=pj.ReadOptions(block_size=BATCH_BYTES))
        else:
            raise NotColumnar(f"format {fmt}")
        _check_types(reader.schema, fields)
        for batch in reader:
            _check_types(batch.schema, fields)
            batch.validate(full=True)  # Arrow's JSON parser passes invalid UTF-8 through; the row reader names the line
            yield batch
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise NotColumnar(str(exc)) from None


def _refuse_deep_lines(path: Path) -> None:
    """:class:`NotColumnar` when a line nests deeper than ``MAX_DEPTH`` (Arrow's JSON parser recurses without
    a limit and crashes the process on 100,000 ``[``; the row reader refuses such a line by number) or
    escapes a lone surrogate (Arrow stores some as invalid UTF-8; the row reader replaces them)."""
    import gzip
    import zlib

    from paperatlas.corpus.jsontext import LONE_SURROGATE_ESCAPE, MAX_DEPTH, nesting

    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    try:
        with opener(path, "rb") as handle:
            for line in handle:
                if line.count(b"[") + line.count(b"{") > MAX_DEPTH and \
                        nesting(line.decode("utf-8", "replace")) > MAX_DEPTH:
                    raise NotColumnar("nested too deeply")
                if b"\\u" in line and LONE_SURROGATE_ESCAPE.search(line):
                    raise NotColumnar("a lone surrogate")
    except (OSError, EOFError, zlib.error) as exc:  # a damaged gzip stream: the row reader words it
        raise NotColumnar(str(exc)) from None


def _column(batch, name: str):
    import pyarrow as pa

    if name in batch.schema.names:
        return batch.column(name)
    return pa.nulls(batch.num_rows, pa.string())


def clean_column(array):
    """:func:`paperatlas.corpus.model.clean_text` of each value; null becomes ``""``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not _string_like(array.type):
        array = pc.cast(array, pa.string())
    array = pc.fill_null(array.cast(pa.string()), "")
    untidy = pc.match_substring_regex(array, UNTIDY)  # finding is fast in Arrow, replacing is not
    if not pc.any(untidy).as_py():
        return array
    tidied = [" ".join(text.split()) for text in pc.filter(array, untidy).to_pylist()]
    return pc.replace_with_mask(array, untidy, pa.array(tidied, pa.string()))


def title_keys(titles) -> list[str]:
    """:func:`paperatlas.corpus.model.normalise_title` of each (cleaned) title: Arrow for ASCII titles, Python for the rest."""
    import pyarrow.compute as pc

    folded = pc.utf8_trim(pc.replace_substring_regex(pc.utf8_lower(titles), r"[^a-z0-9]+", " "), " ")
    keys = folded.to_pylist()
    ascii_rows = pc.string_is_ascii(titles).to_pylist()
    if not all(ascii_rows):
        originals = titles.to_pylist()
        for row, is_ascii in enumerate(ascii_rows):
            if not is_ascii:
                keys[row] = normalise_title(originals[row])
    return keys


def _by_unique(values: list[Any], function) -> list[Any]:
    """``function`` of each value, computed once per distinct value."""
    seen: dict[Any, Any] = {}
    return [seen[value] if value in seen else seen.setdefault(value, function(value)) for value in values]


def _optional_text(array):
    import pyarrow.compute as pc

    cleaned = clean_column(array)
    return pc.if_else(pc.equal(cleaned, ""), None, cleaned)


def _upvotes(array):
    """``(int64 upvotes, upvotes_text or None per row)``, as :func:`paperatlas.corpus.records.whole_number`
    and ``paper_from_fields`` read them: an unreadable value is null, its text kept."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_integer(array.type):
        return pc.cast(array, pa.int64()), [None] * len(array)
    values = array.to_pylist()
    numbers = _by_unique(values, whole_number)
    texts = [None if value in (None, "") or number is not None else short_text(value)
             for value, number in zip(values, numbers)]
    return pa.array(numbers, pa.int64()), texts


def _sources(array, source: str):
    import pyarrow as pa

    return pa.array([source_list(value) or [source] for value in array.to_pylist()], pa.list_(pa.string()))


def _aliases(array):
    """An ``aliases`` input column as lists of ids (null where a paper has none)."""
    import pyarrow as pa

    values = [as_aliases(value) for value in array.to_pylist()]
    return pa.array([list(names) if names else None for names in values], pa.list_(pa.string()))


def paper_columns(batch, source: str, fields: FieldNames) -> tuple[pa.Table, list[tuple[int, str]], list[str]]:
    """One batch of input records as paper columns (:data:`PAPER_COLUMNS`, then metadata).

    Returns ``(table of the kept rows, [(row in batch, why skipped)], title keys of the kept rows)``,
    matching :func:`paperatlas.corpus.records.paper_from_fields` row for row.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = batch.num_rows
    title = clean_column(_column(batch, fields.title))
    abstract = clean_column(_column(batch, fields.abstract))
    no_title = pc.equal(title, "")
    no_abstract = pc.equal(abstract, "")
    skipped = [(row, f"empty title (field {fields.title!r})") for row in pc.indices_nonzero(no_title).to_pylist()]
    skipped += [(row, f"empty abstract (field {fields.abstract!r})")
                for row in pc.indices_nonzero(pc.and_(pc.invert(no_title), no_abstract)).to_pylist()]
    skipped.sort()
    keep = pc.invert(pc.or_(no_title, no_abstract))
    if len(skipped):
        batch = batch.filter(keep)
        title, abstract = title.filter(keep), abstract.filter(keep)
        n = batch.num_rows
    keys = title_keys(title)
    titles, abstracts = title.to_pylist(), abstract.to_pylist()
    hashes = [hashlib.sha256(f"{t}\n{a}".encode("utf-8")).hexdigest()[:24] for t, a in zip(titles, abstracts)]

    arxiv_id = _optional_text(_column(batch, "arxiv_id"))
    raw_id = clean_column(_column(batch, fields.id))
    ids = pc.if_else(pc.equal(raw_id, ""), arxiv_id, raw_id)
    if ids.null_count:  # no id: derived from the title, as title_id does (keys are its normalised titles)
        id_list = ids.to_pylist()
        for row, value in enumerate(id_list):
            if value is None:
                id_list[row] = "t-" + hashlib.sha256(keys[row].encode("utf-8")).hexdigest()[:12]
        ids = pa.array(id_list, pa.string())

    raw_dates = _column(batch, fields.date)
    date_values = raw_dates.to_pylist()
    dates = _by_unique(date_values, parse_date)
    date_text = [None if value in (None, "") or parsed is not None else str(value)
                 for value, parsed in zip(date_values, dates)]

    upvotes, upvotes_text = _upvotes(_column(batch, "upvotes")) if "upvotes" in batch.schema.names \
        else (pa.nulls(n, pa.int64()), [None])
    columns: dict[str, Any] = {
        "id": ids,
        "title": title,
        "abstract": abstract,
        "date": pa.array(dates, pa.string()),
        "upvotes": upvotes,
        "byline": _optional_text(_column(batch, "byline")),
        "url": _optional_text(_column(batch, "url")),
        "arxiv_id": arxiv_id,
        "sources": _sources(batch.column("sources"), source) if "sources" in batch.schema.names
        else pa.array([[source]] * n, pa.list_(pa.string())),
        "content_hash": pa.array(hashes, pa.string()),
    }
    if ALIASES in batch.schema.names:
        columns[ALIASES] = _aliases(batch.column(ALIASES))
    used = {fields.title, fields.abstract, fields.id, fields.date, ALIASES, *PAPER_COLUMNS}
    for name in batch.schema.names:
        if name in used or name in columns:
            continue
        values = batch.column(name)
        if _string_like(values.type):
            values = pc.if_else(pc.equal(values, ""), None, values.cast(pa.string()))
        columns[name] = values
    if any(value is not None for value in date_text):
        columns["date_text"] = pa.array(date_text, pa.string())
    if any(value is not None for value in upvotes_text):
        columns["upvotes_text"] = pa.array(upvotes_text, pa.string())
    return pa.table(columns), skipped, keys


def jsonl_line_numbers(path: Path, rows: list[int]) -> dict[int, int]:
    """Line numbers (1-based) of the given record rows (0-based) of a JSON-lines file; blank lines hold no record."""
    import gzip

    wanted, found = sorted(set(rows)), {}
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    record = -1
    with opener(path, "rb") as handle:
        position = 0
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record += 1
            while position < len(wanted) and wanted[position] == record:
                found[record] = number
                position += 1
            if position == len(wanted):
                break
    return found


def _needs_json(values: list[Any]) -> bool:
    present = [v for v in values if v is not None]  # NaN counts: a float among text needs JSON
    if any(isinstance(v, (list, tuple, dict)) for v in present):
        return True
    if any(type(v) is int and not -(2**63) <= v < 2**63 for v in present):
        return True  # beyond Arrow's int64: JSON text keeps it
    return len({type(v) for v in present}) > 1


def papers_table(papers) -> tuple[pa.Table, list[str]]:
    """``(table, json_columns)`` of Paper records: :data:`PAPER_COLUMNS` then metadata, nested or
    mixed-type metadata as JSON text (the columns named in ``json_columns``)."""
    import pyarrow as pa

    records = [paper.to_record() for paper in papers]
    names = list(PAPER_COLUMNS) + [ALIASES] * any(ALIASES in record for record in records)
    names += list(dict.fromkeys(key for record in records for key in record if key not in names))
    columns: dict[str, Any] = {}
    json_columns = []
    for name in names:
        values = [record.get(name) for record in records]
        if name not in PAPER_COLUMNS and name != ALIASES and _needs_json(values):
            json_columns.append(name)
            values = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
        columns[name] = values
    types = {"upvotes": pa.int64(), "sources": pa.list_(pa.string()), ALIASES: pa.list_(pa.string())}
    table = pa.table({name: pa.array(values, types.get(name, pa.string() if name in PAPER_COLUMNS else None))
                      for name, values in columns.items()})
    return table, json_columns


def concat_tables(parts: list[tuple[pa.Table, list[str]]]) -> tuple[pa.Table, list[str]]:
    """One table of several ``(table, json_columns)``; a column whose types differ between
    them (or that is JSON text in one) becomes JSON text in all."""
    import pyarrow as pa

    json_columns = list(dict.fromkeys(name for _, names in parts for name in names))
    types: dict[str, set] = {}
    for table, _ in parts:
        for field in table.schema:
            if not pa.types.is_null(field.type):
                types.setdefault(field.name, set()).add(field.type)
    json_columns += [name for name, kinds in types.items()
                     if len(kinds) > 1 and name not in json_columns and name not in (*PAPER_COLUMNS, ALIASES)]
    tables = []
    for table, encoded in parts:
        for name in json_columns:
            if name in table.column_names and name not in encoded:
                values = [None if v is None else json.dumps(v, ensure_ascii=False)
                          for v in table.column(name).to_pylist()]
                table = table.set_column(table.column_names.index(name), name, pa.array(values, pa.string()))
        tables.append(table)
    return pa.concat_tables(tables, promote_options="permissive"), json_columns


def extended(corpus, papers) -> "Corpus":
    """``corpus`` with ``papers`` appended (their ids and aliases must be new); an Arrow-backed corpus stays one, unread."""
    from paperatlas.corpus.model import Corpus
    from paperatlas.errors import PaperatlasError

    papers = list(papers)
    if corpus.arrow_table is None:
        return Corpus(list(corpus) + papers)
    from collections import Counter

    ids = [name for paper in papers for name in (paper.id, *paper.aliases)]  # aliases name papers too
    clash = [paper_id for paper_id in ids if paper_id in corpus] or \
        [paper_id for paper_id, count in Counter(ids).items() if count > 1]
    if clash:
        raise PaperatlasError(f"duplicate paper id {clash[0]!r} in corpus")
    table, json_columns = concat_tables([(corpus.arrow_table, list(corpus.json_columns)), papers_table(papers)])
    return Corpus.from_arrow(table, json_columns)
