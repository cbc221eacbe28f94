"""Embedding backends: speed, fidelity to torch fp32, and neighbour quality.

Prints, for the README's "Embedding backends" section:
  * abstracts/s of torch, onnx and onnx-int8 on the same random paperlists_venues
    abstracts (seeded), with the ratio to torch and the cosine of each vector to torch's;
  * same-label precision@10 of torch vs onnx-int8 vectors on a seeded sample of each
    labelled set in ../shared/eval (vectors through benchmarks/_cache's embedding cache);
  * with --device cuda: abstracts/s of the fp16 pipeline (length-sorted batches,
    tokenisation overlapped with the forward pass) against sentence-transformers' encode
    in fp16, and the cosine of its vectors to fp32. Texts: paperlists_venues when
    ../shared/eval is there, else the bundled corpus repeated; pass --model with a local
    folder (for example the model saved in float16) where the bundled package is missing.

Usage: python benchmarks/bench_embed_backends.py [--texts 512] [--threads 2] [--quality-papers 500]
       python benchmarks/bench_embed_backends.py --device cuda [--gpu-texts 200000] [--model PATH]
           [--texts-file abstracts.jsonl.gz] [--reference fp32.npy]
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


from common import CACHE, EVAL, REPO, machine, read_eval

SETS = ("arxiv2007_sample.jsonl.gz", "arxiv2018_3fields.jsonl.gz", "medical_tc_test.jsonl.gz",
        "paperlists_venues.jsonl.gz")


def texts_of(records: list[dict]) -> list[str]:
    return [r["title"] + ". " + r["abstract"] for r in records]


def speed(n_texts: int) -> None:
    from paperatlas.embed import SentenceTransformerEmbedder

    texts = texts_of(read_eval("paperlists_venues.jsonl.gz", n_texts, seed=0))
    print(f"{len(texts)} random paperlists_venues abstracts (seed 0), CPU, one run each after a warm-up")
    base = None
    base_rate = None
    for backend in ("torch", "onnx", "onnx-int8"):
        embedder = SentenceTransformerEmbedder(device="cpu", backend=backend)
        embedder.encode(texts[:16])  # load (and export, once) outside the timing
        start = time.perf_counter()
        vectors = embedder.encode(texts)
        rate = len(texts) / (time.perf_counter() - start)
        if base is None:
            base, base_rate = vectors, rate
        cosine = (vectors * base).sum(1)
        print(f"  {backend:>9}: {rate:5.1f} abstracts/s  ({rate / base_rate:.2f}x torch)  "
              f"cosine to torch mean {cosine.mean():.4f} min {cosine.min():.4f}", flush=True)


def quality(per_set: int) -> None:
    from paperatlas.corpus import content_hash
    from paperatlas.embed import EmbeddingCache, SentenceTransformerEmbedder, embed_with_cache
    from paperatlas.evaluation import neighbour_precision

    cache = EmbeddingCache(CACHE / "embeddings")
    embedders = {b: SentenceTransformerEmbedder(device="cpu", backend=b) for b in ("torch", "onnx-int8")}
    print(f"same-label precision@10 on a seeded sample of {per_set} papers per set")
    for name in SETS:
        records = read_eval(name, per_set, seed=0)
        texts = texts_of(records)
        hashes = [content_hash(r["title"], r["abstract"]) for r in records]  # the atlas's own cache key
        labels = [r["label"] for r in records]
        scores = {}
        for backend, embedder in embedders.items():
            if backend == "torch":  # fp32 vectors are the same on any CPU: the cache serves them
                vectors, _ = embed_with_cache(embedder, texts, hashes, cache)
            else:  # int8 kernels differ between CPUs (VNNI or not): embedded here, every run
                vectors = embedder.encode(texts)
            scores[backend] = neighbour_precision(vectors, labels, 10)
        print(f"  {name.split('.')[0]:>20}: torch {scores['torch']:.4f}  onnx-int8 {scores['onnx-int8']:.4f}  "
              f"difference {scores['onnx-int8'] - scores['torch']:+.4f}", flush=True)


def gpu_texts(texts_file: str | None) -> tuple[list[str], str]:
    """Abstracts for the GPU run: a JSONL(.gz) of title/abstract records, else paperlists_venues
    when ../shared/eval is there, else the bundled corpus."""
    if texts_file:
        opener = gzip.open if texts_file.endswith(".gz") else open
        with opener(texts_file, "rt", encoding="utf-8") as handle:
            return texts_of([json.loads(line) for line in handle]), f"abstracts of {Path(texts_file).name}"
    if (EVAL / "paperlists_venues.jsonl.gz").exists():
        return texts_of(read_eval("paperlists_venues.jsonl.gz")), "paperlists_venues abstracts"
    records = [json.loads(line) for line in (REPO / "data" / "papers.jsonl").read_text().splitlines()]
    return texts_of(records), "bundled abstracts"


def gpu(n_texts: int, model: str | None, batch_size: int, texts_file: str | None, reference: str | None) -> None:
    """Abstracts/s on a CUDA GPU: the tokeniser alone (the model's preprocess, the Rust shortcut),
    the embedder as a user gets it, sentence-transformers' encode in fp16; and the cosine of the
    vectors to fp32 (benchmarks/gpu_probe.py takes the pipeline apart further)."""
    import numpy as np
    import torch

    from paperatlas.embed import SentenceTransformerEmbedder
    from paperatlas.embed.pipeline import length_sorted_batches, rust_thread_pool_off, rust_tokeniser
    from paperatlas.embed.sentence import gpu_tokenising_threads

    if not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    pool, source = gpu_texts(texts_file)
    texts = [pool[i % len(pool)] for i in range(n_texts)]
    print(f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}; {len(texts):,} texts "
          f"({source}, {len(pool):,} distinct, repeated)", flush=True)
    st_model = SentenceTransformerEmbedder(model, device="cuda", batch_size=batch_size)._load()  # fp16
    rows: list[tuple[str, float]] = []

    def timed(label: str, function, count: int):
        torch.cuda.synchronize()
        start = time.perf_counter()
        result = function()
        torch.cuda.synchronize()
        rate = count / (time.perf_counter() - start)
        rows.append((label, rate))
        print(f"  {label}: {rate:,.0f} abstracts/s", flush=True)
        return result

    sample = texts[:50_000]
    batches = [[sample[r] for r in rows_] for rows_ in length_sorted_batches(sample, batch_size)]
    tokenise = rust_tokeniser(st_model)
    timed(f"tokeniser alone: sentence-transformers preprocess, batch {batch_size}",
          lambda: [st_model.preprocess(b) for b in batches], len(sample))
    with rust_thread_pool_off(), ThreadPoolExecutor(gpu_tokenising_threads()) as threads:
        timed(f"tokeniser alone: the Rust shortcut in {gpu_tokenising_threads()} threads",
              lambda: list(threads.map(tokenise, batches)), len(sample))
    user = SentenceTransformerEmbedder(model, device="cuda")
    user.encode(texts[:4096])
    vectors = timed("SentenceTransformerEmbedder(device='cuda').encode, defaults", lambda: user.encode(texts),
                    len(texts))
    st_texts = texts[:20_000]
    st_model.encode(st_texts[:256], batch_size=128)
    timed("sentence-transformers encode, fp16, batch 128",
          lambda: st_model.encode(st_texts, batch_size=128, normalize_embeddings=True, convert_to_numpy=True),
          len(st_texts))
    best = max(rate for label, rate in rows if label.startswith("SentenceTransformerEmbedder"))
    st_rate = rows[-1][1]
    if reference:  # fp32 vectors of the first texts, made on a CPU from the original fp32 weights
        exact = np.load(reference, allow_pickle=False)
        name = "fp32 reference (CPU, original weights)"
    else:
        exact = SentenceTransformerEmbedder(model, device="cuda")._load().float().encode(
            texts[:2000], batch_size=128, normalize_embeddings=True, convert_to_numpy=True)
        name = "fp32 on the GPU (same weights)"
    exact = exact[:min(len(vectors), len(pool))]  # rows of distinct texts only
    cosine = (vectors[:len(exact)] * exact).sum(1)
    print("\n| step | abstracts/s |\n|---|---|")
    for label, rate in rows:
        print(f"| {label} | {rate:,.0f} |")
    print(f"paperatlas {best:,.0f}/s = {best / st_rate:.1f}x sentence-transformers encode; "
          f"cosine to {name} on {len(exact)} texts: mean {cosine.mean():.5f} min {cosine.min():.5f}")
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "gpu.json").write_text(json.dumps(
            {"gpu": torch.cuda.get_device_name(0), "rows": rows,
             "cosine_mean": float(cosine.mean()), "cosine_min": float(cosine.min())}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (onnxruntime uses the cores)")
    parser.add_argument("--quality-papers", type=int, default=500, help="papers per labelled set (0: skip)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--gpu-texts", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--model", default=None)
    parser.add_argument("--texts-file", default=None, help="JSONL(.gz) of title/abstract records for --device cuda")
    parser.add_argument("--reference", default=None,
                        help="--device cuda: .npy of fp32 vectors of the first texts, made elsewhere")
    args = parser.parse_args()
    print(f"bench_embed_backends on {machine()}, {datetime.date.today()}")
    if args.device == "cuda":
        gpu(args.gpu_texts, args.model, args.batch_size, args.texts_file, args.reference)
        return
    import torch

    torch.set_num_threads(args.threads)
    speed(args.texts)
    if args.quality_papers:
        quality(args.quality_papers)


if __name__ == "__main__":
    main()
