"""The paths a million-paper atlas takes, on small corpora: batches, memory maps, samples, resumes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from paperatlas import search_state as search_state_module
from paperatlas.atlas import Atlas, _check_external
from paperatlas.corpus import Corpus, Paper, read_papers
from paperatlas.corpus import columnar
from paperatlas.embed import EmbeddingCache, FakeEmbedder
from paperatlas.embed import cache as cache_module
from paperatlas.embed.cache import embed_with_cache
from paperatlas.errors import PaperatlasError
from paperatlas.search_state import SearchState


def papers(n: int, start: int = 0) -> list[Paper]:
    topics = ["reward models for RLHF", "diffusion model steering", "value functions in deep RL"]
    return [Paper(id=f"p{i}", title=f"Paper {i} on {topics[i % 3]}",
                  abstract=f"We study {topics[i % 3]} in setting {i}.", metadata={"label": topics[i % 3]})
            for i in range(start, start + n)]


def write_jsonl(path, items):
    with open(path, "w", encoding="utf-8") as handle:
        for paper in items:
            handle.write(json.dumps({"id": paper.id, "title": paper.title, "abstract": paper.abstract,
                                     "label": paper.metadata["label"]}) + "\n")
    return path


def test_input_read_in_many_batches_equals_one(tmp_path, monkeypatch):
    path = write_jsonl(tmp_path / "p.jsonl", papers(300))
    whole, _ = read_papers([path])
    monkeypatch.setattr(columnar, "BATCH_BYTES", 2048)  # about 20 papers a batch
    batched, _ = read_papers([path])
    assert len(batched.arrow_table.to_batches()) > 5
    assert list(batched) == list(whole)


def test_a_saved_atlas_is_memory_mapped_and_grows_without_reading_every_paper(tmp_path):
    atlas = Atlas.build(papers(120), FakeEmbedder(), cache=None, topics=True)
    atlas.save(tmp_path / "a")
    loaded = Atlas.load(tmp_path / "a")
    assert isinstance(loaded.embeddings, np.memmap) and isinstance(loaded.topics.labels, np.memmap)
    assert loaded.corpus.arrow_table is not None
    new = papers(10, start=120)
    vectors = FakeEmbedder().encode([p.text for p in new])
    assert loaded.add(new, embeddings=vectors) == [p.id for p in new]
    assert loaded.corpus.arrow_table is not None  # still column-backed
    assert sum(paper is not None for paper in loaded.corpus._papers[:120]) == 0  # no old paper was made
    assert loaded.corpus.get("p125").title == new[5].title and len(loaded.topics) == 130
    loaded.save(tmp_path / "a")
    again = Atlas.load(tmp_path / "a")
    assert again.corpus.ids == [p.id for p in papers(130)]
    np.testing.assert_allclose(again.embeddings[120:], vectors, atol=1e-6)
    with pytest.raises(PaperatlasError, match="duplicate paper id"):
        from paperatlas.corpus.columnar import extended

        extended(again.corpus, [new[0].with_changes(id="dup"), new[1].with_changes(id="dup")])
    again.remove(["p3", "p125"])
    assert "p3" not in again.corpus and again.corpus.arrow_table is not None and len(again) == 128


def test_unit_float32_vectors_are_used_in_place(tmp_path):
    vectors = FakeEmbedder().encode([p.text for p in papers(50)])
    np.save(tmp_path / "v.npy", vectors)
    mapped = np.load(tmp_path / "v.npy", mmap_mode="r")
    assert _check_external(mapped, 50) is mapped  # no copy of a million vectors
    scaled = _check_external(np.asarray(vectors) * 3.0, 50)
    np.testing.assert_allclose(np.linalg.norm(scaled, axis=1), 1.0, atol=1e-5)


def test_term_statistics_of_a_large_corpus_come_from_a_sample(monkeypatch):
    corpus = Corpus(papers(90))
    full = SearchState.of_corpus(corpus)
    monkeypatch.setattr(search_state_module, "TERM_SAMPLE", 30)
    sampled = SearchState.of_corpus(corpus)
    assert full.terms.documents == 90 and sampled.terms.documents == 30
    assert sampled.title_keys == full.title_keys  # every title, not a sample


class Interrupted(Exception):
    pass


class FailingEmbedder(FakeEmbedder):
    """Fails once it has embedded ``limit`` texts."""

    def __init__(self, limit: int | None) -> None:
        super().__init__()
        self.limit, self.embedded = limit, 0

    def encode(self, texts, *, show_progress_bar: bool = False):
        if self.limit is not None and self.embedded + len(texts) > self.limit:
            raise Interrupted
        self.embedded += len(texts)
        return super().encode(texts)


def test_an_interrupted_embedding_resumes_where_it_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_module, "EMBED_CHUNK", 10)
    texts = [p.text for p in papers(45)]
    hashes = [p.content_hash for p in papers(45)]
    cache = EmbeddingCache(tmp_path / "cache")
    with pytest.raises(Interrupted):
        embed_with_cache(FailingEmbedder(limit=25), texts, hashes, cache)
    assert cache.count() == 20  # two whole chunks were committed before the failure
    resumed = FailingEmbedder(limit=None)
    vectors, embedded = embed_with_cache(resumed, texts, hashes, cache)
    assert embedded == resumed.embedded == 25
    np.testing.assert_allclose(vectors, FakeEmbedder().encode(texts), atol=1e-6)


def test_the_corpus_hash_of_arrow_columns_equals_the_row_by_row_one(tmp_path):
    from paperatlas.store import corpus_hash

    items = papers(40) + [Paper(id="ü-1", title="Ünïcode", abstract="Ab\u2003stract.")]
    atlas = Atlas.build(items, FakeEmbedder(), cache=None)
    atlas.save(tmp_path / "a")
    loaded = Atlas.load(tmp_path / "a").corpus
    assert loaded.arrow_table is not None
    assert corpus_hash(loaded) == corpus_hash(Corpus(items))
    part = loaded.subset([i % 3 != 0 for i in range(len(loaded))])  # a filtered, offset table
    assert corpus_hash(part) == corpus_hash(Corpus([p for i, p in enumerate(items) if i % 3 != 0]))


def test_map_neighbours_searched_in_batches_equal_one_search(bundled_corpus, capsys):
    import faiss

    from paperatlas.export.tables import nearest_rows

    atlas = Atlas.build(bundled_corpus, FakeEmbedder(), cache=None)
    whole = nearest_rows(atlas, 5, batch=10_000)
    batched = nearest_rows(atlas, 5, batch=37, progress=True)
    assert batched.shape == (len(atlas), 5) and np.array_equal(whole, batched)
    assert "nearest papers" in capsys.readouterr().err  # a bar over the 10 batches
    nearest_rows(atlas, 5, progress=True)
    assert "nearest papers" not in capsys.readouterr().err  # one batch: no bar
    vectors = np.ascontiguousarray(atlas.embeddings)
    _, truth = faiss.knn(vectors, vectors, 6, metric=faiss.METRIC_INNER_PRODUCT)
    assert not (batched == np.arange(len(atlas))[:, None]).any()  # never the paper itself
    assert np.mean([len(set(a) & set(b[1:])) / 5 for a, b in zip(batched, truth)]) > 0.95
