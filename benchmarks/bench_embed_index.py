"""Embedding throughput, cold vs cached build, and approximate-index recall.

Prints figures for the README's Performance section:
  * abstracts/s of the default model on CPU at batch sizes 16/32/64 (median of runs);
  * cold build vs cached rebuild of the bundled corpus (data/papers.jsonl);
  * recall@10 of the HNSW index against exact search on 100k vectors, and build/query times.

Usage: python benchmarks/bench_embed_index.py [--texts 256] [--runs 3] [--vectors 100000]
"""

from __future__ import annotations

import argparse
import datetime
import tempfile
import time

import numpy as np

from common import REPO, machine, median_time, realistic_vectors


def embedding_throughput(n_texts: int, runs: int) -> None:
    from paperatlas import read_corpus
    from paperatlas.embed import SentenceTransformerEmbedder

    texts = read_corpus(REPO / "data" / "papers.jsonl").texts()[:n_texts]
    print(f"embedding throughput, {len(texts)} bundled abstracts, CPU, median of {runs} runs")
    for batch in (16, 32, 64):
        embedder = SentenceTransformerEmbedder(device="cpu", batch_size=batch)
        embedder.encode(texts[:8])  # load the model outside the timing
        seconds = median_time(lambda: embedder.encode(texts), runs)
        print(f"  batch {batch:>3}: {len(texts) / seconds:6.1f} abstracts/s  ({seconds:.1f} s)")


def cold_vs_cached_build() -> None:
    from paperatlas import read_corpus
    from paperatlas.atlas import Atlas
    from paperatlas.embed import EmbeddingCache, SentenceTransformerEmbedder

    corpus = read_corpus(REPO / "data" / "papers.jsonl")
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        Atlas.build(corpus, SentenceTransformerEmbedder(device="cpu"), cache=EmbeddingCache(folder)).save(f"{folder}/a")
        cold = time.perf_counter() - start
        cached = median_time(
            lambda: Atlas.build(corpus, SentenceTransformerEmbedder(device="cpu"), cache=EmbeddingCache(folder)).save(f"{folder}/a"),
            3,
        )
    print(f"build of the bundled corpus ({len(corpus)} papers): cold {cold:.1f} s, "
          f"cached rebuild {cached:.2f} s (median of 3), {cold / cached:.0f}x faster")


def approximate_recall(n: int) -> None:
    from paperatlas.index import PaperIndex

    drawn, _, source = realistic_vectors(n + 1000)
    held_out = np.random.default_rng(1).permutation(n + 1000)
    vectors, queries = drawn[np.sort(held_out[:n])], drawn[held_out[n:]]  # held-out queries
    start = time.perf_counter()
    exact = PaperIndex.build(vectors, "exact")
    exact_build = time.perf_counter() - start
    start = time.perf_counter()
    approx = PaperIndex.build(vectors, "hnsw")
    approx_build = time.perf_counter() - start
    _, truth = exact.search(queries, 10)
    _, found = approx.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found)])
    one = queries[:1]
    exact_ms = median_time(lambda: exact.search(one, 10), 51) * 1000
    approx_ms = median_time(lambda: approx.search(one, 10), 51) * 1000
    print(f"HNSW vs exact on {n:,} vectors ({source}), 1,000 held-out queries:")
    print(f"  recall@10 {recall:.3f}; build {approx_build:.1f} s (exact {exact_build:.2f} s); "
          f"one query p50 {approx_ms:.2f} ms (exact {exact_ms:.2f} ms)")


def main() -> None:
    """Run every measurement, or only the index one with --index-only."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--index-only", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}; date: {datetime.date.today()}")
    if not args.index_only:
        embedding_throughput(args.texts, args.runs)
        cold_vs_cached_build()
    approximate_recall(args.vectors)


if __name__ == "__main__":
    main()
