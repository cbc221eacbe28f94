"""A FAISS inner-product index over paper vectors, row ``i`` being paper ``i``.

``exact`` is a flat index; ``hnsw`` an approximate graph index. ``auto``
picks exact up to :data:`EXACT_MAX_ROWS` papers and HNSW above; the topic
stage's kNN graph follows the same cut-off. Searches never return FAISS's
``-1`` padding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from paperatlas.errors import PaperatlasError
from paperatlas.threads import one_thread

INDEX_KINDS = ("auto", "exact", "hnsw")
EXACT_MAX_ROWS = 50_000
"""Up to this many papers neighbours are exact (flat index, exact kNN graph); above, approximate."""
FEW_QUERIES = 8
"""Searches of at most this many queries run on one thread (see ``paperatlas.threads``)."""
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


def choose_kind(kind: str, n: int) -> str:
    """The concrete index kind for ``n`` papers."""
    if kind not in INDEX_KINDS:
        raise PaperatlasError(f"unknown index kind {kind!r}; choose one of {', '.join(INDEX_KINDS)}")
    if kind == "auto":
        return "hnsw" if n > EXACT_MAX_ROWS else "exact"
    return kind


def _as_matrix(vectors: np.ndarray, dimension: int) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    if vectors.ndim != 2 or vectors.shape[1] != dimension:
        raise PaperatlasError(f"expected vectors of dimension {dimension}, got shape {vectors.shape}")
    return vectors


class PaperIndex:
    """Inner-product search over unit vectors; rows follow the atlas's paper order."""

    def __init__(self, dimension: int, kind: str = "exact") -> None:
        import faiss

        self.dimension = dimension
        self.kind = choose_kind(kind, 0)
        if self.kind == "exact":
            self._index = faiss.IndexFlatIP(dimension)
        else:
            self._index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            self._index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            self._index.hnsw.efSearch = HNSW_EF_SEARCH

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str = "auto") -> PaperIndex:
        """An index over ``vectors`` (``auto`` picks the kind from their count)."""
        index = cls(int(vectors.shape[1]), choose_kind(kind, len(vectors)))
        index.add(vectors)
        return index

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        """Append rows (no rebuild)."""
        self._index.add(_as_matrix(vectors, self.dimension))

    def vectors(self) -> np.ndarray:
        """All stored vectors, in row order."""
        return self._index.reconstruct_n(0, len(self)) if len(self) else np.zeros((0, self.dimension), np.float32)

    def remove_rows(self, rows: np.ndarray) -> None:
        """Drop rows; later rows move up so row order keeps following the papers."""
        import faiss

        rows = np.unique(np.asarray(rows, dtype=np.int64))
        if len(rows) == 0:
            return
        if self.kind == "exact":
            self._index.remove_ids(faiss.IDSelectorBatch(rows))
            return
        keep = np.ones(len(self), dtype=bool)
        keep[rows] = False
        kept = self.vectors()[keep]
        rebuilt = PaperIndex(self.dimension, self.kind)
        rebuilt.add(kept)
        self._index = rebuilt._index

    def search(self, queries: np.ndarray, k: int, *, rows_below: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Scores and rows of the ``k`` nearest rows per query, best first.

        ``k`` is capped at the number of rows searched; ``rows_below`` searches only
        rows ``0 .. rows_below - 1`` (e.g. the papers older than some just added).
        Should an approximate index come back short (FAISS pads with ``-1``), the
        query is answered by an exact scan instead, so every returned row is real.
        """
        import faiss

        queries = _as_matrix(queries, self.dimension)
        limit = len(self) if rows_below is None else max(0, min(int(rows_below), len(self)))
        k = min(int(k), limit)
        if k < 1:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        params = None
        if limit < len(self):
            selector = faiss.IDSelectorRange(0, limit)
            params = (faiss.SearchParametersHNSW(sel=selector, efSearch=HNSW_EF_SEARCH) if self.kind == "hnsw"
                      else faiss.SearchParameters(sel=selector))
        with one_thread("faiss", len(queries) <= FEW_QUERIES):
            scores, rows = self._index.search(queries, k, params=params)
        if (rows < 0).any():
            # an approximate search came back short: fall back to an exact scan
            exact_scores = queries @ self.vectors()[:limit].T
            rows = np.argsort(-exact_scores, axis=1, kind="stable")[:, :k]
            scores = np.take_along_axis(exact_scores, rows, axis=1)
        return scores.astype(np.float32), rows.astype(np.int64)

    def save(self, path: str | Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: str | Path) -> PaperIndex:
        import faiss

        try:
            raw = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise PaperatlasError(f"{path}: not a readable FAISS index ({str(exc).splitlines()[0]})") from None
        index = cls.__new__(cls)
        index.dimension = int(raw.d)
        if isinstance(raw, faiss.IndexHNSWFlat):
            index.kind = "hnsw"
            raw.hnsw.efSearch = HNSW_EF_SEARCH
        elif isinstance(raw, faiss.IndexFlatIP):
            index.kind = "exact"
        else:
            raise PaperatlasError(f"{path}: unsupported FAISS index type {type(raw).__name__}")
        index._index = raw
        return index


def knn_graph(index: PaperIndex, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest rows (self first) from the search index.

    Returns ``(indices, cosine distances)``: UMAP reuses it instead of computing
    neighbours again, and the map's "nearest papers" come from it.
    """
    n = len(index)
    k = max(1, min(int(k), n))
    scores, rows = index.search(vectors, min(k + 1, n))
    return self_first_graph(scores, rows, k)


def self_first_graph(scores: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """A kNN graph from an index searched with its own vectors: self in column 0.

    ``scores``/``rows`` come from searching every stored row for ``k + 1``
    neighbours. Each row's own index goes first (distance 0), even where
    duplicates tie with it; the rest keep their order. Distances are cosine
    (``1 - inner product``, clipped at 0).

    Returns:
        ``(indices int64 (n, k), distances float32 (n, k))``.
    """
    n = rows.shape[0]
    k = min(int(k), rows.shape[1] if n else k)
    own = np.arange(n, dtype=np.int64)
    out_idx = np.empty((n, k), dtype=np.int64)
    out_dist = np.empty((n, k), dtype=np.float32)
    out_idx[:, 0] = own
    out_dist[:, 0] = 0.0
    if k > 1:
        width = rows.shape[1]
        is_self = rows == own[:, None]
        first = np.where(is_self.any(axis=1), np.argmax(is_self, axis=1), width - 1)
        keep = np.ones(rows.shape, dtype=bool)
        keep[own, first] = False
        others = rows[keep].reshape(n, width - 1)[:, : k - 1]
        other_scores = scores[keep].reshape(n, width - 1)[:, : k - 1]
        out_idx[:, 1:] = others
        out_dist[:, 1:] = np.clip(1.0 - other_scores, 0.0, None)
    return out_idx, out_dist
