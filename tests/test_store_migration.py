"""Atlases of the previous format (1) load, migrated, and `paperatlas upgrade` rewrites them.

``tests/data/atlas_format1`` was written by paperatlas at format 1 (commit 4511752):
the first 120 bundled papers, FakeEmbedder vectors, topics with min_cluster_size 5.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from paperatlas.atlas import Atlas
from paperatlas.cli import main
from paperatlas.embed import FakeEmbedder
from paperatlas.store import FORMAT_VERSION, read_topic_labels

FORMAT1 = Path(__file__).resolve().parent / "data" / "atlas_format1"


@pytest.fixture()
def old_atlas(tmp_path) -> Path:
    target = tmp_path / "atlas"
    shutil.copytree(FORMAT1, target)
    return target


def test_a_format_1_atlas_loads_and_says_so_in_one_line(old_atlas, capsys):
    assert json.loads((old_atlas / "manifest.json").read_text())["format_version"] == 1
    atlas = Atlas.load(old_atlas, embedder=FakeEmbedder())
    message = capsys.readouterr().err.strip().splitlines()
    assert len(message) == 1 and "atlas format 1" in message[0] and "paperatlas upgrade" in message[0]
    assert len(atlas) == 120 and atlas.topics is not None
    # exemplars were saved as paper ids; they are rows now, and rows of their own topic
    for row in atlas.topics.layer_table(0).itertuples():
        assert row.exemplars and all(atlas.topics.labels_at(0)[r] == row.topic_id for r in row.exemplars)
    hits = atlas.similar(atlas.corpus[0].id, 5)
    assert len(hits) == 5 and any(hit["why"] for hit in hits)


def test_upgrade_rewrites_it_in_the_current_format(old_atlas, tmp_path):
    before = Atlas.load(old_atlas)
    result = CliRunner().invoke(main, ["upgrade", str(old_atlas)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((old_atlas / "manifest.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION == 3
    assert {"search_terms.npy", "search_titles.parquet"} <= set(manifest["files"])
    after = Atlas.load(old_atlas)
    assert after.corpus.ids == before.corpus.ids
    np.testing.assert_array_equal(after.topics.labels, before.topics.labels)
    np.testing.assert_array_equal(np.asarray(after.embeddings), np.asarray(before.embeddings))
    assert after.topics.names_at(0) == before.topics.names_at(0)
    assert list(after.topics.table["exemplars"].map(list)) == list(before.topics.table["exemplars"].map(list))
    np.testing.assert_array_equal(after.search_state.terms.document_frequency,
                                  before.search_state.terms.document_frequency)


def test_an_unknown_older_format_is_refused_with_how_to_rebuild(old_atlas):
    manifest = json.loads((old_atlas / "manifest.json").read_text())
    manifest["format_version"] = 0
    (old_atlas / "manifest.json").write_text(json.dumps(manifest))
    result = CliRunner().invoke(main, ["info", str(old_atlas)])
    assert result.exit_code == 1
    assert "format version 0 is not supported" in result.output and "paperatlas build" in result.output


def test_refit_reads_only_ids_and_labels_of_the_previous_atlas(old_atlas, monkeypatch):
    ids, labels = read_topic_labels(old_atlas)
    assert len(ids) == 120 and labels.shape == (120, 2)
    atlas = Atlas.load(old_atlas)
    atlas.topics = None  # ids can only come from the folder
    (old_atlas / "embeddings.npy").unlink()  # refit must not need the old vectors, index or papers' text
    (old_atlas / "index.faiss").unlink()
    monkeypatch.setattr(Atlas, "load", classmethod(lambda cls, *a, **k: pytest.fail("refit loaded an atlas")))
    from paperatlas.cluster import TopicSettings

    topics = atlas.refit(old_atlas, TopicSettings(min_cluster_size=5, random_state=7))
    both = (topics.labels[:, 0] >= 0) & (labels[:, 0] >= 0)
    kept = np.mean(topics.labels[both, 0] == labels[both, 0])
    plain = Atlas(atlas.corpus, atlas.embeddings, atlas.index, atlas.model).fit_topics(
        TopicSettings(min_cluster_size=5, random_state=7))
    assert np.array_equal(plain.labels >= 0, topics.labels >= 0)  # the same fit ...
    unmatched = np.mean(plain.labels[both, 0] == labels[both, 0])
    assert kept > 0.5 and kept > unmatched + 0.2  # ... with the old ids kept where topics persist
