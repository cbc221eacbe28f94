"""Embedding backends: ONNX fp32 / int8 on the real bundled model, the backend recorded in the
cache and the atlas (mixing refused), and the batched pipeline used by ONNX and by GPUs."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from paperatlas.atlas import Atlas
from paperatlas.embed import EmbeddingCache, FakeEmbedder, SentenceTransformerEmbedder
from paperatlas.embed.base import ModelInfo, check_embedder
from paperatlas.embed.pipeline import encode_batches, length_sorted_batches, rust_tokeniser, torch_forward
from paperatlas.embed.base import split_backend
from paperatlas.embed.sentence import open_embedder
from paperatlas.errors import PaperatlasError
from paperatlas.store import AtlasFormatError

pytest.importorskip("onnxruntime")


def test_backend_suffix_round_trips():
    assert split_backend("sentence-transformers/all-MiniLM-L6-v2@onnx-int8") == (
        "sentence-transformers/all-MiniLM-L6-v2", "onnx-int8")
    assert split_backend("org/model@v2") == ("org/model@v2", "torch")  # not a backend: part of the name
    assert split_backend("m") == ("m", "torch")
    assert SentenceTransformerEmbedder(backend="onnx").model_id.endswith("@onnx")
    assert "@" not in SentenceTransformerEmbedder().model_id
    assert ModelInfo("m@onnx-int8", 384).backend == "onnx-int8"
    assert ModelInfo("external", 384, external=True).backend is None


def test_bad_backend_and_onnx_on_a_gpu_are_refused():
    with pytest.raises(PaperatlasError, match="unknown embedding backend 'tensorrt'"):
        SentenceTransformerEmbedder(backend="tensorrt")
    with pytest.raises(PaperatlasError, match="runs on the CPU"):
        SentenceTransformerEmbedder(backend="onnx-int8", device="cuda")
    with pytest.raises(PaperatlasError, match="pass backend= to the embedder"):
        Atlas.build([], FakeEmbedder(), backend="onnx")


def test_length_sorted_batches_cover_every_row_once_longest_first():
    texts = ["a" * n for n in (3, 9, 1, 7, 5)]
    batches = length_sorted_batches(texts, 2)
    assert [len(b) for b in batches] == [2, 2, 1]
    assert sorted(row for batch in batches for row in batch) == list(range(5))
    assert [texts[row] for row in batches[0]] == ["a" * 9, "a" * 7]


@pytest.fixture(scope="module")
def texts(bundled_corpus) -> list[str]:
    # mixed lengths, so batches pad differently from the input order
    return [p.text for p in bundled_corpus[:20]] + ["reward models", "diffusion steering of samples"]


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 3])
def test_pipeline_with_the_torch_forward_equals_sentence_transformers_encode(real_embedder, texts, workers):
    model = real_embedder._load()
    assert len(texts) > 4 * (workers + 1)  # more batches than are tokenised ahead
    pipelined = encode_batches(model, texts, 4, torch_forward(model, "cpu"), workers=workers)
    pipelined /= np.linalg.norm(pipelined, axis=1, keepdims=True)
    reference = real_embedder.encode(texts)
    assert (pipelined * reference).sum(1).min() > 0.9999


@pytest.mark.slow
def test_rust_tokeniser_shortcut_equals_the_models_preprocess(real_embedder, bundled_corpus):
    import torch

    model = real_embedder._load()
    tokenise = rust_tokeniser(model)
    assert tokenise is not None
    texts = [p.text for p in bundled_corpus] + ["", "  [PAD] [CLS] spaced   out  ", "Ünïcödé ÉCOLE 東京", "x " * 600]
    for start in range(0, len(texts), 64):  # batches of mixed widths, the last one truncated at 256 tokens
        batch = texts[start:start + 64]
        got, expected = tokenise(batch), model.preprocess(batch)
        assert set(got) == {k for k, v in expected.items() if torch.is_tensor(v)}
        for key in got:
            assert torch.equal(got[key], expected[key]), key
    assert tokenise(["x " * 600])["input_ids"].shape[1] == model.max_seq_length


@pytest.mark.slow
def test_pipeline_threads_tokenise_off_the_rust_pool_and_restore_the_setting(real_embedder, texts, monkeypatch):
    model = real_embedder._load()
    tokenise = rust_tokeniser(model)
    seen = []

    def recording(batch):
        seen.append(os.environ.get("TOKENIZERS_PARALLELISM"))
        return tokenise(batch)

    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    vectors = encode_batches(model, texts, 4, torch_forward(model, "cpu"), workers=3, tokeniser=recording)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert (vectors * real_embedder.encode(texts)).sum(1).min() > 0.9999
    assert seen and set(seen) == {"false"} and "TOKENIZERS_PARALLELISM" not in os.environ
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")  # the user's own setting wins
    seen.clear()
    encode_batches(model, texts[:8], 4, torch_forward(model, "cpu"), workers=2, tokeniser=recording)
    assert set(seen) == {"true"} and os.environ["TOKENIZERS_PARALLELISM"] == "true"


@pytest.mark.slow
@pytest.mark.parametrize("backend, least_mean, least_min", [("onnx", 0.9999, 0.9999), ("onnx-int8", 0.985, 0.97)])
def test_onnx_backends_match_torch_and_export_once(real_embedder, texts, tmp_path_factory, backend, least_mean,
                                                   least_min, monkeypatch):
    from paperatlas.embed import onnx_export

    folder = tmp_path_factory.getbasetemp() / "onnx-exports"
    embedder = SentenceTransformerEmbedder(backend=backend, export_dir=folder)
    vectors = embedder.encode(texts)
    cosines = (vectors * real_embedder.encode(texts)).sum(1)
    assert cosines.mean() >= least_mean and cosines.min() >= least_min, (cosines.mean(), cosines.min())
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    (exported,) = folder.glob(f"onnx/*/{backend}/model.onnx")
    assert json.loads((exported.parent / "export.json").read_text())["backend"] == backend
    # a second embedder finds the export and never exports again
    monkeypatch.setattr(onnx_export, "_export_fp32", lambda *a: pytest.fail("exported twice"))
    again = SentenceTransformerEmbedder(backend=backend, export_dir=folder).encode(texts[:2])
    # int8 activations are quantised per batch, so its vectors move a little with their batch neighbours
    assert (again * vectors[:2]).sum(1).min() > (0.9999 if backend == "onnx" else 0.98)


@pytest.mark.slow
def test_onnx_int8_atlas_records_its_backend_and_refuses_mixing(bundled_corpus, tmp_path, real_embedder):
    corpus = bundled_corpus[:24]
    cache = EmbeddingCache(tmp_path / "cache")
    atlas = Atlas.build(corpus, cache=cache, backend="onnx-int8")
    assert atlas.info()["backend"] == "onnx-int8"
    assert cache.count("sentence-transformers/all-MiniLM-L6-v2@onnx-int8") == 24
    assert cache.count("sentence-transformers/all-MiniLM-L6-v2") == 0  # the torch vectors are kept apart
    atlas.save(tmp_path / "atlas")
    manifest = json.loads((tmp_path / "atlas" / "manifest.json").read_text())
    assert manifest["model"]["backend"] == "onnx-int8"

    loaded = Atlas.load(tmp_path / "atlas")
    reopened = open_embedder(loaded.model)
    assert reopened.backend == "onnx-int8" and reopened.model_id == loaded.model.id
    title = corpus[3].title
    assert loaded.similar(title, k=1, by="text")[0]["id"] == corpus[3].id  # a text query embeds with onnx-int8
    with pytest.raises(PaperatlasError, match="onnx-int8 backend .* mixing backends in one atlas is refused"):
        check_embedder(real_embedder, loaded.model)
    with pytest.raises(PaperatlasError, match="mixing backends"):
        Atlas.load(tmp_path / "atlas", embedder=real_embedder)


def test_a_manifest_whose_backend_disagrees_with_the_model_id_is_refused(bundled_corpus, tmp_path):
    Atlas.build(bundled_corpus[:12], FakeEmbedder(), cache=None).save(tmp_path / "atlas")
    path = tmp_path / "atlas" / "manifest.json"
    manifest = json.loads(path.read_text())
    assert manifest["model"]["backend"] == "torch"
    manifest["model"]["backend"] = "onnx"
    path.write_text(json.dumps(manifest))
    with pytest.raises(AtlasFormatError, match="recorded with backend 'onnx'"):
        Atlas.load(tmp_path / "atlas")


@pytest.mark.slow
def test_cli_build_with_backend_onnx_int8_as_in_the_readme(tmp_path: Path, bundled_corpus):
    from paperatlas.cli import main

    source = tmp_path / "papers.jsonl"
    source.write_text("\n".join(json.dumps({"id": p.id, "title": p.title, "abstract": p.abstract})
                                for p in bundled_corpus[:16]))
    root_handlers = list(logging.getLogger().handlers)
    result = CliRunner().invoke(main, ["build", str(source), "-o", str(tmp_path / "atlas"), "--backend",
                                       "onnx-int8", "--no-topics", "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    # the quantiser's logging.warning advice neither shows nor leaves a handler on the root logger
    assert "pre-processing" not in result.output and logging.getLogger().handlers == root_handlers
    info = CliRunner().invoke(main, ["info", str(tmp_path / "atlas"), "--json"])
    assert json.loads(info.output)["backend"] == "onnx-int8"
    assert list((tmp_path / "cache").glob("onnx/*/onnx-int8/model.onnx"))  # exported beside the embedding cache


@pytest.mark.gpu
def test_cuda_uses_fp16_pipeline_and_stays_near_fp32(real_embedder, texts):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    gpu = SentenceTransformerEmbedder(device="cuda")
    vectors = gpu.encode(texts)
    assert next(gpu._load().parameters()).dtype == torch.float16
    assert gpu._tokenise is not None  # the Rust tokeniser shortcut feeds the GPU
    assert (vectors * real_embedder.encode(texts)).sum(1).min() >= 0.999


@pytest.mark.slow
def test_loading_the_model_prints_no_progress_bar(capfd):
    from transformers.utils import logging as hf_logging

    SentenceTransformerEmbedder(device="cpu").encode(["a query"])
    captured = capfd.readouterr()
    assert "Loading weights" not in captured.err + captured.out
    assert hf_logging.is_progress_bar_enabled()  # the user's own transformers setting is left as it was
