"""Quality against reference labels: clustering scores, neighbour precision, a k-means
baseline, and the report of an atlas's topics and neighbours against a label column."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from paperatlas.cluster.density import noise_share
from paperatlas.errors import PaperatlasError

if TYPE_CHECKING:
    from paperatlas.atlas import Atlas


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


def neighbour_precision(embeddings: np.ndarray, true_labels: Sequence, k: int = 10, *, index=None) -> float:
    """Mean share of each paper's ``k`` nearest neighbours with its label.

    Neighbours come from ``index`` (a :class:`paperatlas.index.PaperIndex` over
    the same rows), by default ``index.bulk_index`` of them (exact up to
    ``index.EXACT_MAX_ROWS`` rows); self excluded; ``k`` is capped at ``n - 1``.

    Args:
        embeddings: ``(n, d)`` unit rows.
        true_labels: ``(n,)`` reference classes.
        k: Neighbours per paper.
        index: The search index over ``embeddings``, if there is one.

    Returns:
        The precision in [0, 1] (0.0 for fewer than two papers).
    """
    from paperatlas.index import bulk_index, knn_graph

    true = np.asarray(true_labels)
    n = true.shape[0]
    if np.asarray(embeddings).shape[0] != n:
        raise PaperatlasError("one label per embedding row is needed")
    k = min(int(k), n - 1)
    if k < 1:
        return 0.0
    index = index if index is not None else bulk_index(np.asarray(embeddings, dtype=np.float32))
    rows, _ = knn_graph(index, embeddings, k + 1)
    _, codes = np.unique(true, return_inverse=True)
    return float(np.mean(codes[rows[:, 1:]] == codes[:, None]))


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


def paper_labels(atlas: Atlas, column: str) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, labels)`` of the papers that have a value in metadata ``column``."""
    rows, labels = [], []
    values = _metadata_column(atlas, column)
    for row, value in enumerate(values):
        if value is not None and value != "":
            rows.append(row)
            labels.append(str(value))
    if not rows:
        known = atlas.corpus.metadata_columns()
        raise PaperatlasError(
            f"no paper has a {column!r} value; metadata columns: {', '.join(known) if known else '(none)'}"
        )
    return np.array(rows, dtype=np.int64), np.array(labels, dtype=object)


def evaluate_atlas(atlas: Atlas, column: str, k: int = 10, baseline: bool = False) -> dict[str, Any]:
    """Per layer: topics, noise share, V-measure, NMI and ARI against ``column``; and the
    share of each paper's ``k`` nearest neighbours with its label (precision@k).

    Noise counts as one cluster of its own in the scores. With ``baseline``, also
    k-means (k = number of labels) on the same embeddings.
    """
    topics = atlas.require_topics()
    rows, labels = paper_labels(atlas, column)
    vectors = np.asarray(atlas.embeddings[rows])
    report: dict[str, Any] = {
        "column": column,
        "papers": int(len(rows)),
        "labels": int(len(set(labels))),
        f"precision_at_{k}": neighbour_precision(vectors, labels, k, index=atlas.index if len(rows) == len(atlas) else None),
        "layers": [],
    }
    for layer in range(topics.n_layers):
        scores = label_scores(labels, topics.labels_at(layer)[rows])
        report["layers"].append(
            {
                "layer": layer,
                "topics": int(scores["n_clusters"]),
                "noise_share": round(scores["noise_share"], 4),
                "v_measure": round(scores["v_measure"], 4),
                "nmi": round(scores["nmi"], 4),
                "ari": round(scores["ari"], 4),
            }
        )
    if baseline:
        predicted = kmeans_baseline(vectors, report["labels"])
        scores = label_scores(labels, predicted)
        report["kmeans"] = {key: round(scores[key], 4) for key in ("v_measure", "nmi", "ari")}
    return report


def _metadata_column(atlas: Atlas, column: str) -> list[Any]:
    table = atlas.corpus.arrow_table
    if table is not None and column in table.column_names and column not in atlas.corpus.json_columns:
        return table.column(column).to_pylist()
    return [paper.metadata.get(column) for paper in atlas.corpus]
