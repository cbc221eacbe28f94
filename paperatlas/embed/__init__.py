"""Embedders (sentence-transformers, a fake for tests) and the embedding cache."""

from __future__ import annotations

from paperatlas.embed.base import EXTERNAL_MODEL, Embedder, ModelInfo, unit_rows
from paperatlas.embed.cache import EmbeddingCache, default_cache_dir, embed_with_cache
from paperatlas.embed.fake import FakeEmbedder
from paperatlas.embed.sentence import DEFAULT_MODEL, SentenceTransformerEmbedder

__all__ = [
    "DEFAULT_MODEL",
    "EXTERNAL_MODEL",
    "Embedder",
    "ModelInfo",
    "EmbeddingCache",
    "FakeEmbedder",
    "SentenceTransformerEmbedder",
    "default_cache_dir",
    "embed_with_cache",
    "unit_rows",
]
