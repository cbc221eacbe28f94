"""Tests of paperatlas.cluster.evaluate."""

from __future__ import annotations

import numpy as np
import pytest

from paperatlas.evaluation import kmeans_baseline, label_scores, neighbour_precision
from paperatlas.errors import PaperatlasError


def test_perfect_clustering_scores_one() -> None:
    truth = ["a", "a", "b", "b", "c", "c"]
    scores = label_scores(truth, np.array([2, 2, 0, 0, 1, 1]))
    assert scores["v_measure"] == pytest.approx(1.0)
    assert scores["nmi"] == pytest.approx(1.0)
    assert scores["ari"] == pytest.approx(1.0)
    assert scores["noise_share"] == 0.0 and scores["n_clusters"] == 3


def test_random_clustering_scores_low() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 5, 2000)
    scores = label_scores(truth, rng.integers(0, 5, 2000))
    assert scores["v_measure"] < 0.02 and abs(scores["ari"]) < 0.02


def test_noise_counts_as_a_cluster() -> None:
    truth = np.array([0, 0, 0, 1, 1, 1])
    noisy = label_scores(truth, np.array([0, 0, -1, 1, 1, -1]))
    assert noisy["noise_share"] == pytest.approx(1 / 3)
    assert noisy["v_measure"] < 1.0
    with pytest.raises(PaperatlasError, match="one length"):
        label_scores(truth, np.array([0]))


def test_neighbour_precision() -> None:
    x = np.array([[1, 0], [0.99, 0.14], [0, 1], [0.14, 0.99]], dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    assert neighbour_precision(x, ["a", "a", "b", "b"], k=1) == 1.0
    assert neighbour_precision(x, ["a", "b", "a", "b"], k=1) == 0.0
    assert neighbour_precision(x, ["a", "a", "b", "b"], k=10) == pytest.approx(1 / 3)
    assert neighbour_precision(x[:1], ["a"]) == 0.0


def test_kmeans_baseline_deterministic() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.1, (20, 3)), rng.normal(5, 0.1, (20, 3))]).astype(np.float32)
    labels = kmeans_baseline(x, 2, random_state=0)
    assert labels.dtype == np.int64
    assert np.array_equal(labels, kmeans_baseline(x, 2, random_state=0))
    assert label_scores(np.repeat([0, 1], 20), labels)["ari"] == 1.0
