"""Write tables (papers, topics, exports) as JSONL, CSV, Parquet or JSON by suffix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from paperatlas.errors import PaperatlasError

TABLE_SUFFIXES = (".jsonl", ".csv", ".parquet", ".json")


def jsonable(value: Any) -> Any:
    """A JSON-ready value: arrays become lists, NaN/NA become ``None``."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, float) and value != value:
        return None
    if value is not None and type(value).__name__ in ("NAType", "NaTType"):
        return None
    return value


def frame_records(frame) -> list[dict[str, Any]]:
    """Rows as plain JSON-ready dicts (NaN/NA become ``None``)."""
    return [
        {key: jsonable(value) for key, value in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _is_nested(value: Any) -> bool:
    return isinstance(value, (list, tuple, dict)) or (hasattr(value, "tolist") and hasattr(value, "ndim") and value.ndim > 0)


def _flat_for_csv(frame):
    """Lists and dicts become JSON text so a CSV keeps them losslessly."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].map(_is_nested).any():
            frame[column] = frame[column].map(
                lambda v: json.dumps(jsonable(v), ensure_ascii=False) if _is_nested(v) else v
            )
    return frame


def write_frame(frame, out: str | Path) -> None:
    """Write ``frame`` in the format its suffix names."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise PaperatlasError(
            f"{out}: unknown table type {suffix or '(none)'}; use one of {', '.join(TABLE_SUFFIXES)}"
        )
    if out.parent and not out.parent.exists():
        raise PaperatlasError(f"{out}: folder {out.parent} does not exist")
    if suffix == ".parquet":
        frame.to_parquet(out, index=False)
    elif suffix == ".csv":
        _flat_for_csv(frame).to_csv(out, index=False)
    elif suffix == ".json":
        out.write_text(json.dumps(frame_records(frame), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    else:
        with open(out, "w", encoding="utf-8") as handle:
            for record in frame_records(frame):
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_papers(corpus, out: str | Path) -> None:
    """Write a Corpus as a table; JSONL by default."""
    write_frame(corpus.to_frame(), out)
