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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from paperatlas.cluster.centroids import topic_centroids, unit
from paperatlas.cluster.density import (
    DEFAULT_EPSILON_SCALE,
    NOISE,
    cluster,
    default_min_cluster_size,
    noise_share,
    reassign_noise,
    renumber_by_size,
)
from paperatlas.cluster.hierarchy import THEME_METHODS, build_layers, parents, region_layers
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
from paperatlas.errors import PaperatlasError

if TYPE_CHECKING:
    import pandas as pd

    from paperatlas.embed.base import Embedder

EXACT_KNN_MAX_ROWS = 30_000
"""Up to this many papers the shared kNN graph is exact (FAISS flat index); above, approximate (FAISS IVF)."""

FIT_STEPS = ("knn", "reduce", "cluster", "hierarchy", "map", "vectorize", "represent")
"""The steps of ``fit_topics``, in order (keys of ``TopicModel.timings``)."""

TOPIC_COLUMNS = ("layer", "topic_id", "size", "parent", "name", "keyterms", "keyterm_scores", "exemplars")


@dataclass(frozen=True)
class TopicSettings:
    """Every parameter of the topic stage; None means "scale with the corpus".

    Attributes:
        n_neighbors: UMAP neighbourhood (``default_n_neighbors``).
        n_components: Dimensions HDBSCAN clusters in.
        min_dist: UMAP ``min_dist`` of the clustering space.
        map_min_dist: UMAP ``min_dist`` of the 2-D map.
        n_epochs: UMAP epochs of the clustering space (``default_n_epochs``);
            the map gets a third of them.
        repulsion_strength: UMAP repulsion of the clustering space; 2 keeps
            topics apart so that no giant topic forms on continuous corpora.
        min_cluster_size: Smallest topic (``default_min_cluster_size``).
        min_samples: HDBSCAN ``min_samples`` (``default_min_samples``).
        epsilon_scale: HDBSCAN selection epsilon in units of the median
            distance to the 10th neighbour (more above 10,000 papers:
            ``density.selection_epsilon``); 0 = off.
        cluster_selection_method: "eom" or "leaf".
        random_state: Seed of every randomised step.
        n_keyterms: Key terms kept per topic.
        n_exemplars: Exemplar papers per topic.
        coarse_sizes: Theme counts of the coarse layers (``default_coarse_sizes``).
        n_layers: Layers, fine included, when ``coarse_sizes`` is None.
        themes: How the coarse layers are built (``hierarchy``): "regions"
            (k-means regions of the clustering space; themes cover every
            paper, noise included), or "ward" / "average" (merges of whole
            fine topics; noise stays noise in every layer).
        reassign_threshold: If set, noise papers join the topic whose centroid
            has at least this cosine similarity (off by default).
        make_map: Compute the 2-D map coordinates.
        max_keyterm_papers: Key terms are counted on at most about this many
            papers, sampled evenly from every topic (bounds the cost at scale).
    """

    n_neighbors: int | None = None
    n_components: int = 5
    min_dist: float = 0.0
    map_min_dist: float = 0.1
    n_epochs: int | None = None
    repulsion_strength: float = 2.0
    min_cluster_size: int | None = None
    min_samples: int | None = None
    cluster_selection_method: str = "eom"
    epsilon_scale: float = DEFAULT_EPSILON_SCALE
    random_state: int | None = 42
    n_keyterms: int = 10
    n_exemplars: int = 5
    coarse_sizes: tuple[int, ...] | None = None
    n_layers: int = 2
    themes: str = "regions"
    reassign_threshold: float | None = None
    make_map: bool = True
    max_keyterm_papers: int = 20_000

    def check(self) -> None:
        """Raise PaperatlasError on an impossible value."""
        if self.n_components < 1:
            raise PaperatlasError(f"n_components must be at least 1, got {self.n_components}")
        if self.n_neighbors is not None and self.n_neighbors < 2:
            raise PaperatlasError(f"n_neighbors must be at least 2, got {self.n_neighbors}")
        if self.min_cluster_size is not None and self.min_cluster_size < 2:
            raise PaperatlasError(f"min_cluster_size must be at least 2, got {self.min_cluster_size}")
        if self.min_samples is not None and self.min_samples < 1:
            raise PaperatlasError(f"min_samples must be at least 1, got {self.min_samples}")
        if self.n_keyterms < 1 or self.n_exemplars < 1:
            raise PaperatlasError("n_keyterms and n_exemplars must be at least 1")
        if self.n_layers < 1:
            raise PaperatlasError(f"n_layers must be at least 1, got {self.n_layers}")
        if self.themes not in THEME_METHODS:
            raise PaperatlasError(f"themes must be one of {THEME_METHODS}, got {self.themes!r}")
        if self.cluster_selection_method not in ("eom", "leaf"):
            raise PaperatlasError("cluster_selection_method must be 'eom' or 'leaf'")
        if self.epsilon_scale < 0 or self.repulsion_strength <= 0:
            raise PaperatlasError("epsilon_scale must be >= 0 and repulsion_strength > 0")
        if self.max_keyterm_papers < 1:
            raise PaperatlasError("max_keyterm_papers must be at least 1")


@dataclass
class TopicModel:
    """What ``fit_topics`` found.

    Attributes:
        labels: Topic of each paper per layer, ``labels[0]`` the fine topics;
            -1 is noise (in layer 0; in every layer with ``themes="ward"``
            or ``"average"``); ids are 0..t-1 by size.
        probabilities: HDBSCAN membership strength of each paper (layer 0).
        reduced: ``(n, n_components)`` clustering coordinates.
        coords_2d: ``(n, 2)`` map coordinates (None if ``make_map`` is off).
        centroids: Per layer, ``(t, d)`` unit centroids, row = topic id.
        topics: One row per (layer, topic): layer, topic_id, size, parent
            (topic id in the next coarser layer, -1 in the top layer), name,
            keyterms (list[str]), keyterm_scores (list[float]), exemplars
            (list of row indices).
        noise_share: Share of papers labelled noise.
        settings: The settings used.
        timings: Seconds spent per step.
    """

    labels: list[np.ndarray]
    probabilities: np.ndarray
    reduced: np.ndarray
    coords_2d: np.ndarray | None
    centroids: list[np.ndarray]
    topics: "pd.DataFrame"
    noise_share: float
    settings: TopicSettings
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def n_layers(self) -> int:
        """Number of layers."""
        return len(self.labels)

    def n_topics(self, layer: int = 0) -> int:
        """Number of topics in a layer (noise excluded)."""
        return int(self.centroids[layer].shape[0])


def shared_knn(embeddings: np.ndarray, k: int, random_state: int | None = 42) -> KnnGraph:
    """The kNN graph both UMAP runs use: exact up to ``EXACT_KNN_MAX_ROWS`` rows.

    Args:
        embeddings: ``(n, d)`` unit rows.
        k: Neighbours, self included.
        random_state: Seed of the approximate search.

    Returns:
        ``(indices, distances)``, self in column 0.
    """
    if np.asarray(embeddings).shape[0] <= EXACT_KNN_MAX_ROWS:
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
        data = unit(data)  # rows already of unit length are kept bit for bit
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
            min_piece=settings.min_cluster_size or default_min_cluster_size(n),
            random_state=settings.random_state,
        )
    else:
        layers = build_layers(data, labels, settings.coarse_sizes, n_layers=settings.n_layers, linkage=settings.themes)
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
        labels=layers,
        probabilities=probabilities,
        reduced=reduced,
        coords_2d=coords,
        centroids=centroids,
        topics=topics,
        noise_share=noise_share(layers[0]),
        settings=settings,
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
        A copy of ``model`` whose ``topics["name"]`` holds the names.
    """
    if named and named_vectors is None:
        if embedder is None:
            raise PaperatlasError("naming with named topics needs an embedder or their vectors")
        named_vectors = unit(embedder.encode([topic.text() for topic in named]))
    topics = model.topics.copy()
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
    return dataclasses.replace(model, topics=topics)
