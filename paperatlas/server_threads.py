"""One loaded atlas shared by a server's worker threads (the MCP server, ``paperatlas serve``).

Calls run side by side: a served atlas is only read (FAISS and NumPy searches of a
read-only index are safe from several threads), so an id, title or topic call never
waits behind a slow one. The parts built on first use are built once, up front, and
text embedding, the one step that is not safe from several threads (a tokenizer keeps
state), runs one text at a time under its own lock, loading the model on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from paperatlas.atlas import Atlas
    from paperatlas.embed.base import Embedder, ModelInfo


class SerialEmbedder:
    """An embedder used by one thread at a time; ``embedder`` None loads the atlas's model on first use."""

    def __init__(self, model: ModelInfo, embedder: Embedder | None = None) -> None:
        self._model = model
        self._embedder = embedder
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self._embedder.model_id if self._embedder is not None else self._model.id

    @property
    def dimension(self) -> int:
        return self._embedder.dimension if self._embedder is not None else self._model.dimension

    def _loaded(self) -> Embedder:
        if self._embedder is None:
            from paperatlas.embed.sentence import open_embedder

            self._embedder = open_embedder(self._model)
        return self._embedder

    def load(self) -> None:
        """Load the model now (raises PaperatlasError when the atlas names none)."""
        with self._lock:
            self._loaded()

    def encode(self, texts: Sequence[str], *, show_progress_bar: bool = False) -> np.ndarray:
        with self._lock:
            return self._loaded().encode(texts, show_progress_bar=show_progress_bar)


def share_between_threads(atlas: Atlas) -> SerialEmbedder:
    """Make ``atlas`` safe to query from several threads at once; returns its (serial) query embedder.

    Builds the search parts that are otherwise built on first use, and puts the query
    embedder (the one given to the atlas, or its model, loaded on the first text query)
    behind a lock. Call it once, before the threads start; the atlas must not change after.
    """
    state = atlas.search_state
    state.terms, state.title_rows(), state.lexical
    if len(atlas):
        atlas.corpus[0].id in atlas.corpus  # noqa: B015 - builds the id lookup
    current = state.embedder(atlas.model) if state.has_embedder() else None
    if isinstance(current, SerialEmbedder):
        return current
    serial = SerialEmbedder(atlas.model, current)
    state.keep_embedder(serial)
    return serial
