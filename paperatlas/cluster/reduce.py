"""Dimension reduction: exact kNN graphs and UMAP to a few dimensions.

The topic stage reduces the embeddings twice, to 5-D for clustering and to
2-D for the map. Both runs share one nearest-neighbour graph (``knn``), which
is computed once, either exactly with FAISS (``exact_knn``) or by the caller's
search index. The 2-D run starts from a PCA of the 5-D result and needs fewer
epochs (see ``map_layout``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from paperatlas.errors import PaperatlasError

KnnGraph = tuple[np.ndarray, np.ndarray]
"""``(indices int64 (n, k), distances float32 (n, k))``, self in column 0."""

MIN_UMAP_ROWS = 16
"""Below this many rows ``reduce`` uses the PCA fallback instead of UMAP."""


def default_n_neighbors(n: int) -> int:
    """UMAP neighbourhood size for ``n`` papers.

    15 up to 100,000 papers (15 clustered best in our evaluations, and an
    epoch's cost grows in proportion), then growing with ``log10(n)``: 20 at
    1,000,000, capped at 30; never more than ``n - 1``.

    Args:
        n: Number of papers.

    Returns:
        The number of neighbours, at least 1 (for ``n >= 2``).
    """
    if n < 2:
        return 1
    k = 15.0 if n <= 100_000 else 15.0 + 5.0 * math.log10(n / 100_000)
    return int(max(1, min(round(k), 30, n - 1)))


def default_n_epochs(n: int) -> int:
    """UMAP optimisation epochs for ``n`` papers.

    200 up to 2,500 papers, then ``200 * sqrt(2500 / n)`` down to 100
    (reached at 10,000 papers), 100 up to 30,000, then ``100 * sqrt(30000 / n)``
    down to a floor of 50 (57 at 91,790). umap-learn itself uses 500 below
    10,000 rows and 200 above. In our evaluations 100 epochs clustered as
    well as 200 at 10,000 papers, and fewer than 100 began to merge topics
    into one giant topic there; on all 91,790 paperlists papers 50-60 epochs
    gave the same noise (4.3-4.9%), largest topic (14%) and theme V-measure
    as 100, in half the time. An epoch's cost grows with ``n``.

    Args:
        n: Number of papers.

    Returns:
        The number of epochs.
    """
    if n <= 2_500:
        return 200
    if n <= 30_000:
        return int(max(100, round(200 * math.sqrt(2_500 / n))))
    return int(max(50, round(100 * math.sqrt(30_000 / n))))


def _check_embeddings(embeddings: np.ndarray) -> np.ndarray:
    array = np.asarray(embeddings)
    if array.ndim != 2:
        raise PaperatlasError(f"embeddings must be a 2-D array (n, d), got shape {array.shape}")
    if array.shape[0] == 0:
        raise PaperatlasError("embeddings hold no rows: nothing to reduce")
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.all(np.isfinite(array)):
        raise PaperatlasError("embeddings contain NaN or infinite values")
    return array


def exact_knn(embeddings: np.ndarray, k: int) -> KnnGraph:
    """Exact cosine k-nearest-neighbour graph of unit vectors (FAISS inner product).

    Each row's own index is put in column 0 (distance 0), also when duplicate
    rows tie with it. ``k`` is capped at ``n``.

    Args:
        embeddings: ``(n, d)`` float32 unit rows.
        k: Neighbours per row, self included.

    Returns:
        ``(indices int64 (n, k), distances float32 (n, k))`` with
        ``distance = 1 - inner product``, clipped at 0, ascending per row.
    """
    import faiss

    data = _check_embeddings(embeddings)
    n = data.shape[0]
    if k < 1:
        raise PaperatlasError(f"k must be at least 1, got {k}")
    k = min(int(k), n)
    from paperatlas.index import self_first_graph

    index = faiss.IndexFlatIP(data.shape[1])
    index.add(data)
    # one extra neighbour, so that self can be moved to the front and one other dropped
    scores, indices = index.search(data, min(k + 1, n))
    out_idx, out_dist = self_first_graph(scores, indices.astype(np.int64), k)
    if np.any(out_idx < 0):
        raise PaperatlasError("FAISS returned fewer neighbours than requested")
    return out_idx, out_dist


def approximate_knn(
    embeddings: np.ndarray,
    k: int,
    *,
    random_state: int | None = 42,
    n_probe: int | None = None,
) -> KnnGraph:
    """Approximate cosine kNN graph (FAISS inverted file), self first.

    For corpora where ``exact_knn`` is slow (its cost grows with ``n**2``).
    The rows are split into ``nlist = 3 * sqrt(n)`` cells by k-means on a
    seeded sample of ``40 * nlist`` rows; each row's neighbours are searched
    in its ``n_probe`` nearest cells (default ``max(8, nlist // 100)``: about
    1% of the rows, 7 s at 100,000 rows on two cores).
    Reproducible for a given ``random_state``.

    Args:
        embeddings: ``(n, d)`` float32 unit rows.
        k: Neighbours per row, self included (capped at ``n``).
        random_state: Seed of the cell training (None: 0).
        n_probe: Cells searched per row.

    Returns:
        ``(indices int64 (n, k), distances float32 (n, k))``; any slot the
        search could not fill repeats the row's farthest neighbour found.
    """
    import faiss

    data = _check_embeddings(embeddings)
    n, d = data.shape
    k = min(int(k), n)
    nlist = int(max(1, min(round(3 * math.sqrt(n)), n // 40)))
    seed = 0 if random_state is None else int(random_state)
    sample = np.sort(np.random.default_rng(seed).choice(n, size=min(n, 40 * nlist), replace=False))
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = seed
    index.cp.niter = 10
    index.cp.max_points_per_centroid = 40
    index.train(data[sample])
    index.add(data)
    index.nprobe = int(min(nlist, n_probe if n_probe is not None else max(8, nlist // 100)))
    scores, indices = index.search(data, min(k + 1, n))
    indices = indices.astype(np.int64)
    # Fill unfound slots (-1) with the last neighbour found.
    for column in range(1, indices.shape[1]):
        missing = indices[:, column] < 0
        indices[missing, column] = indices[missing, column - 1]
        scores[missing, column] = scores[missing, column - 1]
    from paperatlas.index import self_first_graph

    out_idx, out_dist = self_first_graph(scores, indices, k)
    if np.any(out_idx < 0):
        raise PaperatlasError("the approximate neighbour search left some rows without neighbours")
    return out_idx, out_dist


def check_knn(knn: KnnGraph, n: int, k: int) -> KnnGraph:
    """Validate a kNN graph for ``n`` rows and cut it to its first ``k`` columns.

    Args:
        knn: ``(indices, distances)``, self in column 0.
        n: Expected number of rows.
        k: Columns needed.

    Returns:
        Contiguous copies ``(int64 indices, float32 distances)`` of width ``k``.
    """
    try:
        indices, distances = knn
    except (TypeError, ValueError):
        raise PaperatlasError("knn must be a pair (indices, distances)") from None
    indices = np.asarray(indices)
    distances = np.asarray(distances)
    if indices.ndim != 2 or indices.shape != distances.shape:
        raise PaperatlasError(
            f"knn indices and distances must be 2-D of one shape, got {indices.shape} and {distances.shape}"
        )
    if indices.shape[0] != n:
        raise PaperatlasError(f"knn has {indices.shape[0]} rows but there are {n} embeddings")
    if indices.shape[1] < k:
        raise PaperatlasError(f"knn has {indices.shape[1]} neighbours per row, {k} are needed")
    indices = np.ascontiguousarray(indices[:, :k], dtype=np.int64)
    distances = np.ascontiguousarray(distances[:, :k], dtype=np.float32)
    if np.any(indices < 0) or np.any(indices >= n):
        raise PaperatlasError("knn holds neighbour ids outside 0..n-1 (FAISS pads with -1)")
    return indices, distances


def pca_fallback(embeddings: np.ndarray, n_components: int) -> np.ndarray:
    """Deterministic projection used when there are too few rows for UMAP.

    Centres the rows, projects them on their principal axes (SVD, signs fixed
    so the largest loading of each axis is positive) and pads with zero
    columns up to ``n_components``. One row, or identical rows, map to zeros.

    Args:
        embeddings: ``(n, d)`` array.
        n_components: Output width.

    Returns:
        ``(n, n_components)`` float32 coordinates.
    """
    data = np.asarray(embeddings, dtype=np.float64)
    n = data.shape[0]
    out = np.zeros((n, n_components), dtype=np.float32)
    centred = data - data.mean(axis=0, keepdims=True)
    if n < 2 or not np.any(np.abs(centred) > 1e-12):
        return out
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    m = min(n_components, vt.shape[0])
    vt = vt[:m]
    signs = np.sign(vt[np.arange(m), np.argmax(np.abs(vt), axis=1)])
    signs[signs == 0] = 1.0
    projected = centred @ (vt * signs[:, None]).T
    projected[:, s[:m] <= 1e-9 * max(s[0], 1e-30)] = 0.0
    out[:, :m] = projected.astype(np.float32)
    return out


def reduce(
    embeddings: np.ndarray,
    n_components: int = 5,
    *,
    n_neighbors: int | None = None,
    min_dist: float = 0.0,
    metric: str = "cosine",
    random_state: int | None = 42,
    knn: KnnGraph | None = None,
    n_epochs: int | None = None,
    init: str | np.ndarray = "pca",
    repulsion_strength: float = 1.0,
    negative_sample_rate: int = 5,
) -> np.ndarray:
    """Reduce embeddings with UMAP.

    With ``random_state`` set, umap-learn runs its optimisation on one thread
    (we pass ``n_jobs=1`` so it does not warn) and the result is reproducible.
    A precomputed ``knn`` (for cosine: ``1 - inner product``) is cut to
    ``n_neighbors`` columns and handed to UMAP as ``precomputed_knn`` so the
    neighbours are not searched again. With fewer than ``MIN_UMAP_ROWS`` rows,
    ``n <= n_components + 1`` or all rows identical, UMAP is unreliable and
    the deterministic ``pca_fallback`` is returned instead (all zeros for
    identical rows).

    Args:
        embeddings: ``(n, d)`` float32 unit rows.
        n_components: Output dimensions.
        n_neighbors: UMAP neighbourhood; ``default_n_neighbors(n)`` if None.
        min_dist: UMAP ``min_dist`` (0 packs clusters tightly, good for HDBSCAN).
        metric: Input metric for UMAP.
        random_state: Seed; None lets UMAP use all cores, not reproducibly.
        knn: Optional precomputed ``(indices, distances)`` graph, self first.
        n_epochs: Optimisation epochs; ``default_n_epochs(n)`` if None.
        init: UMAP ``init``: "pca" (default: fast at any size; spectral
            initialisation takes about a minute at 100,000 papers),
            "spectral", "random" or an ``(n, c)`` array.
        repulsion_strength: UMAP's weight of negative samples; above 1 it
            pushes clusters further apart.
        negative_sample_rate: Negative samples per positive one (UMAP's
            default 5); an epoch's cost grows with it.

    Returns:
        ``(n, n_components)`` float32 coordinates.
    """
    import umap

    from paperatlas.cluster.compile_cache import enable_umap_cache

    enable_umap_cache()
    data = _check_embeddings(embeddings)
    n = data.shape[0]
    if n_components < 1:
        raise PaperatlasError(f"n_components must be at least 1, got {n_components}")
    if n < MIN_UMAP_ROWS or n <= n_components + 1 or np.ptp(data, axis=0).max() == 0.0:
        return pca_fallback(data, n_components)
    k = default_n_neighbors(n) if n_neighbors is None else int(n_neighbors)
    if k < 2:
        raise PaperatlasError(f"n_neighbors must be at least 2, got {k}")
    k = min(k, n - 1)
    precomputed: tuple = (None, None, None)
    if knn is not None:
        precomputed = check_knn(knn, n, k)
    if isinstance(init, np.ndarray):
        init = np.ascontiguousarray(init, dtype=np.float32)
        if init.shape != (n, n_components):
            raise PaperatlasError(f"init must have shape {(n, n_components)}, got {init.shape}")
    model = umap.UMAP(
        n_components=n_components,
        n_neighbors=k,
        min_dist=min_dist,
        metric=metric,
        random_state=random_state,
        n_jobs=1 if random_state is not None else -1,
        n_epochs=default_n_epochs(n) if n_epochs is None else int(n_epochs),
        init=init,
        repulsion_strength=float(repulsion_strength),
        negative_sample_rate=int(negative_sample_rate),
        precomputed_knn=precomputed,
        low_memory=True,
        transform_mode="embedding",
    )
    with warnings.catch_warnings():
        # Raised because a precomputed graph carries no NNDescent search index;
        # we never call transform, so it does not apply.
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
        # Spectral init can fail on graphs with many components; UMAP then
        # falls back to random init itself, which is still seeded.
        coords = model.fit_transform(data)
    coords = np.asarray(coords, dtype=np.float32)
    if not np.all(np.isfinite(coords)):
        raise PaperatlasError("UMAP produced non-finite coordinates")
    return coords


def map_layout(
    embeddings: np.ndarray,
    reduced: np.ndarray,
    *,
    n_neighbors: int | None = None,
    min_dist: float = 0.1,
    random_state: int | None = 42,
    knn: KnnGraph | None = None,
    n_epochs: int | None = None,
) -> np.ndarray:
    """2-D map coordinates that agree with a ``reduce``d clustering space.

    Runs UMAP to 2-D on the same graph (pass the same ``knn``) starting from
    the first two principal axes of ``reduced``, so the map shows the layout
    the clusters were found in; a warm start needs about a third of the
    epochs and fewer negative samples.

    Args:
        embeddings: ``(n, d)`` float32 unit rows.
        reduced: ``(n, c)`` output of ``reduce``.
        n_neighbors: As in ``reduce``.
        min_dist: UMAP ``min_dist``; a little spread makes the map readable.
        random_state: Seed.
        knn: The graph ``reduce`` used.
        n_epochs: Epochs; a third of ``default_n_epochs(n)`` (at least 30) if None.

    Returns:
        ``(n, 2)`` float32 coordinates.
    """
    data = _check_embeddings(embeddings)
    n = data.shape[0]
    reduced = np.asarray(reduced, dtype=np.float32)
    if reduced.ndim != 2 or reduced.shape[0] != n:
        raise PaperatlasError(f"reduced must have {n} rows, got shape {reduced.shape}")
    if n < MIN_UMAP_ROWS or np.ptp(data, axis=0).max() == 0.0:
        return pca_fallback(data, 2)
    start = pca_fallback(reduced, 2).astype(np.float64)
    spread = np.abs(start).max()
    if spread > 0:
        # umap-learn expects an init of roughly this scale (it rescales
        # spectral and PCA inits to [0, 10]).
        start = 10.0 * start / spread
    # A little seeded jitter, as umap-learn adds to its own inits, so that
    # duplicate rows do not start on one spot.
    start += np.random.default_rng(random_state).normal(scale=1e-4, size=start.shape)
    if n_epochs is None:
        n_epochs = max(30, default_n_epochs(n) // 3)
    # The warm start already holds the global layout, so fewer negative
    # samples per epoch (3, not 5) suffice to refine it; about 30% faster.
    return reduce(
        data,
        2,
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        random_state=random_state,
        knn=knn,
        n_epochs=n_epochs,
        init=start.astype(np.float32),
        negative_sample_rate=3,
    )
