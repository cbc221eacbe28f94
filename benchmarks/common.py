"""Helpers shared by the benchmark scripts: timing, machine description, eval data."""

from __future__ import annotations

import gzip
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parent.parent
EVAL = REPO.parent / "shared" / "eval"
CACHE = Path(__file__).resolve().parent / "_cache"


def machine() -> str:
    """A one-line description of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores ({cpu}){memory}, Python {platform.python_version()}"


def median_time(function: Callable[[], object], runs: int = 3) -> float:
    """The median wall time of ``runs`` calls, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sample_rows(total: int, limit: int | None, seed: int = 0) -> np.ndarray:
    """The rows ``read_eval`` keeps of a set of ``total`` records (all when ``limit`` is None)."""
    if limit is None or limit >= total:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).choice(total, size=limit, replace=False))


def read_eval(name: str, limit: int | None = None, seed: int = 0) -> list[dict]:
    """Records of a labeled eval set; a seeded random sample of ``limit`` when given."""
    with gzip.open(EVAL / name, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    return [records[i] for i in sample_rows(len(records), limit, seed)]


EVAL_SETS = {
    "arxiv2007": ("arxiv2007_sample.jsonl.gz", None),
    "arxiv2018": ("arxiv2018_3fields.jsonl.gz", None),
    "medical": ("medical_tc_test.jsonl.gz", None),
    "paperlists10k": ("paperlists_venues.jsonl.gz", 10_000),
    "paperlists": ("paperlists_venues.jsonl.gz", None),
}
"""Every labelled public set: name -> (file in ../shared/eval, sample size or None for all)."""


def eval_set(name: str) -> tuple[list[dict], np.ndarray]:
    """``(records, vectors)`` of an ``EVAL_SETS`` entry; paperlists rows come from the full
    cache of embed_paperlists.py when it exists (same model, same text)."""
    file, limit = EVAL_SETS[name]
    records = read_eval(file, limit)
    full, full_meta = CACHE / "paperlists_full.npy", CACHE / "paperlists_full.json"
    if file.startswith("paperlists") and full.exists() and full_meta.exists():
        ids = json.loads(full_meta.read_text())["ids"]
        rows = sample_rows(len(ids), limit)
        if [ids[i] for i in rows] == [r["id"] for r in records]:
            return records, np.load(full, mmap_mode="r", allow_pickle=False)[rows].astype(np.float32)
    if name == "paperlists":
        raise SystemExit("run benchmarks/embed_paperlists.py first (91,790 papers)")
    return records, vectors_for(name, records)


def clustered_unit_vectors(n: int, d: int = 384, clusters: int = 500, noise: float = 0.8, seed: int = 0) -> np.ndarray:
    """Synthetic unit vectors around random centres, shaped like text embeddings.

    ``noise`` is the norm of the offset from a unit centre; 0.8 gives nearest-neighbour
    cosine similarities of about 0.6-0.7, as sentence embeddings of abstracts have.
    """
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, d)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    offsets = rng.standard_normal((n, d)).astype(np.float32) * (noise / np.sqrt(d))
    x = centres[rng.integers(0, clusters, n)] + offsets
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def real_set() -> tuple[np.ndarray, list[dict], str] | None:
    """``(vectors, records, name)``: real all-MiniLM-L6-v2 vectors of paperlists_venues papers and
    their records, row for row: all 91,790 when embed_paperlists.py has cached them, else the
    10,000-paper sample cached by bench_topics.py; None without either cache."""
    full, full_meta = CACHE / "paperlists_full.npy", CACHE / "paperlists_full.json"
    if full.exists() and full_meta.exists():
        records = read_eval("paperlists_venues.jsonl.gz")
        if json.loads(full_meta.read_text())["ids"] == [r["id"] for r in records]:
            return np.load(full, allow_pickle=False), records, "paperlists_venues"
    sample, sample_meta = CACHE / "paperlists10k.npy", CACHE / "paperlists10k.json"
    if sample.exists() and sample_meta.exists():
        records = read_eval("paperlists_venues.jsonl.gz", 10_000)
        if json.loads(sample_meta.read_text())["ids"] == [r["id"] for r in records]:
            return np.load(sample, allow_pickle=False), records, "paperlists 10k sample"
    return None


def realistic_vectors(n: int) -> tuple[np.ndarray, np.ndarray, str]:
    """``(vectors, source_rows, description)``: n vectors shaped like real abstract embeddings.

    The real vectors of ``real_set()`` come first; the rest interpolate a real paper towards
    one of its 10 nearest real neighbours (weight 0.5-1), and ``source_rows`` names that paper
    (a row of ``real_set()``'s records), so its text can stand in. Without a cache, synthetic
    clustered vectors are used (and source rows count modulo 10,000).
    """
    found = real_set()
    if found is None:
        return clustered_unit_vectors(n), np.arange(n) % 10_000, "synthetic clustered unit vectors"
    import faiss

    real, _, name = found
    extra = max(0, n - len(real))
    rng = np.random.default_rng(0)
    first = rng.integers(0, len(real), extra)
    index = faiss.IndexFlatIP(real.shape[1])
    index.add(real)
    _, knn = index.search(real[first], 11) if extra else (None, np.zeros((0, 11), np.int64))
    second = knn[np.arange(extra), rng.integers(1, 11, extra)]
    weight = rng.uniform(0.5, 1.0, (extra, 1)).astype(np.float32)
    mixed = weight * real[first] + (1 - weight) * real[second]
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    vectors = np.concatenate([real, mixed]).astype(np.float32)[:n]
    sources = np.concatenate([np.arange(len(real)), first])[:n]
    return vectors, sources, (f"{min(n, len(real)):,} real {name} vectors + {extra:,} interpolated "
                              "between real neighbours, each with its source paper's text")


def make_inputs(folder: Path, n: int) -> tuple[Path, Path, str]:
    """``folder``/papers.jsonl and vectors.npy of ``n`` papers (written once, reused).

    Real paperlists_venues titles and abstracts with the vectors of ``realistic_vectors``;
    ids are row numbers (``p0``, ``p1``, ...) and titles carry ``[row]`` so that papers
    repeated from one source stay distinct. Returns the paths and a description of the vectors.
    """
    papers, vectors_path, about = folder / "papers.jsonl", folder / "vectors.npy", folder / "about.txt"
    if papers.exists() and vectors_path.exists() and about.exists():
        return papers, vectors_path, about.read_text()
    folder.mkdir(parents=True, exist_ok=True)
    found = real_set()
    records = found[1] if found else read_eval("paperlists_venues.jsonl.gz")
    vectors, sources, description = realistic_vectors(n)
    np.save(vectors_path, vectors, allow_pickle=False)
    del vectors
    with open(papers, "w", encoding="utf-8") as handle:
        for i, source in enumerate(sources):
            record = records[int(source) % len(records)]
            handle.write(json.dumps({"id": f"p{i}", "title": f"{record['title']} [{i}]",
                                     "abstract": record["abstract"], "label": record["label"]}) + "\n")
    about.write_text(description)
    return papers, vectors_path, description


def vectors_for(name: str, records: list[dict]) -> np.ndarray:
    """Real all-MiniLM-L6-v2 vectors of ``records`` (title. abstract), embedded once on CPU and
    cached as _cache/<name>.npy with their ids (checked on load)."""
    cached, meta = CACHE / f"{name}.npy", CACHE / f"{name}.json"
    if cached.exists() and meta.exists() and json.loads(meta.read_text())["ids"] == [r["id"] for r in records]:
        return np.load(cached, allow_pickle=False)
    from paperatlas.embed import SentenceTransformerEmbedder

    print(f"  embedding {len(records)} papers on CPU once (cached in {CACHE}) ...", flush=True)
    vectors = SentenceTransformerEmbedder(device="auto", batch_size=64).encode(
        [r["title"] + ". " + r["abstract"] for r in records], show_progress_bar=True)
    CACHE.mkdir(exist_ok=True)
    np.save(cached, vectors, allow_pickle=False)
    meta.write_text(json.dumps({"ids": [r["id"] for r in records], "labels": [r["label"] for r in records],
                                "texts": [r["title"] + ". " + r["abstract"] for r in records]}))
    return vectors
