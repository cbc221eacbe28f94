"""The plain tables the map exports draw from an atlas."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from paperatlas.atlas import Atlas

MAP_NEIGHBOURS = 5


def map_frames(atlas: Atlas) -> tuple["pd.DataFrame", "pd.DataFrame"]:
    """``(papers, topics)`` for the map writers: positions, topics, abstracts and nearest papers."""
    topics = atlas.require_topics()
    papers = atlas.paper_table(neighbours=MAP_NEIGHBOURS)
    papers["abstract"] = [paper.abstract for paper in atlas.corpus]
    table = topics.table[["layer", "topic_id", "name", "size", "keyterms"]].copy()
    return papers, table
