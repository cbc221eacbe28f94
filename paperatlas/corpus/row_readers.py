"""Readers for JSON lines, CSV and Parquet inputs (gzip-compressed or not)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Iterator, Mapping

from paperatlas.corpus.jsontext import TooDeep, check_depth, loads, may_hold_surrogates, scrub
from paperatlas.corpus.jsontext import decoder as json_decoder
from paperatlas.corpus.textfile import read_bytes, read_text
from paperatlas.errors import InputError

#: Each reader yields ``(line or row number, record)``.
Rows = Iterator[tuple[int, Mapping[str, Any]]]


def _json_array_rows(path: Path, text: str, repaired: list[int] | None = None) -> Rows | None:
    """The objects of a file holding one JSON array (as ``.json`` output is written).

    ``None`` when the file is not a single JSON array, so it is read as JSON lines.
    """
    decoder = json_decoder()
    start = len(text) - len(text.lstrip())
    if not text.startswith("[", start):
        return None
    try:
        check_depth(text)
        document, end = decoder.raw_decode(text, start)
    except TooDeep as exc:
        raise InputError(path, f"invalid JSON ({exc})") from None
    except json.JSONDecodeError as exc:
        first_line = text[start:].split("\n", 1)[0]
        try:
            loads(first_line)
        except ValueError:
            # a JSON document spanning several lines: report where it breaks
            raise InputError(path, f"invalid JSON ({exc.msg})", line=exc.lineno) from None
        return None  # JSON lines whose first line is an array: let the line reader say so
    if text[end:].strip() or not isinstance(document, list):
        return None

    def rows() -> Rows:
        position = start + 1
        number = text.count("\n", 0, position) + 1
        for record in document:
            # find the line this element starts on, for error and skip messages
            skipped_to = position
            while text[skipped_to] in " \t\r\n,":
                skipped_to += 1
            number += text.count("\n", position, skipped_to)
            _, position = decoder.raw_decode(text, skipped_to)
            if not isinstance(record, dict):
                raise InputError(path, "expected a JSON object in the array", line=number)
            if may_hold_surrogates(text[skipped_to:position]):
                record, count = scrub(record)
                if count and repaired is not None:
                    repaired.append(number)
            yield number, record
            number += text.count("\n", skipped_to, position)

    return rows()


def jsonl_rows(path: Path, repaired: list[int] | None = None) -> Rows:
    """One JSON object a line; blank lines are passed over. Lines end at newlines only (JSON lines),
    so a U+2028 or U+0085 inside a value is part of it.

    A file holding a single JSON array of objects (how ``.json`` tables are
    written) is read too, so every table paperatlas writes can be read back.
    Lone surrogates are replaced with U+FFFD; the lines where that happened are
    appended to ``repaired``.
    """
    text = read_text(path)
    array = _json_array_rows(path, text, repaired)
    if array is not None:
        yield from array
        return
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = loads(line)
        except TooDeep as exc:
            raise InputError(path, f"invalid JSON ({exc})", line=number) from None
        except json.JSONDecodeError as exc:
            raise InputError(path, f"invalid JSON ({exc.msg})", line=number) from None
        if not isinstance(record, dict):
            raise InputError(path, "expected a JSON object on each line", line=number)
        if may_hold_surrogates(line):
            record, count = scrub(record)
            if count and repaired is not None:
                repaired.append(number)
        yield number, record


def csv_rows(path: Path, required: tuple[str, ...]) -> Rows:
    """Rows of a CSV with a header line; the ``required`` columns must be in it."""
    csv.field_size_limit(1 << 27)
    # strict: an unclosed quote is an error, not a field that swallows the rest of the file
    reader = csv.reader(io.StringIO(read_text(path), newline=""), strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise InputError(path, f"malformed CSV ({exc})", line=1) from None
    missing = [name for name in required if name not in header]
    if missing:
        raise InputError(
            path,
            f"CSV has no column {', '.join(repr(m) for m in missing)} "
            f"(columns: {', '.join(header)}); choose others with --title-field/--abstract-field",
            line=1,
        )
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(path, f"malformed CSV ({exc})", line=start) from None
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(
                path, f"row has {len(row)} fields, the header has {len(header)}", line=start
            )
        yield start, dict(zip(header, row))


def parquet_rows(path: Path, required: tuple[str, ...]) -> Rows:
    """Rows of a Parquet file; the ``required`` columns must be in it."""
    import pyarrow.parquet as pq

    data = read_bytes(path)
    if not data.startswith(b"PAR1"):
        raise InputError(path, "not a Parquet file")
    try:
        table = pq.read_table(io.BytesIO(data))
        table.validate(full=True)  # e.g. invalid UTF-8 in a string column
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise InputError(path, f"cannot read Parquet ({str(exc)[:200]})") from None
    missing = [name for name in required if name not in table.column_names]
    if missing:
        raise InputError(
            path,
            f"Parquet file has no column {', '.join(repr(m) for m in missing)} "
            f"(columns: {', '.join(table.column_names)})",
        )
    try:
        records = table.to_pylist()
    except (OverflowError, ValueError):  # a date or time Python's datetime cannot hold (year 33658)
        records = _temporal_as_text(path, table).to_pylist()
    for number, record in enumerate(records, start=1):
        yield number, record


def _temporal_as_text(path: Path, table):
    """``table`` with each date/time column Python cannot hold as text (``<value out of range: N>`` for the
    values beyond it: a date field keeps it as ``date_text``); other columns that fail are refused."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for position, name in enumerate(table.column_names):
        column = table.column(position)
        try:
            column.to_pylist()
        except (OverflowError, ValueError):
            kind = column.type
            if not (pa.types.is_temporal(kind)):
                raise InputError(path, f"cannot read column {name!r} ({kind}): a value is out of range") from None
            table = table.set_column(position, name, pc.cast(column, pa.string()))
    return table
