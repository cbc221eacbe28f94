"""Coarse themes over the fine topics; every layer nests in the next.

Layer 0 holds the fine (HDBSCAN) topics; each coarser layer groups them into
fewer themes, and every fine topic lies wholly inside one theme of each
coarser layer. Every layer is renumbered by size (0 = largest). Two ways:

* ``"regions"`` (default, ``region_layers``): every coarse layer cuts the
  papers into k regions (k-means of the embeddings joined with the UMAP
  coordinates, ``region_space``), so themes cover the whole map, noise
  included; from the coarsest down each layer is cut to nest in the next
  (``nest_top_down``) and the fine topics in the finest (``nest_in_regions``).
  The counts are rungs of ``theme_ladder`` (``default_coarse_sizes``): no two
  layers more than 4x apart, down to 3 themes. On the public labelled sets
  every such layer matches the labels better than k-means with the same k,
  and better than unions of density topics can.
* ``"ward"`` / ``"average"`` (``build_layers``): one agglomerative tree over
  the fine topics; noise stays -1 in every layer. Ward is size-weighted on
  the topics' mean embeddings: it merges the pair whose union adds the least
  within-theme variance, counting every paper (the k-means objective,
  restricted to unions of whole topics). ``"average"`` is average linkage on
  the cosine distance of unit centroids.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from paperatlas.cluster.centroids import topic_sums
from paperatlas.embed.base import unit_rows
from paperatlas.cluster.density import NOISE, renumber_by_size
from paperatlas.errors import PaperatlasError

LINKAGES = ("ward", "average")
THEME_METHODS = ("regions",) + LINKAGES
"""Ways to build the coarse layers: ``region_layers`` or a ``build_layers`` linkage."""


MAP_THEMES = 8
"""Coarse layers go down to a layer of at most this many themes (a map's legend)."""

THEME_LADDER_BASE, THEME_LADDER_SWITCH = 3, 48
"""Default theme counts: 3, 6, 12, 24, 48 (doubling), then tripling: 144, 432, 1296, ..."""

MIN_STEP = 1.25
"""The first coarse layer has at most the fine topic count divided by this."""


def theme_ladder(limit: float) -> list[int]:
    """The default theme counts up to ``limit``, increasing (see ``THEME_LADDER_BASE``)."""
    ladder, value = [], THEME_LADDER_BASE
    while value <= limit:
        ladder.append(value)
        value *= 2 if value < THEME_LADDER_SWITCH else 3
    return ladder


def default_coarse_sizes(n_topics: int, n_layers: int | None = None, n_topics_wanted: int | None = None) -> list[int]:
    """Theme counts of the coarse layers: every rung of ``theme_ladder`` below the fine topic count.

    Successive counts differ by a factor of 2 (up to 48) or 3 (above), and the first
    is at most ``n_topics / MIN_STEP``, so no two layers are more than 4× apart: 40
    topics give ``[24, 12, 6, 3]``, 900 give ``[432, 144, 48, 24, 12, 6, 3]``. With
    ``n_layers``, only the finest ``n_layers - 1`` of them. ``n_topics_wanted`` adds
    that count when it lies between 2 and ``n_topics - 1``.

    Args:
        n_topics: Fine topics in layer 0.
        n_layers: Total layers wanted, layer 0 included (None: all rungs).
        n_topics_wanted: A theme count to include (``TopicSettings.n_topics``).

    Returns:
        Decreasing theme counts, one per coarse layer.
    """
    sizes = sorted(theme_ladder(n_topics / MIN_STEP), reverse=True)
    if n_layers is not None:
        sizes = sizes[: max(0, n_layers - 1)]
    if n_topics_wanted is not None and 2 <= n_topics_wanted < n_topics:
        sizes = sorted(set(sizes) | {int(n_topics_wanted)}, reverse=True)
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
    n_topics: int | None = None,
    linkage: str = "ward",
) -> list[np.ndarray]:
    """Labels per layer: the fine topics, then coarser themes.

    Args:
        embeddings: ``(n, d)`` unit rows.
        labels: ``(n,)`` fine topic labels (layer 0), -1 for noise.
        coarse_sizes: Theme counts of the coarse layers, decreasing; each is
            capped at the number of fine topics. ``default_coarse_sizes`` if None.
        n_layers: Layers wanted (layer 0 included) when ``coarse_sizes`` is None.
        n_topics: A theme count to include when ``coarse_sizes`` is None.
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
        coarse_sizes = default_coarse_sizes(t, n_layers, n_topics)
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
    child, parent = child[inside], parent[inside]
    if not child.size:
        pairs = np.zeros((0, 2), dtype=np.int64)
    else:  # (child, parent) as one int64 key: a 1-D unique, about 4x faster than np.unique(axis=0) at 1M
        low, width = int(parent.min()), int(parent.max() - parent.min()) + 1
        keys = np.unique(child * width + (parent - low))
        pairs = np.stack([keys // width, keys % width + low], axis=1)
    if pairs.size and (np.any(pairs[:, 1] < 0) or np.unique(pairs[:, 0]).size != pairs.shape[0]):
        bad = pairs[pairs[:, 1] < 0, 0] if np.any(pairs[:, 1] < 0) else pairs[:-1, 0][np.diff(pairs[:, 0]) == 0]
        raise PaperatlasError(f"topic {int(bad[0])} is not nested in one coarser theme")
    return {int(c): int(p) for c, p in pairs}


PIECE_SHARE = 0.25
"""When a coarser theme cuts a topic or a finer theme, a part of it with at least this share of
its papers (and ``min_piece`` papers) becomes a topic or theme of its own; a smaller part joins
the nearest group (topics: the topic's own region)."""


def nest_in_regions(
    fine: np.ndarray, regions: np.ndarray, min_piece: int, embeddings: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Make fine topics nest in regions that cover every paper.

    Each fine topic belongs to the region holding most of its papers. A part
    of it lying in another region becomes a new topic if it has at least
    ``min_piece`` papers and ``PIECE_SHARE`` of the topic's. With ``embeddings``,
    so that the regions stay as they are: a part of ``min_piece`` papers in a
    region that no topic lives in becomes a topic too, and a smaller part joins
    the nearest (centroid) topic of its region. Otherwise (or when its region has
    no topic) it stays in its topic and moves to the topic's region. Noise papers
    keep the region they lie in.

    Args:
        fine: ``(n,)`` fine topic labels, -1 for noise.
        regions: ``(n,)`` region of every paper (no -1).
        min_piece: Papers a part needs to become a topic.
        embeddings: ``(n, d)`` unit rows, to place small parts.

    Returns:
        ``(fine, themes)``: new fine labels (new topics numbered after the
        old ones) and the theme of every paper, both ``(n,)`` int64.
    """
    fine = np.asarray(fine, dtype=np.int64).copy()
    themes = np.asarray(regions, dtype=np.int64).copy()
    if fine.shape != themes.shape or np.any(themes < 0):
        raise PaperatlasError("regions must give every paper a region (no -1), one per fine label")
    next_id = int(fine.max(initial=-1)) + 1
    small: list[np.ndarray] = []
    home_of: dict[int, int] = {}
    for topic in np.unique(fine[fine >= 0]):
        rows = np.flatnonzero(fine == topic)
        ids, counts = np.unique(themes[rows], return_counts=True)
        home = ids[np.argmax(counts)]  # first maximum: the smallest region id
        home_of[int(topic)] = int(home)
        for region, count in zip(ids, counts):
            if region == home:
                continue
            part = rows[themes[rows] == region]
            if count >= min_piece and count >= PIECE_SHARE * rows.size:
                fine[part] = next_id
                home_of[next_id] = int(region)
                next_id += 1
            else:
                small.append(part)
    if embeddings is None or not small:
        for part in small:
            themes[part] = home_of[int(fine[part[0]])]
        return fine, themes
    housed = set(home_of.values())
    for part in sorted(small, key=len, reverse=True):  # a region no topic lives in gets its larger parts
        region = int(themes[part[0]])
        if region not in housed and part.size >= min_piece:
            fine[part] = next_id
            home_of[next_id] = region
            next_id += 1
    topics = np.array(sorted(home_of), dtype=np.int64)
    homes = np.array([home_of[int(t)] for t in topics])
    centroids = unit_rows(topic_sums(embeddings, fine, topics) / np.bincount(fine[fine >= 0])[topics][:, None])
    for part in small:
        if home_of.get(int(fine[part[0]])) == int(themes[part[0]]):
            continue  # became a topic of its own above
        candidates = np.flatnonzero(homes == int(themes[part[0]]))
        if candidates.size == 0:
            themes[part] = home_of[int(fine[part[0]])]
            continue
        centre = unit_rows(np.asarray(embeddings[part], dtype=np.float64).mean(axis=0, keepdims=True))[0]
        fine[part] = topics[candidates[int(np.argmax(centroids[candidates] @ centre))]]
    return fine, themes


BROAD_THEMES = 5
"""Region layers of at most this many themes are cut in ``region_space`` with ``BROAD_SHARE``."""

REDUCED_SHARE, BROAD_SHARE = 0.5, 0.05
"""The UMAP coordinates' share of the embeddings' variance in ``region_space``: for finer
themes, and for the broadest (at most ``BROAD_THEMES``). UMAP keeps neighbourhoods, not
the global layout, so the broadest themes are cut mostly in the original space; on the
public labelled sets these mixes beat k-means of the embeddings alone at every theme count
measured (V-measure +0.01 to +0.08, benchmarks/bench_topics.py), and UMAP coordinates
alone lost to it at 3-5 themes on two sets."""


def region_space(embeddings: np.ndarray, reduced: np.ndarray, share: float = REDUCED_SHARE) -> np.ndarray:
    """The embeddings (centred) joined with the UMAP coordinates, centred and scaled so that
    their total variance is ``share`` times the embeddings'."""
    x = np.asarray(embeddings, dtype=np.float32)
    x = x - x.mean(axis=0)
    r = np.asarray(reduced, dtype=np.float32)
    r = r - r.mean(axis=0)
    spread_x = float(np.sqrt(np.mean(np.sum(x**2, axis=1))))
    spread_r = float(np.sqrt(np.mean(np.sum(r**2, axis=1)))) or 1.0
    return np.hstack([x, r * (spread_x * np.sqrt(share) / spread_r)]).astype(np.float32)

KMEANS_SAMPLE = 20_000
"""k-means of more papers than this runs on a seeded sample of this many, then every paper
joins its nearest centre."""


def kmeans_regions(data: np.ndarray, k: int, random_state: int | None = 42, n_init: int = 4) -> np.ndarray:
    """k-means labels of every row (fitted on ``KMEANS_SAMPLE`` rows at most)."""
    from sklearn.cluster import KMeans

    data = np.ascontiguousarray(data, dtype=np.float32)
    rows = np.arange(data.shape[0])
    if data.shape[0] > KMEANS_SAMPLE:
        rows = np.sort(np.random.default_rng(random_state).choice(data.shape[0], KMEANS_SAMPLE, replace=False))
    model = KMeans(n_clusters=min(k, rows.size), n_init=n_init, random_state=random_state).fit(data[rows])
    if rows.size == data.shape[0]:
        return model.labels_.astype(np.int64)
    return model.predict(data).astype(np.int64)


def nest_top_down(raw: Sequence[np.ndarray], embeddings: np.ndarray, min_piece: int) -> list[np.ndarray]:
    """Make region partitions nest, each in the next, keeping the coarsest as it is.

    Args:
        raw: ``(n,)`` region labels (no -1) per layer, finest first.
        embeddings: ``(n, d)`` rows (to place small parts).
        min_piece: Papers a part needs to stay a group.

    Returns:
        Nested labels, finest first. A region of a finer layer that spans several regions
        of the coarser one is cut along them; a part with less than ``PIECE_SHARE`` of its
        papers or fewer than ``min_piece`` joins the nearest (centroid) big part inside
        the same coarser region.
    """
    nested = [np.asarray(raw[-1], dtype=np.int64)]
    for finer in reversed(raw[:-1]):
        coarse = nested[0]
        finer = np.asarray(finer, dtype=np.int64)
        pairs, pieces = np.unique(np.stack([coarse, finer], 1), axis=0, return_inverse=True)
        pieces = pieces.ravel()
        sizes = np.bincount(pieces, minlength=len(pairs))
        whole = np.bincount(finer)[pairs[:, 1]]
        big = (sizes >= min_piece) & (sizes >= PIECE_SHARE * whole)
        sums = topic_sums(embeddings, pieces, np.arange(len(pairs)))
        centroids = unit_rows(sums / np.maximum(sizes, 1)[:, None])
        target = np.arange(len(pairs))
        for group in np.unique(pairs[:, 0]):
            inside = np.flatnonzero(pairs[:, 0] == group)
            keep = inside[big[inside]]
            if keep.size == 0:
                keep = inside[[int(np.argmax(sizes[inside]))]]
            for small in np.setdiff1d(inside, keep):
                target[small] = keep[int(np.argmax(centroids[keep] @ centroids[small]))]
        nested.insert(0, renumber_by_size(target[pieces]))
    return nested


def region_layers(
    reduced: np.ndarray,
    embeddings: np.ndarray,
    labels: np.ndarray,
    coarse_sizes: Sequence[int] | None = None,
    *,
    n_layers: int | None = None,
    n_topics: int | None = None,
    min_piece: int = 5,
    random_state: int | None = 42,
) -> list[np.ndarray]:
    """Labels per layer, themes being regions that cover every paper (see the module).

    Each coarse layer starts as k-means regions of ``region_space`` (the embeddings
    with a share of the UMAP coordinates, see ``REDUCED_SHARE``); then, from the
    coarsest down, every layer is cut to nest in the next (``nest_top_down``), and
    the fine topics in the finest theme layer (``nest_in_regions``). Nesting can
    add a few themes to a layer: its count is what the cuts leave.

    Args:
        reduced: ``(n, c)`` clustering coordinates the fine topics were found in.
        embeddings: ``(n, d)`` unit rows.
        labels: ``(n,)`` fine topic labels, -1 for noise.
        coarse_sizes: Theme counts, decreasing (``default_coarse_sizes`` if None).
        n_layers: Layers wanted (layer 0 included) when ``coarse_sizes`` is None.
        n_topics: A theme count to include when ``coarse_sizes`` is None.
        min_piece: Papers a cut part of a topic or theme needs to stay one (use the
            minimum cluster size).
        random_state: Seed of k-means.

    Returns:
        ``[fine labels, theme labels, ...]``, each ``(n,)`` int64 renumbered
        by size; noise is -1 in layer 0 only. With fewer than two fine
        topics, or no sizes, only layer 0 is returned (unchanged).
    """
    fine = renumber_by_size(labels)
    data = np.asarray(reduced, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] != fine.shape[0]:
        raise PaperatlasError(f"reduced {data.shape} does not match labels {fine.shape}: one row per paper")
    t = int(np.unique(fine[fine >= 0]).size)
    if coarse_sizes is None:
        sizes = default_coarse_sizes(t, n_layers, n_topics)
    else:
        sizes = sorted({int(s) for s in coarse_sizes}, reverse=True)
    if any(size < 1 for size in sizes):
        raise PaperatlasError(f"coarse layer sizes must be at least 1, got {sizes}")
    sizes = [size for size in sizes if size < t] if t >= 2 else []
    if not sizes:
        return [fine]
    spaces: dict[float, np.ndarray] = {}

    def space(k: int) -> np.ndarray:
        share = BROAD_SHARE if k <= BROAD_THEMES else REDUCED_SHARE
        if share not in spaces:
            spaces[share] = region_space(embeddings, data, share)
        return spaces[share]

    raw = [kmeans_regions(space(k), k, random_state, n_init=10 if k <= BROAD_THEMES else 4) for k in sizes]
    themes = nest_top_down(raw, embeddings, min_piece)
    fine, first = nest_in_regions(fine, themes[0], min_piece, embeddings)
    layers = [renumber_by_size(fine), first]
    for finer, coarser in zip(themes, themes[1:]):
        parent = np.zeros(int(finer.max()) + 1, dtype=np.int64)
        parent[finer] = coarser  # nested: every region of ``finer`` lies in one of ``coarser``
        layers.append(parent[layers[-1]])
    return _distinct([layers[0]] + [renumber_by_size(layer) for layer in layers[1:]])


def _distinct(layers: list[np.ndarray]) -> list[np.ndarray]:
    """Drop a coarse layer with as many groups as the layer beneath (nested: the same grouping)."""
    kept = [layers[0]]
    for layer in layers[1:]:
        below = kept[-1]
        if np.unique(layer[layer >= 0]).size < np.unique(below[below >= 0]).size:
            kept.append(layer)
    return kept
