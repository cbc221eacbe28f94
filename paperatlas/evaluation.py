"""Quality against reference labels: clustering scores, neighbour precision, a k-means
baseline, and the report of an atlas's topics and neighbours against a label column."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from paperatlas.cluster.density import noise_share
from paperatlas.corpus.model import PAPER_COLUMNS
from paperatlas.errors import PaperatlasError
from paperatlas.text_table import plural

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


LABEL_FIELDS = ("byline", "upvotes", "date", "sources")
"""Paper fields that can serve as labels (besides the metadata columns); ids, titles, abstracts,
urls and hashes name one paper each."""


def _label_value(value: Any) -> str | None:
    """A label as text (lists joined by ", "); None for a missing or empty value."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        value = value.tolist() if hasattr(value, "tolist") else value
        text = ", ".join(str(part) for part in value) if isinstance(value, (list, tuple)) else str(value)
    else:
        text = str(value)
    return text if text.strip() else None


def label_columns(atlas: Atlas) -> dict[str, int]:
    """Columns usable as labels (``LABEL_FIELDS`` and metadata columns) → papers with a value,
    those with no value left out."""
    counts: dict[str, int] = {}
    for column in (*LABEL_FIELDS, *atlas.corpus.metadata_columns()):
        if column not in counts:
            filled = sum(_label_value(value) is not None for value in _label_values(atlas, column))
            if filled:
                counts[column] = filled
    return counts


def paper_labels(atlas: Atlas, column: str) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, labels)`` of the papers that have a value in ``column`` (a Paper field such as
    ``byline`` or a metadata column); labels are text."""
    rows, labels = [], []
    for row, value in enumerate(_label_values(atlas, column)):
        label = _label_value(value)
        if label is not None:
            rows.append(row)
            labels.append(label)
    if not rows:
        usable = label_columns(atlas)
        known = ", ".join(f"{name} ({plural(count, 'paper')})" for name, count in usable.items())
        problem = (f"{column!r} names one paper each, not a label" if column in PAPER_COLUMNS
                   else f"no paper has a {column!r} value")
        raise PaperatlasError(f"{problem}; columns usable as labels: {known or '(none)'}")
    return np.array(rows, dtype=np.int64), np.array(labels, dtype=object)


def evaluate_atlas(atlas: Atlas, column: str, k: int = 10, baseline: bool = False) -> dict[str, Any]:
    """Per layer: topics, noise share, V-measure, NMI and ARI against ``column``; and the
    share of each paper's ``k`` nearest neighbours with its label (precision@k).

    Noise counts as one cluster of its own in the scores. With ``baseline``, also
    k-means (k = number of labels) on the same embeddings.
    """
    topics = atlas.require_topics()
    rows, labels = paper_labels(atlas, column)
    vectors = atlas.vectors_of(rows)
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


def _label_values(atlas: Atlas, column: str) -> list[Any]:
    """One column of every paper: a Paper field of ``LABEL_FIELDS`` or a metadata column (None where missing)."""
    if column in LABEL_FIELDS:
        return atlas.corpus.column(column)
    if column in PAPER_COLUMNS:
        return [None] * len(atlas)
    table = atlas.corpus.arrow_table
    if table is not None and column in table.column_names and column not in atlas.corpus.json_columns:
        return table.column(column).to_pylist()
    return [paper.metadata.get(column) for paper in atlas.corpus]
