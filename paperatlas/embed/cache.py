"""An on-disk embedding cache keyed by (model id, content hash), in SQLite.

Rows are raw float32 bytes; nothing is pickled. Unchanged text is never
embedded twice, whichever atlas asks for it.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Sequence

import numpy as np

from paperatlas.embed.base import Embedder
from paperatlas.embed.cut import cut_text
from paperatlas.errors import PaperatlasError

CACHE_ENV = "PAPERATLAS_CACHE_DIR"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    model TEXT NOT NULL,
    hash TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, hash)
)
"""


def default_cache_dir() -> Path:
    """``$PAPERATLAS_CACHE_DIR``, else ``~/.cache/paperatlas``."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "paperatlas"


class EmbeddingCache:
    """Vectors by (model id, content hash) in ``<folder>/embeddings.sqlite``."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_cache_dir()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.folder / "embeddings.sqlite")
            self._db.execute(_SCHEMA)
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise PaperatlasError(f"cannot open embedding cache in {self.folder}: {exc}") from None

    def get(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``hashes``."""
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 900):
            chunk = unique[start : start + 900]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT hash, vector FROM vectors WHERE model = ? AND hash IN ({marks})",
                [model_id, *chunk],
            )
            for key, blob in rows:
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put(self, model_id: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
        dimension = int(vectors.shape[1])
        self._db.executemany(
            "INSERT OR REPLACE INTO vectors (model, hash, dim, vector) VALUES (?, ?, ?, ?)",
            [
                (model_id, key, dimension, np.ascontiguousarray(row, dtype=np.float32).tobytes())
                for key, row in zip(hashes, vectors)
            ],
        )
        self._db.commit()

    def count(self, model_id: str | None = None) -> int:
        if model_id is None:
            return int(self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])
        return int(
            self._db.execute("SELECT COUNT(*) FROM vectors WHERE model = ?", (model_id,)).fetchone()[0]
        )

    def close(self) -> None:
        self._db.close()


EMBED_CHUNK = 4096
"""Texts embedded, then committed to the cache, at a time."""


def embed_with_cache(
    embedder: Embedder,
    texts: Sequence[str],
    hashes: Sequence[str],
    cache: EmbeddingCache | None,
    *,
    show_progress_bar: bool = False,
) -> tuple[np.ndarray, int]:
    """Vectors for ``texts``: cached ones are looked up, only the rest reach the model.

    New vectors are embedded ``EMBED_CHUNK`` texts at a time and each chunk is committed
    to the cache as soon as it is done, so an interrupted run (Ctrl-C, a crash) resumes
    where it stopped. Returns the ``(n, d)`` array and how many texts were embedded.
    """
    if len(texts) != len(hashes):
        raise ValueError("texts and hashes differ in length")
    known = cache.get(embedder.model_id, hashes) if cache is not None else {}
    missing: dict[str, int] = {}
    for row, key in enumerate(hashes):
        if key not in known:
            missing.setdefault(key, row)
    # a fully cached run never loads the model: the dimension comes from the cache
    dimension = len(next(iter(known.values()))) if known and not missing else embedder.dimension
    if any(len(vector) != dimension for vector in known.values()):
        raise PaperatlasError(
            f"embedding cache holds vectors of another dimension for model {embedder.model_id!r}; "
            f"clear {cache.folder if cache else ''}"
        )
    out = np.zeros((len(texts), dimension), dtype=np.float32)
    for row, key in enumerate(hashes):
        if key in known:
            out[row] = known[key]
    if missing:
        keys, rows = list(missing), list(missing.values())
        bar = None
        if show_progress_bar:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(rows), desc="Embedding", unit="text")
        by_hash: dict[str, np.ndarray] = {}
        try:
            for start in range(0, len(rows), EMBED_CHUNK):
                fresh = embedder.encode([cut_text(texts[row]) for row in rows[start:start + EMBED_CHUNK]])
                if cache is not None:
                    cache.put(embedder.model_id, keys[start:start + EMBED_CHUNK], fresh)
                by_hash.update(zip(keys[start:start + EMBED_CHUNK], fresh))
                if bar is not None:
                    bar.update(len(fresh))
        finally:
            if bar is not None:
                bar.close()
        for row, key in enumerate(hashes):
            if key in by_hash:
                out[row] = by_hash[key]
    return out, len(missing)


def text_key(text: str) -> str:
    """The cache key of a free text (a named topic's description, say): its own hash space,
    apart from papers' :func:`paperatlas.corpus.model.content_hash`."""
    import hashlib

    return "text:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


class CachedEncoder:
    """``embedder.encode`` through ``cache``: texts whose vectors are cached never reach (or load) the model."""

    def __init__(self, embedder: Embedder, cache: EmbeddingCache) -> None:
        self.embedder = embedder
        self.cache = cache

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors, _ = embed_with_cache(self.embedder, list(texts), [text_key(text) for text in texts], self.cache)
        return vectors
