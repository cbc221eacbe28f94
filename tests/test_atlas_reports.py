"""What a researcher reads off an atlas: `evaluate` label columns, the `export` table's abstract and
layer names, the `info` summary and `trends` (undated papers, every topic, the terminal width);
on the bundled corpus with the FakeEmbedder and hand-made keyword topics (no UMAP, no HDBSCAN)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from paperatlas.cli import main
from paperatlas.errors import PaperatlasError
from tests.topic_fixtures import KEYWORD_TOPICS, THEMES


@pytest.fixture()
def atlas_dir(keyword_atlas_path) -> Path:
    return keyword_atlas_path


# evaluate (item 5) -------------------------------------------------------------------------------

def test_byline_and_upvotes_serve_as_labels_before_and_after_a_save(keyword_atlas, atlas_dir):
    from paperatlas.atlas import Atlas
    from paperatlas.evaluation import evaluate_atlas, label_columns

    bylines = [b for b in keyword_atlas.corpus.column("byline") if b]
    for atlas in (keyword_atlas, Atlas.load(atlas_dir)):  # papers in memory, and read from the Arrow table
        report = evaluate_atlas(atlas, "byline")
        assert report["papers"] == len(bylines) and report["labels"] == len(set(bylines))
        assert evaluate_atlas(atlas, "upvotes")["papers"] == sum(v is not None for v in atlas.corpus.column("upvotes"))
        usable = label_columns(atlas)
        assert usable["byline"] == len(bylines) and usable["sources"] == len(atlas)
        assert "title" not in usable and "abstract" not in usable and "url" not in usable  # empty or one per paper


def test_unknown_label_column_lists_every_usable_column(atlas_dir):
    result = CliRunner().invoke(main, ["evaluate", str(atlas_dir), "--labels-from", "venue"])
    assert result.exit_code == 1
    line = result.output.strip()
    assert line.startswith("error: no paper has a 'venue' value; columns usable as labels: byline (171 papers), "
                           "upvotes (")
    assert "date (171 papers)" in line and "sources (350 papers)" in line and "\n" not in line
    title = CliRunner().invoke(main, ["evaluate", str(atlas_dir), "--labels-from", "title"])
    assert "'title' names one paper each, not a label; columns usable as labels: byline" in title.output
    ok = CliRunner().invoke(main, ["evaluate", str(atlas_dir), "--labels-from", "byline"])
    assert ok.exit_code == 0 and ok.output.startswith("171 papers with a value in byline, ")


def test_metadata_columns_still_serve_as_labels():
    from paperatlas.atlas import Atlas
    from paperatlas.corpus import Corpus, Paper
    from paperatlas.embed import FakeEmbedder
    from paperatlas.evaluation import label_columns, paper_labels

    papers = [Paper(id=str(i), title=f"paper {i}", abstract="words", metadata={"venue": ["a", "b"][i % 2]})
              for i in range(6)]
    atlas = Atlas.build(Corpus(papers), FakeEmbedder(), cache=None)
    rows, labels = paper_labels(atlas, "venue")
    assert rows.tolist() == list(range(6)) and list(labels) == ["a", "b"] * 3
    assert label_columns(atlas) == {"venue": 6}  # columns without a value are left out
    with pytest.raises(PaperatlasError, match="columns usable as labels: venue \\(6 papers\\)"):
        paper_labels(atlas, "byline")


# export (item 6) ---------------------------------------------------------------------------------

def test_export_has_the_abstract_and_a_name_column_per_layer(keyword_atlas, atlas_dir, tmp_path):
    from paperatlas.export.tables import paper_table

    table = paper_table(keyword_atlas)
    columns = list(table.columns)
    assert columns[:7] == ["id", "title", "date", "topic_id", "topic_name", "x", "y"]
    assert columns.index("layer_0") + 1 == columns.index("layer_0_name") < columns.index("layer_1")
    assert columns.index("layer_1") + 1 == columns.index("layer_1_name")
    assert list(table["abstract"]) == keyword_atlas.corpus.column("abstract")
    names = {0: {t: name for t, (_, name) in KEYWORD_TOPICS.items()}, 1: THEMES}
    for layer in (0, 1):
        expected = [names[layer].get(int(t), "(noise)") for t in table[f"layer_{layer}"]]
        assert list(table[f"layer_{layer}_name"]) == expected
    out = tmp_path / "papers.csv"
    result = CliRunner().invoke(main, ["export", str(atlas_dir), "-o", str(out)])
    assert result.exit_code == 0, result.output
    back = pd.read_csv(out)
    assert {"abstract", "layer_0_name", "layer_1_name", "byline", "upvotes"} <= set(back.columns)
    assert list(back["abstract"]) == list(table["abstract"])
    assert list(back["layer_1_name"]) == list(table["layer_1_name"])


# info (item 9) -----------------------------------------------------------------------------------

def test_info_is_readable_and_its_json_says_the_same(keyword_atlas, atlas_dir):
    text = CliRunner().invoke(main, ["info", str(atlas_dir)])
    assert text.exit_code == 0, text.output
    for python_repr in ("{", "}", "[", "True", "False", "None", "'"):
        assert python_repr not in text.output, python_repr
    dates = sorted(d for d in keyword_atlas.corpus.column("date") if d)
    undated = len(keyword_atlas) - len(dates)
    lines = text.output.splitlines()
    assert "papers: 350" in lines and "index: exact" in lines
    assert "model: fake-hashing-384 (384 dimensions, torch backend)" in lines
    assert "topics: layer 0: 3 topics, layer 1: 2 topics" in lines
    assert f"noise: {keyword_atlas.topics.noise_share(0):.1%} of papers in no topic (layer 0)" in lines
    assert f"dates: {dates[0]} to {dates[-1]}; {undated} undated" in lines
    manifest = json.loads((atlas_dir / "manifest.json").read_text())
    n_files = len(manifest["files"])
    assert any(line.startswith(f"files: {n_files} files, ") and line.endswith("MB (atlas format 3)") for line in lines)
    assert (f"checks passed: manifest, format version 3, sizes of {n_files} files, checksums of {n_files} files"
            in text.output)

    summary = json.loads(CliRunner().invoke(main, ["info", str(atlas_dir), "--json"]).output)
    assert summary["papers"] == 350 and summary["topics"] == {"layer_0": 3, "layer_1": 2}
    assert summary["dates"] == {"first": dates[0], "last": dates[-1], "dated": len(dates), "undated": undated}
    assert summary["files"] == n_files
    assert summary["bytes"] == sum(entry["bytes"] for entry in manifest["files"].values())
    assert summary["checks_passed"][:4] == ["manifest", "format version 3", f"sizes of {n_files} files",
                                           f"checksums of {n_files} files"]


def test_info_without_topics_or_dates(tmp_path):
    from paperatlas.atlas import Atlas
    from paperatlas.corpus import Corpus, Paper
    from paperatlas.embed import FakeEmbedder

    Atlas.build(Corpus([Paper(id="a", title="one", abstract="x")]), FakeEmbedder(), cache=None).save(tmp_path / "a")
    text = CliRunner().invoke(main, ["info", str(tmp_path / "a")]).output
    assert "topics: none (built without topics)" in text and "dates: no paper has a date; 1 undated" in text
    assert "noise:" not in text and "None" not in text


# trends (item 10) --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def undated_topic_atlas():
    """Topic 0 dated (three months), topic 1 (its papers all undated), one undated noise paper."""
    from paperatlas.atlas import Atlas
    from paperatlas.cluster.topic_model import TOPIC_COLUMNS, TopicModel
    from paperatlas.corpus import Corpus, Paper
    from paperatlas.embed import FakeEmbedder

    dates = ["2025-01-03", "2025-01-20", "2025-03-02", "2024-12-31", None, None, None, None]
    labels = np.array([0, 0, 0, 0, 1, 1, 1, -1])
    papers = [Paper(id=f"p{i}", title=f"paper {i}", abstract=f"text {i}", date=d) for i, d in enumerate(dates)]
    atlas = Atlas.build(Corpus(papers), FakeEmbedder(), cache=None)
    table = pd.DataFrame([
        {"layer": 0, "topic_id": 0, "size": 4, "parent": -1, "name": "dated things", "keyterms": ["dated"],
         "keyterm_scores": [1.0], "exemplars": [0]},
        {"layer": 0, "topic_id": 1, "size": 3, "parent": -1, "name": "timeless things", "keyterms": ["timeless"],
         "keyterm_scores": [1.0], "exemplars": [4]},
    ], columns=list(TOPIC_COLUMNS))
    atlas.topics = TopicModel(labels=labels[:, None], probabilities=np.ones(8, np.float32),
                              coords=np.zeros((8, 2), np.float32), table=table)
    return atlas


def test_trend_table_counts_undated_papers_and_keeps_every_topic(undated_topic_atlas):
    from paperatlas.export.tables import topic_trends

    frame = topic_trends(undated_topic_atlas)
    assert list(frame.index) == ["2024-12", "2025-01", "2025-03", "undated"]
    assert list(frame.columns) == ["dated things", "timeless things", "(noise)"]
    assert frame.loc["undated"].tolist() == [0, 3, 1]
    assert frame["dated things"].tolist() == [1, 2, 1, 0]
    assert int(frame.to_numpy().sum()) == len(undated_topic_atlas)


def test_trends_command_json_and_a_table_that_fits(undated_topic_atlas, keyword_atlas, atlas_dir, tmp_path):
    undated_topic_atlas.save(tmp_path / "a")
    report = json.loads(CliRunner().invoke(main, ["trends", str(tmp_path / "a"), "--json"]).output)
    assert report["months"] == ["2024-12", "2025-01", "2025-03"]
    assert (report["papers"], report["undated"]) == (8, 4)
    assert report["topics"][1] == {"topic_id": 1, "topic": "timeless things", "papers": 3, "undated": 3, "by_month": {}}
    assert report["topics"][2]["topic_id"] == -1 and report["topics"][2]["topic"] is None

    text = CliRunner().invoke(main, ["trends", str(tmp_path / "a")]).output.splitlines()
    assert text[2].split() == ["month", "0", "1", "noise", "all"]
    assert text[2 + 4].split() == ["undated", "·", "3", "1", "4"]
    assert text[2 + 5].split() == ["total", "4", "3", "1", "8"]
    assert ["1", "timeless things (3 papers, 3 undated)"] in [line.split(maxsplit=1) for line in text]

    for width in (40, 80):  # 350 papers, 3 topics and noise, at the narrowest and the usual terminal
        result = CliRunner().invoke(main, ["trends", str(atlas_dir)], env={"COLUMNS": str(width)})
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert all(len(line) <= width for line in lines[1:]), max(lines[1:], key=len)
        undated = [line.split() for line in lines if line.startswith("undated")]
        counts = [int(c) if c != "·" else 0 for row in undated for c in row[1:]]
        # every topic's undated papers, the noise ones, and their sum in the "all" column
        assert sum(counts) == 2 * sum(d is None for d in keyword_atlas.corpus.column("date"))
    one = CliRunner().invoke(main, ["trends", str(atlas_dir), "--topic", "human values", "--json"])
    (topic,) = json.loads(one.output)["topics"]
    assert topic["topic_id"] == 2 and topic["papers"] == int(np.sum(keyword_atlas.topics.labels_at(0) == 2))
    out = tmp_path / "trends.csv"
    assert CliRunner().invoke(main, ["trends", str(atlas_dir), "-o", str(out)]).exit_code == 0
    assert pd.read_csv(out)["month"].iloc[-1] == "undated"
