"""umap-learn's compiled code is kept on disk between processes."""

from __future__ import annotations

import os

import numpy as np


def test_umap_functions_get_numba_disk_cache():
    import umap.umap_
    from numba.core.caching import NullCache

    from paperatlas.cluster.compile_cache import enable_umap_cache
    from paperatlas.cluster.reduce import exact_knn, reduce

    enable_umap_cache()
    assert enable_umap_cache() == 0  # idempotent
    for function in (umap.umap_.smooth_knn_dist, umap.umap_.compute_membership_strengths):
        assert not isinstance(function._cache, NullCache), function.py_func.__name__
    rows = np.random.default_rng(3).normal(size=(64, 16)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    reduce(rows, 5, n_neighbors=8, knn=exact_knn(rows, 8), n_epochs=2)
    folder = umap.umap_.smooth_knn_dist._cache.cache_path
    index_files = [name for name in os.listdir(folder)
                   if name.startswith("umap_.smooth_knn_dist") and name.endswith(".nbi")]
    assert index_files, f"nothing of smooth_knn_dist cached in {folder}"
