from __future__ import annotations

import numpy as np
import pytest

from paperatlas.atlas import Atlas
from paperatlas.corpus import Corpus, Paper
from paperatlas.embed import EmbeddingCache, FakeEmbedder, embed_with_cache
from paperatlas.errors import PaperatlasError


def papers(n: int, start: int = 0) -> list[Paper]:
    return [
        Paper(id=f"p{i}", title=f"Paper number {i} on topic {i % 3}", abstract=f"Abstract {i} words about subject {i % 5}.")
        for i in range(start, start + n)
    ]


def test_fake_embedder_is_deterministic_unit_and_counts_calls():
    a, b = FakeEmbedder(), FakeEmbedder()
    texts = ["reward models for rlhf", "diffusion image steering", "reward models for rlhf"]
    va, vb = a.encode(texts), b.encode(texts)
    assert va.dtype == np.float32 and va.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(va, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(va, vb)
    np.testing.assert_array_equal(va[0], va[2])
    assert a.calls == 3
    # shared words make texts closer
    v = a.encode(["reward model training", "reward model evaluation", "galaxy cluster survey"])
    assert v[0] @ v[1] > v[0] @ v[2]


def test_cache_serves_repeats_and_embeds_only_new(tmp_path):
    embedder = FakeEmbedder()
    cache = EmbeddingCache(tmp_path)
    first = papers(20)
    vectors, embedded = embed_with_cache(embedder, [p.text for p in first], [p.content_hash for p in first], cache)
    assert embedded == 20 and embedder.calls == 20
    again, embedded = embed_with_cache(embedder, [p.text for p in first], [p.content_hash for p in first], cache)
    assert embedded == 0 and embedder.calls == 20
    np.testing.assert_array_equal(vectors, again)
    more = first + papers(10, start=20)
    _, embedded = embed_with_cache(embedder, [p.text for p in more], [p.content_hash for p in more], cache)
    assert embedded == 10 and embedder.calls == 30
    assert cache.count(embedder.model_id) == 30


def test_cache_is_persistent_and_keyed_by_model(tmp_path):
    items = papers(5)
    texts, hashes = [p.text for p in items], [p.content_hash for p in items]
    embed_with_cache(FakeEmbedder(), texts, hashes, EmbeddingCache(tmp_path))
    reopened = FakeEmbedder()
    _, embedded = embed_with_cache(reopened, texts, hashes, EmbeddingCache(tmp_path))
    assert embedded == 0 and reopened.calls == 0
    other_model = FakeEmbedder(model_id="another")
    _, embedded = embed_with_cache(other_model, texts, hashes, EmbeddingCache(tmp_path))
    assert embedded == 5


def test_duplicate_texts_reach_the_model_once(tmp_path):
    embedder = FakeEmbedder()
    items = papers(3)
    texts = [p.text for p in items] * 2
    hashes = [p.content_hash for p in items] * 2
    vectors, embedded = embed_with_cache(embedder, texts, hashes, EmbeddingCache(tmp_path))
    assert embedded == 3 and embedder.calls == 3
    np.testing.assert_array_equal(vectors[:3], vectors[3:])


def test_cache_refuses_vectors_of_another_dimension(tmp_path):
    items = papers(2)
    texts, hashes = [p.text for p in items], [p.content_hash for p in items]
    embed_with_cache(FakeEmbedder(dimension=8, model_id="m"), texts, hashes, EmbeddingCache(tmp_path))
    clash = FakeEmbedder(dimension=16, model_id="m")
    clash._model_id = "m-8"  # same cache key, different dimension
    with pytest.raises(PaperatlasError, match="another dimension"):
        embed_with_cache(clash, texts + ["new text"], hashes + ["new"], EmbeddingCache(tmp_path))


def test_rebuild_embeds_nothing_and_add_embeds_exactly_the_new(tmp_path):
    embedder = FakeEmbedder()
    corpus = Corpus(papers(40))
    atlas = Atlas.build(corpus, embedder, cache=tmp_path)
    assert atlas.last_embedded == 40 and embedder.calls == 40
    rebuilt = Atlas.build(corpus, embedder, cache=tmp_path)
    assert rebuilt.last_embedded == 0 and embedder.calls == 40
    np.testing.assert_array_equal(atlas.embeddings, rebuilt.embeddings)
    added = rebuilt.add(papers(10, start=40), cache=tmp_path)
    assert len(added) == 10 and embedder.calls == 50 and len(rebuilt) == 50
    # adding papers already present adds and embeds nothing
    assert rebuilt.add(papers(5), cache=tmp_path) == []
    assert embedder.calls == 50


def test_build_without_cache_embeds_everything(tmp_path):
    embedder = FakeEmbedder()
    Atlas.build(Corpus(papers(5)), embedder, cache=None)
    Atlas.build(Corpus(papers(5)), embedder, cache=None)
    assert embedder.calls == 10


def test_named_topics_are_embedded_once_through_the_cache(tmp_path, bundled_corpus, named_topics):
    """A rebuild with the same named topics finds their vectors in the cache: the model is not asked."""
    from paperatlas.cluster import TopicSettings

    embedder = FakeEmbedder()
    cache = EmbeddingCache(tmp_path)
    first = Atlas.build(bundled_corpus, embedder, cache=cache, topics=TopicSettings(), named=named_topics)
    asked = embedder.calls
    assert asked == len(bundled_corpus) + len(named_topics)
    again = Atlas.build(bundled_corpus, embedder, cache=cache, topics=TopicSettings(), named=named_topics)
    assert embedder.calls == asked
    assert again.topics.names_at(0) == first.topics.names_at(0)
    first.fit_topics(None, named_topics)  # without a cache the model is asked again
    assert embedder.calls == asked + len(named_topics)
