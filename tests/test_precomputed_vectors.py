"""Precomputed vectors with the model that made them named: checked on a sample, then
text queries and ``add`` embed with that model; ``add --embeddings`` takes given vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from paperatlas.atlas import MODEL_CHECK_PAPERS, Atlas
from paperatlas.cli import main
from paperatlas.corpus import Corpus
from paperatlas.embed import FakeEmbedder
from paperatlas.errors import PaperatlasError

REPO = Path(__file__).resolve().parent.parent


class CountingFake(FakeEmbedder):
    """A FakeEmbedder that counts the texts it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.texts = 0

    def encode(self, texts, *, show_progress_bar: bool = False):
        self.texts += len(texts)
        return super().encode(texts, show_progress_bar=show_progress_bar)


@pytest.fixture(scope="module")
def corpus(bundled_corpus) -> Corpus:
    return bundled_corpus[:100]


def test_named_model_is_checked_on_a_sample_and_recorded(corpus, tmp_path):
    vectors = FakeEmbedder().encode(corpus.texts())
    embedder = CountingFake()
    atlas = Atlas.build(corpus, embedder, embeddings=vectors * 3.0, cache=None)  # any scale: rows are normalised
    assert embedder.texts == MODEL_CHECK_PAPERS  # a sample, not the corpus
    assert atlas.model.id == "fake-hashing-384" and not atlas.model.external
    atlas.save(tmp_path / "atlas")
    loaded = Atlas.load(tmp_path / "atlas", embedder=FakeEmbedder())
    hits = loaded.similar("reward models for RLHF", 3, by="text")
    assert len(hits) == 3


def test_vectors_of_another_model_are_refused_with_the_figures(corpus):
    other = np.random.default_rng(0).standard_normal((len(corpus), 384)).astype(np.float32)
    with pytest.raises(PaperatlasError, match=r"do not come from 'fake-hashing-384'.*mean cosine of 0\.0\d"):
        Atlas.build(corpus, FakeEmbedder(), embeddings=other, cache=None)
    with pytest.raises(PaperatlasError, match="dimension 16; 'fake-hashing-384' makes 384"):
        Atlas.build(corpus, FakeEmbedder(), embeddings=other[:, :16], cache=None)


def test_without_a_model_text_queries_say_how_to_name_it(corpus):
    atlas = Atlas.build(corpus, embeddings=FakeEmbedder().encode(corpus.texts()), cache=None)
    with pytest.raises(PaperatlasError, match="--embeddings V.npy --model NAME"):
        atlas.similar("reward models", 3, by="text")


def test_add_takes_given_vectors_without_embedding(corpus):
    embedder = CountingFake()
    atlas = Atlas.build(corpus[:80], embedder, cache=None)
    before = embedder.texts
    new = list(corpus[80:])
    given = FakeEmbedder().encode([p.text for p in new])
    assert atlas.add(new, embeddings=given) == [p.id for p in new]
    assert embedder.texts == before and atlas.last_embedded == 0
    np.testing.assert_allclose(np.asarray(atlas.embeddings[80:]), given, atol=1e-6)
    assert atlas.search_state.terms.documents == 100


def test_cli_build_with_embeddings_and_model_answers_text_queries(tmp_path, real_atlas, real_embedder):
    papers = REPO / "data" / "papers.jsonl"
    np.save(tmp_path / "v.npy", np.asarray(real_atlas.embeddings))
    runner = CliRunner()
    result = runner.invoke(main, ["build", str(papers), "-o", str(tmp_path / "atlas"), "--no-topics",
                                  "--embeddings", str(tmp_path / "v.npy"), "--model", "sentence-transformers/all-MiniLM-L6-v2"])
    assert result.exit_code == 0, result.output
    assert "checked the vectors against sentence-transformers/all-MiniLM-L6-v2" in result.output
    manifest = json.loads((tmp_path / "atlas" / "manifest.json").read_text())
    assert manifest["model"] == {"id": "sentence-transformers/all-MiniLM-L6-v2", "dimension": 384, "external": False,
                                 "backend": "torch"}
    result = runner.invoke(main, ["similar", str(tmp_path / "atlas"), "reward hacking in RLHF", "-k", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["results"]) == 3

    shuffled = np.asarray(real_atlas.embeddings)[np.random.default_rng(1).permutation(len(real_atlas))]
    np.save(tmp_path / "wrong.npy", shuffled)
    result = runner.invoke(main, ["build", str(papers), "-o", str(tmp_path / "wrong"), "--no-topics",
                                  "--embeddings", str(tmp_path / "wrong.npy"), "--model", "sentence-transformers/all-MiniLM-L6-v2"])
    assert result.exit_code == 1 and "do not come from" in result.output and not (tmp_path / "wrong").exists()


def test_cli_add_with_embeddings(tmp_path, bundled_corpus):
    from paperatlas.export.tables import write_papers

    first, rest = bundled_corpus[:300], bundled_corpus[300:]
    write_papers(first, tmp_path / "first.jsonl")
    write_papers(rest, tmp_path / "rest.jsonl")
    fake = FakeEmbedder()
    np.save(tmp_path / "first.npy", fake.encode(first.texts()))
    np.save(tmp_path / "rest.npy", fake.encode(rest.texts()))
    runner = CliRunner()
    result = runner.invoke(main, ["build", str(tmp_path / "first.jsonl"), "-o", str(tmp_path / "atlas"),
                                  "--embeddings", str(tmp_path / "first.npy"), "--no-topics"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["add", str(tmp_path / "atlas"), str(tmp_path / "rest.jsonl"),
                                  "--embeddings", str(tmp_path / "rest.npy")])
    assert result.exit_code == 0, result.output
    assert f"added {len(rest)} papers" in result.output and "embedded 0" in result.output
    atlas = Atlas.load(tmp_path / "atlas")
    assert len(atlas) == 350
    np.testing.assert_allclose(np.asarray(atlas.embeddings[300:]), fake.encode(rest.texts()), atol=1e-6)
    result = runner.invoke(main, ["add", str(tmp_path / "atlas"), str(tmp_path / "rest.jsonl"),
                                  "--embeddings", str(tmp_path / "first.npy")])
    assert result.exit_code == 1 and "precomputed embeddings have shape (300, 384); expected (50, dimension)" in result.output
