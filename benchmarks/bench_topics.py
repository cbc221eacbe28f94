"""Topic quality and speed: paperatlas vs k-means and BERTopic's defaults, on the same embeddings.

Quality (every labelled eval set, real all-MiniLM-L6-v2 vectors): per layer topics, noise and
V-measure against the label, beside k-means with the same k (mean of 3 seeds); the layer whose
topic count is nearest the number of labels is also compared with k-means at k = labels; and
BERTopic's defaults on the same vectors.
Speed: topic fitting (reduce + cluster + represent, embeddings given) at 10k and 100k papers.

Vectors come from benchmarks/_cache/<name>.npy (ids checked) or are embedded once on CPU and
cached there. The ~100k set is all 91,790 real paperlists vectors when embed_paperlists.py has
cached them, else the 10k real vectors plus 90k interpolations between real neighbours; say
--no-100k to skip.
BERTopic is optional (pip install bertopic in the benchmark environment only).

Half precision (--float16-check): an atlas with an ivf index (above 50,000 papers) keeps its
vectors in float16, so its topics are fitted on float16-rounded vectors; this fits every
labelled set both ways and prints V-measure and noise side by side.

Usage: python benchmarks/bench_topics.py [--sets ...] [--quality-only] [--no-bertopic] [--no-100k]
       python benchmarks/bench_topics.py --float16-check [--sets ...]
"""

from __future__ import annotations

import argparse
import datetime
import json
import time

import numpy as np

from common import CACHE, EVAL_SETS, eval_set, machine, read_eval, realistic_vectors



def row(name: str, what: str, topics: int, scores: dict, seconds: float | None = None) -> None:
    took = f" {seconds:6.1f} s" if seconds is not None else ""
    print(f"| {name} | {what} | {topics} | {scores['v_measure']:.3f} | {scores['nmi']:.3f} | {scores['ari']:.3f} | "
          f"{scores['noise_share']:.1%} |{took}", flush=True)


def bertopic_labels(texts: list[str], vectors: np.ndarray) -> tuple[np.ndarray, float]:
    from bertopic import BERTopic

    start = time.perf_counter()
    labels, _ = BERTopic(embedding_model=None, verbose=False).fit_transform(texts, vectors)
    return np.asarray(labels), time.perf_counter() - start


def kmeans_mean(vectors: np.ndarray, labels: np.ndarray, k: int, seeds=(0, 1, 2)) -> float:
    """Mean V-measure of k-means over three seeds (paperatlas.evaluation.kmeans_baseline, n_init=3;
    one init per seed above 20,000 papers, to bound the time)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import v_measure_score

    n_init = 3 if len(vectors) <= 20_000 else 1
    return float(np.mean([v_measure_score(labels, KMeans(k, n_init=n_init, random_state=seed).fit_predict(vectors))
                          for seed in seeds]))


def quality(use_bertopic: bool, names: list[str]) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Per set and layer: topics, noise, V-measure, k-means at the same k (mean of 3 seeds), and
    the two targets: V >= k-means(k) - 0.01 at every layer, and at the layer nearest the label
    count V >= k-means(k = labels)."""
    from paperatlas.atlas import Atlas
    from paperatlas.corpus import Corpus, Paper
    from paperatlas.evaluation import evaluate_atlas, label_scores

    print("| set | clustering | topics | V-measure | noise | k-means, same k (3 seeds) | target | fit time |")
    print("|---|---|---|---|---|---|---|---|")
    loaded = {}
    for name in names:
        records, vectors = eval_set(name)
        texts = [r["title"] + ". " + r["abstract"] for r in records]
        loaded[name] = (vectors, texts)
        labels = np.array([r["label"] for r in records])
        k = len(set(labels))
        atlas = Atlas.build(
            # row numbers as ids: paperlists repeats some source ids ("cvpr2016/None")
            Corpus(Paper(id=str(i), title=r["title"], abstract=r["abstract"], metadata={"label": r["label"]})
                   for i, r in enumerate(records)),
            embeddings=vectors,
        )
        start = time.perf_counter()
        atlas.fit_topics()
        seconds = time.perf_counter() - start
        report = evaluate_atlas(atlas, "label")
        nearest = atlas.topics.layer_nearest(k)
        at_labels = kmeans_mean(vectors, labels, k)
        for layer in report["layers"]:
            same_k = kmeans_mean(vectors, labels, layer["topics"])
            verdict = "ok" if layer["v_measure"] >= same_k - 0.01 else "MISSED"
            what = f"paperatlas layer {layer['layer']}"
            if layer["layer"] == nearest:
                what += f" (nearest the {k} labels; k-means k = {k}: {at_labels:.3f})"
                verdict += ", " + ("ok" if layer["v_measure"] >= at_labels else "MISSED")
            took = f"{seconds:.1f} s" if layer["layer"] == 0 else ""
            print(f"| {name} | {what} | {layer['topics']} | {layer['v_measure']:.3f} | {layer['noise_share']:.1%} | "
                  f"{same_k:.3f} | {verdict} | {took} |", flush=True)
        if use_bertopic:
            predicted, took = bertopic_labels(texts, vectors)
            scores = label_scores(labels, predicted)
            print(f"| {name} | BERTopic defaults | {int(scores['n_clusters'])} | {scores['v_measure']:.3f} | "
                  f"{scores['noise_share']:.1%} | | | {took:.1f} s |", flush=True)
        print(f"  {name}: {len(records):,} papers, {k} labels, neighbour precision@10 {report['precision_at_10']:.3f}",
              flush=True)
    return loaded


def full_paperlists() -> tuple[np.ndarray, list[str], np.ndarray] | None:
    """All 91,790 paperlists vectors, texts and labels, if embed_paperlists.py has cached them."""
    cached, meta = CACHE / "paperlists_full.npy", CACHE / "paperlists_full.json"
    if not (cached.exists() and meta.exists()):
        return None
    records = read_eval("paperlists_venues.jsonl.gz")
    if json.loads(meta.read_text())["ids"] != [r["id"] for r in records]:
        return None
    texts = [r["title"] + ". " + r["abstract"] for r in records]
    return np.load(cached, allow_pickle=False), texts, np.array([r["label"] for r in records])


def speed(loaded, use_bertopic: bool, big: bool) -> None:
    from paperatlas.evaluation import kmeans_baseline, label_scores
    from paperatlas.cluster.topics import fit_topics

    vectors, texts = loaded["paperlists10k"]
    sizes = [("10k real", vectors, texts, None)]
    if big:
        full = full_paperlists()
        if full is not None:
            sizes.append((f"{len(full[0]):,} real (all of paperlists_venues)", *full))
        else:
            x, sources, label = realistic_vectors(100_000)
            sizes.append((f"100k ({label})", x, [texts[i] for i in sources], None))
    fit_topics(vectors[:500], texts[:500])  # compile numba outside the timings
    print("\ntopic fitting (reduce + cluster + layers + map + represent), embeddings given:")
    for label, x, docs, truth in sizes:
        start = time.perf_counter()
        model = fit_topics(x, docs)
        ours = time.perf_counter() - start
        line = (f"  {label}: paperatlas {ours:.1f} s ({model.n_topics(0)} topics, "
                f"noise {model.noise_share():.1%}; steps {model.timings})")
        if truth is not None:
            k = len(set(truth))
            layer = min(model.labels.T, key=lambda labels: abs(len(set(labels[labels >= 0].tolist())) - k))
            km = label_scores(truth, kmeans_baseline(x, k, 42))["v_measure"]
            line += (f"; V-measure at the layer closest to {k} labels {label_scores(truth, layer)['v_measure']:.3f}"
                     f" (noise {np.mean(layer < 0):.1%}), k-means {km:.3f}")
        if use_bertopic:
            predicted, theirs = bertopic_labels(docs, x)
            line += f"; BERTopic defaults {theirs:.1f} s (ratio {theirs / ours:.1f}x)"
            if truth is not None:
                scores = label_scores(truth, predicted)
                line += f", V {scores['v_measure']:.3f} at {scores['noise_share']:.1%} noise"
        print(line, flush=True)


def sample_fit(vectors: np.ndarray, texts: list[str], labels: np.ndarray, share: float, name: str) -> None:
    """Topics fitted on all papers vs on a ``share`` sample with the rest assigned by vote (as above 200k)."""
    from paperatlas.cluster import TopicSettings
    from paperatlas.cluster.topics import fit_atlas_topics
    from paperatlas.evaluation import label_scores
    from paperatlas.index import PaperIndex

    index = PaperIndex.build(vectors)
    k = len(set(labels))
    print(f"\nsample fit vs full fit on {name} ({len(vectors):,} papers, {k} labels), default settings:")
    for label, sample in (("full fit", None), (f"fit on {share:.0%}, rest assigned", int(share * len(vectors)))):
        start = time.perf_counter()
        model = fit_atlas_topics(vectors, texts, index, TopicSettings(fit_sample=sample))
        seconds = time.perf_counter() - start
        fine = label_scores(labels, model.labels_at(0))
        closest = min(range(model.n_layers), key=lambda layer: abs(model.n_topics(layer) - k))
        coarse = label_scores(labels, model.labels_at(closest))
        print(f"  {label}: {seconds:.1f} s; layer 0 {model.n_topics(0)} topics, V {fine['v_measure']:.3f}, "
              f"noise {fine['noise_share']:.1%}; layer {closest} ({model.n_topics(closest)} topics) "
              f"V {coarse['v_measure']:.3f}", flush=True)


def float16_check(names: list[str]) -> None:
    """Topics of each set fitted on its float32 vectors and on the same vectors rounded to float16."""
    from paperatlas.cluster import TopicSettings
    from paperatlas.cluster.topics import fit_atlas_topics
    from paperatlas.evaluation import label_scores
    from paperatlas.index import PaperIndex

    print("| set | vectors | layer 0 topics | V-measure | noise | layer nearest the labels: topics, V-measure |")
    print("|---|---|---|---|---|---|")
    for name in names:
        records, vectors = eval_set(name)
        texts = [r["title"] + ". " + r["abstract"] for r in records]
        labels = np.array([r["label"] for r in records])
        k = len(set(labels))
        for what, rows in (("float32", vectors), ("float16", vectors.astype(np.float16).astype(np.float32))):
            model = fit_atlas_topics(rows, texts, PaperIndex.build(rows, "exact"), TopicSettings())
            fine = label_scores(labels, model.labels_at(0))
            closest = min(range(model.n_layers), key=lambda layer: abs(model.n_topics(layer) - k))
            coarse = label_scores(labels, model.labels_at(closest))
            print(f"| {name} | {what} | {model.n_topics(0)} | {fine['v_measure']:.3f} | {fine['noise_share']:.1%} | "
                  f"{model.n_topics(closest)}, {coarse['v_measure']:.3f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-bertopic", action="store_true")
    parser.add_argument("--no-100k", action="store_true")
    parser.add_argument("--sets", nargs="+", choices=list(EVAL_SETS),
                        default=["arxiv2007", "arxiv2018", "medical", "paperlists10k", "paperlists"],
                        help="labelled sets of the quality table (paperlists = all 91,790, needs embed_paperlists.py)")
    parser.add_argument("--quality-only", action="store_true", help="only the quality table")
    parser.add_argument("--sample-fit-only", action="store_true",
                        help="only compare a full fit with a 20%% sample fit on the paperlists 10k sample")
    parser.add_argument("--sample-fit-full", action="store_true",
                        help="only compare a full fit with a 20%% sample fit on all 91,790 paperlists papers "
                             "(needs embed_paperlists.py's vectors)")
    parser.add_argument("--float16-check", action="store_true",
                        help="only compare topics fitted on float32 and on float16-rounded vectors")
    args = parser.parse_args()
    if args.float16_check:
        print(f"machine: {machine()}; date: {datetime.date.today()}")
        float16_check([name for name in args.sets if name != "paperlists" or full_paperlists() is not None])
        return
    if args.sample_fit_full:
        print(f"machine: {machine()}; date: {datetime.date.today()}")
        full = full_paperlists()
        if full is None:
            raise SystemExit("run benchmarks/embed_paperlists.py first")
        sample_fit(*full, 200_000 / 1_000_000, "all of paperlists_venues")
        return
    if args.sample_fit_only:
        print(f"machine: {machine()}; date: {datetime.date.today()}")
        records, vectors = eval_set("paperlists10k")
        sample_fit(vectors, [r["title"] + ". " + r["abstract"] for r in records],
                   np.array([r["label"] for r in records]), 0.2, "the paperlists 10k sample")
        return
    use_bertopic = not args.no_bertopic
    if use_bertopic:
        try:
            import bertopic  # noqa: F401
        except ImportError:
            print("bertopic is not installed: its rows are left out")
            use_bertopic = False
    print(f"machine: {machine()}; date: {datetime.date.today()}")
    loaded = quality(use_bertopic, args.sets)
    if args.quality_only:
        return
    speed(loaded, use_bertopic, not args.no_100k)
    full = full_paperlists()
    if full is not None and not args.no_100k:
        sample_fit(*full, 200_000 / 1_000_000, "all of paperlists_venues")


if __name__ == "__main__":
    main()
