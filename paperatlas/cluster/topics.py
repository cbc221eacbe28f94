"""The topic stage: embeddings and texts in, layered topics and a 2-D map out.

``fit_topics`` runs, in order: one shared kNN graph; UMAP to
``n_components`` for clustering; HDBSCAN; optional noise reassignment;
coarse layers; UMAP to 2-D for the map (same graph, warm-started from the
clustering space); key terms, exemplars and centroids per layer. Naming with
the user's named topics is a separate step, ``apply_names``, because it
needs an embedder.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from paperatlas.cluster.assign import vote_rest
from paperatlas.cluster.centroids import topic_centroids
from paperatlas.cluster.density import (
    NOISE,
    cluster,
    default_min_cluster_size,
    reassign_noise,
    renumber_by_size,
)
from paperatlas.cluster.hierarchy import build_layers, parents, region_layers
from paperatlas.cluster.keyterms import (
    exemplars,
    keyterm_label,
    keyterms_from_counts,
    stratified_rows,
    term_counts,
)
from paperatlas.cluster.naming import (
    DEFAULT_COVERAGE_THRESHOLD,
    DEFAULT_THRESHOLD,
    NamedTopic,
    name_topics,
)
from paperatlas.cluster.reduce import (
    KnnGraph,
    MIN_UMAP_ROWS,
    approximate_knn,
    default_n_neighbors,
    exact_knn,
    map_layout,
    reduce,
)
from paperatlas.cluster.settings import TopicSettings
from paperatlas.cluster.topic_model import TOPIC_COLUMNS, TopicModel
from paperatlas.embed.base import unit_rows
from paperatlas.errors import PaperatlasError
from paperatlas.index import EXACT_MAX_ROWS

if TYPE_CHECKING:

    from paperatlas.embed.base import Embedder

FIT_STEPS = ("knn", "reduce", "cluster", "hierarchy", "map", "vectorize", "represent")
"""The steps of ``fit_topics``, in order (keys of ``TopicModel.timings``)."""
AssignRest = Callable[..., "tuple[np.ndarray, np.ndarray | None]"]
"""``(model, sample index, all vectors, rows outside the sample) -> (labels, coords)``: see ``assign.vote_rest``."""


def shared_knn(embeddings: np.ndarray, k: int, random_state: int | None = 42) -> KnnGraph:
    """The kNN graph both UMAP runs use: exact up to ``index.EXACT_MAX_ROWS`` rows.

    Args:
        embeddings: ``(n, d)`` unit rows.
        k: Neighbours, self included.
        random_state: Seed of the approximate search.

    Returns:
        ``(indices, distances)``, self in column 0.
    """
    if np.asarray(embeddings).shape[0] <= EXACT_MAX_ROWS:
        return exact_knn(embeddings, k)
    return approximate_knn(embeddings, k, random_state=random_state)


def _layer_table(
    layer: int,
    labels: np.ndarray,
    parent_labels: np.ndarray | None,
    terms: dict[int, list[tuple[str, float]]],
    examples: dict[int, list[int]],
) -> list[dict]:
    ids, sizes = np.unique(labels[labels >= 0], return_counts=True)
    mapping = parents(labels, parent_labels) if parent_labels is not None else {}
    rows = []
    for topic, size in zip(ids, sizes):
        topic = int(topic)
        words = terms.get(topic, [])
        rows.append(
            {
                "layer": layer,
                "topic_id": topic,
                "size": int(size),
                "parent": mapping.get(topic, NOISE),
                "name": keyterm_label([w for w, _ in words]),
                "keyterms": [w for w, _ in words],
                "keyterm_scores": [float(s) for _, s in words],
                "exemplars": examples.get(topic, []),
            }
        )
    return rows


def fit_topics(
    embeddings: np.ndarray,
    texts: Sequence[str],
    *,
    settings: TopicSettings | None = None,
    knn: KnnGraph | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> TopicModel:
    """Find layered topics, their key terms and a 2-D map.

    Same inputs and settings (with an integer ``random_state``) give the
    same result. Topics are named by their key terms; see ``apply_names``.

    Args:
        embeddings: ``(n, d)`` float32 unit rows (rows of other lengths are
            normalised first).
        texts: One text per paper (title and abstract) for the key terms.
        settings: ``TopicSettings()`` if None.
        knn: Optional precomputed ``(indices, distances)`` graph (self first,
            cosine distance) with at least ``n_neighbors`` columns, e.g. from
            the search index; otherwise ``shared_knn`` computes it.
        progress: Called with ``(step, seconds)`` as each of the ``FIT_STEPS`` ends.

    Returns:
        The ``TopicModel``.
    """
    import pandas as pd

    settings = TopicSettings() if settings is None else settings
    settings.check()
    data = np.asarray(embeddings)
    if data.ndim != 2 or data.shape[0] == 0:
        raise PaperatlasError(f"embeddings must be a non-empty 2-D array (n, d), got shape {data.shape}")
    data = np.ascontiguousarray(data, dtype=np.float32)
    norms = np.linalg.norm(data, axis=1)
    if np.any(np.abs(norms - 1.0) > 1e-3):
        data = unit_rows(data)  # rows already of unit length are kept bit for bit
    n = data.shape[0]
    if len(texts) != n:
        raise PaperatlasError(f"got {n} embeddings but {len(texts)} texts: one text per paper")
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] = round(now - clock, 3)
        clock = now
        if progress is not None:
            progress(step, timings[step])

    k = min(default_n_neighbors(n) if settings.n_neighbors is None else settings.n_neighbors, max(n - 1, 1))
    if knn is None and n >= MIN_UMAP_ROWS:
        knn = shared_knn(data, k, settings.random_state)
    lap("knn")
    reduced = reduce(
        data,
        settings.n_components,
        n_neighbors=k,
        min_dist=settings.min_dist,
        random_state=settings.random_state,
        knn=knn,
        n_epochs=settings.n_epochs,
        repulsion_strength=settings.repulsion_strength,
    )
    lap("reduce")
    labels, probabilities = cluster(
        reduced,
        min_cluster_size=settings.min_cluster_size,
        min_samples=settings.min_samples,
        cluster_selection_method=settings.cluster_selection_method,
        epsilon_scale=settings.epsilon_scale,
    )
    if settings.reassign_threshold is not None:
        labels = renumber_by_size(reassign_noise(data, labels, settings.reassign_threshold))
    lap("cluster")
    if settings.themes == "regions":
        layers = region_layers(
            reduced,
            data,
            labels,
            settings.coarse_sizes,
            n_layers=settings.n_layers,
            n_topics=settings.n_topics,
            min_piece=settings.min_cluster_size or default_min_cluster_size(n),
            random_state=settings.random_state,
        )
    else:
        layers = build_layers(data, labels, settings.coarse_sizes, n_layers=settings.n_layers,
                              n_topics=settings.n_topics, linkage=settings.themes)
    lap("hierarchy")
    coords = None
    if settings.make_map:
        coords = map_layout(
            data,
            reduced,
            n_neighbors=k,
            min_dist=settings.map_min_dist,
            random_state=settings.random_state,
            knn=knn,
            n_epochs=None if settings.n_epochs is None else max(1, settings.n_epochs // 3),
        )
    lap("map")
    sample = stratified_rows(layers[0], settings.max_keyterm_papers)
    counts, vocabulary = term_counts([texts[int(i)] for i in sample])
    lap("vectorize")
    rows: list[dict] = []
    centroids: list[np.ndarray] = []
    for layer, layer_labels in enumerate(layers):
        parent_labels = layers[layer + 1] if layer + 1 < len(layers) else None
        terms = keyterms_from_counts(counts, vocabulary, layer_labels[sample], settings.n_keyterms)
        ids, layer_centroids = topic_centroids(data, layer_labels)
        examples = exemplars(data, layer_labels, settings.n_exemplars, centroids=(ids, layer_centroids))
        rows.extend(_layer_table(layer, layer_labels, parent_labels, terms, examples))
        centroids.append(layer_centroids)
    topics = pd.DataFrame(rows, columns=list(TOPIC_COLUMNS))
    topics = topics.astype({"layer": "int64", "topic_id": "int64", "size": "int64", "parent": "int64"})
    lap("represent")
    return TopicModel(
        labels=np.stack(layers, axis=1).astype(np.int64),
        probabilities=np.asarray(probabilities, dtype=np.float32),
        coords=None if coords is None else np.asarray(coords, dtype=np.float32),
        table=topics,
        settings=settings,
        centroids=centroids,
        reduced=reduced,
        timings=timings,
    )


def apply_names(
    model: TopicModel,
    named: Sequence[NamedTopic] = (),
    embedder: "Embedder | None" = None,
    *,
    named_vectors: np.ndarray | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    coverage_threshold: float = DEFAULT_COVERAGE_THRESHOLD,
) -> TopicModel:
    """Name every layer's topics with ``name_topics``.

    The named topics are embedded as ``"name: description"`` with
    ``embedder`` unless their unit ``named_vectors`` are given.

    Args:
        model: A fitted model (left unchanged).
        named: The user's named topics (may be empty: key-term names).
        embedder: Anything with ``encode(texts) -> (m, d)`` unit rows.
        named_vectors: Precomputed ``(m, d)`` vectors of ``named``.
        threshold: See ``name_topics``.
        coverage_threshold: See ``name_topics``.

    Returns:
        A copy of ``model`` whose ``table["name"]`` holds the names and
        ``named`` the named topics.
    """
    if named and named_vectors is None:
        if embedder is None:
            raise PaperatlasError("naming with named topics needs an embedder or their vectors")
        named_vectors = unit_rows(embedder.encode([topic.text() for topic in named]))
    if model.centroids is None:
        raise PaperatlasError("naming needs the topic centroids of a fit (they are not saved)")
    topics = model.table.copy()
    names_column = list(topics["name"])
    for layer, centroids in enumerate(model.centroids):
        mask = (topics["layer"] == layer).to_numpy()
        layer_rows = topics[mask]
        ids = [int(i) for i in layer_rows["topic_id"]]
        terms = {
            int(i): [(w, float(s)) for w, s in zip(words, scores)]
            for i, words, scores in zip(layer_rows["topic_id"], layer_rows["keyterms"], layer_rows["keyterm_scores"])
        }
        names = name_topics(
            centroids[ids] if ids else centroids[:0],
            terms,
            named,
            named_vectors,
            topic_ids=ids,
            threshold=threshold,
            coverage_threshold=coverage_threshold,
        )
        for position, topic in zip(np.flatnonzero(mask), ids):
            names_column[position] = names[topic]
    topics["name"] = names_column
    return dataclasses.replace(model, table=topics, named=tuple(named))


def fit_atlas_topics(
    embeddings: np.ndarray,
    texts: Sequence[str],
    index,
    settings: TopicSettings | None = None,
    named: Sequence[NamedTopic] = (),
    embedder: "Embedder | None" = None,
    *,
    show_progress: bool = False,
    assign_rest: "AssignRest | None" = None,
) -> TopicModel:
    """``fit_topics`` then ``apply_names`` for an atlas: the kNN graph comes from its search index.

    Args:
        embeddings: ``(n, d)`` unit rows.
        texts: One text per paper.
        index: The atlas's :class:`paperatlas.index.PaperIndex` over ``embeddings`` (used for the
            kNN graph when exact or HNSW; otherwise ``index.bulk_index`` builds a transient one).
        settings: ``TopicSettings()`` if None.
        named: Named topics that guide the names (need ``embedder``).
        embedder: Embeds the named topics.
        show_progress: A progress bar over the ``FIT_STEPS`` (and the assignment).
        assign_rest: How the papers outside a fitting sample are voted on (default
            ``vote_rest``, here; :mod:`paperatlas.distributed.votes` spreads it over Ray tasks).

    Above ``settings.fit_sample`` papers (default ``DEFAULT_FIT_SAMPLE``) the topics
    are fitted on a seeded random sample of that size, with its own transient index, and
    every other paper takes the topics and map position its nearest sampled
    papers vote for (``assign.vote_topics``), in batches.
    """
    from paperatlas.cluster.settings import DEFAULT_FIT_SAMPLE
    from paperatlas.index import bulk_index, knn_graph

    settings = settings or TopicSettings()
    n = len(index)
    graph_start = time.perf_counter()
    limit = settings.fit_sample or DEFAULT_FIT_SAMPLE
    rows, all_vectors = None, embeddings
    if n > limit:  # fit on a sample, then assign the rest by a vote of their nearest sampled papers
        rows = np.sort(np.random.default_rng(settings.random_state).choice(n, limit, replace=False))
        embeddings = np.ascontiguousarray(np.asarray(all_vectors)[rows], dtype=np.float32)
        texts = [texts[int(r)] for r in rows]
    elif embeddings.dtype != np.float32:  # the float16 rows beside an ivf index
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
    if n > limit or index.kind not in ("exact", "hnsw"):
        index = bulk_index(embeddings)  # many queries: a transient graph beats compact codes
    k = settings.n_neighbors or default_n_neighbors(len(index))
    knn = knn_graph(index, embeddings, k) if len(index) > k else None
    graph_seconds = round(time.perf_counter() - graph_start, 3)
    bar = None
    if show_progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(FIT_STEPS) + (rows is not None), desc="Topics", unit="step")

    def step_done(step: str, seconds: float) -> None:
        if bar is not None:
            bar.set_postfix_str(f"{step} {seconds:.1f}s")
            bar.update(1)

    try:
        model = apply_names(fit_topics(embeddings, texts, settings=settings, knn=knn, progress=step_done),
                            named, embedder)
        model.timings["knn"] = graph_seconds  # the graph came from outside fit_topics
        if rows is not None:
            from paperatlas.index import VOTE_SEARCH_DEPTH

            start = time.perf_counter()
            index.search_depth(VOTE_SEARCH_DEPTH)
            rest = np.setdiff1d(np.arange(n), rows)
            labels, coords = (assign_rest or vote_rest)(model, index, all_vectors, rest)
            timings = model.timings
            model = model.spread(rows, n, labels, coords)
            model.timings = dict(timings, assign=round(time.perf_counter() - start, 3))
            step_done("assign", time.perf_counter() - start)
    finally:
        if bar is not None:
            bar.close()
    return model
