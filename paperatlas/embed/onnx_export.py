"""Export a sentence-transformers model's transformer to ONNX (fp32 or dynamic int8), once.

Why not sentence-transformers' own ``backend="onnx"``: it goes through
``optimum-onnx``, whose current release pins ``transformers<4.58`` and would
downgrade sentence-transformers itself. The export here is what that route
does, with torch's exporter and onnxruntime's own optimiser and quantiser:

* ``onnx``: the transformer (token embeddings out) exported with
  ``torch.onnx.export``, then onnxruntime's BERT graph fusions (attention,
  LayerNorm, GELU) where the model is BERT-like;
* ``onnx-int8``: that graph with every weight matrix quantised to int8 per
  output channel (``quantize_dynamic``; activations are quantised on the fly).
  Per-channel weights keep the vectors at cosine ~0.99 to fp32, per-tensor
  weights fell to 0.94 on MiniLM. On a CPU without VNNI (AVX2 only) int8 is
  hardly faster than fp32; with AVX-512 VNNI it is several times faster: see the
  README's embedding backends figures.

The files live in ``<embedding cache>/onnx/<model key>/<backend>/model.onnx``,
written atomically with an ``export.json`` beside them that records what made them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

from paperatlas.errors import PaperatlasError

ONNX_BACKENDS = ("onnx", "onnx-int8")
EXPORT_FORMAT = 1
OPSET = 17
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_folder(cache_dir: Path, model_name: str, model_source: str, backend: str) -> Path:
    """Where the ``backend`` export of ``model_name`` (loaded from ``model_source``) lives."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", model_name)[-60:]
    key = hashlib.sha256(str(Path(model_source).resolve() if Path(model_source).is_dir() else model_source)
                         .encode()).hexdigest()[:12]
    return Path(cache_dir) / "onnx" / f"{readable}-{key}" / backend


def exported_model(st_model, model_name: str, model_source: str, backend: str, cache_dir: Path) -> Path:
    """The ONNX file of ``st_model``'s transformer for ``backend``, exported on first use."""
    if backend not in ONNX_BACKENDS:
        raise PaperatlasError(f"unknown ONNX backend {backend!r}; choose one of {', '.join(ONNX_BACKENDS)}")
    folder = export_folder(cache_dir, model_name, model_source, backend)
    path = folder / "model.onnx"
    record = folder / "export.json"
    if path.exists() and record.exists():
        made = json.loads(record.read_text())
        if made.get("format") == EXPORT_FORMAT and made.get("backend") == backend:
            return path
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{backend}-", dir=folder.parent))
    try:
        fp32 = work / "fp32.onnx"
        input_names = _export_fp32(st_model, fp32)
        final = _optimise(st_model, fp32, work / "optimised.onnx")
        if backend == "onnx-int8":
            final = _quantise(final, work / "int8.onnx")
        staged = work / "out"
        staged.mkdir()
        shutil.move(str(final), staged / "model.onnx")
        (staged / "export.json").write_text(json.dumps(
            {"format": EXPORT_FORMAT, "backend": backend, "model": model_name, "source": model_source, "inputs": input_names,
             "opset": OPSET}, indent=2))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staged, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path


def _export_fp32(st_model, path: Path) -> list[str]:
    """Export the first module's Hugging Face model; returns the input names it takes."""
    import torch

    transformer = st_model[0]
    hf_model = getattr(transformer, "auto_model", None)
    if hf_model is None:
        raise PaperatlasError(f"cannot export {type(transformer).__name__} to ONNX: it has no Hugging Face model")
    features = st_model.preprocess(["an example sentence to trace the graph", "another"])
    names = [name for name in _INPUTS if name in features]
    wrapper = _TokenEmbeddings(hf_model.eval(), names)
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "token_embeddings"]}
    # eager attention traces to plain MatMul/Softmax, which onnxruntime fuses into its Attention op
    # (the SDPA trace leaves mask-building Where nodes that took a tenth of the time)
    attention = getattr(hf_model.config, "_attn_implementation", None)
    setter = getattr(hf_model, "set_attn_implementation", None)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        try:
            if setter is not None and attention not in (None, "eager"):
                setter("eager")
            torch.onnx.export(
                wrapper, tuple(features[name].cpu() for name in names), str(path), input_names=names,
                output_names=["token_embeddings"], dynamic_axes=axes, opset_version=OPSET, dynamo=False,
            )
        finally:
            if setter is not None and attention not in (None, "eager"):
                setter(attention)
    return names


def _TokenEmbeddings(hf_model, names):  # noqa: N802 - a factory of a torch module
    import torch

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = hf_model

        def forward(self, *inputs):
            return self.model(**dict(zip(names, inputs))).last_hidden_state

    return TokenEmbeddings()


def _optimise(st_model, source: Path, target: Path) -> Path:
    """onnxruntime's transformer fusions for BERT-like models; other models pass unchanged."""
    config = getattr(st_model[0].auto_model, "config", None)
    if getattr(config, "model_type", None) not in {"bert"}:
        return source
    from onnxruntime.transformers.optimizer import optimize_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optimised = optimize_model(str(source), model_type="bert", num_heads=config.num_attention_heads,
                                   hidden_size=config.hidden_size, opt_level=1)
    optimised.save_model_to_file(str(target))
    return target


def _quantise(source: Path, target: Path) -> Path:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # DefaultTensorType: the fused graph leaves some tensor types for the quantiser to infer;
    # the quantiser's advice to pre-process, logged with logging.warning (which would also give
    # the root logger a handler for good), is not the user's business
    root, silent = logging.getLogger(), logging.NullHandler()
    level = root.level
    root.setLevel(logging.ERROR)
    root.addHandler(silent)
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        root.removeHandler(silent)
        root.setLevel(level)
    return target
