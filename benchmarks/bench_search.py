"""Query latency of find_similar_papers: text and id queries, exact and approximate indexes.

* the bundled corpus (350 papers, real all-MiniLM-L6-v2 vectors);
* a 100k-paper atlas: real paperlists_venues titles/abstracts with vectors from
  benchmarks/_cache when present, else synthetic clustered unit vectors (said in the output).

Text queries include embedding the query with the real model on CPU. At 100k the texts
(which feed the "why" terms) and the vectors are not paired paper by paper: the figures are
latencies, not relevance.
Usage: python benchmarks/bench_search.py [--n 100000] [--queries 200]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np

from common import REPO, machine, read_eval, realistic_vectors

QUERIES = [
    "reward hacking in RLHF",
    "steering diffusion models at inference time",
    "value functions for deep reinforcement learning",
    "pluralistic human values in language models",
    "robot grasping from point clouds",
]


def percentiles(function, inputs) -> tuple[float, float]:
    times = []
    for item in inputs:
        start = time.perf_counter()
        function(item)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.99 * len(times)))]


def measure(label: str, atlas, n_queries: int) -> None:
    from paperatlas.search import find_similar_papers

    rng = np.random.default_rng(0)
    ids = [atlas.corpus.ids[i] for i in rng.integers(0, len(atlas), n_queries)]
    texts = [QUERIES[i % len(QUERIES)] + f" {i}" for i in range(n_queries)]
    find_similar_papers(atlas, texts[0], 10)  # warm: model, explainer
    find_similar_papers(atlas, ids[0], 10)
    id50, id99 = percentiles(lambda q: find_similar_papers(atlas, q, 10), ids)
    text50, text99 = percentiles(lambda q: find_similar_papers(atlas, q, 10, by="text"), texts)
    print(f"  {label:<38} id query p50 {id50:6.2f} ms  p99 {id99:6.2f} ms | "
          f"text query p50 {text50:6.2f} ms  p99 {text99:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()

    from paperatlas import read_corpus
    from paperatlas.atlas import Atlas
    from paperatlas.corpus import Corpus, Paper
    from paperatlas.embed import SentenceTransformerEmbedder
    from paperatlas.index import PaperIndex

    print(f"machine: {machine()}")
    embedder = SentenceTransformerEmbedder(device="cpu")
    with tempfile.TemporaryDirectory() as cache:
        bundled = Atlas.build(read_corpus(REPO / "data" / "papers.jsonl"), embedder, cache=cache)
    print(f"bundled corpus, {len(bundled)} papers, {args.queries} queries each:")
    measure("exact index", bundled, args.queries)

    records = read_eval("paperlists_venues.jsonl.gz")
    vectors, _, source = realistic_vectors(args.n)
    # real paperlists texts (repeated past its 91,790); row numbers as ids, since
    # paperlists repeats some source ids ("cvpr2016/None")
    corpus = Corpus(
        Paper(id=str(i), title=records[i % len(records)]["title"], abstract=records[i % len(records)]["abstract"])
        for i in range(args.n)
    )
    print(f"{args.n:,} papers (paperlists_venues texts, {source}), {args.queries} queries each:")
    for kind in ("exact", "hnsw"):
        atlas = Atlas(corpus, vectors, PaperIndex.build(vectors, kind), bundled.model)
        atlas.use_embedder(embedder)
        measure(f"{kind} index", atlas, args.queries)


if __name__ == "__main__":
    main()
