"""Topics of a large atlas: fitted on a sample, every other paper assigned by a vote of its
nearest sampled papers (the path a 1M-paper atlas takes, exercised on 480 papers)."""

from __future__ import annotations

import numpy as np
import pytest

from paperatlas.cluster import TopicSettings
from paperatlas.cluster.hierarchy import parents
from paperatlas.cluster.topics import fit_atlas_topics
from paperatlas.evaluation import label_scores
from paperatlas.index import PaperIndex
from tests.test_cluster_topics import blobs


@pytest.fixture(scope="module")
def data():
    x, truth, texts = blobs(n_blobs=6, per_blob=80, seed=3)
    return x, truth, texts, PaperIndex.build(x)


@pytest.fixture(scope="module")
def sampled(data):
    x, _, texts, index = data
    return fit_atlas_topics(x, texts, index, TopicSettings(fit_sample=200, random_state=0))


def sample_rows(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def test_every_paper_gets_topics_and_a_position(data, sampled):
    x, truth, _, _ = data
    assert sampled.labels.shape[0] == len(x) == 480 and sampled.n_layers >= 2
    assert label_scores(truth, sampled.labels_at(0))["ari"] >= 0.9
    assert sampled.noise_share(0) <= 0.05
    assert np.isfinite(sampled.coords).all() and sampled.coords.shape == (480, 2)
    rest = np.setdiff1d(np.arange(480), sample_rows(480, 200))
    assert np.all(sampled.probabilities[rest] == 0) and np.any(sampled.probabilities > 0)
    for layer in range(sampled.n_layers - 1):
        parents(sampled.labels_at(layer), sampled.labels_at(layer + 1))  # still nested (raises if not)


def test_sampled_papers_keep_the_labels_of_the_fit_on_the_sample(data, sampled):
    x, _, texts, _ = data
    rows = sample_rows(480, 200)
    alone = fit_atlas_topics(x[rows], [texts[r] for r in rows], PaperIndex.build(x[rows]), TopicSettings(random_state=0))
    np.testing.assert_array_equal(sampled.labels[rows], alone.labels)
    np.testing.assert_allclose(sampled.coords[rows], alone.coords)


def test_table_sizes_and_exemplars_refer_to_all_papers(sampled):
    for row in sampled.table.itertuples():
        labels = sampled.labels_at(row.layer)
        assert row.size == int(np.sum(labels == row.topic_id))
        assert row.exemplars and all(labels[e] == row.topic_id for e in row.exemplars)


def test_small_atlases_fit_on_every_paper(data):
    x, _, texts, index = data
    whole = fit_atlas_topics(x, texts, index, TopicSettings(random_state=0))
    assert np.all(whole.probabilities > 0) or whole.noise_share(0) > 0  # HDBSCAN saw every paper
    assert whole.reduced is not None and whole.reduced.shape[0] == 480


def test_search_restricted_to_leading_rows(data):
    x, _, _, _ = data
    for kind in ("exact", "hnsw"):
        index = PaperIndex.build(x, kind)
        queries = x[np.r_[50:55, 400:405]]  # from inside and from outside the searched rows
        scores, rows = index.search(queries, 5, rows_below=100)
        assert rows.shape == (10, 5) and rows.max() < 100
        exact = np.argsort(-(queries @ x[:100].T), axis=1)[:, :5]
        recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(rows, exact)])
        assert recall >= (1.0 if kind == "exact" else 0.6)
        np.testing.assert_allclose(scores, np.take_along_axis(queries @ x[:100].T, rows, axis=1), atol=1e-5)
        assert index.search(x[:2], 50, rows_below=3)[1].shape == (2, 3)  # k capped at the rows searched
