"""Clustering quality against reference labels, and a k-means baseline."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from paperatlas.cluster.density import noise_share
from paperatlas.errors import PaperatlasError


def label_scores(true_labels: Sequence, pred_labels: np.ndarray) -> dict[str, float]:
    """V-measure, NMI and ARI of predicted topics against reference labels.

    Noise (-1) in ``pred_labels`` counts as one more cluster, so noisy
    clusterings pay for it: noise mixes every class (lower homogeneity).

    Args:
        true_labels: ``(n,)`` reference classes (any hashable values).
        pred_labels: ``(n,)`` predicted topic ids, -1 for noise.

    Returns:
        ``{"v_measure", "nmi", "ari", "noise_share", "n_clusters"}``;
        ``n_clusters`` counts topics, noise excluded.
    """
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, v_measure_score

    true = np.asarray(true_labels)
    pred = np.asarray(pred_labels, dtype=np.int64)
    if true.shape != pred.shape or true.ndim != 1:
        raise PaperatlasError(f"true and predicted labels must be 1-D of one length, got {true.shape} and {pred.shape}")
    if true.size == 0:
        raise PaperatlasError("no labels to score")
    return {
        "v_measure": float(v_measure_score(true, pred)),
        "nmi": float(normalized_mutual_info_score(true, pred)),
        "ari": float(adjusted_rand_score(true, pred)),
        "noise_share": noise_share(pred),
        "n_clusters": float(np.unique(pred[pred >= 0]).size),
    }


def neighbour_precision(embeddings: np.ndarray, true_labels: Sequence, k: int = 10) -> float:
    """Mean share of each paper's ``k`` nearest neighbours with its label.

    Neighbours are exact (cosine, FAISS inner product), self excluded; ``k``
    is capped at ``n - 1``.

    Args:
        embeddings: ``(n, d)`` unit rows.
        true_labels: ``(n,)`` reference classes.
        k: Neighbours per paper.

    Returns:
        The precision in [0, 1] (0.0 for fewer than two papers).
    """
    from paperatlas.cluster.reduce import exact_knn

    true = np.asarray(true_labels)
    n = true.shape[0]
    if np.asarray(embeddings).shape[0] != n:
        raise PaperatlasError("one label per embedding row is needed")
    k = min(int(k), n - 1)
    if k < 1:
        return 0.0
    indices, _ = exact_knn(embeddings, k + 1)
    _, codes = np.unique(true, return_inverse=True)
    return float(np.mean(codes[indices[:, 1:]] == codes[:, None]))


def kmeans_baseline(embeddings: np.ndarray, k: int, random_state: int | None = 42) -> np.ndarray:
    """k-means labels of the embeddings (scikit-learn, ``n_init=3``).

    Args:
        embeddings: ``(n, d)`` rows.
        k: Clusters (capped at ``n``).
        random_state: Seed.

    Returns:
        ``(n,)`` int64 labels.
    """
    from sklearn.cluster import KMeans

    data = np.asarray(embeddings, dtype=np.float32)
    if k < 1:
        raise PaperatlasError(f"k must be at least 1, got {k}")
    model = KMeans(n_clusters=min(int(k), data.shape[0]), n_init=3, random_state=random_state)
    return model.fit_predict(data).astype(np.int64)
