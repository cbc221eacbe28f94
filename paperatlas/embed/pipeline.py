"""Batched encoding with a pluggable forward pass (ONNX Runtime, or torch fp16 on a GPU).

Texts go through in batches sorted by length (little padding); the next batch is
tokenised on a worker thread while the forward pass runs on this one; the token
embeddings are pooled by the model's own sentence-transformers modules (pooling,
normalisation, any dense layer), so the vectors match ``SentenceTransformer.encode``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Sequence

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


def encode_batches(st_model, texts: Sequence[str], batch_size: int, forward: Forward,
                   *, pin_memory: bool = False) -> np.ndarray:
    """Float32 vectors of ``texts`` (rows in input order; not yet normalised)."""
    import torch

    batches = length_sorted_batches(texts, batch_size)

    def tokenise(rows: list[int]) -> dict[str, Any]:
        features = st_model.preprocess([texts[row] for row in rows])
        if pin_memory:
            features = {name: value.pin_memory() if torch.is_tensor(value) else value
                        for name, value in features.items()}
        return features

    out: np.ndarray | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenise") as worker, torch.inference_mode():
        pending = worker.submit(tokenise, batches[0]) if batches else None
        for number, rows in enumerate(batches):
            features = pending.result()
            if number + 1 < len(batches):
                pending = worker.submit(tokenise, batches[number + 1])
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
    """A forward pass through the model's transformer module on ``device`` (in its dtype)."""

    transformer = st_model[0]

    def forward(features: dict[str, Any]):
        moved = {name: value.to(device, non_blocking=True) if hasattr(value, "to") else value
                 for name, value in features.items()}
        return transformer(moved)["token_embeddings"]

    return forward
