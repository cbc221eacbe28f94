"""The papers of one topic, closest to the topic's centre first (the ``papers`` command and the
``list_topic_papers`` tool)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from paperatlas.errors import PaperatlasError

if TYPE_CHECKING:
    from paperatlas.atlas import Atlas


def resolve_topic(atlas: Atlas, topic: int | str, layer: int = 0) -> int:
    """The id of a topic at ``layer`` given by its id (or the id's digits) or its name (any case).

    An unknown name is an error that lists the close names; an unknown id one that gives the id
    range; -1 is the noise papers.
    """
    from paperatlas.search import topic_mask

    topics = atlas.require_topics()
    topics.check_layer(layer)
    topic_mask(atlas, topic, layer)  # raises the unknown-topic error (close names, or the id range)
    text = str(topic).strip()
    if isinstance(topic, (int, np.integer)) or text.lstrip("-").isdigit():
        return int(text)
    ids = [tid for tid, name in topics.names_at(layer).items() if name.casefold() == text.casefold()]
    if len(ids) > 1:
        raise PaperatlasError(f"{len(ids)} topics at layer {layer} are named {text!r} (ids "
                              f"{', '.join(map(str, sorted(ids)))}); give the id")
    return ids[0]


def list_topic_papers(atlas: Atlas, topic: int | str, layer: int = 0, limit: int | None = None) -> dict[str, Any]:
    """The papers of one topic, closest to the topic's centre first.

    Args:
        topic: the topic's id or its name, as listed by list_topics; -1 for the papers in no topic (noise).
        layer: the topic layer: 0 for fine topics, 1 and up for coarser themes.
        limit: return at most this many papers (default: all of the topic's papers).

    Returns:
        ``{"layer", "topic_id", "topic", "size", "returned", "papers"}``; each paper has id, title,
        date, url, closeness (cosine similarity to the topic's mean vector) and snippet (the
        abstract's start).
    """
    from paperatlas.search import snippet

    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1):
        raise PaperatlasError(f"limit must be a whole number of at least 1, not {limit!r}")
    topic_id = resolve_topic(atlas, topic, layer)
    labels = atlas.require_topics().labels_at(layer)
    rows = np.flatnonzero(labels == topic_id)
    closeness = np.zeros(0, dtype=np.float32)
    if rows.size:
        vectors = atlas.vectors_of(rows)
        centre = vectors.mean(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        closeness = vectors @ centre
    order = np.argsort(-closeness, kind="stable")[:limit]
    papers = []
    for position, paper in zip(order, atlas.corpus.papers(rows[order].tolist())):
        papers.append({
            "id": paper.id,
            "title": paper.title,
            "date": paper.date,
            "url": paper.link,
            "closeness": round(float(closeness[position]), 4),
            "snippet": snippet(paper.abstract),
        })
    return {
        "layer": int(layer),
        "topic_id": topic_id,
        "topic": atlas.topics.names_at(layer).get(topic_id),
        "size": int(rows.size),
        "returned": len(papers),
        "papers": papers,
    }
