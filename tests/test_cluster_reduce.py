"""Tests of paperatlas.cluster.reduce: kNN graphs, UMAP and its fallbacks."""

from __future__ import annotations

import numpy as np
import pytest

from paperatlas.cluster.reduce import (
    MIN_UMAP_ROWS,
    approximate_knn,
    check_knn,
    default_n_epochs,
    default_n_neighbors,
    exact_knn,
    map_layout,
    pca_fallback,
    reduce,
)
from paperatlas.errors import PaperatlasError


def blobs(n_blobs: int = 4, per_blob: int = 40, spread: float = 0.05, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_blobs, 384))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    truth = np.repeat(np.arange(n_blobs), per_blob)
    points = centers[truth] + spread * rng.standard_normal((truth.size, 384))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points.astype(np.float32), truth


def test_default_n_neighbors_scales_and_stays_below_n() -> None:
    assert default_n_neighbors(500) == 15
    assert default_n_neighbors(100_000) == 15
    assert 15 < default_n_neighbors(10**6) < default_n_neighbors(10**8) <= 30
    for n in (2, 3, 5, 10, 16):
        assert 1 <= default_n_neighbors(n) < n
    assert default_n_neighbors(10**12) == 30


def test_default_n_epochs_tapers() -> None:
    assert default_n_epochs(1_000) == 200
    assert 100 < default_n_epochs(5_000) < 200
    assert default_n_epochs(10_000) == default_n_epochs(30_000) == 100
    assert default_n_epochs(91_790) == 57 and default_n_epochs(10**6) == 50


def test_exact_knn_self_first_and_cosine_distance() -> None:
    x, _ = blobs(2, 10)
    indices, distances = exact_knn(x, 5)
    assert indices.shape == (20, 5) and indices.dtype == np.int64
    assert distances.dtype == np.float32
    assert np.array_equal(indices[:, 0], np.arange(20))
    assert np.all(distances[:, 0] == 0)
    assert np.all(np.diff(distances, axis=1) >= -1e-6)
    expected = 1.0 - np.sum(x[:, None, :] * x[indices], axis=2)
    assert np.allclose(distances[:, 1:], np.clip(expected[:, 1:], 0, None), atol=1e-5)


def test_exact_knn_duplicates_and_k_capped() -> None:
    x = np.tile(np.eye(4, dtype=np.float32)[:1], (3, 1))
    indices, distances = exact_knn(x, 10)
    assert indices.shape == (3, 3)
    assert np.array_equal(indices[:, 0], np.arange(3))
    assert all(sorted(row) == [0, 1, 2] for row in indices.tolist())
    assert np.all(indices >= 0)


def test_approximate_knn_matches_exact() -> None:
    x, _ = blobs(3, 30)
    approx_idx, approx_dist = approximate_knn(x, 6, random_state=0)
    exact_idx, exact_dist = exact_knn(x, 6)
    assert np.array_equal(approx_idx[:, 0], np.arange(90))
    assert approx_dist.dtype == np.float32 and approx_idx.dtype == np.int64
    assert np.array_equal(np.sort(approx_idx, axis=1), np.sort(exact_idx, axis=1))  # tiny: searched exhaustively
    # Low intrinsic dimension, like real embeddings: 8-D blobs mapped into 384-D.
    rng = np.random.default_rng(0)
    low = rng.standard_normal((3200, 8)) + np.repeat(3 * rng.standard_normal((8, 8)), 400, axis=0)
    big = (low @ rng.standard_normal((8, 384))).astype(np.float32)
    big /= np.linalg.norm(big, axis=1, keepdims=True)
    approx_idx, _ = approximate_knn(big, 10, random_state=0)
    again, _ = approximate_knn(big, 10, random_state=0)
    assert np.array_equal(approx_idx, again)
    exact_idx, _ = exact_knn(big, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(approx_idx.tolist(), exact_idx.tolist())])
    assert recall > 0.9
    assert np.all(approx_idx >= 0)


def test_check_knn_rejects_bad_graphs() -> None:
    indices = np.zeros((5, 3), dtype=np.int64)
    distances = np.zeros((5, 3), dtype=np.float32)
    with pytest.raises(PaperatlasError, match="rows"):
        check_knn((indices, distances), 6, 3)
    with pytest.raises(PaperatlasError, match="neighbours per row"):
        check_knn((indices, distances), 5, 4)
    with pytest.raises(PaperatlasError, match="-1"):
        check_knn((indices - 1, distances), 5, 2)
    cut = check_knn((indices, distances), 5, 2)
    assert cut[0].shape == (5, 2)


def test_reduce_separates_blobs_and_is_deterministic() -> None:
    x, truth = blobs()
    first = reduce(x, 5, random_state=7)
    second = reduce(x, 5, random_state=7)
    assert first.shape == (160, 5) and first.dtype == np.float32
    assert np.array_equal(first, second)
    centres = np.stack([first[truth == b].mean(axis=0) for b in range(4)])
    within = max(np.linalg.norm(first[truth == b] - centres[b], axis=1).max() for b in range(4))
    between = min(np.linalg.norm(centres[a] - centres[b]) for a in range(4) for b in range(a + 1, 4))
    assert between > within


def test_reduce_with_precomputed_knn_matches_own_search() -> None:
    x, _ = blobs()
    knn = exact_knn(x, 20)  # wider than needed: cut to n_neighbors
    with_knn = reduce(x, 2, n_neighbors=10, random_state=1, knn=knn, n_epochs=50)
    again = reduce(x, 2, n_neighbors=10, random_state=1, knn=knn, n_epochs=50)
    assert np.array_equal(with_knn, again)
    assert knn[0].shape == (160, 20)  # the caller's graph is not modified


def test_reduce_tiny_inputs_use_pca_fallback() -> None:
    one = np.eye(384, dtype=np.float32)[:1]
    assert np.array_equal(reduce(one, 5), np.zeros((1, 5), dtype=np.float32))
    same = np.tile(one, (4, 1))
    assert np.array_equal(reduce(same, 5), np.zeros((4, 5), dtype=np.float32))
    many_same = np.tile(one, (40, 1))
    assert np.array_equal(reduce(many_same, 5), np.zeros((40, 5), dtype=np.float32))
    x, _ = blobs(2, 5)
    small = reduce(x, 5)
    assert small.shape == (10, 5)
    assert np.array_equal(small, pca_fallback(x, 5))
    assert x.shape[0] < MIN_UMAP_ROWS


def test_reduce_rejects_bad_input() -> None:
    with pytest.raises(PaperatlasError, match="2-D"):
        reduce(np.zeros(5, dtype=np.float32))
    with pytest.raises(PaperatlasError, match="no rows"):
        reduce(np.zeros((0, 4), dtype=np.float32))
    with pytest.raises(PaperatlasError, match="NaN"):
        reduce(np.full((20, 4), np.nan, dtype=np.float32))


def test_map_layout_shares_graph_and_is_deterministic() -> None:
    x, truth = blobs()
    knn = exact_knn(x, 15)
    reduced = reduce(x, 5, n_neighbors=15, knn=knn, random_state=3, n_epochs=100)
    first = map_layout(x, reduced, n_neighbors=15, knn=knn, random_state=3, n_epochs=50)
    second = map_layout(x, reduced, n_neighbors=15, knn=knn, random_state=3, n_epochs=50)
    assert first.shape == (160, 2)
    assert np.array_equal(first, second)
    centres = np.stack([first[truth == b].mean(axis=0) for b in range(4)])
    assert len({tuple(np.round(c, 3)) for c in centres}) == 4
