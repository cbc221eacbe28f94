"""The Embedder protocol: anything with ``model_id``, ``dimension`` and ``encode``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into float32 unit vectors, one row a text."""

    @property
    def model_id(self) -> str:
        """A name that identifies the model (it keys the embedding cache)."""
        ...

    @property
    def dimension(self) -> int:
        ...

    def encode(self, texts: Sequence[str], *, show_progress_bar: bool = False) -> np.ndarray:
        """An ``(len(texts), dimension)`` float32 array of unit-length rows."""
        ...


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as C-contiguous float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


BACKENDS = ("torch", "onnx", "onnx-int8")
"""How a sentence-transformers model runs (see :mod:`paperatlas.embed.sentence`)."""

EXTERNAL_MODEL = "external"
"""The model id of vectors that were passed in rather than made by an embedder."""


@dataclass(frozen=True)
class ModelInfo:
    """Which model made an atlas's vectors."""

    id: str
    dimension: int
    external: bool = False

    @property
    def backend(self) -> str | None:
        """``torch``, ``onnx`` or ``onnx-int8`` (from the id's ``@backend`` suffix); None for external vectors."""
        return None if self.external else split_backend(self.id)[1]


def check_embedder(embedder: Embedder, model: ModelInfo) -> Embedder:
    """``embedder`` if it can embed text for vectors of ``model``, else an error saying why."""
    from paperatlas.errors import PaperatlasError

    if embedder.dimension != model.dimension:
        raise PaperatlasError(
            f"embedder {embedder.model_id!r} makes {embedder.dimension}-d vectors; "
            f"this atlas holds {model.dimension}-d vectors of {model.id!r}"
        )
    if not model.external and embedder.model_id != model.id:
        theirs, ours = split_backend(model.id), split_backend(embedder.model_id)
        if theirs[0] == ours[0]:
            raise PaperatlasError(
                f"this atlas's vectors come from the {theirs[1]} backend of {theirs[0]!r}; the embedder uses "
                f"{ours[1]}: mixing backends in one atlas is refused (use --backend {theirs[1]})"
            )
        raise PaperatlasError(
            f"embedder {embedder.model_id!r} is not the model this atlas was built with ({model.id!r})"
        )
    return embedder


def split_backend(model_id: str) -> tuple[str, str]:
    """``("NAME", "onnx-int8")`` from ``NAME@onnx-int8``; ``(model_id, "torch")`` without a backend suffix."""
    name, _, backend = model_id.rpartition("@")
    if name and backend in BACKENDS[1:]:
        return name, backend
    return model_id, "torch"
