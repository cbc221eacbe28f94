"""The Atlas: a corpus, its embeddings and index (and later topics), saved as one folder.

The Atlas ties the stages together and owns persistence; the stages themselves
live in :mod:`paperatlas.embed`, :mod:`paperatlas.index` and :mod:`paperatlas.cluster`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from paperatlas._version import __version__
from paperatlas.corpus.model import Corpus, Paper
from paperatlas.embed.base import Embedder, unit_rows
from paperatlas.embed.cache import EmbeddingCache, embed_with_cache
from paperatlas.errors import PaperatlasError
from paperatlas.index import PaperIndex
from paperatlas.paper_table import corpus_from_table, corpus_to_table
from paperatlas.store import AtlasFormatError, library_versions, read_manifest, write_atlas_folder
from paperatlas.topic_state import AtlasTopics

EXTERNAL_MODEL = "external"
VOTE_NEIGHBOURS = 15  # older papers that vote on a new paper's topic
MAP_NEIGHBOURS = 5  # older papers a new paper is placed among on the map
_PAPER_FIELDS_NOT_EXPORTED = ("abstract", "content_hash")
_DEFAULT_CACHE = object()


@dataclass(frozen=True)
class ModelInfo:
    """Which model made an atlas's vectors."""

    id: str
    dimension: int
    external: bool = False


def corpus_hash(corpus: Corpus) -> str:
    """A hash of the papers' ids and texts, in order."""
    digest = hashlib.sha256()
    for paper in corpus:
        digest.update(f"{paper.id}\t{paper.content_hash}\n".encode("utf-8"))
    return digest.hexdigest()


    return SentenceTransformerEmbedder(model_id)


def _open_cache(cache) -> EmbeddingCache | None:
    if cache is _DEFAULT_CACHE:
        return EmbeddingCache()
    if cache is None or isinstance(cache, EmbeddingCache):
        return cache
    return EmbeddingCache(cache)


def _check_external(embeddings: np.ndarray, n: int) -> np.ndarray:
    array = np.asarray(embeddings)
    if array.ndim != 2 or array.shape[0] != n:
        raise PaperatlasError(
            f"precomputed embeddings have shape {array.shape}; expected ({n}, dimension), one row a paper"
        )
    if not np.isfinite(array).all():
        raise PaperatlasError("precomputed embeddings contain NaN or infinite values")
    return unit_rows(array)


class Atlas:
    """Papers, their unit vectors and a FAISS index; row ``i`` of each is paper ``i``."""

    def __init__(self, corpus: Corpus, embeddings: np.ndarray, index: PaperIndex, model: ModelInfo) -> None:
        if len(corpus) != len(embeddings) or len(corpus) != len(index):
            raise PaperatlasError(
                f"atlas parts disagree: {len(corpus)} papers, {len(embeddings)} vectors, {len(index)} indexed"
            )
        self.corpus = corpus
        self.embeddings = embeddings
        self.index = index
        self.model = model
        self._embedder: Embedder | None = None
        self._explainer = None
        self._title_keys: dict[str, int] | None = None
        self.last_embedded = 0
        self.topics: AtlasTopics | None = None

    def __len__(self) -> int:
        return len(self.corpus)

    def __repr__(self) -> str:
        return f"Atlas({len(self)} papers, model={self.model.id!r}, index={self.index.kind!r})"

    # building -----------------------------------------------------------

    @classmethod
    def build(
        cls,
        corpus: Corpus | Iterable[Paper],
        embedder: Embedder | None = None,
        *,
        embeddings: np.ndarray | None = None,
        index: str = "auto",
        cache=_DEFAULT_CACHE,
        show_progress: bool = False,
        topics=None,
        named: Sequence = (),
    ) -> Atlas:
        """Embed a corpus (through the cache), index it, and optionally fit topics.

        Args:
            corpus: the papers.
            embedder: defaults to the bundled all-MiniLM-L6-v2.
            embeddings: precomputed vectors aligned with ``corpus`` instead of an
                embedder; the atlas then records its model as external.
            index: ``auto``, ``exact`` or ``hnsw``.
            cache: an :class:`EmbeddingCache`, a folder for one, or ``None`` for no
                cache (default: the user cache folder).
            show_progress: show a progress bar while embedding.
            topics: ``True`` or a :class:`paperatlas.cluster.TopicSettings` to fit topics too.
            named: named topics that guide the topic names.
        """
        corpus = corpus if isinstance(corpus, Corpus) else Corpus(corpus)
        if len(corpus) == 0:
            raise PaperatlasError("cannot build an atlas of no papers")
        embedded = 0
        if embeddings is not None:
            if embedder is not None:
                raise PaperatlasError("pass either an embedder or precomputed embeddings, not both")
            vectors = _check_external(embeddings, len(corpus))
            model = ModelInfo(EXTERNAL_MODEL, int(vectors.shape[1]), external=True)
        else:
            embedder = embedder or _default_embedder_from_name(None)
            vectors, embedded = embed_with_cache(
                embedder,
                corpus.texts(),
                [paper.content_hash for paper in corpus],
                _open_cache(cache),
                show_progress_bar=show_progress,
            )
            model = ModelInfo(embedder.model_id, int(vectors.shape[1]))
        atlas = cls(corpus, vectors, PaperIndex.build(vectors, index), model)
        atlas._embedder = embedder
        atlas.last_embedded = embedded
        if topics is not None and topics is not False:
            atlas.fit_topics(None if topics is True else topics, named)
        return atlas

    def embedder(self) -> Embedder:
        """The embedder that made this atlas's vectors (loaded on first use)."""
        if self._embedder is None:
            if self.model.external:
                raise PaperatlasError(
                    "this atlas was built from precomputed embeddings; pass an embedder of "
                    f"dimension {self.model.dimension} to embed new text"
                )
            self._embedder = _default_embedder_from_name(self.model.id)
        return self._embedder

    def use_embedder(self, embedder: Embedder) -> None:
        """Embed new text with ``embedder``; it must be the atlas's model (or match an external one's dimension)."""
        if embedder.dimension != self.model.dimension:
            raise PaperatlasError(
                f"embedder {embedder.model_id!r} makes {embedder.dimension}-d vectors; "
                f"this atlas holds {self.model.dimension}-d vectors of {self.model.id!r}"
            )
        if not self.model.external and embedder.model_id != self.model.id:
            raise PaperatlasError(
                f"embedder {embedder.model_id!r} is not the model this atlas was built with ({self.model.id!r})"
            )
        self._embedder = embedder

    def add(
        self,
        papers: Iterable[Paper],
        *,
        embeddings: np.ndarray | None = None,
        cache=_DEFAULT_CACHE,
        show_progress: bool = False,
    ) -> list[str]:
        """Embed and index new papers without rebuilding; returns the ids added.

        Papers whose id is already in the atlas are skipped. With topics, each new
        paper joins the topic its nearest existing papers vote for (and that topic's themes)
        and is placed on the map among them; existing papers keep their topics.
        """
        papers = list(papers)
        fresh = [paper for paper in papers if paper.id not in self.corpus]
        self.last_embedded = 0
        if not fresh:
            return []
        if embeddings is not None:
            vectors_all = _check_external(embeddings, len(papers))
            keep = [i for i, paper in enumerate(papers) if paper.id not in self.corpus]
            vectors = vectors_all[keep]
            if vectors.shape[1] != self.model.dimension:
                raise PaperatlasError(
                    f"new embeddings have dimension {vectors.shape[1]}, the atlas {self.model.dimension}"
                )
        else:
            vectors, self.last_embedded = embed_with_cache(
                self.embedder(),
                [paper.text for paper in fresh],
                [paper.content_hash for paper in fresh],
                _open_cache(cache),
                show_progress_bar=show_progress,
            )
        self._forget_derived()
        start = len(self.corpus)
        self.corpus = Corpus(list(self.corpus) + fresh)
        self.embeddings = np.concatenate([self.embeddings, vectors]).astype(np.float32)
        self.index.add(vectors)
        if self.topics is not None:
            self._assign_new_rows(start)
        return [paper.id for paper in fresh]

    def remove(self, ids: Sequence[str]) -> None:
        """Remove papers by id from the corpus, the vectors and the index."""
        unknown = [paper_id for paper_id in ids if paper_id not in self.corpus]
        if unknown:
            raise PaperatlasError(f"unknown paper id(s): {', '.join(unknown[:5])}")
        rows = np.array(sorted({self.corpus.row(paper_id) for paper_id in ids}), dtype=np.int64)
        keep = np.ones(len(self), dtype=bool)
        keep[rows] = False
        self._forget_derived()
        self.corpus = Corpus(paper for paper, kept in zip(self.corpus, keep) if kept)
        self.embeddings = self.embeddings[keep]
        self.index.remove_rows(rows)
        if self.topics is not None:
            self.topics = self.topics.without_rows(keep)

    # topics -----------------------------------------------------------------

    def knn_graph(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Each paper's ``k`` nearest papers (self first) from the atlas's own FAISS index.

        Returns ``(indices, cosine distances)``; UMAP reuses it instead of
        computing neighbours again, and the map's "nearest papers" come from it.
        """
        from paperatlas.index import self_first_graph

        k = max(1, min(int(k), len(self)))
        scores, rows = self.index.search(self.embeddings, min(k + 1, len(self)))
        return self_first_graph(scores, rows, k)

    def fit_topics(
        self,
        settings=None,
        named: Sequence = (),
        *,
        keep_ids_from: np.ndarray | None = None,
        show_progress: bool = False,
    ) -> AtlasTopics:
        """Fit (or refit) topics: UMAP, HDBSCAN, layers, key terms, exemplars, names.

        Args:
            settings: a :class:`paperatlas.cluster.TopicSettings` (default settings scale with the corpus).
            named: :class:`paperatlas.cluster.NamedTopic` s that guide the names.
            keep_ids_from: ``(n, layers)`` earlier topic labels of these papers (-1 where
                unknown), e.g. from :meth:`labels_for` of the previous atlas; each new
                topic then takes the id of the old topic it overlaps most, so ids stay
                stable where topics persist. Defaults to this atlas's current topics.
            show_progress: show a progress bar over the fitting steps.
        """
        from paperatlas.cluster.assign import match_topic_ids
        from paperatlas.cluster.reduce import default_n_neighbors
        from paperatlas.cluster.topics import TopicSettings, apply_names, fit_topics

        settings = settings or TopicSettings()
        k = settings.n_neighbors or default_n_neighbors(len(self))
        knn = self.knn_graph(k) if len(self) > k else None
        from paperatlas.cluster.topics import FIT_STEPS

        bar = None
        if show_progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(FIT_STEPS), desc="Topics", unit="step")

        def step_done(step: str, seconds: float) -> None:
            if bar is not None:
                bar.set_postfix_str(f"{step} {seconds:.1f}s")
                bar.update(1)

        try:
            model = fit_topics(self.embeddings, self.corpus.texts(), settings=settings, knn=knn, progress=step_done)
        finally:
            if bar is not None:
                bar.close()
        named = list(named)
        if named:
            model = apply_names(model, named, self.embedder())
        else:
            model = apply_names(model)
        topics = AtlasTopics.from_model(model, self.corpus.ids, named)
        if keep_ids_from is None and self.topics is not None:
            keep_ids_from = self.topics.labels
        if keep_ids_from is not None:
            layers = min(topics.n_layers, keep_ids_from.shape[1])
            mappings = [match_topic_ids(keep_ids_from[:, layer], topics.labels_at(layer)) for layer in range(layers)]
            topics = topics.relabelled(mappings)
        self.topics = topics
        return topics

    def labels_for(self, ids: Sequence[str]) -> np.ndarray:
        """This atlas's topic labels of the papers ``ids`` (``(len(ids), layers)``, -1 for unknown papers)."""
        topics = self.require_topics()
        out = np.full((len(ids), topics.n_layers), -1, dtype=np.int64)
        for position, paper_id in enumerate(ids):
            if paper_id in self.corpus:
                out[position] = topics.labels[self.corpus.row(paper_id)]
        return out

    def _assign_new_rows(self, start: int) -> None:
        """Topic and map position of papers from row ``start`` on, by a vote of their nearest older papers."""
        from paperatlas.cluster.assign import assign_layers_by_neighbours

        assert self.topics is not None
        new = self.embeddings[start:]
        k = min(VOTE_NEIGHBOURS, start)
        scores, rows = self.index.search(new, min(len(self), k + len(new)))
        older = rows < start  # only papers the topics were fitted or assigned on vote
        neighbour_rows = np.array([r[o][:k] for r, o in zip(rows, older)])
        neighbour_scores = np.array([s[o][:k] for s, o in zip(scores, older)])
        labels = assign_layers_by_neighbours(self.topics.labels, neighbour_rows, neighbour_scores)
        weights = np.clip(neighbour_scores[:, :MAP_NEIGHBOURS], 1e-6, None)
        coords = (self.topics.coords[neighbour_rows[:, :MAP_NEIGHBOURS]] * weights[..., None]).sum(axis=1)
        coords /= weights.sum(axis=1, keepdims=True)
        self.topics = self.topics.extended(labels, coords)

    def paper_table(self, neighbours: int = 0):
        """One row a paper: id, title, date, topic_id, topic_name, x, y, layer_<n>, metadata columns.

        With ``neighbours > 0`` a ``neighbours`` column lists each paper's nearest paper ids.
        """
        import pandas as pd

        frame = self.corpus.to_frame()
        table = frame[["id", "title", "date"]].copy()
        metadata = [c for c in frame.columns if c not in table.columns and c not in _PAPER_FIELDS_NOT_EXPORTED]
        if self.topics is not None:
            labels, names = self.paper_topics(0)
            table["topic_id"] = labels
            table["topic_name"] = [names.get(int(t), "(noise)") if t != -1 else "(noise)" for t in labels]
            table["x"] = self.topics.coords[:, 0]
            table["y"] = self.topics.coords[:, 1]
            for layer in range(self.topics.n_layers):
                table[f"layer_{layer}"] = self.topics.labels_at(layer)
        else:
            table["topic_id"], table["topic_name"], table["x"], table["y"] = -1, None, np.nan, np.nan
        for column in metadata:
            table[column] = frame[column]
        if neighbours > 0:
            rows, _ = self.knn_graph(neighbours + 1)
            ids = np.array(self.corpus.ids, dtype=object)
            table["neighbours"] = [list(ids[r[1:]]) for r in rows]
        return table

    def topic_trends(self, layer: int = 0):
        """Papers per month and topic (DataFrame: ``YYYY-MM`` rows, topic-name columns)."""
        return self.require_topics().trends([p.date for p in self.corpus], layer)

    def require_topics(self) -> AtlasTopics:
        if self.topics is None:
            raise PaperatlasError("this atlas has no topics yet; build it with topics (or call fit_topics)")
        return self.topics

    # queries ----------------------------------------------------------------

    def embed_query(self, text: str) -> np.ndarray:
        """The unit vector of a free-text query, by the atlas's model."""
        return self.embedder().encode([text])[0]

    def title_keys(self) -> dict[str, int]:
        """Normalised title → row (first paper wins)."""
        if self._title_keys is None:
            from paperatlas.corpus.model import normalise_title

            keys: dict[str, int] = {}
            for row, paper in enumerate(self.corpus):
                keys.setdefault(normalise_title(paper.title), row)
            self._title_keys = keys
        return self._title_keys

    def explainer(self):
        """The term statistics behind search results' "why" (built on first use)."""
        if self._explainer is None:
            from paperatlas.why import TermExplainer

            self._explainer = TermExplainer(self.corpus.texts())
        return self._explainer

    def _forget_derived(self) -> None:
        self._explainer = None
        self._title_keys = None

    def paper_topics(self, layer: int = 0) -> tuple[np.ndarray | None, dict[int, str]]:
        """Each paper's topic id at ``layer`` (-1 = noise) and the topic names; ``(None, {})`` without topics."""
        if self.topics is None:
            return None, {}
        return self.topics.labels_at(layer), self.topics.names_at(layer)

    def topic_mask(self, topic: int | str, layer: int = 0) -> np.ndarray:
        """Which papers belong to a topic, given by id or name."""
        labels, names = self.paper_topics(layer)
        if labels is None:
            raise PaperatlasError("this atlas has no topics yet; build it with topics to filter by topic")
        if isinstance(topic, str) and not topic.lstrip("-").isdigit():
            matches = [tid for tid, name in names.items() if name.casefold() == topic.casefold()]
            if not matches:
                raise PaperatlasError(f"no topic named {topic!r} at layer {layer}")
            return np.isin(labels, matches)
        topic_id = int(topic)
        if topic_id not in names and topic_id != -1:
            raise PaperatlasError(f"no topic {topic_id} at layer {layer}")
        return labels == topic_id

    def similar(self, query, k: int = 10, **options):
        """Find similar papers; see :func:`paperatlas.search.find_similar_papers`."""
        from paperatlas.search import find_similar_papers

        return find_similar_papers(self, query, k, **options)

    # persistence ----------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the atlas folder atomically (a crash leaves the previous one intact)."""
        frame, json_columns = corpus_to_table(self.corpus)
        writers = {
            "papers.parquet": lambda p: frame.to_parquet(p, index=False),
            "embeddings.npy": lambda p: np.save(p, self.embeddings.astype(np.float32), allow_pickle=False),
            "index.faiss": self.index.save,
        }
        manifest = {
            "paperatlas_version": __version__,
            "libraries": library_versions(),
            "model": {"id": self.model.id, "dimension": self.model.dimension, "external": self.model.external},
            "index": {"kind": self.index.kind, "metric": "inner_product"},
            "corpus": {"papers": len(self.corpus), "content_hash": corpus_hash(self.corpus)},
            "json_columns": json_columns,
            "topics": None,
        }
        if self.topics is not None:
            writers.update(self.topics.writers(self.corpus.ids))
            manifest["topics"] = self.topics.manifest()
        write_atlas_folder(path, writers, manifest)

    @classmethod
    def load(cls, path: str | Path, embedder: Embedder | None = None) -> Atlas:
        """Read and verify an atlas folder (format version, checksums, shapes, model)."""
        import pandas as pd

        folder = Path(path)
        manifest = read_manifest(folder)
        try:
            model = ModelInfo(
                str(manifest["model"]["id"]),
                int(manifest["model"]["dimension"]),
                bool(manifest["model"].get("external", False)),
            )
            corpus = corpus_from_table(pd.read_parquet(folder / "papers.parquet"), manifest.get("json_columns", []))
            embeddings = np.load(folder / "embeddings.npy", allow_pickle=False)
        except (KeyError, TypeError, ValueError, OSError) as exc:
            raise AtlasFormatError(f"{folder}: unreadable atlas ({exc})") from None
        index = PaperIndex.load(folder / "index.faiss")
        if embeddings.dtype != np.float32 or embeddings.ndim != 2 or embeddings.shape[1] != model.dimension:
            raise AtlasFormatError(
                f"{folder}: embeddings of shape {embeddings.shape} do not match the manifest's "
                f"{model.dimension}-d model {model.id!r}"
            )
        if index.dimension != model.dimension:
            raise AtlasFormatError(f"{folder}: index dimension {index.dimension} does not match the model's {model.dimension}")
        if corpus_hash(corpus) != manifest["corpus"]["content_hash"]:
            raise AtlasFormatError(f"{folder}: papers do not match the manifest's corpus hash")
        atlas = cls(corpus, embeddings, index, model)
        if manifest.get("topics"):
            try:
                atlas.topics = AtlasTopics.load(folder, corpus.ids, manifest["topics"])
            except (KeyError, TypeError, ValueError, OSError) as exc:
                raise AtlasFormatError(f"{folder}: unreadable topics ({exc})") from None
        if embedder is not None:
            atlas.use_embedder(embedder)
        return atlas

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(key))}</th><td>{html.escape(str(value))}</td></tr>"
            for key, value in self.info().items()
        )
        return f"<table><caption>paperatlas Atlas</caption>{rows}</table>"

    def info(self) -> dict:
        """A summary: papers, model, dimension, index kind."""
        return {
            "papers": len(self),
            "model": self.model.id,
            "dimension": self.model.dimension,
            "external_embeddings": self.model.external,
            "index": self.index.kind,
            "topics": None if self.topics is None else {
                f"layer_{layer}": len(self.topics.names_at(layer)) for layer in range(self.topics.n_layers)
            },
            "noise_share": None if self.topics is None else round(self.topics.noise_share(0), 4),
        }


def _default_embedder_from_name(model_id: str | None) -> Embedder:
    from paperatlas.embed.sentence import DEFAULT_MODEL, SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(model_id or DEFAULT_MODEL)
