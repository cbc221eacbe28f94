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
       python benchmarks/bench_embed_backends.py --device cuda [--gpu-texts 50000] [--model PATH]
"""

from __future__ import annotations

import argparse
import datetime
import json
import time


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
            vectors, _ = embed_with_cache(embedder, texts, hashes, cache)
            scores[backend] = neighbour_precision(vectors, labels, 10)
        print(f"  {name.split('.')[0]:>20}: torch {scores['torch']:.4f}  onnx-int8 {scores['onnx-int8']:.4f}  "
              f"difference {scores['onnx-int8'] - scores['torch']:+.4f}", flush=True)


def gpu(n_texts: int, model: str | None, batch_size: int) -> None:
    import torch

    from paperatlas.embed import SentenceTransformerEmbedder

    if not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    if (EVAL / "paperlists_venues.jsonl.gz").exists():
        pool, source = texts_of(read_eval("paperlists_venues.jsonl.gz")), "paperlists_venues abstracts"
    else:
        pool = [json.loads(line) for line in (REPO / "data" / "papers.jsonl").read_text().splitlines()]
        pool, source = [p["title"] + ". " + p["abstract"] for p in pool], "bundled abstracts, repeated"
    texts = [pool[i % len(pool)] for i in range(n_texts)]
    print(f"GPU: {torch.cuda.get_device_name(0)}; {len(texts)} {source}")
    fast = SentenceTransformerEmbedder(model, device="cuda", batch_size=batch_size)
    fast.encode(texts[:batch_size])
    torch.cuda.synchronize()
    start = time.perf_counter()
    vectors = fast.encode(texts)
    torch.cuda.synchronize()
    rate = len(texts) / (time.perf_counter() - start)
    reference = fast._load()  # the same weights in fp16, through sentence-transformers' encode
    start = time.perf_counter()
    st_sample = reference.encode(texts[:20_000], batch_size=128, normalize_embeddings=True, convert_to_numpy=True)
    st_rate = len(st_sample) / (time.perf_counter() - start)
    fp32 = SentenceTransformerEmbedder(model, device="cuda", batch_size=batch_size)
    fp32_model = fp32._load().float()
    sample = texts[:2000]
    exact = fp32_model.encode(sample, batch_size=128, normalize_embeddings=True, convert_to_numpy=True)
    cosine = (vectors[:len(sample)] * exact).sum(1)
    print(f"  paperatlas fp16 pipeline (batch {batch_size}): {rate:,.0f} abstracts/s")
    print(f"  sentence-transformers encode, fp16, batch 128: {st_rate:,.0f} abstracts/s "
          f"(the pipeline: {rate / st_rate:.1f}x)")
    print(f"  cosine to fp32 on {len(sample)} texts: mean {cosine.mean():.5f} min {cosine.min():.5f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (onnxruntime uses the cores)")
    parser.add_argument("--quality-papers", type=int, default=500, help="papers per labelled set (0: skip)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--gpu-texts", type=int, default=50_000)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    print(f"bench_embed_backends on {machine()}, {datetime.date.today()}")
    if args.device == "cuda":
        gpu(args.gpu_texts, args.model, args.batch_size)
        return
    import torch

    torch.set_num_threads(args.threads)
    speed(args.texts)
    if args.quality_papers:
        quality(args.quality_papers)


if __name__ == "__main__":
    main()
