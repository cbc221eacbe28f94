"""Readers for JSON lines, CSV and Parquet inputs (gzip-compressed or not)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Iterator, Mapping

from paperatlas.corpus.textfile import read_bytes, read_text
from paperatlas.errors import InputError

#: Each reader yields ``(line or row number, record)``.
Rows = Iterator[tuple[int, Mapping[str, Any]]]


def jsonl_rows(path: Path) -> Rows:
    """One JSON object a line; blank lines are passed over."""
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(path, f"invalid JSON ({exc.msg})", line=number) from None
        if not isinstance(record, dict):
            raise InputError(path, "expected a JSON object on each line", line=number)
        yield number, record


def csv_rows(path: Path, required: tuple[str, ...]) -> Rows:
    """Rows of a CSV with a header line; the ``required`` columns must be in it."""
    csv.field_size_limit(1 << 27)
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
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
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise InputError(path, f"cannot read Parquet ({exc})") from None
    missing = [name for name in required if name not in table.column_names]
    if missing:
        raise InputError(
            path,
            f"Parquet file has no column {', '.join(repr(m) for m in missing)} "
            f"(columns: {', '.join(table.column_names)})",
        )
    for number, record in enumerate(table.to_pylist(), start=1):
        yield number, record
