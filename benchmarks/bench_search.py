"""Query latency of a saved atlas, in a new process as a user meets it, before and after.

For each size (default 10,000 and 100,000 papers) an atlas is built with the CLI from
real paperlists_venues titles and abstracts and their precomputed all-MiniLM-L6-v2 vectors
(all 91,790 when benchmarks/embed_paperlists.py has cached them, else the 10,000-paper
sample of bench_topics.py; beyond those, vectors interpolated between real neighbours,
each with its source paper's text: see common.realistic_vectors), then measured:

* ``paperatlas similar ATLAS --id ID -k 10`` as a whole command (median of 3 runs);
* from Python: ``Atlas.load``, the first id query after it, id query p50/p99, and text
  query p50/p99 once the model is loaded (the bundled all-MiniLM-L6-v2 on CPU).

Each measurement runs for this checkout and, with ``--baseline REV``, for an older
commit checked out in a temporary git worktree: same run, same machine, same data.
Usage: python benchmarks/bench_search.py [--sizes 10000 100000] [--baseline REV]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from common import REPO, machine, make_inputs

WORK = Path(__file__).resolve().parent / "_work" / "search"
QUERIES = [
    "reward hacking in RLHF",
    "steering diffusion models at inference time",
    "value functions for deep reinforcement learning",
    "pluralistic human values in language models",
    "robot grasping from point clouds",
]


def checkout(rev: str) -> Path:
    """A worktree of ``rev`` (its paperatlas package is imported via PYTHONPATH)."""
    target = WORK / f"src_{rev}"
    if not target.exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(target), rev],
                       check=True, capture_output=True)
    return target


def run(source: Path, args: list[str], **kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(source), TOKENIZERS_PARALLELISM="false")
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, **kwargs)


def build(source: Path, label: str, papers: Path, vectors: Path, n: int) -> tuple[Path, float]:
    atlas = WORK / f"atlas_{label}_{n}"
    start = time.perf_counter()
    done = run(source, ["-m", "paperatlas.cli", "build", str(papers), "-o", str(atlas),
                        "--embeddings", str(vectors), "--id-field", "id"])
    if done.returncode != 0:
        raise SystemExit(f"build failed ({label}): {done.stderr[-2000:]}")
    return atlas, time.perf_counter() - start


def whole_command(source: Path, atlas: Path, paper_id: str, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = run(source, ["-m", "paperatlas.cli", "similar", str(atlas), "--id", paper_id, "-k", "10"])
        times.append(time.perf_counter() - start)
        if done.returncode != 0 or "papers like" not in done.stdout:
            raise SystemExit(f"similar failed: {done.stderr[-2000:]}")
    return statistics.median(times)


def worker(atlas_path: str, n_queries: int) -> None:
    """Runs inside the measured checkout: prints one JSON line of timings in ms."""
    def quantiles(times: list[float]) -> tuple[float, float]:
        times = sorted(times)
        return statistics.median(times), times[min(len(times) - 1, int(0.99 * len(times)))]

    def timed(function, inputs) -> list[float]:
        out = []
        for item in inputs:
            start = time.perf_counter()
            function(item)
            out.append((time.perf_counter() - start) * 1000)
        return out

    start = time.perf_counter()
    from paperatlas.atlas import Atlas
    from paperatlas.search import find_similar_papers

    atlas = Atlas.load(atlas_path)
    load = (time.perf_counter() - start) * 1000
    rng = np.random.default_rng(0)
    n = len(atlas)
    ids = [f"p{i}" for i in rng.integers(0, n, n_queries + 1)]
    first = timed(lambda q: find_similar_papers(atlas, q, 10, by="id"), ids[:1])[0]
    id50, id99 = quantiles(timed(lambda q: find_similar_papers(atlas, q, 10, by="id"), ids[1:]))
    from paperatlas.embed import SentenceTransformerEmbedder

    atlas.use_embedder(SentenceTransformerEmbedder(device="cpu"))  # the atlas holds precomputed vectors
    start = time.perf_counter()
    find_similar_papers(atlas, "warm up the model", 10, by="text")
    first_text = (time.perf_counter() - start) * 1000
    texts = [QUERIES[i % len(QUERIES)] + f" {i}" for i in range(n_queries)]
    text50, text99 = quantiles(timed(lambda q: find_similar_papers(atlas, q, 10, by="text"), texts))
    import paperatlas

    print(json.dumps({"load": load, "first_id": first, "id_p50": id50, "id_p99": id99, "first_text": first_text,
                      "text_p50": text50, "text_p99": text99, "package": paperatlas.__file__}))


def measure(source: Path, label: str, papers: Path, vectors: Path, n: int, n_queries: int) -> dict:
    atlas, build_seconds = build(source, label, papers, vectors, n)
    whole = whole_command(source, atlas, "p7")
    done = run(source, [__file__, "--worker", str(atlas), "--queries", str(n_queries)])
    if done.returncode != 0:
        raise SystemExit(f"worker failed ({label}): {done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    if not figures["package"].startswith(str(source)):
        raise SystemExit(f"{label}: measured {figures['package']}, not {source}")
    figures.update(build=build_seconds, whole=whole)
    shutil.rmtree(atlas, ignore_errors=True)
    return figures


def report(label: str, f: dict) -> None:
    print(f"  {label:<9} whole command {f['whole']:5.2f} s | load {f['load'] / 1000:5.2f} s | "
          f"first id query {f['first_id']:7.1f} ms | id p50 {f['id_p50']:6.2f} ms p99 {f['id_p99']:6.2f} ms | "
          f"text p50 {f['text_p50']:6.2f} ms p99 {f['text_p99']:6.2f} ms (first {f['first_text'] / 1000:.1f} s) | "
          f"build {f['build']:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--baseline", default=None, help="git revision to measure as 'before'")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.queries)
        return
    print(f"machine: {machine()}; {datetime.date.today()}")
    trees = [("after", REPO)]
    if args.baseline:
        trees.insert(0, ("before", checkout(args.baseline)))
        print(f"before = {args.baseline}, after = this checkout")
    for n in args.sizes:
        papers, vectors, description = make_inputs(WORK.parent / f"inputs_{n}", n)
        print(f"{n:,} papers (paperlists_venues texts; vectors: {description}); {args.queries} queries:", flush=True)
        for label, source in trees:
            report(label, measure(source, label, papers, vectors, n, args.queries))


if __name__ == "__main__":
    main()
