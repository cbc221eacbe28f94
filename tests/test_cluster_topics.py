"""Tests of paperatlas.cluster.topics: the whole topic stage."""

from __future__ import annotations

import numpy as np
import pytest

from paperatlas.cluster import NamedTopic, TopicSettings, apply_names, fit_topics
from paperatlas.evaluation import label_scores
from paperatlas.cluster.hierarchy import parents
from paperatlas.cluster.reduce import exact_knn
from paperatlas.embed.fake import FakeEmbedder
from paperatlas.errors import PaperatlasError

WORDS = ["reward", "graph", "protein", "galaxy", "quantum", "weather"]


def blobs(n_blobs: int = 6, per_blob: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_blobs, 384))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    truth = np.repeat(np.arange(n_blobs), per_blob)
    x = centers[truth] + 0.05 * rng.standard_normal((truth.size, 384))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    texts = [f"{WORDS[b]} {WORDS[b]}s study of {WORDS[b]} data number {i}" for i, b in enumerate(truth)]
    return x.astype(np.float32), truth, texts


@pytest.fixture(scope="module")
def fitted() -> tuple:
    x, truth, texts = blobs()
    return x, truth, texts, fit_topics(x, texts, settings=TopicSettings(random_state=0))


def test_recovers_blobs_with_little_noise(fitted: tuple) -> None:
    _, truth, _, model = fitted
    scores = label_scores(truth, model.labels_at(0))
    assert scores["ari"] >= 0.9
    assert model.n_topics(0) == 6
    assert model.noise_share() <= 0.05


def test_outputs_have_documented_shapes(fitted: tuple) -> None:
    x, _, _, model = fitted
    assert model.reduced.shape == (360, 5) and model.reduced.dtype == np.float32
    assert model.coords is not None and model.coords.shape == (360, 2)
    assert model.probabilities.shape == (360,)
    assert model.n_layers == len(model.centroids) >= 2
    for layer, centroids in zip(model.labels.T, model.centroids):
        assert layer.shape == (360,) and layer.dtype == np.int64
        assert centroids.shape == (len(set(layer[layer >= 0].tolist())), 384)
    assert set(model.timings) >= {"knn", "reduce", "cluster", "map", "represent"}


def test_topics_table(fitted: tuple) -> None:
    _, truth, _, model = fitted
    table = model.table
    assert list(table.columns) == ["layer", "topic_id", "size", "parent", "name", "keyterms", "keyterm_scores", "exemplars"]
    fine = table[table.layer == 0]
    assert fine.topic_id.tolist() == list(range(6))
    assert fine["size"].tolist() == sorted(fine["size"].tolist(), reverse=True)
    for _, row in fine.iterrows():
        rows = np.flatnonzero(model.labels_at(0) == row.topic_id)
        blob = np.bincount(truth[rows]).argmax()
        assert row.keyterms[0] == WORDS[blob]
        assert 3 <= len(row.exemplars) <= 5 and set(row.exemplars) <= set(rows.tolist())
        assert row["name"].startswith(WORDS[blob])
    assert "study" not in {t for terms in table.keyterms for t in terms}  # scientific stopword
    top = table[table.layer == table.layer.max()]
    assert (top.parent == -1).all()


def test_hierarchy_consistent(fitted: tuple) -> None:
    _, _, _, model = fitted
    fine, coarse = model.labels_at(0), model.labels_at(1)
    assert 1 < model.n_topics(1) < model.n_topics(0)
    mapping = parents(fine, coarse)
    table = model.table[model.table.layer == 0]
    assert dict(zip(table.topic_id, table.parent)) == mapping
    for child, parent in mapping.items():
        assert np.all(coarse[fine == child] == parent)


def test_deterministic(fitted: tuple) -> None:
    x, _, texts, model = fitted
    again = fit_topics(x, texts, settings=TopicSettings(random_state=0))
    for a, b in zip(model.labels.T, again.labels.T):
        assert np.array_equal(a, b)
    assert np.array_equal(model.reduced, again.reduced)
    assert np.array_equal(model.coords, again.coords)
    assert model.table.equals(again.table)


def test_precomputed_knn_gives_same_result(fitted: tuple) -> None:
    x, _, texts, model = fitted
    knn = exact_knn(x, 40)
    again = fit_topics(x, texts, settings=TopicSettings(random_state=0), knn=knn)
    assert np.array_equal(model.labels_at(0), again.labels_at(0))
    assert np.array_equal(model.reduced, again.reduced)


def test_apply_names(fitted: tuple) -> None:
    _, _, _, model = fitted
    fine = model.table[model.table.layer == 0]
    galaxy = int(fine[fine.keyterms.str[0] == "galaxy"].topic_id.iloc[0])
    named = [NamedTopic("galaxies", "Galaxy surveys.")]
    renamed = apply_names(model, named, named_vectors=model.centroids[0][[galaxy]])
    names = renamed.table[renamed.table.layer == 0].set_index("topic_id")["name"]
    assert names[galaxy] == "galaxies"
    assert names.is_unique
    assert "galaxies" not in model.table["name"].tolist()  # the input model is unchanged


def test_apply_names_with_fake_embedder(fitted: tuple) -> None:
    _, _, _, model = fitted
    embedder = FakeEmbedder()
    plain = apply_names(model, [], embedder)
    assert plain.table["name"].tolist() == model.table["name"].tolist()
    assert embedder.calls == 0
    # Hash vectors are unrelated to the blobs: nothing passes the thresholds.
    unrelated = apply_names(model, [NamedTopic("galaxies", "Galaxy surveys.")], embedder)
    assert embedder.calls == 1
    assert unrelated.table["name"].tolist() == model.table["name"].tolist()
    with pytest.raises(PaperatlasError, match="embedder"):
        apply_names(model, [NamedTopic("a", "b")])


def test_one_paper() -> None:
    x, _, texts = blobs(1, 1)
    model = fit_topics(x, texts)
    assert model.labels_at(0).tolist() == [-1]
    assert model.noise_share() == 1.0 and model.table.empty
    assert model.coords.shape == (1, 2) and model.reduced.shape == (1, 5)


def test_identical_papers() -> None:
    x, _, texts = blobs(1, 1)
    model = fit_topics(np.repeat(x, 30, axis=0), texts * 30, settings=TopicSettings(min_cluster_size=5))
    assert model.labels_at(0).tolist() == [0] * 30
    assert model.table["size"].tolist() == [30]


def test_fewer_papers_than_min_cluster_size() -> None:
    x, _, texts = blobs(2, 10)
    model = fit_topics(x, texts, settings=TopicSettings(min_cluster_size=50))
    assert np.all(model.labels_at(0) == -1)
    assert model.n_layers == 1 and model.table.empty


def test_themes_cover_noise_by_default_and_ward_keeps_it() -> None:
    rng = np.random.default_rng(0)  # no structure: HDBSCAN leaves about 10% noise
    x = rng.standard_normal((300, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    texts = [f"paper {i}" for i in range(300)]
    common = dict(random_state=0, coarse_sizes=(2,), epsilon_scale=0.0, make_map=False)
    regions = fit_topics(x, texts, settings=TopicSettings(**common))
    ward = fit_topics(x, texts, settings=TopicSettings(themes="ward", **common))
    assert regions.noise_share() > 0.02 and np.array_equal(regions.labels_at(0) < 0, ward.labels_at(0) < 0)
    assert np.all(regions.labels_at(1) >= 0)  # every paper lies in a theme
    assert np.array_equal(ward.labels_at(1) < 0, ward.labels_at(0) < 0)
    for model in (regions, ward):
        assert model.n_topics(1) == 2
        parents(model.labels_at(0), model.labels_at(1))  # nests, or raises
    with pytest.raises(PaperatlasError, match="themes must be one of"):
        fit_topics(x, texts, settings=TopicSettings(themes="single"))


def test_reassign_noise_setting_and_no_map() -> None:
    x, _, texts = blobs(3, 40)
    model = fit_topics(x, texts, settings=TopicSettings(reassign_threshold=-1.0, make_map=False, n_epochs=50))
    assert model.noise_share() == 0.0
    assert model.coords is None


def test_rejects_bad_input() -> None:
    x, _, texts = blobs(2, 10)
    with pytest.raises(PaperatlasError, match="one text per paper"):
        fit_topics(x, texts[:-1])
    with pytest.raises(PaperatlasError, match="min_cluster_size"):
        fit_topics(x, texts, settings=TopicSettings(min_cluster_size=1))
    with pytest.raises(PaperatlasError, match="2-D"):
        fit_topics(x[0], texts)


def test_progress_reports_every_step_in_order() -> None:
    from paperatlas.cluster.topics import FIT_STEPS

    emb, _, texts = blobs(n_blobs=3, per_blob=30)
    seen: list[tuple[str, float]] = []
    model = fit_topics(emb, texts, settings=TopicSettings(min_cluster_size=10), progress=lambda s, t: seen.append((s, t)))
    assert [step for step, _ in seen] == list(FIT_STEPS)
    assert dict(seen) == model.timings
