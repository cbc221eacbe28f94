"""The Atlas: a record of a corpus, its vectors, index, topics and search state.

Row ``i`` of every part is paper ``i``. The verbs are thin: the work is done
by the modules that own it (:mod:`paperatlas.embed`, :mod:`paperatlas.index`,
:mod:`paperatlas.cluster`, :mod:`paperatlas.search`), and the folder on disk
is read and written by :mod:`paperatlas.store`. Tables, trends and maps of an
atlas live in :mod:`paperatlas.export`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from paperatlas.corpus.columnar import extended
from paperatlas.corpus.model import Corpus, Paper
from paperatlas.embed.base import EXTERNAL_MODEL, Embedder, ModelInfo, unit_rows
from paperatlas.embed.cache import EmbeddingCache, embed_with_cache
from paperatlas.embed.cut import count_cut, cut_text
from paperatlas.errors import PaperatlasError
from paperatlas.index import PaperIndex
from paperatlas.search_state import SearchState
from paperatlas.store import AtlasParts, SavedTopics, read_atlas, read_saved_topics, write_atlas

if TYPE_CHECKING:
    from paperatlas.distributed.session import RaySettings
    from paperatlas.cluster.settings import TopicSettings
    from paperatlas.cluster.changes import TopicChanges
    from paperatlas.cluster.topic_model import TopicModel
    from paperatlas.search import SearchResults

_DEFAULT_CACHE = object()
MODEL_CHECK_PAPERS = 16
"""Papers re-embedded to check that precomputed vectors come from the model named with them."""
MODEL_CHECK_MIN_COSINE = 0.99
"""Their mean cosine to the given vectors must reach this (fp16 or ONNX exports stay above 0.98-0.999)."""

__all__ = ["Atlas", "EXTERNAL_MODEL", "ModelInfo"]


def _open_cache(cache) -> EmbeddingCache | None:
    if cache is _DEFAULT_CACHE:
        return EmbeddingCache()
    if cache is None or isinstance(cache, EmbeddingCache):
        return cache
    return EmbeddingCache(cache)


def _default_embedder(backend: str | None) -> Embedder:
    from paperatlas.embed.sentence import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(backend=backend or "torch")


def check_vectors_come_from(embedder: Embedder, corpus: Corpus, vectors: np.ndarray) -> float:
    """Re-embed a few evenly spaced papers of ``corpus`` and compare with their given ``vectors`` (unit rows).

    Returns the mean cosine; raises PaperatlasError, with the figures, when it is below
    ``MODEL_CHECK_MIN_COSINE`` or the dimensions differ.
    """
    rows = np.unique(np.linspace(0, len(corpus) - 1, min(MODEL_CHECK_PAPERS, len(corpus))).astype(int))
    fresh = embedder.encode([cut_text(paper.text) for paper in corpus.papers(rows)])
    if fresh.shape[1] != vectors.shape[1]:
        raise PaperatlasError(
            f"the precomputed vectors have dimension {vectors.shape[1]}; {embedder.model_id!r} makes {fresh.shape[1]}"
        )
    cosine = float(np.mean(np.sum(unit_rows(fresh) * np.asarray(vectors[rows], dtype=np.float32), axis=1)))
    if cosine < MODEL_CHECK_MIN_COSINE:
        raise PaperatlasError(
            f"the precomputed vectors do not come from {embedder.model_id!r}: re-embedding {len(rows)} of the papers "
            f"gives a mean cosine of {cosine:.3f} to their given vectors (at least {MODEL_CHECK_MIN_COSINE} expected)"
        )
    return cosine


CHECK_CHUNK = 65_536


def _check_external(embeddings: np.ndarray, n: int) -> np.ndarray:
    """Precomputed vectors as unit float32 rows; checked in chunks, and not copied (a memory-mapped
    ``.npy`` stays mapped) when they are float32 rows of unit length already.

    Refused, naming the first bad rows: not a 2-D array of ``n`` rows of at least 2 numbers, a
    non-numeric dtype, NaN or infinite values, and rows of zeros. Rows are normalised in float64 and
    then cast, so rows of tiny or huge finite numbers (a unit vector times ``1e38`` or ``1e-45``, whose
    float32 length overflows or underflows) keep their direction."""
    array = embeddings if isinstance(embeddings, np.memmap) else np.asarray(embeddings)
    if array.dtype.kind not in "iuf":
        raise PaperatlasError(f"precomputed embeddings must be numbers (an int or float array), not {array.dtype}")
    if array.ndim != 2 or array.shape[0] != n or array.shape[1] < 2:
        raise PaperatlasError(
            f"precomputed embeddings have shape {array.shape}; expected ({n}, dimension), one row a paper "
            f"and a dimension of at least 2"
        )
    unit = array.dtype == np.float32 and array.flags.c_contiguous
    step = max(1, CHECK_CHUNK // 8)  # float64 copies: keep a chunk to some tens of MB
    for start in range(0, n, step):
        chunk = np.asarray(array[start:start + step], dtype=np.float64)
        _refuse_rows(~np.isfinite(chunk).all(axis=1), start, "NaN or infinite values")
        _refuse_rows(~(np.abs(chunk).max(axis=1) > 0), start, "length 0 (no direction)")
        unit = unit and bool(np.all(np.abs(np.linalg.norm(chunk, axis=1) - 1.0) < 1e-3))
    return array if unit else _unit_rows64(array)


def _refuse_rows(bad: np.ndarray, start: int, what: str) -> None:
    if bad.any():
        rows = np.flatnonzero(bad)[:5] + start
        more = " ..." if int(bad.sum()) > len(rows) else ""
        raise PaperatlasError(f"precomputed embeddings: row{'s' if len(rows) > 1 else ''} "
                              f"{', '.join(map(str, rows))}{more} (counting from 0) ha{'ve' if len(rows) > 1 else 's'} "
                              f"{what}")


def _unit_rows64(array: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length in float64 (no overflow or underflow), then C-contiguous float32."""
    out = np.empty(array.shape, dtype=np.float32)
    step = max(1, CHECK_CHUNK // 8)
    for start in range(0, len(array), step):
        chunk = np.array(array[start:start + step], dtype=np.float64)  # a copy: the input may be read-only
        chunk /= np.abs(chunk).max(axis=1, keepdims=True)  # no overflow in the squares of 1e200
        out[start:start + step] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out


def _ray_settings(ray) -> RaySettings:
    from paperatlas.distributed.session import RaySettings

    settings = RaySettings() if ray is True else ray
    if not isinstance(settings, RaySettings):
        raise PaperatlasError(f"ray= takes True or a RaySettings, not {type(ray).__name__}")
    settings.check()
    return settings


class _Clock:
    """Seconds per stage, for the stage timings a build reports."""

    def __init__(self) -> None:
        import time

        self._now = time.perf_counter
        self._last = self._now()
        self.laps: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = self._now()
        self.laps[stage] = round(now - self._last, 2)
        self._last = now


class Atlas:
    """Papers, their unit vectors, a FAISS index, topics (optional) and search state.

    Attributes:
        corpus: the papers.
        embeddings: ``(n, d)`` unit vectors (memory-mapped after :meth:`load`; float32, float16
            beside an ``ivf`` index, see :mod:`paperatlas.index`): the ones the index holds (the
            constructor's ``embeddings`` must be those; only their count is checked).
        index: the FAISS index over them.
        model: which model made the vectors.
        topics: the :class:`~paperatlas.cluster.TopicModel`, or None.
        search_state: what queries need (term statistics, title keys, query embedder).
        last_embedded: how many texts the last build or add embedded (the rest came from the cache).
        last_resumed: how many texts a Ray build took from the shards of an earlier, interrupted run.
        last_cut: how many texts of the last build or add were cut to ``MAX_TEXT_CHARS`` characters
            before embedding (:mod:`paperatlas.embed.cut`).
        last_changes: what the last :meth:`refit` changed (topics kept, split, merged, new, gone;
            papers moved), or None.
        timings: seconds per stage of :meth:`build` (vectors, index, search state, topics).
    """

    def __init__(
        self,
        corpus: Corpus,
        embeddings: np.ndarray,
        index: PaperIndex,
        model: ModelInfo,
        topics: TopicModel | None = None,
        search_state: SearchState | None = None,
    ) -> None:
        if len(corpus) != len(embeddings) or len(corpus) != len(index):
            raise PaperatlasError(
                f"atlas parts disagree: {len(corpus)} papers, {len(embeddings)} vectors, {len(index)} indexed"
            )
        if topics is not None and len(topics) != len(corpus):
            raise PaperatlasError(f"atlas parts disagree: {len(corpus)} papers, {len(topics)} with topics")
        self.corpus = corpus
        self.index = index
        self.model = model
        self.topics = topics
        self.search_state = search_state if search_state is not None else SearchState.of_corpus(corpus)
        self.last_embedded = 0
        self.last_resumed = 0
        self.last_cut = 0
        self.last_changes: TopicChanges | None = None
        self.timings: dict[str, float] = {}

    @property
    def embeddings(self) -> np.ndarray:
        """``(n, d)`` unit vectors, held once by the index (memory-mapped after :meth:`load`; float16
        beside an ``ivf`` index)."""
        return self.index.vectors()

    def vectors_of(self, rows) -> np.ndarray:
        """Float32 vectors of ``rows`` (indices, a mask or a slice), whatever the atlas stores."""
        return np.asarray(self.embeddings[rows], dtype=np.float32)

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
        topics: bool | TopicSettings | None = None,
        named: Sequence = (),
        backend: str | None = None,
        ray: bool | RaySettings = False,
    ) -> Atlas:
        """Embed a corpus (through the cache), index it, and optionally fit topics.

        Args:
            corpus: the papers.
            embedder: defaults to the bundled all-MiniLM-L6-v2.
            embeddings: precomputed vectors aligned with ``corpus``. With an ``embedder``
                too, it names the model that made them: a few papers are re-embedded to
                check it, and the atlas records that model, so text queries and ``add``
                embed with it. Without one the model is recorded as external.
            index: ``auto``, ``exact``, ``ivf`` or ``hnsw`` (see :mod:`paperatlas.index`).
            cache: an :class:`EmbeddingCache`, a folder for one, or ``None`` for no
                cache (default: the user cache folder).
            show_progress: show a progress bar while embedding.
            topics: ``True`` or a :class:`paperatlas.cluster.TopicSettings` to fit topics too.
            named: named topics that guide the topic names.
            backend: ``torch`` (default), ``onnx`` or ``onnx-int8`` for the default model;
                with an ``embedder``, give it the backend instead.
            ray: ``True`` or a :class:`paperatlas.distributed.RaySettings` to embed on Ray Data,
                fill the index and assign topics in Ray tasks (``RAY_ADDRESS``, else a Ray
                started here; needs the ``ray`` extra). The embedder travels to the actors.
        """
        if ray is not False and ray is not None:
            from paperatlas.distributed.session import ray_session

            settings = _ray_settings(ray)
            with ray_session() as connected:
                return cls._build(corpus, embedder, embeddings=embeddings, index=index, cache=cache,
                                  show_progress=show_progress, topics=topics, named=named, backend=backend,
                                  ray=(connected, settings))
        return cls._build(corpus, embedder, embeddings=embeddings, index=index, cache=cache,
                          show_progress=show_progress, topics=topics, named=named, backend=backend, ray=None)

    @classmethod
    def _build(cls, corpus, embedder, *, embeddings, index, cache, show_progress, topics, named, backend,
               ray) -> Atlas:
        if backend is not None and embedder is not None:
            raise PaperatlasError("pass backend= to the embedder (SentenceTransformerEmbedder(backend=...)), "
                                  "not to Atlas.build beside one")
        corpus = corpus if isinstance(corpus, Corpus) else Corpus(corpus)
        if len(corpus) == 0:
            raise PaperatlasError("cannot build an atlas of no papers")
        clock = _Clock()
        embedded = cut = resumed = 0
        if embeddings is not None:
            vectors = _check_external(embeddings, len(corpus))
            if embedder is None:
                model = ModelInfo(EXTERNAL_MODEL, int(vectors.shape[1]), external=True)
            else:
                check_vectors_come_from(embedder, corpus, vectors)
                model = ModelInfo(embedder.model_id, int(vectors.shape[1]))
        else:
            embedder = embedder or _default_embedder(backend)
            texts = corpus.texts()
            cut = count_cut(texts)
            if ray is not None:
                from paperatlas.distributed.embed import embed_on_ray

                made = embed_on_ray(ray[0], embedder, corpus.ids, texts, corpus.column("content_hash"),
                                    _open_cache(cache), ray[1], show_progress_bar=show_progress)
                vectors, embedded, resumed = made.vectors, made.embedded, made.resumed
            else:
                vectors, embedded = embed_with_cache(
                    embedder,
                    texts,
                    corpus.column("content_hash"),
                    _open_cache(cache),
                    show_progress_bar=show_progress,
                )
            model = ModelInfo(embedder.model_id, int(vectors.shape[1]))
        clock.lap("vectors")
        if ray is not None:
            from paperatlas.distributed.index import build_index_on_ray

            built = build_index_on_ray(ray[0], vectors, index, ray[1])
        else:
            built = PaperIndex.build(vectors, index)
        vectors = built.vectors()  # beside an ivf index its float16 copy: the float32 array can go
        clock.lap("index")
        state = SearchState.of_corpus(corpus)
        clock.lap("search state")
        atlas = cls(corpus, vectors, built, model, search_state=state)
        if embedder is not None:
            atlas.search_state.keep_embedder(embedder)
        atlas.last_embedded = embedded
        atlas.last_resumed = resumed
        atlas.last_cut = cut
        if topics is not None and topics is not False:
            atlas.fit_topics(None if topics is True else topics, named, cache=cache,
                             ray=False if ray is None else ray[1])
            clock.lap("topics")
        atlas.timings = clock.laps
        return atlas

    def use_embedder(self, embedder: Embedder) -> None:
        """Embed new text with ``embedder``; it must be the atlas's model (or match an external one's dimension)."""
        self.search_state.use_embedder(embedder, self.model)

    def add(
        self,
        papers: Iterable[Paper],
        *,
        embeddings: np.ndarray | None = None,
        cache=_DEFAULT_CACHE,
        show_progress: bool = False,
    ) -> list[str]:
        """Embed and index new papers without rebuilding; returns the ids added.

        Papers whose id or an alias is already in the atlas (as an id or an alias) are skipped:
        they are papers it has. A new paper's aliases resolve like its id. With topics, each new
        paper joins the topic its nearest existing papers vote for (and that topic's themes)
        and is placed on the map among them; existing papers keep their topics.
        """
        papers = list(papers)
        keep = [i for i, paper in enumerate(papers)
                if not any(name in self.corpus for name in (paper.id, *paper.aliases))]
        fresh = [papers[i] for i in keep]
        self.last_embedded = self.last_cut = 0
        if embeddings is not None:
            vectors = _check_external(embeddings, len(papers))[keep]
            if vectors.shape[1] != self.model.dimension:
                raise PaperatlasError(
                    f"new embeddings have dimension {vectors.shape[1]}, the atlas {self.model.dimension}"
                )
        if not fresh:
            return []
        if embeddings is None:
            self.last_cut = count_cut(paper.text for paper in fresh)
            vectors, self.last_embedded = embed_with_cache(
                self.search_state.embedder(self.model),
                [paper.text for paper in fresh],
                [paper.content_hash for paper in fresh],
                _open_cache(cache),
                show_progress_bar=show_progress,
            )
        topics = self.topics
        if topics is not None:  # voted on before the index grows: no search needs to leave the new rows out
            from paperatlas.cluster.assign import place_new_papers

            topics = place_new_papers(topics, self.index, vectors, len(self))
        self.corpus = extended(self.corpus, fresh)
        self.search_state = self.search_state.added(fresh, self.corpus)
        self.index.add(vectors)
        self.topics = topics
        return [paper.id for paper in fresh]

    def remove(self, ids: Sequence[str]) -> None:
        """Remove papers by id from the corpus, the vectors, the index, the topics and the search state."""
        unknown = [paper_id for paper_id in ids if paper_id not in self.corpus]
        if unknown:
            raise PaperatlasError(f"unknown paper id(s): {', '.join(unknown[:5])}")
        rows = np.array(sorted({self.corpus.row(paper_id) for paper_id in ids}), dtype=np.int64)
        keep = np.ones(len(self), dtype=bool)
        keep[rows] = False
        removed = self.corpus.papers(rows)
        self.corpus = self.corpus.subset(keep)
        self.index.remove_rows(rows)
        self.search_state = self.search_state.without(keep, removed, self.corpus)
        if self.topics is not None:
            self.topics = self.topics.without_rows(keep)

    # topics -----------------------------------------------------------------

    def fit_topics(
        self,
        settings: TopicSettings | None = None,
        named: Sequence = (),
        *,
        keep_ids_from: np.ndarray | None = None,
        cache=None,
        show_progress: bool = False,
        ray: bool | RaySettings = False,
    ) -> TopicModel:
        """Fit (or refit) topics: UMAP, HDBSCAN, layers, key terms, exemplars, names.

        Args:
            settings: a :class:`paperatlas.cluster.TopicSettings` (default settings scale with the corpus).
            named: :class:`paperatlas.cluster.NamedTopic` s that guide the names.
            keep_ids_from: ``(n, layers)`` earlier topic labels of these papers (-1 where
                unknown); each new topic then takes the id of the old topic it overlaps
                most, so ids stay stable where topics persist. Defaults to this atlas's
                current topics (see also :meth:`refit`).
            cache: an :class:`EmbeddingCache` (or a folder for one) for the named topics'
                vectors: when they are in it, the model is not even loaded.
            show_progress: show a progress bar over the fitting steps.
            ray: ``True`` or :class:`paperatlas.distributed.RaySettings`: above the fitting sample,
                the other papers are assigned in Ray tasks.
        """
        if ray is not False and ray is not None:
            from paperatlas.distributed.session import ray_session
            from paperatlas.distributed.votes import ray_vote_rest

            with ray_session() as connected:
                return self._fit_topics(settings, named, keep_ids_from, cache, show_progress,
                                        ray_vote_rest(connected, _ray_settings(ray)))
        return self._fit_topics(settings, named, keep_ids_from, cache, show_progress, None)

    def _fit_topics(self, settings, named, keep_ids_from, cache, show_progress, assign_rest) -> TopicModel:
        from paperatlas.cluster.assign import keep_topic_ids
        from paperatlas.cluster.topics import fit_atlas_topics
        from paperatlas.embed.cache import CachedEncoder

        named = list(named)
        embedder = self.search_state.embedder(self.model) if named else None
        if embedder is not None and cache is not None:
            embedder = CachedEncoder(embedder, _open_cache(cache))
        topics = fit_atlas_topics(
            self.embeddings, self.corpus.lazy_texts(), self.index, settings, named, embedder,
            show_progress=show_progress, assign_rest=assign_rest,
        )
        if keep_ids_from is None and self.topics is not None:
            keep_ids_from = self.topics.labels
        if keep_ids_from is not None:
            topics = keep_topic_ids(topics, keep_ids_from)
        self.topics = topics
        return topics

    def refit(self, previous: str | Path | SavedTopics, settings: TopicSettings | None = None, named: Sequence = (),
              *, drop_missing: bool = False, cache=None, show_progress: bool = False,
              ray: bool | RaySettings = False) -> TopicModel:
        """Fit topics, keeping the ids of the saved atlas at ``previous`` where topics persist.

        Only the previous atlas's paper ids, titles, topic labels and names are read
        (:func:`paperatlas.store.read_saved_topics`). Papers of the previous atlas that
        this one lacks (added with ``add``, say) raise
        :class:`paperatlas.refit.MissingPapersError` unless ``drop_missing``. What changed
        at layer 0 is left in :attr:`last_changes` (a :class:`paperatlas.cluster.changes.TopicChanges`).
        """
        from paperatlas.cluster.assign import labels_by_id
        from paperatlas.cluster.changes import compare_topics
        from paperatlas.refit import check_missing

        saved = previous if isinstance(previous, SavedTopics) else read_saved_topics(previous)
        where = "the previous atlas" if isinstance(previous, SavedTopics) else f"the atlas at {previous}"
        check_missing(saved, self.corpus, drop_missing=drop_missing, where=where)
        topics = self.fit_topics(settings, named, keep_ids_from=labels_by_id(saved.ids, saved.labels, self.corpus.ids),
                                 cache=cache, show_progress=show_progress, ray=ray)
        self.last_changes = compare_topics(
            saved.labels, topics.labels, old_ids=saved.ids, new_ids=self.corpus.ids, old_names=saved.names.get(0),
            new_names=topics.names_at(0), titles=self.corpus.column("title"),
        )
        return topics

    def require_topics(self) -> TopicModel:
        if self.topics is None:
            raise PaperatlasError("this atlas has no topics yet; fit topics first (paperatlas build without --no-topics)")
        return self.topics

    # queries ----------------------------------------------------------------

    def similar(self, query, k: int = 10, **options) -> SearchResults:
        """Find similar papers; see :func:`paperatlas.search.find_similar_papers`."""
        from paperatlas.search import find_similar_papers

        return find_similar_papers(self, query, k, **options)

    # persistence ----------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the atlas folder atomically (a crash leaves the previous one intact), holding its
        writer lock (another writer's save waits; see :mod:`paperatlas.atlas_saves`)."""
        from paperatlas.atlas_saves import saving

        with saving(path):
            write_atlas(path, AtlasParts(self.corpus, self.index, self.model, self.topics,
                                         self.search_state))

    @classmethod
    def load(cls, path: str | Path, embedder: Embedder | None = None) -> Atlas:
        """Read and verify an atlas folder (format version, checksums, shapes, model).

        Vectors are memory-mapped, papers are read on demand and the search state
        on the first query that needs it: nothing is rebuilt. A load during a save reads the old
        atlas or the new one, and a save interrupted between its renames is restored first.
        """
        from paperatlas.atlas_saves import read_snapshot

        parts = read_snapshot(path, read_atlas)
        atlas = cls(parts.corpus, parts.index.vectors(), parts.index, parts.model, parts.topics, parts.search_state)
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
        """A summary: papers, model, dimension, index kind, topics per layer, noise share."""
        return {
            "papers": len(self),
            "model": self.model.id,
            "dimension": self.model.dimension,
            "external_embeddings": self.model.external,
            "backend": self.model.backend,
            "index": self.index.kind,
            "topics": None if self.topics is None else {
                f"layer_{layer}": self.topics.n_topics(layer) for layer in range(self.topics.n_layers)
            },
            "noise_share": None if self.topics is None else round(self.topics.noise_share(0), 4),
        }
