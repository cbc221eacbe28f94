"""Papers ↔ Parquet-safe DataFrames: nested or mixed-type metadata travels as JSON text."""

from __future__ import annotations

import json
from typing import Any

from paperatlas.corpus.model import PAPER_COLUMNS, Corpus


def _needs_json(values: list[Any]) -> bool:
    present = [v for v in values if v is not None and not (isinstance(v, float) and v != v)]
    if any(isinstance(v, (list, tuple, dict)) for v in present):
        return True
    return len({type(v) for v in present}) > 1


def corpus_to_table(corpus: Corpus):
    """``(frame, json_columns)``: the corpus frame with awkward metadata columns as JSON text."""
    frame = corpus.to_frame()
    json_columns = []
    for column in frame.columns:
        if column in PAPER_COLUMNS:
            continue
        values = frame[column].tolist()
        if _needs_json(values):
            json_columns.append(column)
            frame[column] = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
    return frame, json_columns


def corpus_from_table(frame, json_columns: list[str]) -> Corpus:
    """The inverse of :func:`corpus_to_table`."""
    frame = frame.copy()
    for column in json_columns:
        frame[column] = [None if v is None else json.loads(v) for v in frame[column].tolist()]
    frame["sources"] = [list(v) if v is not None else [] for v in frame["sources"].tolist()]
    return Corpus.from_frame(frame)
