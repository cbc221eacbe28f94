"""Embed all of paperlists_venues (91,790 abstracts) once, for the 100k benchmarks.

Resumable: vectors are written per chunk under benchmarks/_cache/paperlists_full/ and
joined into benchmarks/_cache/paperlists_full.npy (+ .json with ids and labels) at the
end. Rows already embedded for the 10k sample (bench_topics.py) are reused. On CPU this
takes 40-60 minutes; on a GPU about a minute.

Usage: python benchmarks/embed_paperlists.py [--threads N] [--device auto]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from common import CACHE, read_eval

CHUNK = 2048


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from paperatlas.embed import SentenceTransformerEmbedder

    records = read_eval("paperlists_venues.jsonl.gz")
    texts = [r["title"] + ". " + r["abstract"] for r in records]
    out = CACHE / "paperlists_full"
    out.mkdir(parents=True, exist_ok=True)
    known: dict[int, np.ndarray] = {}
    sample, sample_meta = CACHE / "paperlists10k.npy", CACHE / "paperlists10k.json"
    if sample.exists() and sample_meta.exists():
        rows = np.sort(np.random.default_rng(0).choice(len(records), size=10_000, replace=False))
        vectors = np.load(sample, allow_pickle=False)
        if json.loads(sample_meta.read_text())["texts"] == [texts[i] for i in rows]:
            known = {int(r): v for r, v in zip(rows, vectors)}
    embedder = SentenceTransformerEmbedder(device=args.device, batch_size=64)
    start = time.perf_counter()
    done = 0
    for first in range(0, len(texts), CHUNK):
        path = out / f"chunk_{first // CHUNK:04d}.npy"
        if path.exists():
            continue
        rows = range(first, min(first + CHUNK, len(texts)))
        todo = [i for i in rows if i not in known]
        fresh = embedder.encode([texts[i] for i in todo]) if todo else np.zeros((0, 384), np.float32)
        by_row = dict(known)
        by_row.update(zip(todo, fresh))
        np.save(path, np.stack([by_row[i] for i in rows]).astype(np.float32), allow_pickle=False)
        done += len(todo)
        rate = done / (time.perf_counter() - start)
        print(f"chunk {first // CHUNK + 1}/{-(-len(texts) // CHUNK)}: {rate:.1f} abstracts/s", flush=True)
    chunks = sorted(out.glob("chunk_*.npy"))
    vectors = np.concatenate([np.load(p, allow_pickle=False) for p in chunks])
    np.save(CACHE / "paperlists_full.npy", vectors, allow_pickle=False)
    (CACHE / "paperlists_full.json").write_text(
        json.dumps({"ids": [r["id"] for r in records], "labels": [r["label"] for r in records]}))
    print(f"{len(vectors)} vectors in {CACHE / 'paperlists_full.npy'}")


if __name__ == "__main__":
    main()
