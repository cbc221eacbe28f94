"""Topics for new papers, and stable topic ids across refits.

``assign_by_neighbours`` gives a new paper the topic its nearest existing
papers vote for. ``match_topic_ids`` and ``relabel`` keep topic ids stable
when a corpus is clustered again: each new topic takes the id of the old
topic it overlaps most (a one-to-one matching).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from paperatlas.cluster.density import NOISE
from paperatlas.cluster.hierarchy import parents
from paperatlas.errors import PaperatlasError

if TYPE_CHECKING:
    from paperatlas.cluster.topic_model import TopicModel
    from paperatlas.index import PaperIndex


def assign_by_neighbours(
    neighbour_labels: np.ndarray, neighbour_scores: np.ndarray, noise_votes: bool = False
) -> np.ndarray:
    """Weighted vote of each row's neighbours' topics.

    Each neighbour votes for its topic with its score (e.g. cosine
    similarity; negative scores count as 0). Noise neighbours (-1) do not
    vote, unless ``noise_votes``: then noise is one more candidate, and a row
    whose noise neighbours outweigh every topic's is noise, so papers placed by
    vote are noise about as often as the fitted papers around them. A row whose
    neighbours are all noise, or whose votes sum to 0, gets -1. Ties go to the
    smaller topic id.

    Args:
        neighbour_labels: ``(m, k)`` topic of each neighbour.
        neighbour_scores: ``(m, k)`` similarity of each neighbour.
        noise_votes: Whether noise neighbours vote for noise.

    Returns:
        ``(m,)`` int64 labels.
    """
    labels = np.asarray(neighbour_labels, dtype=np.int64)
    scores = np.asarray(neighbour_scores, dtype=np.float64)
    if labels.ndim != 2 or labels.shape != scores.shape:
        raise PaperatlasError(
            f"neighbour labels and scores must be 2-D of one shape, got {labels.shape} and {scores.shape}"
        )
    out = np.full(labels.shape[0], NOISE, dtype=np.int64)
    if labels.size == 0:
        return out
    weights = np.where(labels >= 0, np.clip(np.nan_to_num(scores, nan=0.0), 0.0, None), 0.0)
    topics = np.unique(labels[labels >= 0])
    if topics.size == 0:
        return out
    position = np.searchsorted(topics, np.where(labels >= 0, labels, topics[0]))
    votes = np.zeros((labels.shape[0], topics.size), dtype=np.float64)
    np.add.at(votes, (np.repeat(np.arange(labels.shape[0]), labels.shape[1]), position.ravel()), weights.ravel())
    best = np.argmax(votes, axis=1)  # first maximum: smallest topic id
    top = votes[np.arange(labels.shape[0]), best]
    has_vote = top > 0
    if noise_votes:
        noise = np.where(labels < 0, np.clip(np.nan_to_num(scores, nan=0.0), 0.0, None), 0.0).sum(axis=1)
        has_vote &= top >= noise
    out[has_vote] = topics[best[has_vote]]
    return out


def layer_parents(layer_labels: np.ndarray) -> list[tuple[dict[int, int], bool]]:
    """For each coarser layer: every topic one layer down → its parent here, and whether the
    layer gives noise papers a theme. Computed once for many votes over the same papers."""
    existing = np.asarray(layer_labels, dtype=np.int64)
    out = []
    for layer in range(1, existing.shape[1]):
        below, here = existing[:, layer - 1], existing[:, layer]
        out.append((parents(below, here), bool(np.any(here[below < 0] >= 0))))
    return out


def assign_layers_by_neighbours(
    layer_labels: np.ndarray, neighbour_rows: np.ndarray, neighbour_scores: np.ndarray,
    tree: list[tuple[dict[int, int], bool]] | None = None,
    noise_votes: bool = True,
) -> np.ndarray:
    """Topics of new papers at every layer, nested like the existing ones.

    Layer 0 is a vote of the neighbours (``assign_by_neighbours``, where noise
    neighbours vote for noise unless ``noise_votes`` is off). At each
    coarser layer a paper with a topic one layer down takes that topic's
    parent, so the new papers nest as the old ones do; a paper that is noise
    one layer down gets a vote of its neighbours if the layer gives noise
    papers a theme (as "regions" themes do), else stays noise.

    Args:
        layer_labels: ``(n, layers)`` labels of the existing papers.
        neighbour_rows: ``(m, k)`` rows of each new paper's nearest existing papers.
        neighbour_scores: ``(m, k)`` their similarities.
        tree: ``layer_parents(layer_labels)``, when already computed.
        noise_votes: Whether noise neighbours vote for noise at layer 0.

    Returns:
        ``(m, layers)`` int64 labels.
    """
    existing = np.asarray(layer_labels, dtype=np.int64)
    rows = np.asarray(neighbour_rows, dtype=np.int64)
    if existing.ndim != 2:
        raise PaperatlasError(f"layer labels must be 2-D (papers, layers), got shape {existing.shape}")
    out = np.full((rows.shape[0], existing.shape[1]), NOISE, dtype=np.int64)
    if rows.shape[0] == 0 or existing.shape[1] == 0:
        return out
    out[:, 0] = assign_by_neighbours(existing[rows, 0], neighbour_scores, noise_votes=noise_votes)
    tree = layer_parents(existing) if tree is None else tree
    for layer, (parent, covers_noise) in enumerate(tree, start=1):
        out[:, layer] = [parent.get(int(topic), NOISE) for topic in out[:, layer - 1]]
        orphans = np.flatnonzero(out[:, layer - 1] < 0)
        if covers_noise and orphans.size:
            out[orphans, layer] = assign_by_neighbours(existing[rows[orphans], layer], np.asarray(neighbour_scores)[orphans])
    return out


def match_topic_ids(old_labels: np.ndarray, new_labels: np.ndarray) -> dict[int, int]:
    """Map new topic ids to old ones by overlap (Hungarian matching).

    The contingency table of papers shared by each (new, old) pair of
    topics is matched one-to-one to maximise the papers kept in place; pairs
    sharing no paper are not matched. New topics left over get fresh ids
    above the largest old id, in order of their new id. Noise is not a topic.

    Args:
        old_labels: ``(n,)`` previous labels of the same papers, -1 noise.
        new_labels: ``(n,)`` new labels, -1 noise.

    Returns:
        ``{new id: id to use}`` for every new topic.
    """
    from scipy.optimize import linear_sum_assignment

    old = np.asarray(old_labels, dtype=np.int64)
    new = np.asarray(new_labels, dtype=np.int64)
    if old.shape != new.shape or old.ndim != 1:
        raise PaperatlasError(f"old and new labels must be 1-D of one length, got {old.shape} and {new.shape}")
    new_ids = np.unique(new[new >= 0])
    old_ids = np.unique(old[old >= 0])
    mapping: dict[int, int] = {}
    if new_ids.size and old_ids.size:
        both = (new >= 0) & (old >= 0)
        table = np.zeros((new_ids.size, old_ids.size), dtype=np.int64)
        np.add.at(table, (np.searchsorted(new_ids, new[both]), np.searchsorted(old_ids, old[both])), 1)
        rows, cols = linear_sum_assignment(table, maximize=True)
        for r, c in zip(rows, cols):
            if table[r, c] > 0:
                mapping[int(new_ids[r])] = int(old_ids[c])
    next_id = int(old_ids.max()) + 1 if old_ids.size else 0
    for topic in new_ids:
        if int(topic) not in mapping:
            mapping[int(topic)] = next_id
            next_id += 1
    return mapping


def relabel(new_labels: np.ndarray, mapping: Mapping[int, int]) -> np.ndarray:
    """Apply a ``{new id: id}`` mapping; -1 stays -1.

    Raises:
        PaperatlasError: if a label has no entry in the mapping.
    """
    labels = np.asarray(new_labels, dtype=np.int64)
    out = np.full(labels.shape, NOISE, dtype=np.int64)
    for topic in np.unique(labels[labels >= 0]):
        if int(topic) not in mapping:
            raise PaperatlasError(f"topic {int(topic)} has no entry in the id mapping")
        out[labels == topic] = int(mapping[int(topic)])
    return out


VOTE_NEIGHBOURS = 15
"""Older papers that vote on a new paper's topic."""
PLACE_NEIGHBOURS = 5
"""Older papers a new paper is placed among on the map (similarity-weighted mean)."""
VOTE_BATCH = 10_000
"""Papers searched at once when voting."""


def vote_topics(
    topics: TopicModel, index: PaperIndex, vectors: np.ndarray, voters: int, batch: int = VOTE_BATCH
) -> tuple[np.ndarray, np.ndarray | None]:
    """Topics and map positions of ``vectors`` by a vote of their nearest voters.

    The voters are the index's rows ``0 .. voters - 1``, whose topics ``topics``
    holds. Each vector's ``VOTE_NEIGHBOURS`` nearest voters vote on its topics at
    every layer (``assign_layers_by_neighbours``), and it is placed at the
    similarity-weighted mean position of the nearest ``PLACE_NEIGHBOURS``.
    Vectors are searched ``batch`` at a time.

    Returns:
        ``(labels (m, layers), coords (m, 2) or None)``.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    labels = np.full((len(vectors), topics.n_layers), NOISE, dtype=np.int64)
    coords = None if topics.coords is None else np.zeros((len(vectors), 2), dtype=np.float32)
    k = min(VOTE_NEIGHBOURS, voters)
    if k < 1:
        return labels, coords
    voter_labels = np.asarray(topics.labels[:voters])
    tree = layer_parents(voter_labels)
    for start in range(0, len(vectors), batch):
        scores, rows = index.search(vectors[start:start + batch], k, rows_below=voters)
        stop = start + len(rows)
        labels[start:stop] = assign_layers_by_neighbours(voter_labels, rows, scores, tree)
        if coords is not None:
            weights = np.clip(scores[:, :PLACE_NEIGHBOURS], 1e-6, None)
            placed = (topics.coords[rows[:, :PLACE_NEIGHBOURS]] * weights[..., None]).sum(axis=1)
            coords[start:stop] = placed / weights.sum(axis=1, keepdims=True)
    return labels, coords


VOTE_CHUNK = 100_000
"""Papers outside a fitting sample whose vectors are read (and voted on) at a time."""


def vote_rest(topics: TopicModel, index: PaperIndex, vectors: np.ndarray,
              rest: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``vote_topics`` for the rows ``rest`` of ``vectors`` (all papers; possibly memory-mapped), whose
    vectors are read ``VOTE_CHUNK`` rows at a time; the voters are all of ``index`` (a fitting sample's)."""
    labels = np.empty((len(rest), topics.n_layers), np.int64)
    coords = None if topics.coords is None else np.empty((len(rest), 2), np.float32)
    for first in range(0, len(rest), VOTE_CHUNK):
        part = rest[first:first + VOTE_CHUNK]
        found, placed = vote_topics(topics, index, np.asarray(vectors[part], np.float32), len(index))
        labels[first:first + len(part)] = found
        if coords is not None:
            coords[first:first + len(part)] = placed
    return labels, coords


def place_new_papers(topics: TopicModel, index: PaperIndex, new_vectors: np.ndarray, start: int) -> TopicModel:
    """``topics`` extended by papers appended from row ``start`` on, by a vote of the older papers (``vote_topics``)."""
    labels, coords = vote_topics(topics, index, new_vectors, start)
    return topics.extended(labels, coords)


def labels_by_id(ids: Sequence[str], labels: np.ndarray, wanted: Sequence[str]) -> np.ndarray:
    """Rows of ``labels`` (``(n, layers)``, row = paper of ``ids``) for the papers ``wanted``; -1 for unknown ones."""
    labels = np.asarray(labels, dtype=np.int64)
    row_of = {paper_id: row for row, paper_id in enumerate(ids)}
    rows = np.array([row_of.get(paper_id, -1) for paper_id in wanted], dtype=np.int64)
    out = np.full((len(rows), labels.shape[1]), NOISE, dtype=np.int64)
    out[rows >= 0] = labels[rows[rows >= 0]]
    return out


def keep_topic_ids(topics: TopicModel, previous: np.ndarray) -> TopicModel:
    """``topics`` with each layer's ids matched to the ``previous`` labels of the same papers (``match_topic_ids``)."""
    layers = min(topics.n_layers, previous.shape[1])
    mappings = [match_topic_ids(previous[:, layer], topics.labels_at(layer)) for layer in range(layers)]
    return topics.relabelled(mappings)
