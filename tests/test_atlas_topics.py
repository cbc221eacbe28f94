"""Topics inside an atlas: fitting, persistence, add without refit, stable ids on refit,
export tables, trends and evaluation; on synthetic labelled blobs (fast, no model)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from paperatlas.atlas import Atlas
from paperatlas.cli import main
from paperatlas.cluster import TopicSettings
from paperatlas.cluster.assign import labels_by_id
from paperatlas.corpus import Corpus, Paper
from paperatlas.errors import PaperatlasError
from paperatlas.export.tables import paper_table, topic_trends

THEMES = {
    "reward": "reward model preference feedback rlhf annotators",
    "diffusion": "diffusion image guidance sampling denoising steering",
    "values": "human values morality pluralism ethics norms",
    "robots": "robot grasping manipulation control locomotion",
}
SETTINGS = TopicSettings(min_cluster_size=8, random_state=7)


def blobs(per_theme: int = 40, seed: int = 0, start: int = 0):
    """Papers with theme words and 384-d unit vectors around one centre per theme."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).standard_normal((len(THEMES), 384))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    papers, vectors = [], []
    for t, (theme, words) in enumerate(THEMES.items()):
        for i in range(per_theme):
            n = start + t * per_theme + i
            month = 1 + (n % 6)
            papers.append(Paper(
                id=f"{theme}-{n}", title=f"{theme.title()} study {n}",
                abstract=f"We study {words}. Paper {n} uses {words.split()[i % 5]} again.",
                date=f"2025-{month:02d}-0{1 + n % 9}", metadata={"label": theme},
            ))
            v = centres[t] + 0.15 * rng.standard_normal(384) / np.sqrt(384) * 8
            vectors.append(v / np.linalg.norm(v))
    return papers, np.array(vectors, dtype=np.float32)


@pytest.fixture(scope="module")
def fitted():
    papers, vectors = blobs()
    atlas = Atlas.build(Corpus(papers), embeddings=vectors)
    atlas.fit_topics(SETTINGS)
    return atlas


def test_topics_recover_the_themes(fitted):
    topics = fitted.topics
    assert topics.n_layers >= 2
    fine = topics.labels_at(0)
    assert topics.noise_share(0) <= 0.1
    # each theme's papers sit (mostly) in one topic of their own
    for theme in THEMES:
        rows = [i for i, p in enumerate(fitted.corpus) if p.metadata["label"] == theme]
        values, counts = np.unique(fine[rows][fine[rows] >= 0], return_counts=True)
        assert counts.max() >= 0.9 * len(rows)
    names = topics.names_at(0)
    assert len(names) == 4
    assert any("reward" in name for name in names.values())
    for row in topics.layer_table(0).itertuples():
        assert 3 <= len(row.exemplars) <= 5
        assert all(fitted.topics.labels_at(row.layer)[e] == row.topic_id for e in row.exemplars)
        assert row.keyterms and row.size > 0


def test_hierarchy_layers_are_consistent(fitted):
    topics = fitted.topics
    fine, coarse = topics.labels_at(0), topics.labels_at(1)
    assert len(topics.names_at(1)) <= len(topics.names_at(0))
    parents = dict(zip(topics.layer_table(0)["topic_id"], topics.layer_table(0)["parent"]))
    for topic, parent in parents.items():
        assert set(coarse[fine == topic]) == {parent}


def test_persistence_round_trip_keeps_topics(fitted, tmp_path):
    fitted.save(tmp_path / "a")
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert {"topics.parquet", "topic_labels.npy", "topic_probabilities.npy", "map_xy.npy"} <= set(manifest["files"])
    loaded = Atlas.load(tmp_path / "a")
    np.testing.assert_array_equal(loaded.topics.labels, fitted.topics.labels)
    np.testing.assert_array_equal(loaded.topics.coords, fitted.topics.coords)
    assert loaded.topics.names_at(0) == fitted.topics.names_at(0)
    assert loaded.topics.settings.min_cluster_size == 8


def test_same_settings_give_identical_topics():
    papers, vectors = blobs()
    one = Atlas.build(Corpus(papers), embeddings=vectors)
    two = Atlas.build(Corpus(papers), embeddings=vectors)
    np.testing.assert_array_equal(one.fit_topics(SETTINGS).labels, two.fit_topics(SETTINGS).labels)
    np.testing.assert_array_equal(one.topics.coords, two.topics.coords)


def test_add_without_refit_keeps_old_ids_and_votes_new_papers_in(fitted):
    atlas = Atlas(fitted.corpus, fitted.embeddings, type(fitted.index).build(fitted.embeddings, "exact"), fitted.model)
    atlas.topics = fitted.topics
    before = atlas.topics.labels.copy()
    new_papers, new_vectors = blobs(per_theme=3, seed=5, start=1000)
    added = atlas.add(new_papers, embeddings=new_vectors)
    assert len(added) == 12 and len(atlas) == 172
    np.testing.assert_array_equal(atlas.topics.labels[:160], before)
    fine = atlas.topics.labels_at(0)
    for theme in THEMES:
        old_rows = [i for i, p in enumerate(atlas.corpus[:160]) if p.metadata["label"] == theme]
        majority = np.bincount(fine[old_rows][fine[old_rows] >= 0]).argmax()
        new_rows = [i for i, p in enumerate(atlas.corpus) if i >= 160 and p.metadata["label"] == theme]
        assert all(fine[r] == majority for r in new_rows)
    # placed among their neighbours on the map
    centre = atlas.topics.coords[:160][fine[:160] == fine[160]].mean(axis=0)
    spread = np.linalg.norm(atlas.topics.coords[:160] - centre, axis=1).max()
    assert np.linalg.norm(atlas.topics.coords[160] - centre) < spread
    sizes = atlas.topics.layer_table(0).set_index("topic_id")["size"]
    assert sizes.sum() == np.sum(fine >= 0)


def test_refit_keeps_ids_where_topics_persist(fitted):
    papers, vectors = blobs()
    fresh = Atlas.build(Corpus(papers), embeddings=vectors)
    # a refit with another seed may number topics differently; matching restores the old ids
    fresh.fit_topics(TopicSettings(min_cluster_size=8, random_state=123), keep_ids_from=labels_by_id(fitted.corpus.ids, fitted.topics.labels, fresh.corpus.ids))
    old, new = fitted.topics.labels_at(0), fresh.topics.labels_at(0)
    both = (old >= 0) & (new >= 0)
    assert np.mean(old[both] == new[both]) > 0.95
    assert fresh.topics.names_at(0).keys() == fitted.topics.names_at(0).keys()


def test_paper_table_export_columns_and_round_trip(fitted, tmp_path):
    table = paper_table(fitted)
    assert list(table.columns[:7]) == ["id", "title", "date", "topic_id", "topic_name", "x", "y"]
    assert {"layer_0", "layer_1", "label"} <= set(table.columns)
    for suffix in ("csv", "parquet", "json"):
        fitted.save(tmp_path / "a")
        out = tmp_path / f"papers.{suffix}"
        result = CliRunner().invoke(main, ["export", str(tmp_path / "a"), "--format", suffix, "-o", str(out)])
        assert result.exit_code == 0, result.output
        back = {"csv": pd.read_csv, "parquet": pd.read_parquet, "json": pd.read_json}[suffix](out)
        assert list(back["id"]) == list(table["id"])
        assert list(back["topic_id"]) == list(table["topic_id"])
        assert list(back["label"]) == list(table["label"])
        np.testing.assert_allclose(back["x"], table["x"], rtol=1e-5)


def test_trends_count_papers_per_month(fitted):
    trends = topic_trends(fitted)
    assert list(trends.index) == sorted(trends.index) and trends.index[0] == "2025-01"
    assert trends.to_numpy().sum() == len(fitted)
    assert set(fitted.topics.names_at(0).values()) <= set(trends.columns) | {"(noise)"}


def test_evaluate_against_the_label_column(fitted, tmp_path):
    from paperatlas.evaluation import evaluate_atlas

    report = evaluate_atlas(fitted, "label", baseline=True)
    assert report["labels"] == 4 and report["papers"] == 160
    assert report["precision_at_10"] > 0.95
    assert report["layers"][0]["v_measure"] > 0.9
    assert report["kmeans"]["v_measure"] > 0.9
    with pytest.raises(PaperatlasError, match="no paper has a 'venue' value"):
        evaluate_atlas(fitted, "venue")
    fitted.save(tmp_path / "a")
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path / "a"), "--labels-from", "label", "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["layers"][0]["topics"] >= 4


def test_search_results_carry_topic_names_and_filter_by_topic(fitted):
    name = fitted.topics.names_at(0)[0]
    hits = fitted.similar(fitted.corpus.ids[0], k=5, topic=name)
    assert hits and all(h["topic"] == name for h in hits)
    with pytest.raises(PaperatlasError, match="no topic named"):
        fitted.similar(fitted.corpus.ids[0], topic="astrology")


def test_cli_topics_and_trends(fitted, tmp_path):
    fitted.save(tmp_path / "a")
    result = CliRunner().invoke(main, ["topics", str(tmp_path / "a"), "--json"])
    assert result.exit_code == 0
    records = json.loads(result.output)
    assert {"topic_id", "name", "keyterms", "size", "exemplars", "parent"} <= set(records[0])
    assert records[0]["exemplars"][0]["title"]
    text = CliRunner().invoke(main, ["topics", str(tmp_path / "a")]).output
    assert "key terms:" in text
    trends = CliRunner().invoke(main, ["trends", str(tmp_path / "a")])
    assert trends.exit_code == 0 and "2025-01" in trends.output


def test_cli_add_embeds_only_new_papers_and_keeps_topics(tmp_path, monkeypatch):
    from paperatlas.embed import FakeEmbedder

    embedder = FakeEmbedder()
    papers, _ = blobs(per_theme=25)
    atlas = Atlas.build(Corpus(papers), embedder, cache=None, topics=SETTINGS)
    atlas.save(tmp_path / "a")
    before = atlas.topics.labels.copy()
    new = tmp_path / "new.jsonl"
    new.write_text("\n".join(json.dumps({"id": f"n{i}", "title": f"Reward follow-up {i}",
                                         "abstract": f"We study {THEMES['reward']} in setting {i}."})
                             for i in range(3)) + "\n" + json.dumps(papers[0].to_record()) + "\n")
    monkeypatch.setattr("paperatlas.search_state.open_embedder", lambda model: embedder)
    calls = embedder.calls
    result = CliRunner().invoke(main, ["add", str(tmp_path / "a"), str(new)])
    assert result.exit_code == 0, result.output
    assert "added 3 papers (1 was already in the atlas); embedded 3" in result.output
    assert embedder.calls - calls == 3
    loaded = Atlas.load(tmp_path / "a")
    assert len(loaded) == 103
    np.testing.assert_array_equal(loaded.topics.labels[:100], before)
    reward_topic = np.bincount(before[:25, 0][before[:25, 0] >= 0]).argmax()
    assert list(loaded.topics.labels[100:, 0]) == [reward_topic] * 3
