"""Score an atlas's topics and neighbours against a label column of its papers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from paperatlas.errors import PaperatlasError

if TYPE_CHECKING:
    from paperatlas.atlas import Atlas


def paper_labels(atlas: Atlas, column: str) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, labels)`` of the papers that have a value in metadata ``column``."""
    rows, labels = [], []
    for row, paper in enumerate(atlas.corpus):
        value = paper.metadata.get(column)
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
    from paperatlas.cluster.evaluate import kmeans_baseline, label_scores

    topics = atlas.require_topics()
    rows, labels = paper_labels(atlas, column)
    knn, _ = atlas.knn_graph(k + 1)
    position = np.full(len(atlas), -1)
    position[rows] = np.arange(len(rows))
    codes = np.unique(labels, return_inverse=True)[1]
    hits = []
    for row in rows:
        neighbours = [r for r in knn[row][1:] if r != row][:k]
        neighbour_codes = [codes[position[r]] for r in neighbours if position[r] >= 0]
        if neighbour_codes:
            hits.append(np.mean(np.array(neighbour_codes) == codes[position[row]]))
    report: dict[str, Any] = {
        "column": column,
        "papers": int(len(rows)),
        "labels": int(len(set(labels))),
        f"precision_at_{k}": float(np.mean(hits)) if hits else 0.0,
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
        predicted = kmeans_baseline(atlas.embeddings[rows], report["labels"])
        scores = label_scores(labels, predicted)
        report["kmeans"] = {key: round(scores[key], 4) for key in ("v_measure", "nmi", "ari")}
    return report
