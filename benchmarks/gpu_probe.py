"""Where the GPU embedding pipeline spends its time: tokeniser variants, the forward pass alone
(attention kernels, dtypes, batch sizes, a kernel profile) and the pipeline with the Rust
tokeniser shortcut in several threads. One short run on a lent GPU machine; its output on an
H200 is in benchmarks/results/gpu_h200_2026-12-04.md (run 2 before torch_forward kept cuDNN's
attention out, run 3 the pipeline section after).

Usage: python benchmarks/gpu_probe.py --model DIR --texts-file abstracts.jsonl.gz [--reference fp32.npy]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--texts-file", required=True)
    parser.add_argument("--reference", default=None)
    parser.add_argument("--pipeline-texts", type=int, default=100_000)
    args = parser.parse_args()

    import torch

    from paperatlas.embed import SentenceTransformerEmbedder
    from paperatlas.embed.base import unit_rows
    from paperatlas.embed.pipeline import encode_batches, length_sorted_batches, rust_tokeniser

    print(f"affinity {len(os.sched_getaffinity(0))} cpus, RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS')}, "
          f"TOKENIZERS_PARALLELISM={os.environ.get('TOKENIZERS_PARALLELISM')}", flush=True)
    with gzip.open(args.texts_file, "rt", encoding="utf-8") as handle:
        pool = [r["title"] + ". " + r["abstract"] for r in map(json.loads, handle)]
    embedder = SentenceTransformerEmbedder(args.model, device="cuda", batch_size=512)
    st_model = embedder._load()
    forward = embedder._forward
    fast = rust_tokeniser(st_model)
    print(f"rust shortcut available: {fast is not None}", flush=True)
    sample = pool[:16384]
    batches = [[sample[r] for r in rows] for rows in length_sorted_batches(sample, 512)]

    def rate(label, function, count, sync=False):
        if sync:
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = function()
        if sync:
            torch.cuda.synchronize()
        value = count / (time.perf_counter() - start)
        print(f"  {label}: {value:,.0f} texts/s", flush=True)
        return result

    from concurrent.futures import ThreadPoolExecutor

    def threaded(tokenise, workers):
        with ThreadPoolExecutor(workers) as ex:
            return list(ex.map(tokenise, batches))

    print("tokeniser, 16,384 texts, batches of 512", flush=True)
    rate("preprocess, 1 thread", lambda: threaded(st_model.preprocess, 1), len(sample))
    rate("rust shortcut, 1 thread", lambda: threaded(fast, 1), len(sample))
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    for workers in (1, 4, 8, 14):
        rate(f"rust shortcut, no Rust pool, {workers} threads", lambda: threaded(fast, workers), len(sample))
    os.environ.pop("TOKENIZERS_PARALLELISM")

    tokenised = [fast(b) for b in batches]
    on_gpu = [{k: v.cuda() for k, v in f.items()} for f in tokenised]
    print(f"forward pass alone, pre-tokenised on the GPU, mean width {np.mean([f['input_ids'].shape[1] for f in on_gpu]):.0f}",
          flush=True)
    hf = st_model[0].auto_model
    with torch.inference_mode():
        for f in on_gpu[:2]:
            forward(f)
        rate("fp16 sdpa, PyTorch's kernels (torch_forward keeps cuDNN's out)", lambda: [forward(f) for f in on_gpu], len(sample), sync=True)
        torch.cuda.synchronize()
        start = time.perf_counter()
        [forward(f) for f in on_gpu[:4]]
        issue = time.perf_counter() - start
        torch.cuda.synchronize()
        print(f"  CPU time to issue one batch: {issue / 4 * 1000:.1f} ms", flush=True)
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            [forward(f) for f in on_gpu[:2]]
            torch.cuda.synchronize()
        print(prof.key_averages().table(sort_by="self_cuda_time_total", row_limit=10, max_name_column_width=60),
              flush=True)
        try:
            hf.set_attn_implementation("eager")
            forward(on_gpu[0])
            rate("fp16 eager attention", lambda: [forward(f) for f in on_gpu], len(sample), sync=True)
        except Exception as exc:  # noqa: BLE001 - a probe reports and goes on
            print(f"  eager: {exc}")
        finally:
            hf.set_attn_implementation("sdpa")
        st_model.to(torch.bfloat16)
        forward(on_gpu[0])
        rate("bf16 sdpa", lambda: [forward(f) for f in on_gpu], len(sample), sync=True)
        st_model.half()
        big = [fast([sample[r] for r in rows]) for rows in length_sorted_batches(sample, 2048)]
        big = [{k: v.cuda() for k, v in f.items()} for f in big]
        forward(big[0])
        rate("fp16 sdpa, batch 2048", lambda: [forward(f) for f in big], len(sample), sync=True)
    on_gpu = big = None  # free the GPU copies before the pipeline runs

    texts = [pool[i % len(pool)] for i in range(args.pipeline_texts)]
    print(f"pipeline, {len(texts):,} texts (encode_batches turns the Rust pool off for its threads)", flush=True)
    vectors = None
    for size, workers in ((512, 12), (1024, 12), (2048, 14), (1024, 6)):
        encode_batches(st_model, texts[:size * 2], size, forward, pin_memory=True, workers=workers, tokeniser=fast)
        out = rate(f"batch {size}, rust shortcut, {workers} threads",
                   lambda: unit_rows(encode_batches(st_model, texts, size, forward, pin_memory=True, workers=workers,
                                                    tokeniser=fast)), len(texts), sync=True)
        vectors = out if vectors is None else vectors
    if args.reference:
        exact = np.load(args.reference, allow_pickle=False)[:len(vectors)]
        cosine = (vectors[:len(exact)] * exact).sum(1)
        print(f"cosine to the CPU fp32 reference: mean {cosine.mean():.5f} min {cosine.min():.5f}")


if __name__ == "__main__":
    main()
