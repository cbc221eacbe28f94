"""Embedding on Ray Data, with the content-hash cache honoured and resumable shards.

The driver looks every paper up in the embedding cache and lists only the rest, as
Parquet files in the work folder (:mod:`~paperatlas.distributed.shards`). Ray Data reads
them in blocks; ``map_batches`` with an actor pool embeds them: each actor loads the model
once (one GPU an actor when the cluster has GPUs) and writes every batch as a shard of
(id, content hash, vector). The driver assembles the shards into the vectors, stores them in
the cache and removes the work folder.

Faults: Ray restarts a killed actor and retries its batch; a retried batch rewrites the same
shard, and the vectors are taken by content hash, so no paper is lost or counted twice. An
interrupted driver that runs again finds its work folder (the same inputs give the same run
key) and embeds only the papers no shard holds yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from paperatlas.distributed.session import RaySettings, cluster_resources
from paperatlas.distributed.shards import WorkFolder, run_key, write_shard
from paperatlas.embed.base import Embedder, unit_rows
from paperatlas.embed.cache import EMBED_CHUNK, EmbeddingCache, default_cache_dir
from paperatlas.embed.cut import cut_text
from paperatlas.errors import PaperatlasError


@dataclass(frozen=True)
class RayEmbedding:
    """What :func:`embed_on_ray` made: vectors in input order, papers embedded in this run, and papers
    taken from shards an earlier, interrupted run had written."""

    vectors: np.ndarray
    embedded: int
    resumed: int


class EmbedActor:
    """A Ray Data actor: holds one embedder (its model loads on the first batch) and writes shards."""

    def __init__(self, embedder: Embedder, shards: str, model_id: str, threads: int) -> None:
        _use_threads(threads)
        self.embedder = embedder
        self.shards = shards
        self.model_id = model_id

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ids = [str(value) for value in batch["id"]]
        hashes = [str(value) for value in batch["content_hash"]]
        vectors = np.asarray(self.embedder.encode([cut_text(str(text)) for text in batch["text"]]))
        if vectors.ndim != 2 or len(vectors) != len(ids) or not np.isfinite(vectors).all():
            raise PaperatlasError(f"the embedder returned {vectors.shape} values (or NaN) for {len(ids)} texts")
        name = write_shard(self.shards, self.model_id, ids, hashes, unit_rows(vectors))
        return {"shard": np.array([name]), "papers": np.array([len(ids)], dtype=np.int64)}


@dataclass(frozen=True)
class ActorLayout:
    actors: int
    cpus: float
    gpus: float
    threads: int


def actor_layout(ray, settings: RaySettings) -> ActorLayout:
    """One actor per GPU when the cluster has GPUs, else one per ``cpus_per_actor`` CPUs (default
    ``min(4, cluster CPUs)``), each running that many torch threads."""
    cpus, gpus, _ = cluster_resources(ray)
    if gpus >= 1:
        threads = int(settings.cpus_per_actor or 1)
        return ActorLayout(settings.actors or int(gpus), float(threads), 1.0, threads)
    per_actor = settings.cpus_per_actor or max(1.0, min(4.0, cpus))
    return ActorLayout(settings.actors or max(1, int(cpus // per_actor)), per_actor, 0.0,
                       max(1, int(round(per_actor))))


def _use_threads(threads: int) -> None:
    """Torch threads of this actor (Ray sets OMP_NUM_THREADS to the whole CPUs asked for, rounded down)."""
    import os
    import sys

    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def work_folder(ray, settings: RaySettings, key: str) -> WorkFolder:
    """The run's work folder; a local default is refused on a cluster of several machines."""
    root = settings.work_dir
    if root is None:
        _, _, nodes = cluster_resources(ray)
        if nodes > 1:
            raise PaperatlasError(
                f"this Ray cluster has {nodes} machines: give a work folder every one of them sees "
                "(--ray-work s3://bucket/path, or a shared file system path)"
            )
        root = str(default_cache_dir() / "ray-work")
    return WorkFolder.open(root, key)


def embed_on_ray(
    ray,
    embedder: Embedder,
    ids: Sequence[str],
    texts: Sequence[str],
    hashes: Sequence[str],
    cache: EmbeddingCache | None,
    settings: RaySettings,
    *,
    show_progress_bar: bool = False,
) -> RayEmbedding:
    """Vectors for ``texts`` (the same contract as :func:`paperatlas.embed.cache.embed_with_cache`):
    cached ones from the cache, the rest embedded on the connected Ray cluster."""
    if not len(texts) == len(hashes) == len(ids):
        raise ValueError("ids, texts and hashes differ in length")
    model_id = embedder.model_id
    known = cache.get(model_id, hashes) if cache is not None else {}
    missing: dict[str, int] = {}
    for row, key in enumerate(hashes):
        if key not in known:
            missing.setdefault(key, row)
    fresh: dict[str, np.ndarray] = {}
    resumed = 0
    if missing:
        work = work_folder(ray, settings, run_key(model_id, list(missing)))
        done, _ = work.read_shards(model_id, None)
        resumed = sum(1 for key in missing if key in done)
        todo = [key for key in missing if key not in done]
        if todo:
            work.write_todo([ids[missing[key]] for key in todo], todo, [cut_text(texts[missing[key]]) for key in todo])
            _run_actors(ray, embedder, work, model_id, settings, len(todo), show_progress_bar)
        done, skipped = work.read_shards(model_id, None)
        lacking = [key for key in missing if key not in done]
        if lacking:
            raise PaperatlasError(
                f"Ray finished, but {len(lacking)} papers have no vector in {work.shards} "
                f"({skipped} shard files were unreadable or of another model); run again to embed them"
            )
        fresh = {key: done[key] for key in missing}
    vectors = _assemble(hashes, known, fresh)
    if fresh and cache is not None:
        keys = list(fresh)
        for start in range(0, len(keys), EMBED_CHUNK):
            chunk = keys[start:start + EMBED_CHUNK]
            cache.put(model_id, chunk, np.stack([fresh[key] for key in chunk]))
    if missing:
        work.remove()
    return RayEmbedding(vectors, len(missing) - resumed, resumed)


def _assemble(hashes: Sequence[str], known: dict[str, np.ndarray], fresh: dict[str, np.ndarray]) -> np.ndarray:
    widths = {len(vector) for vector in (*known.values(), *fresh.values())}
    if len(widths) > 1:
        raise PaperatlasError(f"vectors of several dimensions ({sorted(widths)}) for one model: clear the "
                              "embedding cache or the Ray work folder")
    out = np.zeros((len(hashes), widths.pop() if widths else 0), dtype=np.float32)
    for row, key in enumerate(hashes):
        out[row] = known[key] if key in known else fresh[key]
    return out


def _run_actors(ray, embedder: Embedder, work: WorkFolder, model_id: str, settings: RaySettings, papers: int,
                show_progress_bar: bool) -> None:
    layout = actor_layout(ray, settings)
    actors = layout.actors
    # the blocks are read into the object store first: reads queued behind an actor pool that holds
    # every CPU would wait forever (Ray 2.60 ignores the reads' num_cpus=0 there)
    dataset = ray.data.read_parquet(work.todo).materialize()
    embedded = dataset.map_batches(
        EmbedActor,
        fn_constructor_kwargs={"embedder": embedder, "shards": work.shards, "model_id": model_id,
                               "threads": layout.threads},
        batch_size=settings.batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=layout.cpus,
        num_gpus=layout.gpus,
    )
    bar = None
    if show_progress_bar:
        from tqdm.auto import tqdm

        bar = tqdm(total=papers, desc=f"Embedding on Ray ({actors} actor{'s' if actors > 1 else ''})", unit="text")
    rows = iter(embedded.iter_rows())
    failure = None
    try:
        for row in rows:
            if bar is not None:
                bar.update(int(row["papers"]))
    except Exception as exc:  # Ray wraps the worker's error (RayTaskError, UserCodeException, ...)
        failure = _first_line(exc)
    finally:
        if bar is not None:
            bar.close()
    if failure is not None:
        # raised outside the except block: no traceback keeps the run alive, so its actors (and their
        # CPUs) are released before anything else asks Ray for them
        close = getattr(rows, "close", None)
        if close is not None:
            close()
        del rows, embedded, dataset
        import gc

        gc.collect()
        raise PaperatlasError(f"embedding on Ray failed: {failure}; the shards written so far stay in "
                              f"{work.shards}, and running the same build again resumes from them")


def _first_line(exc: BaseException) -> str:
    """The cause's message without Ray's traceback banners."""
    cause = exc
    while getattr(cause, "cause", None) is not None and cause.cause is not cause:
        cause = cause.cause
    lines = [line for line in str(cause).splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(cause).__name__
