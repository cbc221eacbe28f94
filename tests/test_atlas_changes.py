"""What changed after a refit or an add: the topic change report (kept, split, merged, new,
gone, moved papers), the refit's refusal to drop papers silently, and add's table of topics."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from paperatlas.atlas import Atlas
from paperatlas.cli import main
from paperatlas.cluster.changes import compare_topics
from paperatlas.corpus import Corpus
from paperatlas.export.paper_topics import paper_topics
from paperatlas.refit import MissingPapersError
from tests.test_atlas_topics import SETTINGS, blobs

# old topics: 0 kept (20 papers, 18 stay), 1 split into 11 + 12, 2 and 3 merged into 13,
# 4 gone (its 6 papers scatter); new topic 14 is made of old noise, 5 of two papers of topic 0
OLD = [0] * 20 + [1] * 20 + [2] * 8 + [3] * 8 + [4] * 6 + [-1] * 7
NEW = [0] * 18 + [5, 5] + [11] * 10 + [12] * 10 + [13] * 16 + [0, 0, 11, 12, -1, -1] + [14] * 7


def test_change_report_classifies_kept_split_merged_new_and_gone():
    report = compare_topics(OLD, NEW, old_names={0: "reward modeling"}, new_names={0: "reward models"})
    kinds = {(change.kind, tuple(t.id for t in change.old), tuple(t.id for t in change.new))
             for change in report.changes}
    assert kinds == {("kept", (0,), (0,)), ("split", (1,), (11, 12)), ("merged", (2, 3), (13,)),
                     ("new", (), (14,)), ("new", (), (5,)), ("gone", (4,), ())}
    assert report.counts() == {"kept": 1, "split": 1, "merged": 1, "new": 2, "gone": 1}
    (kept,) = report.kept
    assert (kept.old[0].size, kept.new[0].size, kept.shared) == (20, 20, (18,))
    assert kept.new[0].name == "reward models" and report.split[0].shared == (10, 10)
    # moved: 2 papers 0 -> 5 and 4 of topic 4 to topics that do not continue it; 2 became noise
    assert (report.moved, report.to_noise, report.from_noise, report.shared) == (6, 2, 7, 69)
    assert report.examples[0].old.id == 0 and report.examples[0].new.id == 5  # the commonest move first
    frame = report.to_frame()
    assert list(frame.columns) == ["kind", "old_id", "old_name", "old_size", "new_id", "new_name", "new_size",
                                   "shared"]
    assert list(frame["kind"]) == ["kept", "split", "split", "merged", "merged", "new", "new", "gone"]
    assert json.loads(json.dumps(report.to_dict()))["counts"]["split"] == 1
    text = report.render()
    assert "1 kept, 1 split, 1 merged, 2 new, 1 gone" in text
    assert "[0] reward modeling → [0] reward models: 20 papers" in text
    assert "6 papers moved topic" in text and "2 papers became noise" in text


def test_change_report_compares_by_id_and_counts_papers_that_left():
    old_ids = [f"p{i}" for i in range(len(OLD))]
    # the new side lacks the last 7 papers (old noise) and the 14 papers; it has 3 new ones, in another order
    new_labels, new_ids = NEW[:62][::-1] + [0, 0, 0], old_ids[:62][::-1] + ["n1", "n2", "n3"]
    report = compare_topics(OLD, new_labels, old_ids=old_ids, new_ids=new_ids,
                            titles=[f"Title of {i}" for i in new_ids])
    assert report.dropped == tuple(old_ids[62:]) and report.joined == ("n1", "n2", "n3")
    assert report.kept[0].new[0].size == 23 and report.kept[0].old[0].size == 20  # sizes of each whole side
    assert report.moved == 6 and report.examples[0].title == f"Title of {report.examples[0].id}"
    assert "7 left, 3 joined" in report.render() and "[0] topic 0: 20 → 23 papers" in report.render()


def test_identical_labellings_keep_every_topic():
    labels = np.array([0] * 10 + [1] * 10 + [-1] * 3)
    report = compare_topics(labels, labels)
    assert report.counts() == {"kept": 2, "split": 0, "merged": 0, "new": 0, "gone": 0}
    assert report.moved == report.to_noise == report.from_noise == 0


@pytest.fixture()
def saved(tmp_path):
    """An atlas of 100 blob papers built by the CLI from precomputed vectors, then 3 papers added with `add`."""
    papers, vectors = blobs(per_theme=25)
    inputs = tmp_path / "papers.jsonl"
    inputs.write_text("".join(json.dumps(paper.to_record()) + "\n" for paper in papers))
    np.save(tmp_path / "vectors.npy", vectors)
    new_papers, new_vectors = blobs(per_theme=1, seed=3, start=1000)
    new = tmp_path / "new.jsonl"
    new.write_text("".join(json.dumps(paper.to_record()) + "\n" for paper in new_papers[:3]))
    np.save(tmp_path / "new.npy", new_vectors[:3])
    atlas = tmp_path / "atlas"
    result = CliRunner().invoke(main, ["build", str(inputs), "-o", str(atlas), "--embeddings",
                                       str(tmp_path / "vectors.npy"), "--min-cluster-size", "8"])
    assert result.exit_code == 0, result.output
    return tmp_path


def test_add_prints_each_new_papers_topic_and_json(saved):
    result = CliRunner().invoke(main, ["add", str(saved / "atlas"), str(saved / "new.jsonl"),
                                       "--embeddings", str(saved / "new.npy"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # JSON only on stdout
    assert [row["id"] for row in report["added"]] == ["reward-1000", "diffusion-1001", "values-1002"]
    assert report["already_in_atlas"] == 0 and report["papers"] == 103
    atlas = Atlas.load(saved / "atlas")
    names = atlas.topics.names_at(0)
    for row in report["added"]:
        label = int(atlas.topics.labels_at(0)[atlas.corpus.row(row["id"])])
        assert row["topic_id"] == label and row["topic_name"] == names.get(label, "(noise)")
        assert row["title"] == atlas.corpus.get(row["id"]).title


def test_add_table_for_people(saved):
    result = CliRunner().invoke(main, ["add", str(saved / "atlas"), str(saved / "new.jsonl"),
                                       "--embeddings", str(saved / "new.npy")])
    assert result.exit_code == 0, result.output
    assert "added 3 papers (0 were already in the atlas)" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "title", "topic", "topic", "name"]
    atlas = Atlas.load(saved / "atlas")
    for line, paper_id in zip(lines[1:], ["reward-1000", "diffusion-1001", "values-1002"]):
        topic = int(atlas.topics.labels_at(0)[atlas.corpus.row(paper_id)])
        assert line.startswith(paper_id) and f" {topic} " in line
        assert atlas.topics.names_at(0).get(topic, "(noise)")[:10] in line


def test_paper_topics_marks_noise_and_atlases_without_topics():
    papers, vectors = blobs(per_theme=10)
    atlas = Atlas.build(Corpus(papers), embeddings=vectors)
    bare = paper_topics(atlas, [papers[0].id])
    assert bare["topic_id"].isna().all() and bare["topic_name"].isna().all()
    atlas.fit_topics(SETTINGS)
    atlas.topics.labels = np.array(atlas.topics.labels)
    atlas.topics.labels[1, 0] = -1
    table = paper_topics(atlas, [papers[1].id, papers[0].id])
    assert list(table["id"]) == [papers[1].id, papers[0].id]
    assert table["topic_id"].iloc[0] == -1 and table["topic_name"].iloc[0] == "(noise)"
    assert table["topic_name"].iloc[1] == atlas.topics.names_at(0)[int(table["topic_id"].iloc[1])]


def refit(saved, *extra: str):
    return CliRunner().invoke(main, ["build", str(saved / "papers.jsonl"), "-o", str(saved / "atlas"), "--refit",
                                     "--embeddings", str(saved / "vectors.npy"), "--min-cluster-size", "8", *extra])


def test_refit_refuses_to_drop_added_papers_and_names_them(saved):
    added = CliRunner().invoke(main, ["add", str(saved / "atlas"), str(saved / "new.jsonl"),
                                      "--embeddings", str(saved / "new.npy")])
    assert added.exit_code == 0, added.output
    result = refit(saved)
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert line.startswith("error: 3 papers of the atlas at") and "not in the inputs" in line
    assert 'reward-1000 "Reward study 1000"' in line and "--drop-missing" in line
    assert len(Atlas.load(saved / "atlas")) == 103  # untouched

    result = refit(saved, "--drop-missing")
    assert result.exit_code == 0, result.output
    assert "--drop-missing: 3 papers not in the inputs leave" in result.stderr and "reward-1000" in result.stderr
    assert "topic changes at layer 0:" in result.stderr and "(100 papers in both, 3 left)" in result.stderr
    assert "kept:" in result.stderr and "moved topic" in result.stderr
    assert len(Atlas.load(saved / "atlas")) == 100


def test_refit_of_the_same_papers_reports_every_topic_kept(saved):
    before = Atlas.load(saved / "atlas").topics.labels_at(0).copy()
    result = refit(saved)
    assert result.exit_code == 0, result.output
    topics = len(set(before[before >= 0].tolist()))
    assert f"{topics} kept, 0 split, 0 merged, 0 new, 0 gone (100 papers in both)" in result.stderr
    assert "0 papers moved topic" in result.stderr
    assert CliRunner().invoke(main, ["build", str(saved / "papers.jsonl"), "-o", str(saved / "b"),
                                     "--drop-missing"]).exit_code == 2  # only with --refit


def test_atlas_refit_in_python_refuses_or_reports(saved):
    papers, vectors = blobs(per_theme=25)
    fewer = Atlas.build(Corpus(papers[:-2]), embeddings=vectors[:-2])
    with pytest.raises(MissingPapersError) as caught:
        fewer.refit(saved / "atlas", SETTINGS)
    assert [paper_id for paper_id, _ in caught.value.papers] == [papers[-2].id, papers[-1].id]
    assert "2 papers of the atlas at" in str(caught.value)
    fewer.refit(saved / "atlas", SETTINGS, drop_missing=True)
    changes = fewer.last_changes
    assert changes.dropped == (papers[-2].id, papers[-1].id) and changes.shared == 98
    assert changes.counts()["kept"] >= 3
