"""The settings of the topic stage (every parameter; None scales with the corpus)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from paperatlas.cluster.density import DEFAULT_EPSILON_SCALE
from paperatlas.cluster.hierarchy import THEME_METHODS
from paperatlas.errors import PaperatlasError

DEFAULT_FIT_SAMPLE = 200_000
"""Above this many papers an atlas fits topics on a sample of this size and assigns the rest."""


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
        coarse_sizes: Theme counts of the coarse layers (``default_coarse_sizes``: 3, 6,
            12, 24, 48, 144, 432, ... below the fine topic count; no two layers more than
            4× apart).
        n_layers: Layers, fine included, when ``coarse_sizes`` is None (None: every rung).
        n_topics: A layer with this many topics (or the nearest count nesting allows) is
            added when ``coarse_sizes`` is None; see ``TopicModel.layer_nearest``.
        themes: How the coarse layers are built (``hierarchy``): "regions"
            (k-means regions of the clustering space; themes cover every
            paper, noise included), or "ward" / "average" (merges of whole
            fine topics; noise stays noise in every layer).
        reassign_threshold: If set, noise papers join the topic whose centroid
            has at least this cosine similarity (off by default).
        make_map: Compute the 2-D map coordinates.
        fit_sample: In an atlas of more papers than this, topics are fitted on a
            random sample of this many and every other paper is assigned by a
            vote of its nearest sampled papers (default ``DEFAULT_FIT_SAMPLE``).
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
    n_layers: int | None = None
    n_topics: int | None = None
    themes: str = "regions"
    reassign_threshold: float | None = None
    make_map: bool = True
    max_keyterm_papers: int = 20_000
    fit_sample: int | None = None

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
        if self.n_layers is not None and self.n_layers < 1:
            raise PaperatlasError(f"n_layers must be at least 1, got {self.n_layers}")
        if self.n_topics is not None and self.n_topics < 1:
            raise PaperatlasError(f"n_topics must be at least 1, got {self.n_topics}")
        if self.themes not in THEME_METHODS:
            raise PaperatlasError(f"themes must be one of {THEME_METHODS}, got {self.themes!r}")
        if self.cluster_selection_method not in ("eom", "leaf"):
            raise PaperatlasError("cluster_selection_method must be 'eom' or 'leaf'")
        if self.epsilon_scale < 0 or self.repulsion_strength <= 0:
            raise PaperatlasError("epsilon_scale must be >= 0 and repulsion_strength > 0")
        if self.fit_sample is not None and self.fit_sample < 2:
            raise PaperatlasError(f"fit_sample must be at least 2, got {self.fit_sample}")
        if self.max_keyterm_papers < 1:
            raise PaperatlasError("max_keyterm_papers must be at least 1")

    @classmethod
    def from_plain(cls, values: Mapping[str, Any]) -> TopicSettings:
        """Settings from their saved JSON form (unknown keys are an error)."""
        values = dict(values)
        if values.get("coarse_sizes") is not None:
            values["coarse_sizes"] = tuple(int(v) for v in values["coarse_sizes"])
        try:
            return cls(**values)
        except TypeError as exc:
            raise PaperatlasError(f"unreadable topic settings ({exc})") from None
