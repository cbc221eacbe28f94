"""Integration tests with the real bundled all-MiniLM-L6-v2 (one atlas per session)."""

from __future__ import annotations

import numpy as np
import pytest

from paperatlas.embed import EmbeddingCache, SentenceTransformerEmbedder

pytestmark = pytest.mark.slow

DPO = "Direct Preference Optimization: Your Language Model is Secretly a Reward Model"
REWARD = "RewardAnything: Generalizable Principle-Following Reward Models"
DIFFUSION = "Diffusion Tree Sampling: Scalable inference-time alignment of diffusion models"


def vector_of(atlas, title: str) -> np.ndarray:
    (paper,) = [p for p in atlas.corpus if p.title == title]
    return atlas.embeddings[atlas.corpus.row(paper.id)]


def test_default_model_is_the_bundled_minilm(real_embedder):
    assert real_embedder.model_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert real_embedder.dimension == 384
    vectors = real_embedder.encode(["reward models", "reward models"])
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_dpo_is_nearer_reward_modeling_than_diffusion(real_atlas):
    dpo = vector_of(real_atlas, DPO)
    assert dpo @ vector_of(real_atlas, REWARD) > dpo @ vector_of(real_atlas, DIFFUSION)


def test_atlas_vectors_match_a_fresh_encoding(real_atlas, real_embedder):
    paper = real_atlas.corpus[5]
    fresh = real_embedder.encode([paper.title + ". " + paper.abstract])[0]
    assert float(fresh @ real_atlas.embeddings[5]) > 0.999


def test_text_query_finds_the_paper_first_and_neighbours_are_on_topic(real_atlas, real_embedder):
    (dpo,) = [p for p in real_atlas.corpus if p.title == DPO]
    _, rows = real_atlas.index.search(real_embedder.encode([dpo.text]), 5)
    titles = [real_atlas.corpus[int(r)].title for r in rows[0]]
    assert titles[0] == DPO
    assert any("Preference" in t or "Reward" in t or "RLHF" in t for t in titles[1:])


def test_model_folder_path_is_accepted(tmp_path):
    from paperatlas.embed.sentence import bundled_model_path

    embedder = SentenceTransformerEmbedder(bundled_model_path(), device="cpu")
    assert embedder.model_id == "local:model" and embedder.dimension == 384


def test_cached_rebuild_never_loads_the_model(real_atlas_path, bundled_corpus, _isolated_cache):
    from paperatlas.atlas import Atlas

    cold = SentenceTransformerEmbedder(device="cpu")
    atlas = Atlas.build(bundled_corpus, cold, cache=EmbeddingCache(_isolated_cache))
    assert atlas.last_embedded == 0 and cold._model is None
