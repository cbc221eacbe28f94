from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from paperatlas.cli import main
from paperatlas.store import FORMAT_VERSION

REPO = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "paperatlas", *args], capture_output=True, text=True, cwd=REPO)


@pytest.fixture()
def external_atlas(tmp_path, bundled_corpus) -> Path:
    vectors = np.random.default_rng(0).standard_normal((len(bundled_corpus), 16)).astype(np.float32)
    np.save(tmp_path / "x.npy", vectors)
    result = CliRunner().invoke(
        main, ["build", str(REPO / "data" / "papers.jsonl"), "-o", str(tmp_path / "atlas"),
               "--embeddings", str(tmp_path / "x.npy")]
    )
    assert result.exit_code == 0, result.output
    return tmp_path / "atlas"


def test_build_with_precomputed_embeddings_and_info(external_atlas):
    result = CliRunner().invoke(main, ["info", str(external_atlas), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    topics = summary.pop("topics")
    noise = summary.pop("noise_share")
    assert summary.pop("dates")["dated"] + 179 == 350 and summary.pop("files") >= 10 and summary.pop("bytes") > 0
    assert summary.pop("checks_passed")[0] == "manifest"
    assert summary == {
        "papers": 350, "model": "external", "dimension": 16, "external_embeddings": True, "backend": None,
        "index": "exact", "format_version": FORMAT_VERSION,
    }
    counts = [topics[f"layer_{layer}"] for layer in range(len(topics))]  # layers 0, 1, ... and no other key
    assert counts and counts == sorted(counts, reverse=True) and counts[-1] >= 1
    assert 0.0 <= noise <= 1.0
    text = CliRunner().invoke(main, ["info", str(external_atlas)]).output
    assert "papers: 350" in text and "index: exact" in text
    assert "model: external vectors (16 dimensions, given with --embeddings)" in text and "True" not in text


def test_topic_options_reach_the_topic_stage(tmp_path, bundled_corpus):
    import pandas as pd

    rng = np.random.default_rng(0)  # 20 tight groups: enough topics for three layers
    centres = rng.standard_normal((20, 16))
    np.save(tmp_path / "x.npy", centres[np.arange(len(bundled_corpus)) % 20] + 0.05 * rng.standard_normal((350, 16)))
    for themes in ("regions", "ward"):
        out = tmp_path / themes
        result = CliRunner().invoke(main, ["build", str(REPO / "data" / "papers.jsonl"), "-o", str(out),
                                           "--embeddings", str(tmp_path / "x.npy"), "--themes", themes,
                                           "--layers", "3", "--min-cluster-size", "6"])
        assert result.exit_code == 0, result.output
        took = next(line for line in result.output.splitlines() if line.startswith("took "))
        assert [part.split()[0] for part in took[5:].split(", ")] == [
            "read", "vectors", "index", "search", "topics", "save"]  # the README's stage timings
        assert "topic steps: knn" in result.output and "reduce" in result.output
        summary = json.loads(CliRunner().invoke(main, ["info", str(out), "--json"]).output)
        assert set(summary["topics"]) == {"layer_0", "layer_1", "layer_2"}
        saved = np.load(out / "topic_labels.npy", allow_pickle=False)
        labels = pd.DataFrame({f"layer_{i}": saved[:, i] for i in range(saved.shape[1])})
        assert (labels.layer_0 >= 0).sum() >= 6 and labels.layer_0.value_counts().drop(-1, errors="ignore").min() >= 6
        if themes == "regions":
            assert (labels.layer_1 >= 0).all() and (labels.layer_2 >= 0).all()
        else:
            assert ((labels.layer_1 < 0) == (labels.layer_0 < 0)).all()
        settings = json.loads((out / "manifest.json").read_text())["topics"]["settings"]
        assert settings["themes"] == themes and settings["min_cluster_size"] == 6
    assert CliRunner().invoke(main, ["build", "x", "--themes", "single"]).exit_code == 2


def test_build_hnsw_by_option_without_topics(tmp_path, bundled_corpus):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((len(bundled_corpus), 8)))
    result = CliRunner().invoke(main, ["build", str(REPO / "data" / "papers.jsonl"), "-o", str(tmp_path / "a"),
                                       "--embeddings", str(tmp_path / "x.npy"), "--index", "hnsw", "--no-topics"])
    assert result.exit_code == 0, result.output
    summary = json.loads(CliRunner().invoke(main, ["info", str(tmp_path / "a"), "--json"]).output)
    assert summary["index"] == "hnsw" and summary["topics"] is None


def test_build_rejects_misaligned_embeddings(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 8), dtype=np.float32))
    result = run("build", "data/papers.jsonl", "-o", str(tmp_path / "a"), "--embeddings", str(tmp_path / "x.npy"))
    assert result.returncode == 1
    assert "error: precomputed embeddings have shape (3, 8); expected (350, dimension)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "a").exists()


def test_info_on_damaged_atlas_is_one_line(external_atlas):
    (external_atlas / "embeddings.npy").write_bytes(b"junk")
    result = run("info", str(external_atlas))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "embeddings.npy: corrupted" in result.stderr and "Traceback" not in result.stderr


def test_unknown_model_is_a_clear_error_without_download(tmp_path):
    result = run("build", "data/papers.jsonl", "-o", str(tmp_path / "a"), "--model", str(tmp_path / "no-such-model"),
                 "--no-cache")
    assert result.returncode == 1
    assert "cannot load embedding model" in result.stderr and "Traceback" not in result.stderr
