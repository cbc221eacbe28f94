"""Search quality: dense vs lexical (BM25) vs hybrid rankings, on every labelled public set.

Two figures per set, over 1,000 seeded random papers each:

* same-label precision@10 of id queries (a paper's 10 neighbours that share its label);
* known-item search: the paper's title as a free-text query (``by="text"``), its own
  paper the target; MRR@10 (1/rank when found in the top 10, else 0).

Real all-MiniLM-L6-v2 vectors (benchmarks/_cache, see common.eval_set); titles are embedded
with the same model. Each query's dense and lexical rankings (``FUSION_DEPTH`` deep) come from
paperatlas.search's own functions and are fused with ``search.fuse`` at every lexical weight of
``--weights``, so the table shows how the weight was chosen (``search.LEXICAL_WEIGHT``).

The weight table's lexical rankings read every query word, as ``mode="lexical"`` does; with
``--max-postings`` the script instead compares hybrid id queries whose BM25 ranking reads the
rarest words that hold at most N postings together (``search.HYBRID_QUERY_POSTINGS``).

Usage: python benchmarks/bench_hybrid.py [--sets arxiv2007 ...] [--queries 1000]
       python benchmarks/bench_hybrid.py --max-postings 0 250000 20000 [--sets ...]
"""

from __future__ import annotations

import argparse
import datetime
import time

import numpy as np

from common import EVAL_SETS, eval_set, machine


class Lookup:
    """An embedder that answers from precomputed title vectors (the titles were batch-embedded)."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors

    def encode(self, texts, **_):
        return np.stack([self.vectors[text] for text in texts])


def rankings(atlas, query: str, by: str, depth: int, times: dict[str, list[float]]):
    """The dense and lexical rankings of a query; each one's time is appended to ``times``."""
    from paperatlas.search import _dense, _lexical, resolve_query

    resolved = resolve_query(atlas, query, by, ())
    excluded = np.array(sorted(resolved.rows), dtype=np.int64)
    start = time.perf_counter()
    dense = _dense(atlas, resolved.vector, depth, None, excluded)
    middle = time.perf_counter()
    lexical = _lexical(atlas, resolved.text, depth, None, excluded)
    times[f"dense {by}"].append(middle - start)
    times[f"lexical {by}"].append(time.perf_counter() - middle)
    return dense, lexical


def labelled_atlas(name: str):
    """``(records, labels, atlas, seconds)`` of a labelled set: the atlas built from its real vectors
    (ids: row numbers) with its BM25 index, and the seconds that took."""
    from paperatlas.atlas import Atlas
    from paperatlas.corpus import Corpus, Paper

    records, vectors = eval_set(name)
    start = time.perf_counter()
    atlas = Atlas.build(Corpus(Paper(id=str(i), title=r["title"], abstract=r["abstract"])
                               for i, r in enumerate(records)), embeddings=vectors)
    atlas.search_state.lexical  # noqa: B018 - built here so that the timing says what it costs
    return records, np.array([r["label"] for r in records]), atlas, time.perf_counter() - start


def measure(name: str, n_queries: int, weights: list[float]) -> dict[str, dict[float, float]]:
    from paperatlas.embed import SentenceTransformerEmbedder
    from paperatlas.search import FUSION_DEPTH, fuse

    records, labels, atlas, built = labelled_atlas(name)
    rows = np.random.default_rng(0).choice(len(records), size=min(n_queries, len(records)), replace=False)
    titles = [records[int(row)]["title"] for row in rows]
    embedder = SentenceTransformerEmbedder()
    atlas.search_state.keep_embedder(Lookup(dict(zip(titles, embedder.encode(titles)))))
    precision = {w: [] for w in weights}
    reciprocal = {w: [] for w in weights}
    times: dict[str, list[float]] = {f"{kind} {by}": [] for kind in ("dense", "lexical") for by in ("id", "text")}
    for row, title in zip(rows, titles):
        dense, lexical = rankings(atlas, str(int(row)), "id", FUSION_DEPTH, times)
        for w in weights:
            top = fuse([dense, lexical], [1 - w, w], 10)
            precision[w].append(float(np.mean(labels[top] == labels[row])))
        dense, lexical = rankings(atlas, title, "text", FUSION_DEPTH, times)
        for w in weights:
            top = fuse([dense, lexical], [1 - w, w], 10).tolist()
            reciprocal[w].append(1.0 / (top.index(int(row)) + 1) if int(row) in top else 0.0)
    print(f"  {name}: {len(records):,} papers, {len(set(labels))} labels, {len(rows)} queries; "
          f"atlas + BM25 index built in {built:.1f} s; ranking time p50 (top {FUSION_DEPTH}, index "
          f"{atlas.index.kind}): " + ", ".join(f"{what} {1e3 * np.median(t):.2f} ms" for what, t in times.items()),
          flush=True)
    return {"p@10": {w: float(np.mean(v)) for w, v in precision.items()},
            "mrr@10": {w: float(np.mean(v)) for w, v in reciprocal.items()}}


def pruning(name: str, n_queries: int, budgets: list[int]) -> dict[int, tuple[float, float]]:
    """Hybrid id queries whose BM25 ranking reads the query's rarest words holding at most N
    postings together (0: every word): ``{N: (same-label precision@10 at the default weight,
    p50 ms of the BM25 ranking)}``."""
    from paperatlas.search import FUSION_DEPTH, LEXICAL_WEIGHT, _dense, _lexical, fuse, resolve_query

    records, labels, atlas, _ = labelled_atlas(name)
    rows = np.random.default_rng(0).choice(len(records), size=min(n_queries, len(records)), replace=False)
    weight, out = LEXICAL_WEIGHT["papers"], {}
    queries = []
    for row in rows:
        resolved = resolve_query(atlas, str(int(row)), "id", ())
        excluded = np.array(sorted(resolved.rows), dtype=np.int64)
        queries.append((int(row), resolved.text, excluded, _dense(atlas, resolved.vector, FUSION_DEPTH, None, excluded)))
    for budget in budgets:
        precision, times = [], []
        for row, text, excluded, dense in queries:
            start = time.perf_counter()
            lexical = _lexical(atlas, text, FUSION_DEPTH, None, excluded, budget or None)
            times.append(time.perf_counter() - start)
            precision.append(float(np.mean(labels[fuse([dense, lexical], [1 - weight, weight], 10)] == labels[row])))
        out[budget] = (float(np.mean(precision)), 1e3 * float(np.median(times)))
    return out


def main() -> None:
    from paperatlas.search import LEXICAL_WEIGHT

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sets", nargs="+", default=["arxiv2007", "arxiv2018", "medical", "paperlists10k", "paperlists"],
                        choices=list(EVAL_SETS))
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 1.0])
    # the defaults were chosen from this table: the largest weight at which hybrid >= dense on every set
    # for id queries (0.2), and for text queries the best mean MRR short of lexical alone (0.6; 0.7 is
    # within 0.002 and leaves less to the vectors)
    parser.add_argument("--max-postings", type=int, nargs="+", default=None,
                        help="only compare hybrid id queries whose BM25 ranking reads the rarest query words "
                             "holding at most N postings (0: every word), e.g. --max-postings 0 250000 20000")
    args = parser.parse_args()
    weights = sorted(set(args.weights) | {0.0, 1.0, *LEXICAL_WEIGHT.values()})
    print(f"machine: {machine()}; {datetime.date.today()}; real all-MiniLM-L6-v2 vectors")
    if args.max_postings:
        from paperatlas.search import HYBRID_QUERY_POSTINGS

        print(f"hybrid id queries, BM25 ranking from the rarest query words holding at most N postings (0: every "
              f"word; default {HYBRID_QUERY_POSTINGS:,}): same-label precision@10 / p50 ms of the BM25 ranking")
        print("| set | " + " | ".join(f"N={n:,}" for n in args.max_postings) + " |")
        print("|---|" + "---|" * len(args.max_postings))
        for name in args.sets:
            figures = pruning(name, args.queries, args.max_postings)
            print(f"| {name} | " + " | ".join(f"{figures[n][0]:.4f} / {figures[n][1]:.2f}" for n in args.max_postings)
                  + " |", flush=True)
        return
    results = {name: measure(name, args.queries, weights) for name in args.sets}
    for figure, kind in (("p@10", "papers"), ("mrr@10", "text")):
        what = "same-label precision@10, id queries" if figure == "p@10" else "known-item MRR@10, title as text"
        print(f"\n{what} (lexical weight 0 = dense, 1 = lexical; default {LEXICAL_WEIGHT[kind]}):")
        print("| set | " + " | ".join(f"w={w:g}" for w in weights) + " |")
        print("|---|" + "---|" * len(weights))
        for name, figures in results.items():
            print(f"| {name} | " + " | ".join(f"{figures[figure][w]:.3f}" for w in weights) + " |")
    print("\nsummary at the defaults (dense / lexical / hybrid):")
    print("| set | p@10 dense | p@10 lexical | p@10 hybrid | MRR@10 dense | MRR@10 lexical | MRR@10 hybrid |")
    print("|---|---|---|---|---|---|---|")
    for name, figures in results.items():
        p, m = figures["p@10"], figures["mrr@10"]
        wp, wm = LEXICAL_WEIGHT["papers"], LEXICAL_WEIGHT["text"]
        print(f"| {name} | {p[0.0]:.3f} | {p[1.0]:.3f} | {p[wp]:.3f} | {m[0.0]:.3f} | {m[1.0]:.3f} | {m[wm]:.3f} |")


if __name__ == "__main__":
    main()
