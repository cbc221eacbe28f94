"""Inner-product search over paper vectors, row ``i`` being paper ``i``.

The vectors are held once: by the caller (the atlas's memory-mapped
``embeddings.npy``), or as the index's float16 copy of them (``ivf``); an index
adds at most a compact search structure:

* ``exact`` — no structure: FAISS's brute-force search over the vectors.
* ``ivf`` — an inverted-file index of 4-bit product-quantised codes scanned with
  SIMD (``IndexIVFPQFastScan``, ``d / 8`` bytes a paper); its candidates are
  re-ranked with scores from the vectors, held in half precision (float16: a
  score moves by about 1e-4, the atlas's largest file halves), so recall@10
  stays near 0.99.
* ``hnsw`` — an HNSW graph holding its own full copy of the vectors: fastest
  for many queries at once, so the topic stage's kNN graph uses a transient one
  (:func:`bulk_index`); an atlas uses it only when asked.

``auto`` picks exact up to :data:`EXACT_MAX_ROWS` papers and ivf above.
Searches never return FAISS's ``-1`` padding.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from paperatlas.errors import PaperatlasError
from paperatlas.threads import one_thread

INDEX_KINDS = ("auto", "exact", "ivf", "hnsw")
EXACT_MAX_ROWS = 50_000
"""Up to this many papers neighbours are exact (brute force, exact kNN graph); above, approximate."""
FEW_QUERIES = 8
"""Searches of at most this many queries run on one thread (see ``paperatlas.threads``)."""
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
BULK_HNSW = (16, 40, 64)
"""M, efConstruction and efSearch of the transient graph of :func:`bulk_index`: recall@15 0.995
on 200k interpolated MiniLM vectors, at a third of the build time of the defaults above."""
VOTE_SEARCH_DEPTH = 32
"""efSearch of the votes of a sample fit (recall@15 0.984 there; a vote needs a majority, not every neighbour)."""
IVF_NPROBE = 16
"""Inverted lists scanned per query."""
IVF_CANDIDATES = 100
"""Candidates re-ranked exactly per query (at least; ``10 * k`` for larger ``k``)."""
IVF_TRAIN_ROWS = 65_536
"""At most this many vectors (a seeded sample) train the coarse quantiser and the codes."""
RERANK_BATCH = 256
"""Queries re-ranked at once (bounds the gathered candidate vectors to a few tens of MB)."""


HALF_PRECISION_KINDS = ("ivf",)
"""Index kinds whose vectors are held and saved as float16 (the others keep float32)."""


def stored_rows(vectors: np.ndarray, kind: str, chunk: int = 65_536) -> np.ndarray:
    """``vectors`` as an index of ``kind`` holds them: float16 rows (converted in chunks, so a
    memory-mapped source is streamed) for the kinds of ``HALF_PRECISION_KINDS``, else as given."""
    if kind not in HALF_PRECISION_KINDS or vectors.dtype == np.float16:
        return vectors
    out = np.empty(vectors.shape, np.float16)
    for start in range(0, len(vectors), chunk):
        out[start:start + chunk] = vectors[start:start + chunk]
    release_pages(vectors)
    return out


def release_pages(array: np.ndarray) -> None:
    """Drop the pages of a memory-mapped ``array`` that this process has read from its resident
    memory (``madvise(MADV_DONTNEED)``: they stay in the page cache and are read back if touched
    again). A 1M-paper build reads its 1.5 GB of float32 vectors twice (index fill, float16
    copy) and then never again. Does nothing for arrays that are not memory-mapped."""
    import mmap

    while array is not None and getattr(array, "_mmap", None) is None:  # np.asarray views keep it as base
        array = getattr(array, "base", None)
    mapping = getattr(array, "_mmap", None)
    if isinstance(mapping, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED") and not mapping.closed:
        mapping.madvise(mmap.MADV_DONTNEED)


def choose_kind(kind: str, n: int) -> str:
    """The concrete index kind for ``n`` papers."""
    if kind not in INDEX_KINDS:
        raise PaperatlasError(f"unknown index kind {kind!r}; choose one of {', '.join(INDEX_KINDS)}")
    if kind == "auto":
        return "ivf" if n > EXACT_MAX_ROWS else "exact"
    return kind


def _as_matrix(vectors: np.ndarray, dimension: int) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    if vectors.ndim != 2 or vectors.shape[1] != dimension:
        raise PaperatlasError(f"expected vectors of dimension {dimension}, got shape {vectors.shape}")
    return vectors


def _sub_quantisers(dimension: int) -> int:
    """4-bit sub-quantisers of the codes: one per 4 dimensions (an even divisor of ``dimension``)."""
    wanted = max(2, dimension // 4)
    return max([m for m in range(2, wanted + 1, 2) if dimension % m == 0] or [1])


def trained_ivf(vectors: np.ndarray):
    """A trained, empty ``IndexIVFPQFastScan`` for ``vectors`` (about sqrt(n) lists)."""
    import faiss

    n, dimension = vectors.shape
    train_rows = min(n, IVF_TRAIN_ROWS)
    sample = vectors
    if n > train_rows:
        rows = np.sort(np.random.default_rng(0).choice(n, train_rows, replace=False))
        sample = vectors[rows]
    sample = np.ascontiguousarray(sample, dtype=np.float32)
    if len(sample) < 64:  # a tiny corpus: repeat it so that each 16-entry codebook can be trained
        sample = np.tile(sample, (math.ceil(64 / len(sample)), 1))
    lists = max(1, min(int(math.sqrt(n)), train_rows // 39))
    index = faiss.IndexIVFPQFastScan(faiss.IndexFlatIP(dimension), dimension, lists, _sub_quantisers(dimension), 4,
                                     faiss.METRIC_INNER_PRODUCT)
    index.cp.min_points_per_centroid = 1  # small corpora: no warnings about few training points
    index.pq.cp.min_points_per_centroid = 1
    index.train(sample)
    index.nprobe = min(IVF_NPROBE, lists)
    return index


def _add_in_chunks(index, vectors: np.ndarray, chunk: int = 100_000) -> None:
    for start in range(0, len(vectors), chunk):
        index.add(np.ascontiguousarray(vectors[start:start + chunk], dtype=np.float32))


class PaperIndex:
    """Search over unit vectors in the atlas's paper order; holds (a reference to) them once."""

    def __init__(self, vectors: np.ndarray, kind: str, structure=None) -> None:
        """Prefer :meth:`build` or :meth:`load`; ``structure`` is the FAISS index of an approximate kind."""
        self.dimension = int(vectors.shape[1])
        self.kind = kind
        self._vectors = vectors
        self._structure = structure

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str = "auto", hnsw: tuple[int, int, int] | None = None) -> PaperIndex:
        """An index over ``vectors`` (kept by reference, not copied; ``auto`` picks the kind from their count).

        ``hnsw`` overrides ``(M, efConstruction, efSearch)`` of an HNSW graph.
        """
        import faiss

        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.dtype != np.float32:
            vectors = _as_matrix(vectors, vectors.shape[-1] if vectors.ndim else 0)
        kind = choose_kind(kind, len(vectors))
        structure = None
        if kind == "ivf":
            structure = trained_ivf(vectors)
        elif kind == "hnsw":
            m, construction, search = hnsw or (HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH)
            structure = faiss.IndexHNSWFlat(int(vectors.shape[1]), m, faiss.METRIC_INNER_PRODUCT)
            structure.hnsw.efConstruction = construction
            structure.hnsw.efSearch = search
        if structure is not None:
            _add_in_chunks(structure, vectors)
        return cls(stored_rows(vectors, kind), kind, structure)

    def __len__(self) -> int:
        return int(self._vectors.shape[0])

    def search_depth(self, candidates: int) -> None:
        """Candidates an HNSW search keeps (``efSearch``): fewer is faster and slightly less exact."""
        if self.kind == "hnsw":
            self._structure.hnsw.efSearch = int(candidates)

    def vectors(self) -> np.ndarray:
        """All vectors, in row order (the array the index was built on, not a copy, or its float16
        rows for the kinds of ``HALF_PRECISION_KINDS``)."""
        return self._vectors

    def add(self, vectors: np.ndarray) -> None:
        """Append rows (no rebuild, no retraining)."""
        vectors = _as_matrix(vectors, self.dimension)
        self._vectors = np.concatenate([np.asarray(self._vectors), vectors.astype(self._vectors.dtype, copy=False)])
        if self._structure is not None:
            _add_in_chunks(self._structure, vectors)

    def remove_rows(self, rows: np.ndarray) -> None:
        """Drop rows; later rows move up so row order keeps following the papers."""
        rows = np.unique(np.asarray(rows, dtype=np.int64))
        if len(rows) == 0:
            return
        keep = np.ones(len(self), dtype=bool)
        keep[rows] = False
        self._vectors = np.asarray(self._vectors)[keep]
        if self.kind == "ivf":  # re-encode the rest with the trained quantisers
            self._structure.reset()
            _add_in_chunks(self._structure, self._vectors)
        elif self.kind == "hnsw":
            self._structure = PaperIndex.build(self._vectors, "hnsw")._structure

    def search(self, queries: np.ndarray, k: int, *, rows_below: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Scores and rows of the ``k`` nearest rows per query, best first.

        ``k`` is capped at the number of rows searched; ``rows_below`` searches only
        rows ``0 .. rows_below - 1`` (e.g. the papers older than some just added).
        Should an approximate search come back short, the query is answered by
        an exact scan instead, so every returned row is real.
        """
        queries = _as_matrix(queries, self.dimension)
        limit = len(self) if rows_below is None else max(0, min(int(rows_below), len(self)))
        k = min(int(k), limit)
        if k < 1:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        with one_thread("faiss", len(queries) <= FEW_QUERIES):
            if self.kind == "exact":
                return self._exact(queries, k, limit)
            if self.kind == "ivf":
                return self._ivf(queries, k, limit)
            return self._hnsw(queries, k, limit)

    def _exact(self, queries: np.ndarray, k: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        scores, rows = faiss.knn(queries, self._stored(limit), k, metric=faiss.METRIC_INNER_PRODUCT)
        return scores.astype(np.float32), rows.astype(np.int64)

    def _stored(self, limit: int) -> np.ndarray:
        stored = self._vectors[:limit]
        if not (stored.dtype == np.float32 and stored.flags.c_contiguous):
            stored = np.ascontiguousarray(stored, dtype=np.float32)
        return stored

    def _ivf(self, queries: np.ndarray, k: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        wanted = min(limit, max(IVF_CANDIDATES, 10 * k))
        params = faiss.SearchParametersIVF(nprobe=self._structure.nprobe)
        if limit < len(self):
            params.sel = faiss.IDSelectorRange(0, limit)
        _, candidates = self._structure.search(queries, wanted, params=params)
        return self._rerank(queries, candidates, k, limit)

    def _hnsw(self, queries: np.ndarray, k: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        params = None
        if limit < len(self):
            params = faiss.SearchParametersHNSW(sel=faiss.IDSelectorRange(0, limit),
                                                efSearch=self._structure.hnsw.efSearch)
        scores, rows = self._structure.search(queries, k, params=params)
        short = (rows < 0).any(axis=1)
        if short.any():
            scores[short], rows[short] = self._exact(queries[short], k, limit)
        return scores.astype(np.float32), rows.astype(np.int64)

    def _rerank(self, queries: np.ndarray, candidates: np.ndarray, k: int,
                limit: int) -> tuple[np.ndarray, np.ndarray]:
        """The best ``k`` of each query's candidates by exact score (from the stored vectors)."""
        out_scores = np.empty((len(queries), k), np.float32)
        out_rows = np.empty((len(queries), k), np.int64)
        for start in range(0, len(queries), RERANK_BATCH):
            block = candidates[start:start + RERANK_BATCH]
            found = block >= 0
            picked = np.where(found, block, 0)
            order = np.argsort(picked, axis=None)  # read the vectors in file order
            gathered = np.empty((picked.size, self.dimension), np.float32)
            gathered[order] = self._vectors[picked.ravel()[order]]
            gathered = gathered.reshape(*picked.shape, self.dimension)
            scores = np.einsum("qcd,qd->qc", gathered, queries[start:start + len(block)])
            scores[~found] = -np.inf
            best = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            out_scores[start:start + len(block)] = np.take_along_axis(scores, best, axis=1)
            out_rows[start:start + len(block)] = np.take_along_axis(picked, best, axis=1)
        short = ~np.isfinite(out_scores).all(axis=1)
        if short.any():  # fewer than k candidates: scan exactly
            out_scores[short], out_rows[short] = self._exact(queries[short], k, limit)
        return out_scores, out_rows

    def save(self, path: str | Path) -> None:
        """Write the search structure (FAISS's format); an exact index has none, so nothing is written."""
        import faiss

        if self._structure is None:
            raise PaperatlasError("an exact index has no search structure to save")
        faiss.write_index(self._structure, str(path))

    def payload(self) -> dict:
        """What rebuilds this index in another process (a Ray task): its kind, and FAISS's serialised
        structure, or the vectors of an exact index."""
        import faiss

        if self._structure is None:
            return {"kind": self.kind, "vectors": np.ascontiguousarray(self._vectors, dtype=np.float32)}
        return {"kind": self.kind, "structure": faiss.serialize_index(self._structure)}

    @classmethod
    def from_payload(cls, payload: dict) -> PaperIndex:
        """The index of :meth:`payload` (an HNSW graph's vectors come from its own flat copy)."""
        import faiss

        if "structure" not in payload:
            return cls(payload["vectors"], payload["kind"])
        structure = faiss.deserialize_index(payload["structure"])
        vectors = structure.storage.reconstruct_n(0, structure.ntotal) if payload["kind"] == "hnsw" else None
        if vectors is None:
            raise PaperatlasError(f"cannot rebuild an index of kind {payload['kind']!r} without its vectors")
        return cls(vectors, payload["kind"], structure)

    @classmethod
    def load(cls, path: str | Path | None, vectors: np.ndarray) -> PaperIndex:
        """The index over ``vectors``: exact when ``path`` is None, else the structure saved there."""
        import faiss

        vectors = np.asarray(vectors) if not isinstance(vectors, np.memmap) else vectors
        if path is None:
            return cls(vectors, "exact")
        try:
            raw = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise PaperatlasError(f"{path}: not a readable FAISS index ({str(exc).splitlines()[0]})") from None
        if isinstance(raw, faiss.IndexHNSWFlat):
            kind = "hnsw"
            raw.hnsw.efSearch = HNSW_EF_SEARCH
        elif isinstance(raw, (faiss.IndexIVFPQFastScan, faiss.IndexIVFPQ)):
            kind = "ivf"
        elif isinstance(raw, faiss.IndexFlatIP):
            kind = "exact"  # format 2 kept a flat copy of the vectors; searching them directly is the same
            raw = None
        else:
            raise PaperatlasError(f"{path}: unsupported FAISS index type {type(raw).__name__}")
        if raw is not None and (raw.d != vectors.shape[1] or raw.ntotal != len(vectors)):
            raise PaperatlasError(
                f"{path}: the index holds {raw.ntotal} vectors of dimension {raw.d}; "
                f"expected {len(vectors)} of {vectors.shape[1]}"
            )
        return cls(vectors, kind, raw)


def bulk_index(vectors: np.ndarray) -> PaperIndex:
    """An index for searching many of ``vectors``' own rows at once (kNN graphs, votes).

    Exact up to :data:`EXACT_MAX_ROWS` rows, else a transient HNSW graph: it copies
    the vectors into memory but answers a million queries in a minute or so.
    """
    if len(vectors) <= EXACT_MAX_ROWS:
        return PaperIndex.build(vectors, "exact")
    return PaperIndex.build(vectors, "hnsw", hnsw=BULK_HNSW)


def knn_graph(index: PaperIndex, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest rows (self first) from ``index`` (over ``vectors``; see :func:`bulk_index`).

    Returns ``(indices, cosine distances)``: UMAP reuses it instead of computing
    neighbours again, and the map's "nearest papers" come from it.
    """
    n = len(index)
    k = max(1, min(int(k), n))
    scores, rows = index.search(vectors, min(k + 1, n))
    return self_first_graph(scores, rows, k)


def self_first_graph(
    scores: np.ndarray, rows: np.ndarray, k: int, offset: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A kNN graph from an index searched with its own vectors: self in column 0.

    ``scores``/``rows`` come from searching every stored row (or the rows from
    ``offset`` on, a batch) for ``k + 1`` neighbours. Each row's own index goes first (distance 0), even where
    duplicates tie with it; the rest keep their order. Distances are cosine
    (``1 - inner product``, clipped at 0).

    Returns:
        ``(indices int64 (n, k), distances float32 (n, k))``.
    """
    n = rows.shape[0]
    k = min(int(k), rows.shape[1] if n else k)
    own = np.arange(offset, offset + n, dtype=np.int64)
    out_idx = np.empty((n, k), dtype=np.int64)
    out_dist = np.empty((n, k), dtype=np.float32)
    out_idx[:, 0] = own
    out_dist[:, 0] = 0.0
    if k > 1:
        width = rows.shape[1]
        is_self = rows == own[:, None]
        first = np.where(is_self.any(axis=1), np.argmax(is_self, axis=1), width - 1)
        keep = np.ones(rows.shape, dtype=bool)
        keep[np.arange(n), first] = False
        others = rows[keep].reshape(n, width - 1)[:, : k - 1]
        other_scores = scores[keep].reshape(n, width - 1)[:, : k - 1]
        out_idx[:, 1:] = others
        out_dist[:, 1:] = np.clip(1.0 - other_scores, 0.0, None)
    return out_idx, out_dist
