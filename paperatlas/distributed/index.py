"""The IVF index at scale: trained on a sample on the driver, filled shard by shard in Ray tasks, merged.

Each task receives the trained, empty index and a slice of the vectors, adds them under
their row numbers, and returns the filled index in FAISS's own serialised form; the driver
merges the parts in row order, so every inverted list holds the rows a single machine's build
puts there, in the same order, and searches return the same results. An
exact index has nothing to build, and an HNSW graph cannot be merged (it is built on the
driver).
"""

from __future__ import annotations

import numpy as np

from paperatlas.distributed.session import RaySettings, task_count
from paperatlas.index import PaperIndex, choose_kind, stored_rows, trained_ivf

FILL_ROWS = 100_000
"""At most this many vectors go to one fill task."""


def fill_part(trained: np.ndarray, vectors: np.ndarray, start: int) -> np.ndarray:
    """A Ray task: ``vectors`` added to a copy of the ``trained`` index as rows ``start ..``; serialised."""
    import faiss

    part = faiss.deserialize_index(trained)
    part.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                      np.arange(start, start + len(vectors), dtype=np.int64))
    return faiss.serialize_index(part)


def row_ranges(n: int, parts: int, most: int) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges covering ``0 .. n`` in at least ``parts`` pieces of at most ``most`` rows."""
    size = max(1, min(most, -(-n // max(1, parts))))
    return [(start, min(n, start + size)) for start in range(0, n, size)]


def build_index_on_ray(ray, vectors: np.ndarray, kind: str, settings: RaySettings) -> PaperIndex:
    """:meth:`PaperIndex.build` with the IVF fill spread over Ray tasks (other kinds build here)."""
    import faiss

    kind = choose_kind(kind, len(vectors))
    if kind != "ivf":
        return PaperIndex.build(vectors, kind)
    index = trained_ivf(vectors)
    trained = ray.put(faiss.serialize_index(index))
    tasks = task_count(ray, settings)
    fill = ray.remote(num_cpus=1)(fill_part)
    pending = []
    for start, stop in row_ranges(len(vectors), tasks, FILL_ROWS):
        pending.append(fill.remote(trained, np.ascontiguousarray(vectors[start:stop], dtype=np.float32), start))
        while len(pending) > tasks:  # bounded: at most ``tasks`` slices in the object store at once
            index.merge_from(faiss.deserialize_index(ray.get(pending.pop(0))), 0)
    for part in pending:
        index.merge_from(faiss.deserialize_index(ray.get(part)), 0)
    return PaperIndex(stored_rows(vectors, "ivf"), "ivf", index)
