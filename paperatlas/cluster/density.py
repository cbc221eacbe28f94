"""Density clustering of reduced coordinates with HDBSCAN.

Labels are renumbered by size: topic 0 is the largest, then 1, ...; -1 is
noise (papers in no dense region).
"""

from __future__ import annotations

import math

import numpy as np

from paperatlas.errors import PaperatlasError

NOISE = -1


def default_min_cluster_size(n: int) -> int:
    """Smallest topic HDBSCAN may report for ``n`` papers.

    ``sqrt(n) / 2``, at least 5 and at most 500: about 22 at 2,000 papers,
    50 at 10,000 and 158 at 100,000.

    Args:
        n: Number of papers.

    Returns:
        The minimum cluster size.
    """
    return int(min(500, max(5, round(math.sqrt(max(n, 0)) / 2))))


def default_min_samples(min_cluster_size: int) -> int:
    """HDBSCAN ``min_samples`` for a given ``min_cluster_size``.

    Small values (here about a fifth of the cluster size, 2 to 10) keep noise
    low: fewer papers are judged to lie outside a dense region.

    Args:
        min_cluster_size: The minimum cluster size in use.

    Returns:
        The ``min_samples`` value.
    """
    return int(min(10, max(2, round(min_cluster_size / 5))))


def renumber_by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber labels so 0 is the largest group, then 1, ...; -1 stays -1.

    Ties in size are broken by the first row at which a group appears.

    Args:
        labels: ``(n,)`` integer labels, -1 for noise.

    Returns:
        ``(n,)`` int64 labels.
    """
    labels = np.asarray(labels, dtype=np.int64)
    out = np.full(labels.shape, NOISE, dtype=np.int64)
    ids, first, counts = np.unique(labels, return_index=True, return_counts=True)
    keep = ids != NOISE
    ids, first, counts = ids[keep], first[keep], counts[keep]
    order = np.lexsort((first, -counts))
    lookup = {int(ids[old]): new for new, old in enumerate(order)}
    for old, new in lookup.items():
        out[labels == old] = new
    return out


def noise_share(labels: np.ndarray) -> float:
    """Share of papers labelled noise (-1); 0.0 for no papers."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return 0.0
    return float(np.mean(labels == NOISE))


def cluster(
    reduced: np.ndarray,
    *,
    min_cluster_size: int | None = None,
    min_samples: int | None = None,
    cluster_selection_method: str = "eom",
    cluster_selection_epsilon: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster reduced coordinates with HDBSCAN.

    Edge cases, none of which raise:

    * fewer papers than ``min_cluster_size`` (including 1 paper): all noise;
    * all papers identical, at least ``min_cluster_size`` of them: one topic;
    * ``min_samples`` larger than ``n - 1`` is capped.

    HDBSCAN itself is deterministic for given coordinates.

    Args:
        reduced: ``(n, c)`` coordinates (output of ``reduce``).
        min_cluster_size: Smallest topic; ``default_min_cluster_size(n)`` if None.
        min_samples: Density smoothing; ``default_min_samples(min_cluster_size)`` if None.
        cluster_selection_method: "eom" (excess of mass) or "leaf" (finer).
        cluster_selection_epsilon: Merge clusters closer than this distance.

    Returns:
        ``(labels int64 (n,), probabilities float32 (n,))``: labels renumbered
        by size with -1 for noise; probabilities are HDBSCAN's membership
        strengths (0 for noise).
    """
    data = np.asarray(reduced, dtype=np.float64)
    if data.ndim != 2:
        raise PaperatlasError(f"reduced must be a 2-D array (n, c), got shape {data.shape}")
    if not np.all(np.isfinite(data)):
        raise PaperatlasError("reduced coordinates contain NaN or infinite values")
    if cluster_selection_method not in ("eom", "leaf"):
        raise PaperatlasError(
            f"cluster_selection_method must be 'eom' or 'leaf', got {cluster_selection_method!r}"
        )
    n = data.shape[0]
    mcs = default_min_cluster_size(n) if min_cluster_size is None else int(min_cluster_size)
    if mcs < 2:
        raise PaperatlasError(f"min_cluster_size must be at least 2, got {mcs}")
    ms = default_min_samples(mcs) if min_samples is None else int(min_samples)
    if ms < 1:
        raise PaperatlasError(f"min_samples must be at least 1, got {ms}")

    labels = np.full(n, NOISE, dtype=np.int64)
    probabilities = np.zeros(n, dtype=np.float32)
    if n < mcs or n < 2:
        return labels, probabilities
    if np.ptp(data, axis=0).max(initial=0.0) == 0.0:
        return np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.float32)

    import hdbscan

    model = hdbscan.HDBSCAN(
        min_cluster_size=mcs,
        min_samples=min(ms, n - 1),
        cluster_selection_method=cluster_selection_method,
        cluster_selection_epsilon=float(cluster_selection_epsilon),
        metric="euclidean",
        core_dist_n_jobs=1,
    )
    model.fit(data)
    labels = renumber_by_size(model.labels_)
    probabilities = np.nan_to_num(np.asarray(model.probabilities_, dtype=np.float32), nan=0.0)
    probabilities[labels == NOISE] = 0.0
    return labels, probabilities


def reassign_noise(embeddings: np.ndarray, labels: np.ndarray, threshold: float) -> np.ndarray:
    """Move noise papers into the topic whose centroid is most similar.

    Opt-in; never called by default. Similarity is the cosine between a
    paper's embedding and a topic's (normalised) mean embedding; a noise
    paper joins only if that similarity is at least ``threshold``.

    Args:
        embeddings: ``(n, d)`` unit rows.
        labels: ``(n,)`` labels, -1 for noise.
        threshold: Minimum cosine similarity, in [-1, 1].

    Returns:
        New ``(n,)`` int64 labels (topic ids unchanged, not renumbered).
    """
    from paperatlas.cluster.centroids import topic_centroids

    labels = np.asarray(labels, dtype=np.int64)
    out = labels.copy()
    noise = np.flatnonzero(labels == NOISE)
    if noise.size == 0:
        return out
    ids, centroids = topic_centroids(embeddings, labels)
    if ids.size == 0:
        return out
    vectors = np.asarray(embeddings, dtype=np.float32)[noise]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    sims = (vectors / norms) @ centroids.T
    best = np.argmax(sims, axis=1)
    ok = sims[np.arange(noise.size), best] >= threshold
    out[noise[ok]] = ids[best[ok]]
    return out


class DensityClusterer:
    """Thin scikit-learn-style wrapper of ``cluster``.

    The constructor stores its arguments untouched; ``fit`` sets ``labels_``
    and ``probabilities_``.
    """

    def __init__(
        self,
        min_cluster_size: int | None = None,
        min_samples: int | None = None,
        cluster_selection_method: str = "eom",
    ) -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.cluster_selection_method = cluster_selection_method

    def fit(self, X: np.ndarray, y: object = None) -> "DensityClusterer":
        """Cluster ``X`` (``(n, c)`` reduced coordinates)."""
        self.labels_, self.probabilities_ = cluster(
            X,
            min_cluster_size=self.min_cluster_size,
            min_samples=self.min_samples,
            cluster_selection_method=self.cluster_selection_method,
        )
        return self

    def fit_predict(self, X: np.ndarray, y: object = None) -> np.ndarray:
        """``fit`` and return ``labels_``."""
        return self.fit(X, y).labels_
