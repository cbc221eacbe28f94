"""Field scale: ingest, build, open, search and grow atlases of 10k, 100k and 1M papers, as a user runs them.

Inputs come from common.make_inputs: real paperlists_venues titles and abstracts with real
all-MiniLM-L6-v2 vectors (the cached 10,000-paper sample, or all 91,790 when
embed_paperlists.py has cached them) and beyond those vectors interpolated between real
neighbours, each paper carrying its source paper's text (the description is printed).

Every step runs the CLI in a fresh process; wall time and that process's peak memory
(its VmHWM, read by the process itself as it exits) are printed:

* ``paperatlas ingest papers.jsonl -o papers.parquet``
* ``paperatlas build papers.parquet -o ATLAS --embeddings vectors.npy`` (its stage timings too)
* the atlas folder's size; ``Atlas.load`` in a new process (median of 3)
* ``paperatlas similar ATLAS --id ID -k 10`` as a whole command (median of 3)
* after one load: id query p50 and text query p50 (bundled model on CPU), 200 queries each
* ``paperatlas add ATLAS new.jsonl --embeddings new.npy`` with 10,000 new papers
* the index on its own: recall@10 against exact search for 1,000 held-out queries, its
  build time and size.

Usage: python benchmarks/bench_scale.py [--sizes 10000 100000 1000000] [--keep]
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

from common import machine, make_inputs

WORK = Path(__file__).resolve().parent / "_work"
NEW_PAPERS = 10_000


def run(args: list[str]) -> tuple[float, str, str]:
    """``(seconds, stdout, stderr)`` of a fresh Python process; exits on failure."""
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{done.stderr[-3000:]}")
    return time.perf_counter() - start, done.stdout, done.stderr


def measured(args: list[str]) -> tuple[float, float, str, str]:
    """Like ``run`` but the peak memory is that process's own (a tiny wrapper reports it).

    The peak is the ``VmHWM`` of /proc/self/status, which starts afresh with the new program:
    ``ru_maxrss`` survives exec on Linux, so a child forked from this process (which holds the
    inputs: 4.9 GiB at 1M) would report at least this process's size."""
    wrapper = ("import runpy, sys; sys.argv = sys.argv[1:]; "
               "code = 0\ntry:\n    runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n"
               "except SystemExit as exit:\n    code = exit.code or 0\n"
               "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')]\n"
               "print('PEAK_KIB', hwm[0], file=sys.stderr)\n"
               "sys.exit(code)")
    seconds, out, err = run(["-c", wrapper, *args])
    peak = [line for line in err.splitlines() if line.startswith("PEAK_KIB")]
    return seconds, int(peak[-1].split()[1]) / 2**20 if peak else float("nan"), out, err


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def new_papers(folder: Path, papers: Path, vectors: Path) -> tuple[Path, Path]:
    """10,000 new papers: texts of the first input papers under new ids, vectors nudged off theirs."""
    out_papers, out_vectors = folder / "new.jsonl", folder / "new.npy"
    if not out_papers.exists():
        with open(papers, encoding="utf-8") as source, open(out_papers, "w", encoding="utf-8") as sink:
            for i, line in zip(range(NEW_PAPERS), source):
                record = json.loads(line)
                record.update(id=f"new{i}", title=f"{record['title']} (new {i})")
                sink.write(json.dumps(record) + "\n")
        base = np.load(vectors, mmap_mode="r")[:NEW_PAPERS]
        nudged = base + 0.05 * np.random.default_rng(1).standard_normal(base.shape).astype(np.float32)
        np.save(out_vectors, (nudged / np.linalg.norm(nudged, axis=1, keepdims=True)).astype(np.float32))
    return out_papers, out_vectors


def query_worker(atlas_path: str) -> None:
    """In a fresh process: load, then id and text query latencies (ms)."""
    from paperatlas.atlas import Atlas
    from paperatlas.embed import SentenceTransformerEmbedder

    atlas = Atlas.load(atlas_path)
    rng = np.random.default_rng(0)
    ids = [f"p{i}" for i in rng.integers(0, len(atlas), 201)]

    def p50(function, items) -> float:
        times = []
        for item in items:
            start = time.perf_counter()
            function(item)
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)

    atlas.similar(ids[0], k=10, by="id")
    id_p50 = p50(lambda q: atlas.similar(q, k=10, by="id"), ids[1:])
    atlas.use_embedder(SentenceTransformerEmbedder(device="cpu"))
    atlas.similar("warm up the model", k=10, by="text")
    texts = [f"reward hacking in RLHF {i}" if i % 2 else f"robot grasping from point clouds {i}" for i in range(200)]
    text_p50 = p50(lambda q: atlas.similar(q, k=10, by="text"), texts)
    print(json.dumps({"id_p50": id_p50, "text_p50": text_p50}))


def load_worker(atlas_path: str) -> None:
    start = time.perf_counter()
    from paperatlas.atlas import Atlas

    Atlas.load(atlas_path)
    print(json.dumps({"load": time.perf_counter() - start}))


def index_figures(vectors_path: Path) -> dict:
    """Recall@10 of the auto index against exact search, 1,000 held-out queries; build time and size."""
    import faiss

    from paperatlas.index import PaperIndex

    vectors = np.load(vectors_path, mmap_mode="r")
    held = np.sort(np.random.default_rng(2).choice(len(vectors), 1000, replace=False))
    keep = np.ones(len(vectors), bool)
    keep[held] = False
    base = np.ascontiguousarray(vectors[keep]) if len(vectors) <= 200_000 else np.asarray(vectors)[keep]
    queries = np.ascontiguousarray(vectors[held])
    start = time.perf_counter()
    index = PaperIndex.build(base)
    build = time.perf_counter() - start
    _, truth = faiss.knn(queries, base, 10, metric=faiss.METRIC_INNER_PRODUCT)
    _, found = index.search(queries, 10)
    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, found)]))
    size = 0
    if index.kind != "exact":
        path = WORK / "index_probe.faiss"
        index.save(path)
        size = path.stat().st_size
        path.unlink()
    return {"kind": index.kind, "recall": recall, "build": build, "bytes": size}


def measure(n: int, keep: bool) -> None:
    folder = WORK / f"inputs_{n}"
    papers, vectors, about = make_inputs(folder, n)
    print(f"\n{n:,} papers ({about}):", flush=True)
    parquet, atlas = folder / "papers.parquet", WORK / f"scale_atlas_{n}"
    seconds, peak, _, _ = measured(["paperatlas.cli", "ingest", str(papers), "-o", str(parquet)])
    print(f"  ingest                {seconds:7.1f} s   peak {peak:5.2f} GiB", flush=True)
    shutil.rmtree(atlas, ignore_errors=True)
    seconds, peak, _, err = measured(["paperatlas.cli", "build", str(parquet), "-o", str(atlas),
                                      "--embeddings", str(vectors), "--id-field", "id"])
    stages = [line for line in err.splitlines() if line.startswith("took ")]
    topics = [line for line in err.splitlines() if line.startswith(("topics:", "topic steps:"))]
    print(f"  build --embeddings    {seconds:7.1f} s   peak {peak:5.2f} GiB   {stages[-1] if stages else ''}")
    for line in topics:
        print(f"                        {line}")
    print(f"  atlas folder          {folder_bytes(atlas) / 1e9:7.2f} GB", flush=True)
    loads = [json.loads(run([__file__, "--load-worker", str(atlas)])[1])["load"] for _ in range(3)]
    print(f"  Atlas.load            {statistics.median(loads):7.2f} s (median of 3)", flush=True)
    whole = [measured(["paperatlas.cli", "similar", str(atlas), "--id", "p7", "-k", "10"]) for _ in range(3)]
    print(f"  similar --id (whole)  {statistics.median(w[0] for w in whole):7.2f} s   "
          f"peak {max(w[1] for w in whole):5.2f} GiB (median of 3)", flush=True)
    figures = json.loads(run([__file__, "--query-worker", str(atlas)])[1].strip().splitlines()[-1])
    print(f"  after load: id p50 {figures['id_p50']:.2f} ms, text p50 {figures['text_p50']:.2f} ms", flush=True)
    new, new_vectors = new_papers(folder, papers, vectors)
    seconds, peak, _, _ = measured(["paperatlas.cli", "add", str(atlas), str(new), "--embeddings", str(new_vectors),
                                    "--id-field", "id"])
    print(f"  add {NEW_PAPERS:,} (--embeddings) {seconds:5.1f} s   peak {peak:5.2f} GiB (whole command)", flush=True)
    index = index_figures(vectors)
    print(f"  index {index['kind']}: recall@10 {index['recall']:.3f} vs exact (1,000 held-out queries), "
          f"build {index['build']:.1f} s, {index['bytes'] / 1e6:.1f} MB beside the vectors", flush=True)
    if not keep:
        shutil.rmtree(atlas, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--keep", action="store_true", help="keep the atlases under benchmarks/_work")
    parser.add_argument("--load-worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--query-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_worker:
        load_worker(args.load_worker)
        return
    if args.query_worker:
        query_worker(args.query_worker)
        return
    print(f"machine: {machine()}; {datetime.date.today()}; CPU only")
    for n in args.sizes:
        measure(n, args.keep)


if __name__ == "__main__":
    main()
