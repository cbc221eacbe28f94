"""Batched encoding with a pluggable forward pass (ONNX Runtime, or torch fp16 on a GPU).

Texts go through in batches sorted by length (little padding); the next batches are
tokenised on worker threads while the forward pass runs on this one (on a GPU with the
model's Rust tokeniser called directly, see :func:`rust_tokeniser`); the token
embeddings are pooled by the model's own sentence-transformers modules (pooling,
normalisation, any dense layer), so the vectors match ``SentenceTransformer.encode``.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from typing import Any, Callable, Iterator, Sequence

import numpy as np

Forward = Callable[[dict[str, Any]], Any]
"""Tokenised features (torch tensors) -> token embeddings (a torch tensor, batch x tokens x width)."""


def length_sorted_batches(texts: Sequence[str], batch_size: int) -> list[list[int]]:
    """Row numbers of ``texts`` in batches of ``batch_size``, longest texts first."""
    order = sorted(range(len(texts)), key=lambda row: -len(texts[row]))
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def pool(st_model, features: dict[str, Any], token_embeddings) -> np.ndarray:
    """Sentence vectors from token embeddings, through every module after the transformer."""
    device = token_embeddings.device
    state = {name: value.to(device) for name, value in features.items() if hasattr(value, "to")}
    state["token_embeddings"] = token_embeddings.float()
    for module in list(st_model)[1:]:
        state = module(state)
    return state["sentence_embedding"].float().cpu().numpy()


Tokenise = Callable[[list[str]], dict[str, Any]]
"""Texts -> the model's tokenised features (torch tensors), as ``SentenceTransformer.preprocess`` makes them."""

_PROBES = ("A probe text, to check the shortcut tokenises as the model does.", "  two  spaces, [PAD] and ÉCOLE  ",
           "word " * 400, "")


def rust_tokeniser(st_model) -> Tokenise | None:
    """The model's fast (Rust) tokeniser called directly: ids padded with numpy, none of the
    per-token Python work of ``preprocess`` (H200 machine: 12,000 texts/s against 2,600), and
    no GIL held while it tokenises, so threads calling it run side by side.

    ``None`` when the model has no fast tokeniser, or when the shortcut does not reproduce
    ``preprocess`` on a few probe texts (then ``preprocess`` is what tokenises).
    """
    import torch

    processor = getattr(st_model[0], "tokenizer", None)
    backend = getattr(processor, "backend_tokenizer", None)
    if backend is None or not getattr(processor, "is_fast", False) or processor.pad_token_id is None:
        return None
    from tokenizers import Tokenizer

    rust = Tokenizer.from_str(backend.to_str())  # a copy: the model's own tokeniser keeps its settings
    rust.no_padding()
    rust.enable_truncation(int(st_model.max_seq_length))
    pad = int(processor.pad_token_id)
    encode = getattr(rust, "encode_batch_fast", rust.encode_batch)
    expected = st_model.preprocess(list(_PROBES))
    keys = [key for key, value in expected.items() if torch.is_tensor(value)]
    if not set(keys) <= {"input_ids", "attention_mask", "token_type_ids"}:
        return None

    def tokenise(texts: list[str]) -> dict[str, Any]:
        encodings = encode(texts)
        lengths = np.fromiter((len(item.ids) for item in encodings), dtype=np.int64, count=len(encodings))
        width = int(lengths.max()) if len(encodings) else 0
        ids = np.full((len(encodings), width), pad, dtype=np.int64)
        for row, item in enumerate(encodings):
            ids[row, :lengths[row]] = item.ids
        mask = (np.arange(width) < lengths[:, None]).astype(np.int64)
        features = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask),
                    "token_type_ids": torch.zeros_like(torch.from_numpy(ids))}
        return {key: features[key] for key in keys}

    got = tokenise(list(_PROBES))
    if any(not torch.equal(got[key], expected[key]) for key in keys):
        return None
    return tokenise


def encode_batches(st_model, texts: Sequence[str], batch_size: int, forward: Forward,
                   *, pin_memory: bool = False, workers: int = 1, tokeniser: Tokenise | None = None) -> np.ndarray:
    """Float32 vectors of ``texts`` (rows in input order; not yet normalised).

    ``workers`` threads tokenise that many batches ahead of the forward pass, with
    ``tokeniser`` (default: the model's ``preprocess``).
    """
    batches = length_sorted_batches(texts, batch_size)
    tokeniser = tokeniser or st_model.preprocess
    with rust_thread_pool_off() if workers > 1 else nullcontext():
        return _encode(st_model, texts, batches, forward, tokeniser, pin_memory, workers)


@contextmanager
def rust_thread_pool_off() -> Iterator[None]:
    """Tokenisers' own Rust thread pool off (``TOKENIZERS_PARALLELISM=false``) for a while,
    unless the user set that variable: threads that each tokenise a batch then run side by
    side instead of queueing on one pool (an H200 machine's 16 cores: 12 threads 18,500 texts/s,
    one call on the pool 12,000)."""
    if "TOKENIZERS_PARALLELISM" in os.environ:
        yield
        return
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    try:
        yield
    finally:
        os.environ.pop("TOKENIZERS_PARALLELISM", None)


def _encode(st_model, texts: Sequence[str], batches: list[list[int]], forward: Forward, tokeniser: Tokenise,
            pin_memory: bool, workers: int) -> np.ndarray:
    import torch

    def tokenise(rows: list[int]) -> dict[str, Any]:
        features = tokeniser([texts[row] for row in rows])
        if pin_memory:
            features = {name: value.pin_memory() if torch.is_tensor(value) else value
                        for name, value in features.items()}
        return features

    out: np.ndarray | None = None
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tokenise") as threads, torch.inference_mode():
        pending = deque(threads.submit(tokenise, rows) for rows in batches[:workers])
        for number, rows in enumerate(batches):
            features = pending.popleft().result()
            if number + workers < len(batches):
                pending.append(threads.submit(tokenise, batches[number + workers]))
            vectors = pool(st_model, features, forward(features))
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors
    return out if out is not None else np.zeros((0, 0), dtype=np.float32)


def onnx_forward(session) -> Forward:
    """A forward pass through an ONNX Runtime session that maps token ids to token embeddings."""
    import torch

    names = [item.name for item in session.get_inputs()]

    def forward(features: dict[str, Any]):
        feed = {name: features[name].cpu().numpy().astype(np.int64, copy=False) for name in names}
        return torch.from_numpy(session.run(["token_embeddings"], feed)[0])

    return forward


def torch_forward(st_model, device: str) -> Forward:
    """A forward pass through the model's transformer module on ``device`` (in its dtype).

    On CUDA, attention never runs on cuDNN's kernel: it plans a graph for every new
    sequence length (about 0.1 s each), and length-sorted batches bring a new length
    almost every batch (H200: 4,200 texts/s with it, 15,400 with PyTorch's own kernels).
    """
    import torch

    transformer = st_model[0]
    kernels = None
    if str(device).startswith("cuda"):
        from torch.nn.attention import SDPBackend

        kernels = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]

    def forward(features: dict[str, Any]):
        moved = {name: value.to(device, non_blocking=True) if hasattr(value, "to") else value
                 for name, value in features.items()}
        if kernels is None:
            return transformer(moved)["token_embeddings"]
        with torch.nn.attention.sdpa_kernel(kernels):
            return transformer(moved)["token_embeddings"]

    return forward
