"""Shared atlas fixtures: a fake-embedder corpus for unit tests, and ONE real-model
atlas of the bundled corpus for the whole session (embedding is slow on CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tests never read or write the user's embedding cache."""
    import os

    folder = tmp_path_factory.mktemp("embedding-cache")
    previous = os.environ.get("PAPERATLAS_CACHE_DIR")
    os.environ["PAPERATLAS_CACHE_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("PAPERATLAS_CACHE_DIR", None)
    else:
        os.environ["PAPERATLAS_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def bundled_corpus():
    """The bundled corpus, data/papers.jsonl."""
    from paperatlas import read_corpus

    return read_corpus(REPO / "data" / "papers.jsonl")


@pytest.fixture()
def fake_embedder():
    from paperatlas.embed import FakeEmbedder

    return FakeEmbedder()


@pytest.fixture(scope="session")
def real_embedder():
    """The bundled all-MiniLM-L6-v2 on CPU, loaded once."""
    from paperatlas.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(device="cpu")


@pytest.fixture(scope="session")
def real_atlas_path(tmp_path_factory: pytest.TempPathFactory, bundled_corpus, real_embedder, _isolated_cache) -> Path:
    """One real-model atlas of the bundled corpus, built and saved once per session.

    Tests that need to change an atlas load their own copy from this folder.
    """
    from paperatlas.atlas import Atlas

    atlas = Atlas.build(bundled_corpus, real_embedder, cache=_isolated_cache)
    path = tmp_path_factory.mktemp("real") / "atlas"
    atlas.save(path)
    return path


@pytest.fixture(scope="session")
def real_atlas(real_atlas_path: Path, real_embedder):
    """The session's real-model atlas (read-only: do not modify it)."""
    from paperatlas.atlas import Atlas

    return Atlas.load(real_atlas_path, embedder=real_embedder)


@pytest.fixture(scope="session")
def named_topics():
    """The bundled corpus's named topics (data/topics.toml)."""
    from paperatlas.cluster import load_named_topics

    return load_named_topics(REPO / "data" / "topics.toml")


@pytest.fixture(scope="session")
def real_topics_atlas(real_atlas_path: Path, real_embedder, named_topics):
    """The session's real-model atlas with topics fitted (default settings, named topics)."""
    from paperatlas.atlas import Atlas

    atlas = Atlas.load(real_atlas_path, embedder=real_embedder)
    atlas.fit_topics(None, named_topics)
    return atlas
