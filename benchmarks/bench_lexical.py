"""The BM25 index of hybrid search at field scale: build time, peak memory, size, query cost.

Builds ``paperatlas.lexical.LexicalIndex`` over the papers of ``bench_scale.py``'s inputs
(``benchmarks/_work/inputs_N/papers.parquet``, made by ``python benchmarks/bench_scale.py``;
real paperlists_venues titles and abstracts, each repeated about N / 10,000 times), then
times hybrid-style queries (the abstract of a random paper, its rarest words holding
``search.HYBRID_QUERY_POSTINGS`` postings) and full lexical ones (every word), then
removes and appends 1,000 papers in place.

    python benchmarks/bench_lexical.py --size 1000000

Peak memory is this process's ``VmHWM`` above what it held after reading the papers
(memory-mapped Arrow pages the build touches count in it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

from common import machine

WORK = Path(__file__).resolve().parent / "_work"


def status(field: str) -> float:
    """A memory figure of this process's /proc status, in GiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    papers = WORK / f"inputs_{args.size}" / "papers.parquet"
    if not papers.exists():
        raise SystemExit(f"{papers} is missing: run python benchmarks/bench_scale.py --sizes {args.size} first")

    import pyarrow.parquet as pq

    from paperatlas.corpus import Corpus
    from paperatlas.lexical import LexicalIndex
    from paperatlas.search import HYBRID_QUERY_POSTINGS

    corpus = Corpus.from_arrow(pq.read_table(papers))
    texts = corpus.lazy_texts()
    base = status("VmRSS")
    start = time.perf_counter()
    index = LexicalIndex.build(texts)
    seconds = time.perf_counter() - start
    arrays = index.arrays()
    size = sum(a.nbytes for a in arrays.values()) / 1e9
    print(f"machine: {machine()}; {date.today()}; CPU only")
    print(f"{len(corpus):,} papers ({papers.relative_to(WORK.parent.parent)}): {int(arrays['indptr'][-1]):,} postings, "
          f"{len(index.vocabulary()):,} words, mean length {index.mean_length:.1f} words")
    print(f"  build {seconds:.1f} s, peak {status('VmHWM') - base:.2f} GiB above the {base:.2f} GiB "
          f"held after reading the papers; arrays {size:.2f} GB")
    rows = np.random.default_rng(0).integers(0, len(corpus), args.queries)
    for label, budget in (("hybrid (rarest words)", HYBRID_QUERY_POSTINGS), ("lexical (every word)", None)):
        times = []
        for row in rows.tolist():
            start = time.perf_counter()
            index.top(texts[row], 100, excluded=np.array([row]), max_postings=budget)
            times.append((time.perf_counter() - start) * 1000)
        print(f"  top 100 of a paper's abstract, {label}: p50 {statistics.median(times):.2f} ms, "
              f"p90 {np.percentile(times, 90):.2f} ms")
    gone = np.sort(np.random.default_rng(1).choice(len(corpus), 1000, replace=False))
    keep = np.ones(len(corpus), dtype=bool)
    keep[gone] = False
    start = time.perf_counter()
    index.without(keep, [texts[int(row)] for row in gone])
    print(f"  remove 1,000 papers in place: {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    index.appended([texts[int(row)] for row in gone])
    print(f"  append 1,000 papers in place: {time.perf_counter() - start:.2f} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
