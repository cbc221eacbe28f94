"""Local vs Ray: what running a build on Ray costs on one machine, and what one actor per GPU gives.

Prints, for the README's "On a Ray cluster" section (each figure the median of --runs, local and Ray
in turn, in one run of this script):
  * embedding --texts real paperlists_venues abstracts (seeded; the bundled corpus repeated without
    ../shared/eval) with the real model: locally (``embed_with_cache``, a fresh embedder, so the
    model load counts) and on a Ray started here (``embed_on_ray``: actor start, model load in the
    actor, Parquet todo and shards included), no embedding cache either way;
  * filling the IVF index of --index-papers vectors: ``PaperIndex.build`` vs trained here and
    filled in Ray tasks (``build_index_on_ray``);
  * assigning topics to the papers outside a fitting sample: ``vote_rest`` vs Ray tasks.
The index and vote figures use realistic vectors (benchmarks/common.py: real MiniLM vectors, the
rest interpolated between real neighbours); the script says which.

With --gpu (on a machine with GPUs): the embedding figure only, one actor per GPU, fp16.

Usage: python benchmarks/bench_ray.py [--texts 512] [--runs 2] [--index-papers 200000] [--vote-papers 100000]
       python benchmarks/bench_ray.py --gpu --texts 200000 [--model PATH]
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time

import numpy as np

from common import EVAL, REPO, machine, read_eval, realistic_vectors


def texts(n: int) -> list[str]:
    if (EVAL / "paperlists_venues.jsonl.gz").exists():
        return [r["title"] + ". " + r["abstract"] for r in read_eval("paperlists_venues.jsonl.gz", n, seed=1)]
    sys.path.insert(0, str(REPO))
    from paperatlas import read_corpus

    bundled = read_corpus(REPO / "data" / "papers.jsonl").texts()
    return [f"{bundled[i % len(bundled)]} ({i})" for i in range(n)]


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def embedding(ray, sample: list[str], runs: int, model: str | None, device: str) -> None:
    from paperatlas.distributed import RaySettings
    from paperatlas.distributed.embed import embed_on_ray
    from paperatlas.embed import SentenceTransformerEmbedder, embed_with_cache

    hashes = [f"bench-{i}" for i in range(len(sample))]
    ids = [str(i) for i in range(len(sample))]
    work = tempfile.mkdtemp(prefix="paperatlas-ray-bench-")
    local, spread, vectors = [], [], {}

    def run_local() -> None:
        vectors["local"], _ = embed_with_cache(SentenceTransformerEmbedder(model, device=device), sample, hashes, None)

    def run_ray() -> None:
        made = embed_on_ray(ray, SentenceTransformerEmbedder(model, device=device), ids, sample, hashes, None,
                            RaySettings(work_dir=work))
        vectors["ray"] = made.vectors

    for _ in range(runs):
        if device == "cpu":
            local.append(timed(run_local))
        spread.append(timed(run_ray))
    cpus, gpus = ray.cluster_resources().get("CPU", 0), ray.cluster_resources().get("GPU", 0)
    ray_rate = len(sample) / statistics.median(spread)
    print(f"embedding {len(sample):,} abstracts, real model ({model or 'bundled all-MiniLM-L6-v2'}), {device}, "
          f"no cache, median of {runs}:")
    if local:
        local_rate = len(sample) / statistics.median(local)
        cosine = np.sum(vectors["local"] * vectors["ray"], axis=1)
        print(f"  local:                {statistics.median(local):6.1f} s  {local_rate:7.1f} abstracts/s")
        print(f"  Ray on this machine:  {statistics.median(spread):6.1f} s  {ray_rate:7.1f} abstracts/s  "
              f"({ray_rate / local_rate:.2f}x local; {cpus:.0f} CPUs, {gpus:.0f} GPUs); "
              f"cosine to local mean {cosine.mean():.6f} min {cosine.min():.6f}")
    else:
        print(f"  Ray, one actor per GPU: {statistics.median(spread):6.1f} s  {ray_rate:9.1f} abstracts/s "
              f"({gpus:.0f} GPUs)")


def index_fill(ray, n: int, runs: int) -> None:
    from paperatlas.distributed import RaySettings
    from paperatlas.distributed.index import build_index_on_ray
    from paperatlas.index import PaperIndex

    vectors, _, about = realistic_vectors(n)
    local, spread = [], []
    built = {}
    for _ in range(runs):
        local.append(timed(lambda: built.__setitem__("local", PaperIndex.build(vectors, "ivf"))))
        spread.append(timed(lambda: built.__setitem__("ray", build_index_on_ray(ray, vectors, "ivf", RaySettings()))))
    queries = vectors[np.random.default_rng(2).choice(n, 1000, replace=False)]
    same = np.array_equal(built["local"].search(queries, 10)[1], built["ray"].search(queries, 10)[1])
    print(f"IVF index of {n:,} vectors ({about}), median of {runs}:")
    print(f"  local: {statistics.median(local):6.1f} s   Ray tasks: {statistics.median(spread):6.1f} s   "
          f"({statistics.median(local) / statistics.median(spread):.2f}x); same top-10 for 1,000 queries: {same}")


def votes(ray, n: int, sample: int, runs: int) -> None:
    from paperatlas.cluster import TopicSettings
    from paperatlas.cluster.assign import vote_rest
    from paperatlas.cluster.topics import fit_atlas_topics
    from paperatlas.distributed import RaySettings
    from paperatlas.distributed.votes import ray_vote_rest
    from paperatlas.index import PaperIndex, bulk_index

    vectors, _, about = realistic_vectors(n)
    rows = np.sort(np.random.default_rng(0).choice(n, sample, replace=False))
    part = np.ascontiguousarray(vectors[rows])
    model = fit_atlas_topics(part, [f"paper {i}" for i in range(sample)], PaperIndex.build(part),
                             TopicSettings(random_state=0))
    index = bulk_index(part)
    from paperatlas.index import VOTE_SEARCH_DEPTH

    index.search_depth(VOTE_SEARCH_DEPTH)
    rest = np.setdiff1d(np.arange(n), rows)
    assign = ray_vote_rest(ray, RaySettings())
    local, spread, found = [], [], {}
    for _ in range(runs):
        local.append(timed(lambda: found.__setitem__("local", vote_rest(model, index, vectors, rest))))
        spread.append(timed(lambda: found.__setitem__("ray", assign(model, index, vectors, rest))))
    same = np.array_equal(found["local"][0], found["ray"][0])
    print(f"topic votes for {len(rest):,} papers outside a {sample:,}-paper fitting sample ({about}), "
          f"median of {runs}:")
    print(f"  local: {statistics.median(local):6.1f} s   Ray tasks: {statistics.median(spread):6.1f} s   "
          f"({statistics.median(local) / statistics.median(spread):.2f}x); same labels: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--index-papers", type=int, default=200_000)
    parser.add_argument("--vote-papers", type=int, default=100_000)
    parser.add_argument("--vote-sample", type=int, default=20_000)
    parser.add_argument("--gpu", action="store_true", help="one actor per GPU; embedding only")
    parser.add_argument("--model", default=None, help="a local model folder (default: the bundled model)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from paperatlas.distributed.session import ray_session

    print(f"paperatlas Ray benchmark, {datetime.date.today()}, {machine()}", flush=True)
    with ray_session() as ray:
        embedding(ray, texts(args.texts), args.runs, args.model, "cuda" if args.gpu else "cpu")
        if not args.gpu:
            index_fill(ray, args.index_papers, args.runs)
            votes(ray, args.vote_papers, args.vote_sample, args.runs)


if __name__ == "__main__":
    main()
