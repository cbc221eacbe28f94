"""What a topic map draws, as arrays: papers (text, position, topic per layer) and the topics.

:meth:`MapData.from_atlas` reads the atlas's topics record directly;
:meth:`MapData.from_frames` takes plain DataFrames for papers from elsewhere.
The HTML and PNG writers take a ``MapData``.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from paperatlas.errors import PaperatlasError

if TYPE_CHECKING:
    import pandas as pd

    from paperatlas.atlas import Atlas

PAPER_COLUMNS: tuple[str, ...] = ("id", "title", "topic_id", "x", "y")
"""Columns a papers frame must have; ``topic_name, date, abstract, neighbours`` and
``layer_1``, ``layer_2``, ... (coarser topic ids) are optional."""

TOPIC_COLUMNS: tuple[str, ...] = ("layer", "topic_id", "name")
"""Columns a non-empty topics frame must have; ``size, keyterms`` are optional."""

MAP_NEIGHBOURS = 5
"""Nearest papers listed in a paper's panel."""


@dataclass(frozen=True)
class MapData:
    """Papers and topics of a map; row ``i`` of every array is paper ``i``.

    Attributes:
        ids, titles, dates, abstracts: Text of each paper ('' where unknown).
        coords: ``(n, 2)`` finite map positions.
        labels: ``(n, layers)`` topic id per layer (layer 0 finest; -1 noise).
        neighbours: Rows of each paper's nearest papers.
        topics: One row per (layer, topic): ``layer, topic_id, name, size, keyterms``.
    """

    ids: Sequence[str]
    titles: Sequence[str]
    dates: Sequence[str]
    abstracts: Sequence[str]
    coords: np.ndarray
    labels: np.ndarray
    neighbours: Sequence[Sequence[int]]
    topics: pd.DataFrame

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_atlas(cls, atlas: Atlas, neighbours: int = MAP_NEIGHBOURS, *, progress: bool = False) -> MapData:
        """The map of an atlas with topics (positions, labels and names from its topics record).

        ``progress`` shows a bar while the neighbours of a large atlas are searched.
        """
        from paperatlas.export.tables import nearest_rows

        topics = atlas.require_topics()
        if topics.coords is None:
            raise PaperatlasError("this atlas's topics have no map positions (fitted with make_map off)")
        corpus = atlas.corpus
        return cls(
            ids=corpus.ids,
            titles=corpus.column("title"),
            dates=[display_text(d) for d in corpus.column("date")],
            abstracts=corpus.column("abstract"),
            coords=np.asarray(topics.coords, dtype=float),
            labels=topics.labels,
            neighbours=[list(r) for r in nearest_rows(atlas, neighbours, progress=progress)] if neighbours > 0 else [[]] * len(atlas),
            topics=topics.table[["layer", "topic_id", "name", "size", "keyterms"]].copy(),
        )

    @classmethod
    def from_frames(cls, papers: pd.DataFrame, topics: pd.DataFrame | None = None) -> MapData:
        """A map of papers from elsewhere: see ``PAPER_COLUMNS`` and ``TOPIC_COLUMNS``.

        Topic names come from ``topics``, else from ``papers.topic_name`` (layer 0).

        Raises:
            PaperatlasError: Not a frame, no rows, a required column missing,
                duplicate ids, or coordinates that are not finite numbers.
        """
        import pandas as pd

        check_papers(papers)
        table = _check_topics(topics)
        layers = [_int_labels(papers["topic_id"])]
        while f"layer_{len(layers)}" in papers.columns:
            layers.append(_int_labels(papers[f"layer_{len(layers)}"]))
        labels = np.stack(layers, axis=1)
        if "topic_name" in papers.columns:  # the papers' own names of fine topics win
            first: dict[int, str] = {}
            for tid, name in zip(labels[:, 0].tolist(), papers["topic_name"].map(display_text)):
                if tid >= 0 and name:
                    first.setdefault(tid, name)
            if len(table):
                fine = table["layer"].astype(int).to_numpy() == 0
                table = table[~(fine & table["topic_id"].astype(int).isin(list(first)).to_numpy())]
            named = pd.DataFrame({"layer": 0, "topic_id": list(first), "name": list(first.values())})
            if topics is not None and "size" in topics.columns and len(topics):
                fine_sizes = topics[topics["layer"].astype(int) == 0]
                sizes = dict(zip(fine_sizes["topic_id"].astype(int), fine_sizes["size"]))
                named["size"] = [sizes.get(t) for t in first]
            table = pd.concat([table, named], ignore_index=True) if len(table) else named
        ids = papers["id"].astype(str).tolist()
        return cls(
            ids=ids,
            titles=_column(papers, "title"),
            dates=[_day(v) for v in papers["date"]] if "date" in papers.columns else [""] * len(papers),
            abstracts=_column(papers, "abstract"),
            coords=papers[["x", "y"]].to_numpy(dtype=float),
            labels=labels,
            neighbours=_neighbour_rows(papers, ids),
            topics=table,
        )


def check_papers(papers: pd.DataFrame) -> None:
    """Raise unless ``papers`` can be drawn (see :meth:`MapData.from_frames`)."""
    import pandas as pd

    if not isinstance(papers, pd.DataFrame):
        raise PaperatlasError(f"papers must be a pandas DataFrame, got {type(papers).__name__}")
    missing = [c for c in PAPER_COLUMNS if c not in papers.columns]
    if missing:
        raise PaperatlasError(f"papers lack column(s) {', '.join(missing)}; need {', '.join(PAPER_COLUMNS)}")
    if len(papers) == 0:
        raise PaperatlasError("no papers to draw")
    if papers["id"].isna().any():
        raise PaperatlasError("papers have a missing id")
    ids = papers["id"].astype(str)
    if ids.duplicated().any():
        raise PaperatlasError(f"duplicate paper id {ids[ids.duplicated()].iloc[0]!r}")
    for column in ("x", "y"):
        try:
            values = papers[column].to_numpy(dtype=float)
        except (TypeError, ValueError) as error:
            raise PaperatlasError(f"papers column {column!r} is not numeric: {error}") from None
        if not np.isfinite(values).all():
            raise PaperatlasError(f"papers column {column!r} has missing or infinite values")
    try:
        papers["topic_id"].to_numpy(dtype=float).astype(int)
    except (TypeError, ValueError) as error:
        raise PaperatlasError(f"papers column 'topic_id' is not integer: {error}") from None


def _check_topics(topics: pd.DataFrame | None) -> pd.DataFrame:
    import pandas as pd

    if topics is None:
        return pd.DataFrame(columns=list(TOPIC_COLUMNS))
    if not isinstance(topics, pd.DataFrame):
        raise PaperatlasError(f"topics must be a pandas DataFrame, got {type(topics).__name__}")
    missing = [c for c in TOPIC_COLUMNS if c not in topics.columns]
    if missing and len(topics):
        raise PaperatlasError(f"topics lack column(s) {', '.join(missing)}; need {', '.join(TOPIC_COLUMNS)}")
    return topics if not missing else pd.DataFrame(columns=list(TOPIC_COLUMNS))


def _int_labels(values: Any) -> np.ndarray:
    import pandas as pd

    series = pd.to_numeric(pd.Series(values), errors="coerce").fillna(-1)
    return series.to_numpy(dtype=float).astype(np.int64)


def display_text(value: Any) -> str:
    """A cell as display text: '' for None/NaN/NA."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    try:
        import pandas as pd

        if pd.isna(value) is True:
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def _day(value: Any) -> str:
    return value.isoformat()[:10] if isinstance(value, datetime.date) else display_text(value)


def _column(papers: pd.DataFrame, name: str) -> list[str]:
    if name not in papers.columns:
        return [""] * len(papers)
    return [display_text(v) for v in papers[name]]


def _neighbour_rows(papers: pd.DataFrame, ids: list[str]) -> list[list[int]]:
    if "neighbours" not in papers.columns:
        return [[] for _ in range(len(papers))]
    index = {pid: i for i, pid in enumerate(ids)}
    result = []
    for i, value in enumerate(papers["neighbours"]):
        try:
            found = [] if isinstance(value, (str, bytes)) else [index.get(str(pid)) for pid in value]
        except TypeError:  # None, NaN, pd.NA: no neighbours recorded
            found = []
        result.append([j for j in found if j is not None and j != i][:10])
    return result
