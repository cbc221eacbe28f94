"""A deterministic, dependency-free embedder for fast tests.

Each word (and word pair) is hashed to a fixed random direction; a text's
vector is the normalised sum, so texts that share words are near each other.
"""

from __future__ import annotations

import hashlib
import re
from typing import Sequence

import numpy as np

from paperatlas.embed.base import unit_rows

_WORD = re.compile(r"[a-z0-9]+")


class FakeEmbedder:
    """Hashing bag-of-words embedder. ``calls`` counts the texts it has encoded."""

    def __init__(self, dimension: int = 384, model_id: str = "fake-hashing") -> None:
        self._dimension = dimension
        self._model_id = f"{model_id}-{dimension}"
        self.calls = 0
        self._cache: dict[str, np.ndarray] = {}

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return self._dimension

    def _direction(self, token: str) -> np.ndarray:
        vector = self._cache.get(token)
        if vector is None:
            seed = int.from_bytes(hashlib.sha256(token.encode()).digest()[:8], "little")
            vector = np.random.default_rng(seed).standard_normal(self._dimension).astype(np.float32)
            self._cache[token] = vector
        return vector

    def encode(self, texts: Sequence[str], *, show_progress_bar: bool = False) -> np.ndarray:
        self.calls += len(texts)
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            for token in words + [f"{a} {b}" for a, b in zip(words, words[1:])]:
                out[row] += self._direction(token)
            if not words:
                out[row] += self._direction("")
        return unit_rows(out)
