"""Coarse themes over the fine topics; every layer nests in the next.

Layer 0 holds the fine (HDBSCAN) topics; each coarser layer groups them into
fewer themes, and every fine topic lies wholly inside one theme of each
coarser layer. Every layer is renumbered by size (0 = largest). Two ways:

* ``"regions"`` (default, ``region_layers``): the first coarse layer cuts
  the clustering space into k regions (k-means on the reduced coordinates)
  and every paper, noise included, belongs to the region it lies in, so
  themes cover the whole map; a fine topic lies in the region holding most
  of it, and a part of it in another region big enough to be a topic
  (``min_piece`` papers) becomes a topic of its own. Further layers merge
  whole themes by Ward. On corpora whose labels do not follow density (the
  venue families of paperlists) these themes match the labels better than
  unions of density topics can.
* ``"ward"`` / ``"average"`` (``build_layers``): one agglomerative tree over
  the fine topics; noise stays -1 in every layer. Ward is size-weighted on
  the topics' mean embeddings: it merges the pair whose union adds the least
  within-theme variance, counting every paper (the k-means objective,
  restricted to unions of whole topics). ``"average"`` is average linkage on
  the cosine distance of unit centroids.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from paperatlas.cluster.centroids import topic_sums
from paperatlas.embed.base import unit_rows
from paperatlas.cluster.density import NOISE, renumber_by_size
from paperatlas.errors import PaperatlasError

LINKAGES = ("ward", "average")
THEME_METHODS = ("regions",) + LINKAGES
"""Ways to build the coarse layers: ``region_layers`` or a ``build_layers`` linkage."""


MAP_THEMES = 12
"""By default coarse layers are added until one has at most this many themes (a map's legend)."""


def default_coarse_sizes(n_topics: int, n_layers: int | None = None) -> list[int]:
    """Theme counts of the coarse layers: repeated square roots of the topic count.

    40 topics with 3 layers give ``[6, 2]``; counts below 2 or not smaller
    than the layer beneath are left out, so fewer layers may result. Without
    ``n_layers``, layers are added until one has at most ``MAP_THEMES`` themes
    (913 topics give ``[30, 5]``; 54 give ``[7]``).

    Args:
        n_topics: Fine topics in layer 0.
        n_layers: Total layers wanted, layer 0 included (None: down to ``MAP_THEMES``).

    Returns:
        Decreasing theme counts, one per coarse layer.
    """
    sizes: list[int] = []
    current = n_topics
    for _ in range(max(0, (n_layers if n_layers is not None else n_topics) - 1)):
        if n_layers is None and sizes and current <= MAP_THEMES:
            break
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

    distances = np.clip(pdist(unit_rows(means).astype(np.float64), metric="cosine"), 0.0, None)
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
    n_layers: int | None = None,
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


def nest_in_regions(fine: np.ndarray, regions: np.ndarray, min_piece: int) -> tuple[np.ndarray, np.ndarray]:
    """Make fine topics nest in regions that cover every paper.

    Each fine topic belongs to the region holding most of its papers. A part
    of it lying in another region becomes a new topic if it has at least
    ``min_piece`` papers; a smaller part stays in its topic and so moves to
    the topic's region. Noise papers keep the region they lie in.

    Args:
        fine: ``(n,)`` fine topic labels, -1 for noise.
        regions: ``(n,)`` region of every paper (no -1).
        min_piece: Papers a part needs to become a topic.

    Returns:
        ``(fine, themes)``: new fine labels (new topics numbered after the
        old ones) and the theme of every paper, both ``(n,)`` int64.
    """
    fine = np.asarray(fine, dtype=np.int64).copy()
    themes = np.asarray(regions, dtype=np.int64).copy()
    if fine.shape != themes.shape or np.any(themes < 0):
        raise PaperatlasError("regions must give every paper a region (no -1), one per fine label")
    next_id = int(fine.max(initial=-1)) + 1
    for topic in np.unique(fine[fine >= 0]):
        rows = np.flatnonzero(fine == topic)
        ids, counts = np.unique(themes[rows], return_counts=True)
        home = ids[np.argmax(counts)]  # first maximum: the smallest region id
        for region, count in zip(ids, counts):
            if region == home:
                continue
            part = rows[themes[rows] == region]
            if count >= min_piece:
                fine[part] = next_id
                next_id += 1
            else:
                themes[part] = home
    return fine, themes


def region_layers(
    reduced: np.ndarray,
    embeddings: np.ndarray,
    labels: np.ndarray,
    coarse_sizes: Sequence[int] | None = None,
    *,
    n_layers: int | None = None,
    min_piece: int = 5,
    random_state: int | None = 42,
) -> list[np.ndarray]:
    """Labels per layer, themes being regions of the clustering space (see the module).

    Args:
        reduced: ``(n, c)`` clustering coordinates the fine topics were found in.
        embeddings: ``(n, d)`` unit rows (Ward merges of themes, layers 2+).
        labels: ``(n,)`` fine topic labels, -1 for noise.
        coarse_sizes: Theme counts, decreasing; the first is the number of
            regions (k-means clusters); ``default_coarse_sizes`` of the fine
            topic count if None.
        n_layers: Layers wanted (layer 0 included) when ``coarse_sizes`` is None.
        min_piece: Papers a fine topic's part in another region needs to
            become a topic (use the minimum cluster size).
        random_state: Seed of k-means.

    Returns:
        ``[fine labels, theme labels, ...]``, each ``(n,)`` int64 renumbered
        by size; noise is -1 in layer 0 only. With fewer than two fine
        topics, or no sizes, only layer 0 is returned (unchanged).
    """
    from sklearn.cluster import KMeans

    fine = renumber_by_size(labels)
    data = np.asarray(reduced, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] != fine.shape[0]:
        raise PaperatlasError(f"reduced {data.shape} does not match labels {fine.shape}: one row per paper")
    t = int(np.unique(fine[fine >= 0]).size)
    sizes = default_coarse_sizes(t, n_layers) if coarse_sizes is None else [int(s) for s in coarse_sizes]
    if any(size < 1 for size in sizes):
        raise PaperatlasError(f"coarse layer sizes must be at least 1, got {sizes}")
    if t < 2 or not sizes:
        return [fine]
    k = min(sizes[0], t)
    regions = KMeans(n_clusters=k, n_init=4, random_state=random_state).fit_predict(data)
    fine, themes = nest_in_regions(fine, regions, min_piece)
    return [renumber_by_size(fine)] + build_layers(embeddings, themes, sizes[1:], linkage="ward")
