"""Tests of paperatlas.cluster.density: HDBSCAN labels and noise handling."""

from __future__ import annotations

import numpy as np
import pytest

from paperatlas.cluster.density import (
    cluster,
    default_min_cluster_size,
    default_min_samples,
    epsilon_neighbour,
    noise_share,
    reassign_noise,
    renumber_by_size,
)
from paperatlas.errors import PaperatlasError


def low_dim_blobs(sizes: tuple[int, ...] = (50, 80, 30), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(len(sizes)), sizes)
    centres = np.array([[0.0] * 5, [10.0] + [0.0] * 4, [0.0, 10.0, 0.0, 0.0, 0.0]])[: len(sizes)]
    return (centres[truth] + 0.3 * rng.standard_normal((truth.size, 5))).astype(np.float32), truth


def test_defaults_scale_with_n() -> None:
    assert default_min_cluster_size(1) == 5
    assert default_min_cluster_size(2_000) == 7
    assert default_min_cluster_size(10_000) == 17
    assert default_min_cluster_size(100_000) == 53
    assert default_min_cluster_size(10**9) == 250
    assert default_min_samples(5) == default_min_samples(50) == 1
    assert epsilon_neighbour(350) == epsilon_neighbour(10_000) == 10
    assert epsilon_neighbour(40_000) == 20 and epsilon_neighbour(90_000) == 30


def test_selection_epsilon_uses_the_scaled_neighbour() -> None:
    from sklearn.neighbors import NearestNeighbors

    from paperatlas.cluster.density import selection_epsilon

    points = np.random.default_rng(0).standard_normal((40_000, 2))
    distances, _ = NearestNeighbors(n_neighbors=21).fit(points).kneighbors(points)
    assert selection_epsilon(points, 1.0) == pytest.approx(np.median(distances[:, 20]))
    assert selection_epsilon(points, 2.0, k=10) == pytest.approx(2.0 * np.median(distances[:, 10]))
    assert selection_epsilon(points, 0.0) == 0.0


def test_renumber_by_size_largest_first() -> None:
    labels = np.array([3, 3, -1, 7, 7, 7, 1, 3, 7, 1])
    assert renumber_by_size(labels).tolist() == [1, 1, -1, 0, 0, 0, 2, 1, 0, 2]
    # Ties go to the group seen first.
    assert renumber_by_size(np.array([5, 2, 2, 5])).tolist() == [0, 1, 1, 0]


def test_noise_share() -> None:
    assert noise_share(np.array([-1, 0, 0, -1])) == 0.5
    assert noise_share(np.array([], dtype=np.int64)) == 0.0


def test_cluster_recovers_blobs_sorted_by_size() -> None:
    x, truth = low_dim_blobs()
    labels, probabilities = cluster(x, min_cluster_size=10)
    assert labels.dtype == np.int64 and probabilities.dtype == np.float32
    assert set(labels.tolist()) == {0, 1, 2}
    assert np.all(labels[truth == 1] == 0)  # the 80-point blob is topic 0
    assert np.all(labels[truth == 0] == 1)
    assert np.all(labels[truth == 2] == 2)
    assert np.all((probabilities > 0) & (probabilities <= 1))


def test_cluster_is_deterministic() -> None:
    x, _ = low_dim_blobs()
    a = cluster(x)
    b = cluster(x)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_one_and_two_papers_are_noise() -> None:
    for n in (1, 2):
        labels, probabilities = cluster(np.zeros((n, 5), dtype=np.float32))
        assert labels.tolist() == [-1] * n
        assert probabilities.tolist() == [0.0] * n


def test_fewer_papers_than_min_cluster_size_are_noise() -> None:
    x, _ = low_dim_blobs((6, 6, 6))
    labels, _ = cluster(x, min_cluster_size=30)
    assert np.all(labels == -1)


def test_identical_papers_form_one_topic() -> None:
    labels, probabilities = cluster(np.ones((12, 5), dtype=np.float32), min_cluster_size=5)
    assert labels.tolist() == [0] * 12
    assert np.all(probabilities == 1)


def test_min_samples_capped_at_n() -> None:
    x, _ = low_dim_blobs((6, 6, 6))
    labels, _ = cluster(x, min_cluster_size=5, min_samples=100)
    assert labels.shape == (18,)


def test_cluster_rejects_bad_arguments() -> None:
    x, _ = low_dim_blobs()
    with pytest.raises(PaperatlasError, match="min_cluster_size"):
        cluster(x, min_cluster_size=1)
    with pytest.raises(PaperatlasError, match="cluster_selection_method"):
        cluster(x, cluster_selection_method="best")
    with pytest.raises(PaperatlasError, match="2-D"):
        cluster(x[:, 0])


def test_reassign_noise_uses_threshold() -> None:
    embeddings = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [0.9, 0.1], [-1, 0]], dtype=np.float32)
    labels = np.array([0, 0, 1, 1, -1, -1])
    out = reassign_noise(embeddings, labels, threshold=0.5)
    assert out.tolist() == [0, 0, 1, 1, 0, -1]
    assert labels.tolist() == [0, 0, 1, 1, -1, -1]  # input untouched
    assert reassign_noise(embeddings, labels, threshold=1.01).tolist() == labels.tolist()
    assert reassign_noise(embeddings, np.full(6, -1), 0.0).tolist() == [-1] * 6
