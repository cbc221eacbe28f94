"""Coarse themes: fine topics merged into fewer, larger ones.

Layer 0 holds the fine (HDBSCAN) topics. Coarser layers come from one
agglomerative tree over the fine topics, so the layers nest: every fine
topic lies wholly inside one theme of each coarser layer. Noise stays -1 in
every layer, and every layer is renumbered by size (0 = largest).

The default tree is size-weighted Ward on the topics' mean embeddings: it
merges the pair of topics whose union adds the least within-theme variance,
counting every paper (the k-means objective, restricted to unions of whole
topics), so large topics are not drowned by many small ones. ``"average"``
linkage on the cosine distance of unit centroids is the alternative.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from paperatlas.cluster.centroids import topic_sums, unit
from paperatlas.cluster.density import NOISE, renumber_by_size
from paperatlas.errors import PaperatlasError

LINKAGES = ("ward", "average")


def default_coarse_sizes(n_topics: int, n_layers: int = 2) -> list[int]:
    """Theme counts of the coarse layers: repeated square roots of the topic count.

    40 topics with 3 layers give ``[6, 2]``; counts below 2 or not smaller
    than the layer beneath are left out, so fewer layers may result.

    Args:
        n_topics: Fine topics in layer 0.
        n_layers: Total layers wanted, layer 0 included.

    Returns:
        Decreasing theme counts, one per coarse layer.
    """
    sizes: list[int] = []
    current = n_topics
    for _ in range(max(0, n_layers - 1)):
        nxt = int(round(math.sqrt(current)))
        if nxt < 2 or nxt >= current:
            break
        sizes.append(nxt)
        current = nxt
    return sizes


def _topic_stats(embeddings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    labels = np.asarray(labels, dtype=np.int64)
    if np.ndim(embeddings) != 2 or labels.shape != (np.shape(embeddings)[0],):
        raise PaperatlasError(
            f"labels {labels.shape} do not match embeddings {np.shape(embeddings)}: one label per row"
        )
    ids, sizes = np.unique(labels[labels >= 0], return_counts=True)
    if ids.size == 0:
        return ids, np.zeros((0, np.shape(embeddings)[1])), np.zeros(0)
    sums = topic_sums(embeddings, labels, ids)
    return ids, sums / sizes[:, None], sizes.astype(np.float64)


def _ward_merges(means: np.ndarray, sizes: np.ndarray) -> list[tuple[int, int]]:
    """Size-weighted Ward merge order; cluster ``t + i`` is made by merge ``i``.

    Keeps each row's cheapest partner so a step costs O(t * d), not O(t**2).
    """
    t = means.shape[0]
    means = means.copy()
    sizes = sizes.copy()
    node = np.arange(t)  # tree id held in each slot
    active = np.ones(t, dtype=bool)
    sq = np.sum(means**2, axis=1)
    cost = (sizes[:, None] * sizes[None, :]) / (sizes[:, None] + sizes[None, :])
    cost *= np.maximum(sq[:, None] + sq[None, :] - 2.0 * means @ means.T, 0.0)
    np.fill_diagonal(cost, np.inf)
    best = np.argmin(cost, axis=1)
    best_cost = cost[np.arange(t), best]
    merges: list[tuple[int, int]] = []
    for step in range(t - 1):
        a = int(np.argmin(best_cost))
        b = int(best[a])
        if a > b:
            a, b = b, a
        merges.append((int(node[a]), int(node[b])))
        total = sizes[a] + sizes[b]
        means[a] = (sizes[a] * means[a] + sizes[b] * means[b]) / total
        sizes[a] = total
        node[a] = t + step
        active[b] = False
        cost[b, :] = np.inf
        cost[:, b] = np.inf
        best_cost[b] = np.inf
        diff = means[active] - means[a]
        row = (sizes[active] * total) / (sizes[active] + total) * np.sum(diff**2, axis=1)
        cost[a, active] = row
        cost[active, a] = row
        cost[a, a] = np.inf
        # Rows whose cheapest partner was a or b, and row a itself, look again;
        # other rows can only have found a cheaper partner in the new a.
        stale = active & ((best == a) | (best == b))
        stale[a] = True
        for r in np.flatnonzero(stale):
            best[r] = int(np.argmin(cost[r]))
            best_cost[r] = cost[r, best[r]]
        better = active & (cost[:, a] < best_cost)
        better[a] = False
        best[better] = a
        best_cost[better] = cost[better, a]
    return merges


def _average_merges(means: np.ndarray) -> list[tuple[int, int]]:
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import pdist

    distances = np.clip(pdist(unit(means).astype(np.float64), metric="cosine"), 0.0, None)
    tree = linkage(distances, method="average")
    return [(int(a), int(b)) for a, b in tree[:, :2]]


def _cut(merges: list[tuple[int, int]], t: int, k: int) -> np.ndarray:
    """Group of each of ``t`` leaves after the first ``t - k`` merges."""
    parent = list(range(2 * t))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for step, (a, b) in enumerate(merges[: max(0, t - k)]):
        new = t + step
        parent[find(a)] = new
        parent[find(b)] = new
    roots = np.array([find(leaf) for leaf in range(t)])
    _, groups = np.unique(roots, return_inverse=True)
    return groups


def _merge_tree(embeddings: np.ndarray, labels: np.ndarray, linkage: str) -> tuple[np.ndarray, list[tuple[int, int]]]:
    if linkage not in LINKAGES:
        raise PaperatlasError(f"linkage must be one of {LINKAGES}, got {linkage!r}")
    ids, means, sizes = _topic_stats(embeddings, labels)
    if ids.size < 2:
        return ids, []
    merges = _ward_merges(means, sizes) if linkage == "ward" else _average_merges(means)
    return ids, merges


def _apply(labels: np.ndarray, ids: np.ndarray, groups: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels, dtype=np.int64)
    out = np.full(labels.shape, NOISE, dtype=np.int64)
    inside = labels >= 0
    out[inside] = groups[np.searchsorted(ids, labels[inside])]
    return renumber_by_size(out)


def build_layers(
    embeddings: np.ndarray,
    labels: np.ndarray,
    coarse_sizes: Sequence[int] | None = None,
    *,
    n_layers: int = 2,
    linkage: str = "ward",
) -> list[np.ndarray]:
    """Labels per layer: the fine topics, then coarser themes.

    Args:
        embeddings: ``(n, d)`` unit rows.
        labels: ``(n,)`` fine topic labels (layer 0), -1 for noise.
        coarse_sizes: Theme counts of the coarse layers, decreasing; each is
            capped at the number of fine topics. ``default_coarse_sizes`` if None.
        n_layers: Layers wanted (layer 0 included) when ``coarse_sizes`` is None.
        linkage: "ward" (size-weighted, default) or "average" (cosine).

    Returns:
        ``[layer 0 labels, layer 1 labels, ...]``, each ``(n,)`` int64
        renumbered by size. Layer 0 is ``labels`` renumbered by size. With
        fewer than two fine topics, or no sizes, only layer 0 is returned.
    """
    fine = renumber_by_size(labels)
    ids, merges = _merge_tree(embeddings, fine, linkage)
    t = ids.size
    if coarse_sizes is None:
        coarse_sizes = default_coarse_sizes(t, n_layers)
    layers = [fine]
    if t < 2:
        return layers
    for size in coarse_sizes:
        if int(size) < 1:
            raise PaperatlasError(f"coarse layer sizes must be at least 1, got {size}")
        layers.append(_apply(fine, ids, _cut(merges, t, min(int(size), t))))
    return layers


def layer_with_n_topics(
    embeddings: np.ndarray, labels: np.ndarray, k: int, *, linkage: str = "ward"
) -> np.ndarray:
    """A coarse layer of exactly ``k`` themes (fewer only if there are fewer topics).

    Used to compare with a k-label reference or k-means.

    Args:
        embeddings: ``(n, d)`` unit rows.
        labels: ``(n,)`` fine topic labels, -1 for noise.
        k: Themes wanted.
        linkage: As in ``build_layers``.

    Returns:
        ``(n,)`` int64 labels renumbered by size, -1 for noise.
    """
    if k < 1:
        raise PaperatlasError(f"k must be at least 1, got {k}")
    fine = renumber_by_size(labels)
    ids, merges = _merge_tree(embeddings, fine, linkage)
    if ids.size < 2:
        return fine
    return _apply(fine, ids, _cut(merges, ids.size, min(k, ids.size)))


def parents(child: np.ndarray, parent: np.ndarray) -> dict[int, int]:
    """The theme of each topic, from two nested layers of labels.

    Args:
        child: ``(n,)`` labels of the finer layer.
        parent: ``(n,)`` labels of the coarser layer.

    Returns:
        ``{child id: parent id}`` for every non-noise child id.

    Raises:
        PaperatlasError: if a child topic's papers are split across themes.
    """
    child = np.asarray(child, dtype=np.int64)
    parent = np.asarray(parent, dtype=np.int64)
    if child.shape != parent.shape:
        raise PaperatlasError(f"layers differ in length: {child.shape} and {parent.shape}")
    inside = child >= 0
    pairs = np.unique(np.stack([child[inside], parent[inside]], axis=1), axis=0)
    if pairs.size and (np.any(pairs[:, 1] < 0) or np.unique(pairs[:, 0]).size != pairs.shape[0]):
        bad = pairs[pairs[:, 1] < 0, 0] if np.any(pairs[:, 1] < 0) else pairs[:-1, 0][np.diff(pairs[:, 0]) == 0]
        raise PaperatlasError(f"topic {int(bad[0])} is not nested in one coarser theme")
    return {int(c): int(p) for c, p in pairs}
