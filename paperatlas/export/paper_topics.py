"""Where given papers sit: one row a paper, with its topic (e.g. the papers ``add`` just placed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from paperatlas.errors import PaperatlasError

if TYPE_CHECKING:
    import pandas as pd

    from paperatlas.atlas import Atlas

COLUMNS = ("id", "title", "topic_id", "topic_name")


def paper_topics(atlas: Atlas, ids: Sequence[str], layer: int = 0) -> pd.DataFrame:
    """One row per id, in order: id, title, topic_id, topic_name.

    Noise papers have topic_id -1 and topic_name ``"(noise)"``; in an atlas without
    topics both are missing (``<NA>``, None). After ``ids = atlas.add(papers)``,
    ``paper_topics(atlas, ids)`` is the table ``paperatlas add`` prints.
    """
    import pandas as pd

    from paperatlas.export.tables import NOISE_NAME

    rows = []
    for paper_id in ids:
        if paper_id not in atlas.corpus:
            raise PaperatlasError(f"unknown paper id {paper_id!r}")
        rows.append(atlas.corpus.row(paper_id))
    topics = atlas.topics
    names = topics.names_at(layer) if topics is not None else {}
    labels = topics.labels_at(layer) if topics is not None else None
    records: list[dict[str, Any]] = []
    for row in rows:
        paper = atlas.corpus[row]
        topic = None if labels is None else int(labels[row])
        records.append({
            "id": paper.id,
            "title": paper.title,
            "topic_id": topic,
            "topic_name": None if topic is None else names.get(topic, NOISE_NAME if topic < 0 else f"topic {topic}"),
        })
    frame = pd.DataFrame(records, columns=list(COLUMNS))
    frame["topic_id"] = frame["topic_id"].astype("Int64")
    return frame
