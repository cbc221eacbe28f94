"""Topic quality and speed: paperatlas vs k-means and BERTopic's defaults, on the same embeddings.

Quality (labelled eval sets, real all-MiniLM-L6-v2 vectors): per layer topics, noise,
V-measure/NMI/ARI against the label; the layer whose topic count is closest to the number
of labels is compared with k-means (k = number of labels) and with BERTopic's defaults.
Speed: topic fitting (reduce + cluster + represent, embeddings given) at 10k and 100k papers.

Vectors come from benchmarks/_cache/<name>.npy (ids checked) or are embedded once on CPU and
cached there. The ~100k set is all 91,790 real paperlists vectors when embed_paperlists.py has
cached them, else the 10k real vectors plus 90k interpolations between real neighbours; say
--no-100k to skip.
BERTopic is optional (pip install bertopic in the benchmark environment only).

Usage: python benchmarks/bench_topics.py [--no-bertopic] [--no-100k]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from common import CACHE, machine, read_eval, realistic_vectors

SETS = {"arxiv2007": ("arxiv2007_sample.jsonl.gz", None), "paperlists10k": ("paperlists_venues.jsonl.gz", 10_000)}


def vectors_for(name: str, records: list[dict]) -> np.ndarray:
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


def row(name: str, what: str, topics: int, scores: dict, seconds: float | None = None) -> None:
    took = f" {seconds:6.1f} s" if seconds is not None else ""
    print(f"| {name} | {what} | {topics} | {scores['v_measure']:.3f} | {scores['nmi']:.3f} | {scores['ari']:.3f} | "
          f"{scores['noise_share']:.1%} |{took}", flush=True)


def bertopic_labels(texts: list[str], vectors: np.ndarray) -> tuple[np.ndarray, float]:
    from bertopic import BERTopic

    start = time.perf_counter()
    labels, _ = BERTopic(embedding_model=None, verbose=False).fit_transform(texts, vectors)
    return np.asarray(labels), time.perf_counter() - start


def quality(use_bertopic: bool) -> dict[str, tuple[np.ndarray, list[str]]]:
    from paperatlas.atlas import Atlas
    from paperatlas.evaluation import kmeans_baseline, label_scores
    from paperatlas.corpus import Corpus, Paper
    from paperatlas.evaluation import evaluate_atlas

    print("| corpus | clustering | topics | V-measure | NMI | ARI | noise | fit time |")
    print("|---|---|---|---|---|---|---|---|")
    loaded = {}
    for name, (file, limit) in SETS.items():
        records = read_eval(file, limit)
        vectors = vectors_for(name, records)
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
        closest = min(report["layers"], key=lambda layer: abs(layer["topics"] - k))
        for layer in report["layers"]:
            mark = " (closest to the labels)" if layer is closest else ""
            scores = dict(layer, noise_share=layer["noise_share"])
            row(name, f"paperatlas layer {layer['layer']}{mark}", layer["topics"], scores,
                seconds if layer["layer"] == 0 else None)
        start = time.perf_counter()
        km = kmeans_baseline(vectors, k, 42)
        row(name, f"k-means, k = {k} labels", k, label_scores(labels, km), time.perf_counter() - start)
        if use_bertopic:
            predicted, seconds = bertopic_labels(texts, vectors)
            scores = label_scores(labels, predicted)
            row(name, "BERTopic defaults", int(scores["n_clusters"]), scores, seconds)
        print(f"  {name}: {len(records)} papers, {k} labels, neighbour precision@10 {report['precision_at_10']:.3f}")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-bertopic", action="store_true")
    parser.add_argument("--no-100k", action="store_true")
    parser.add_argument("--sample-fit-only", action="store_true",
                        help="only compare a full fit with a 20%% sample fit on the paperlists 10k sample")
    parser.add_argument("--sample-fit-full", action="store_true",
                        help="only compare a full fit with a 20%% sample fit on all 91,790 paperlists papers "
                             "(needs embed_paperlists.py's vectors)")
    args = parser.parse_args()
    if args.sample_fit_full:
        print(f"machine: {machine()}")
        full = full_paperlists()
        if full is None:
            raise SystemExit("run benchmarks/embed_paperlists.py first")
        sample_fit(*full, 200_000 / 1_000_000, "all of paperlists_venues")
        return
    if args.sample_fit_only:
        print(f"machine: {machine()}")
        records = read_eval(*SETS["paperlists10k"])
        vectors = vectors_for("paperlists10k", records)
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
    print(f"machine: {machine()}")
    loaded = quality(use_bertopic)
    speed(loaded, use_bertopic, not args.no_100k)
    full = full_paperlists()
    if full is not None and not args.no_100k:
        sample_fit(*full, 200_000 / 1_000_000, "all of paperlists_venues")


if __name__ == "__main__":
    main()
