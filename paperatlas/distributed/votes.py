"""Topics at scale: fitted on a sample on the driver, every other paper assigned in Ray tasks.

Each task gets the sample's topic model and index (FAISS's serialised form for a graph, the
vectors for an exact one) once through the object store, and a slice of the other papers'
vectors; it runs the same neighbour vote as a single machine (``assign.vote_topics``), so the
labels and map positions are the ones a local build gives.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from paperatlas.cluster.assign import VOTE_CHUNK, vote_topics
from paperatlas.distributed.index import row_ranges
from paperatlas.distributed.session import RaySettings, task_count
from paperatlas.index import VOTE_SEARCH_DEPTH, PaperIndex


def vote_part(topics, payload: dict[str, Any], vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """A Ray task: the topics and map positions of ``vectors`` by a vote of the sample's papers."""
    index = PaperIndex.from_payload(payload)
    index.search_depth(VOTE_SEARCH_DEPTH)
    return vote_topics(topics, index, vectors, len(index))


def ray_vote_rest(ray, settings: RaySettings):
    """An ``assign_rest`` for :func:`paperatlas.cluster.topics.fit_atlas_topics` that votes in Ray tasks."""

    def assign_rest(topics, index: PaperIndex, vectors: np.ndarray,
                    rest: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        tasks = task_count(ray, settings)
        model = ray.put(topics)
        payload = ray.put(index.payload())
        vote = ray.remote(num_cpus=1)(vote_part)
        labels = np.empty((len(rest), topics.n_layers), np.int64)
        coords = None if topics.coords is None else np.empty((len(rest), 2), np.float32)
        pending: list[tuple[int, int, Any]] = []

        def collect() -> None:
            start, stop, ref = pending.pop(0)
            found, placed = ray.get(ref)
            labels[start:stop] = found
            if coords is not None:
                coords[start:stop] = placed

        for start, stop in row_ranges(len(rest), tasks, VOTE_CHUNK):
            part = np.asarray(vectors[rest[start:stop]], dtype=np.float32)
            pending.append((start, stop, vote.remote(model, payload, part)))
            while len(pending) > tasks:
                collect()
        while pending:
            collect()
        return labels, coords

    return assign_rest
