"""An atlas as tables: one row a paper, papers per month and topic; written as JSONL, CSV, Parquet or JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from paperatlas.errors import PaperatlasError

if TYPE_CHECKING:
    import pandas as pd

    from paperatlas.atlas import Atlas

NOT_EXPORTED = ("content_hash",)
"""Paper fields the paper table leaves out."""
NOISE_NAME = "(noise)"
INPUT_PREFIX = "input_"
"""An input column named like a computed one (``x``, ``topic_id``, ...) is exported as ``input_<name>``."""
_COMPUTED = re.compile(r"^(topic_id|topic_name|x|y|neighbours|abstract|layer_\d+|layer_\d+_name)$")


def is_computed_name(name: str) -> bool:
    """Whether the paper table computes a column of this name (``x``, ``y``, ``topic_id``, ``layer_2_name``, ...)."""
    return bool(_COMPUTED.match(str(name)))


def input_renames(columns) -> dict[str, str]:
    """``{input column: name it is exported under}`` for the input columns named like computed ones:
    the computed columns win, the input's are kept as ``input_<name>`` (more ``input_`` while taken)."""
    taken = set(map(str, columns))
    renames: dict[str, str] = {}
    for name in columns:
        if is_computed_name(name):
            new = INPUT_PREFIX + str(name)
            while new in taken or is_computed_name(new):
                new = INPUT_PREFIX + new
            taken.add(new)
            renames[name] = new
    return renames


def describe_renames(renames: dict[str, str]) -> str:
    """One line naming the renamed input columns, for stderr."""
    pairs = ", ".join(f"{old!r} as {new!r}" for old, new in renames.items())
    word = "column" if len(renames) == 1 else "columns"
    return (f"input {word} named like computed ones: the computed values win; the input's are kept "
            f"under another name in exports ({pairs})")


def paper_table(atlas: Atlas, neighbours: int = 0) -> pd.DataFrame:
    """One row a paper: id, title, date, topic_id, topic_name, x, y, then ``layer_<n>`` (topic id)
    and ``layer_<n>_name`` for each layer, the other paper fields and metadata columns, abstract.

    With ``neighbours > 0`` a ``neighbours`` column lists each paper's nearest paper ids.
    Input columns named like computed ones never overwrite them: they come as ``input_<name>``
    (:func:`input_renames`).
    """
    frame = atlas.corpus.to_frame()
    table = frame[["id", "title", "date"]].copy()
    metadata = [c for c in frame.columns if c not in table.columns and c not in (*NOT_EXPORTED, "abstract")]
    renames = input_renames(metadata)
    topics = atlas.topics
    if topics is not None:
        labels, names = topics.labels_at(0), topics.names_at(0)
        table["topic_id"] = labels
        table["topic_name"] = [names.get(int(t), NOISE_NAME) for t in labels]
        coords = topics.coords if topics.coords is not None else np.full((len(atlas), 2), np.nan)
        table["x"], table["y"] = coords[:, 0], coords[:, 1]
        for layer in range(topics.n_layers):
            layer_labels, layer_names = topics.labels_at(layer), topics.names_at(layer)
            table[f"layer_{layer}"] = layer_labels
            table[f"layer_{layer}_name"] = [layer_names.get(int(t), NOISE_NAME) for t in layer_labels]
    else:
        table["topic_id"], table["topic_name"], table["x"], table["y"] = -1, None, np.nan, np.nan
    for column in metadata:
        table[renames.get(column, column)] = frame[column]
    table["abstract"] = frame["abstract"]
    if neighbours > 0:
        ids = np.array(atlas.corpus.ids, dtype=object)
        table["neighbours"] = [list(ids[r]) for r in nearest_rows(atlas, neighbours)]
    return table


NEAREST_BATCH = 20_000
"""Papers searched at a time by ``nearest_rows`` (a progress bar counts the batches)."""


def nearest_rows(atlas: Atlas, k: int, *, progress: bool = False, batch: int = NEAREST_BATCH) -> np.ndarray:
    """``(n, k)`` rows of each paper's ``k`` nearest other papers (fewer columns in a tiny atlas).

    Searched ``batch`` papers at a time; ``progress`` shows a bar when there is more than one batch.
    """
    from paperatlas.index import bulk_index, self_first_graph

    vectors = atlas.embeddings
    n = len(vectors)
    index = atlas.index if atlas.index.kind in ("exact", "hnsw") else bulk_index(vectors)
    width = max(1, min(k + 2, n))
    starts = range(0, n, batch)
    if progress and n > batch:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="nearest papers", unit="batch", leave=False)
    parts = [np.empty((0, min(k + 1, n) - 1), dtype=np.int64)]
    for start in starts:
        scores, rows = index.search(np.ascontiguousarray(vectors[start : start + batch]), width)
        graph, _ = self_first_graph(scores, rows, k + 1, offset=start)
        parts.append(graph[:, 1:])
    return np.concatenate(parts)


UNDATED = "undated"
"""The row of :func:`topic_trends` that counts papers without a date."""


def topic_trends(atlas: Atlas, layer: int = 0) -> pd.DataFrame:
    """Papers per month and topic: rows ``YYYY-MM`` in order, then ``undated`` (papers without a
    date; always there); a column per topic name of the layer, largest first, each topic kept
    even when none of its papers has a date, then ``(noise)`` when some paper is noise."""
    import pandas as pd

    from paperatlas.cluster.density import NOISE

    topics = atlas.require_topics()
    names = topics.names_at(layer)
    labels = topics.labels_at(layer)
    months = np.array([d[:7] if d else UNDATED for d in atlas.corpus.column("date")], dtype=object)
    ids = list(names) + ([NOISE] if bool(np.any(labels == NOISE)) else [])
    rows = sorted(set(months) - {UNDATED}) + [UNDATED]
    counts = pd.crosstab(pd.Categorical(months, categories=rows), pd.Categorical(labels, categories=ids),
                         dropna=False)
    counts.index = pd.Index(rows, name="month")
    counts.columns = pd.Index([names.get(int(t), NOISE_NAME) for t in ids], name="topic")
    return counts.astype("int64")


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
        from paperatlas.corpus.jsontext import json_line

        with open(out, "w", encoding="utf-8") as handle:
            for record in frame_records(frame):
                handle.write(json_line(record) + "\n")


def write_papers(corpus, out: str | Path) -> None:
    """Write a Corpus as a table in the format ``out``'s suffix names.

    A corpus read column-wise (an Arrow table without JSON-text columns) goes to
    Parquet or JSON lines batch by batch, without a DataFrame or Paper objects.
    """
    out = Path(out)
    table = corpus.arrow_table
    if table is None or corpus.json_columns or out.suffix.lower() not in (".parquet", ".jsonl"):
        write_frame(corpus.to_frame(), out)
        return
    if out.parent and not out.parent.exists():
        raise PaperatlasError(f"{out}: folder {out.parent} does not exist")
    if out.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, out)
        return
    from paperatlas.corpus.jsontext import json_line

    with open(out, "w", encoding="utf-8") as handle:
        for batch in table.to_batches(max_chunksize=16_384):
            handle.writelines(json_line(record) + "\n" for record in batch.to_pylist())
