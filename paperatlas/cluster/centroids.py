"""Topic centroids: the normalised mean embedding of each topic's papers."""

from __future__ import annotations

import numpy as np

from paperatlas.embed.base import unit_rows
from paperatlas.errors import PaperatlasError


def topic_centroids(embeddings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit mean vector of each topic; noise (-1) has none.

    Args:
        embeddings: ``(n, d)`` rows.
        labels: ``(n,)`` integer labels, -1 for noise.

    Returns:
        ``(ids int64 (t,), centroids float32 (t, d))``, ids ascending.
    """
    embeddings = np.asarray(embeddings, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    if embeddings.ndim != 2 or labels.shape != (embeddings.shape[0],):
        raise PaperatlasError(
            f"labels {labels.shape} do not match embeddings {embeddings.shape}: one label per row"
        )
    ids = np.unique(labels[labels >= 0])
    if ids.size == 0:
        return ids, np.zeros((0, embeddings.shape[1]), dtype=np.float32)
    return ids, unit_rows(topic_sums(embeddings, labels, ids))


def topic_sums(embeddings: np.ndarray, labels: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Sum of each topic's rows (sparse indicator product; no copy of the rows).

    Args:
        embeddings: ``(n, d)`` rows.
        labels: ``(n,)`` labels, -1 for noise.
        ids: Sorted topic ids to sum (every non-negative label among them).

    Returns:
        ``(len(ids), d)`` float64 sums.
    """
    import scipy.sparse as sp

    labels = np.asarray(labels, dtype=np.int64)
    rows = np.flatnonzero(labels >= 0)
    membership = sp.csr_matrix(
        (np.ones(rows.size, dtype=np.float32), (np.searchsorted(ids, labels[rows]), rows)),
        shape=(ids.size, labels.size),
    )
    return np.asarray(membership @ np.asarray(embeddings, dtype=np.float32), dtype=np.float64)
