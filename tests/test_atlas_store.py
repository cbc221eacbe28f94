from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from paperatlas.atlas import Atlas
from paperatlas.corpus import Corpus, Paper
from paperatlas.embed import FakeEmbedder
from paperatlas.errors import PaperatlasError
from paperatlas import store
from paperatlas.store import FORMAT_VERSION, AtlasFormatError


def small_corpus(n: int = 30) -> Corpus:
    return Corpus(
        Paper(
            id=f"p{i}",
            title=f"Title {i} about {['rewards', 'diffusion', 'values'][i % 3]}",
            abstract=f"An abstract {i} on {['reward models', 'image diffusion', 'human values'][i % 3]}.",
            date="2025-01-02" if i % 2 else None,
            metadata={"label": ["a", "b", "c"][i % 3], "tags": ["x", str(i)], "extra": {"k": i}},
        )
        for i in range(n)
    )


@pytest.fixture()
def saved(tmp_path) -> Path:
    atlas = Atlas.build(small_corpus(), FakeEmbedder(), cache=None)
    atlas.save(tmp_path / "atlas")
    return tmp_path / "atlas"


def test_round_trip_keeps_papers_metadata_vectors_and_index(saved):
    original = Atlas.build(small_corpus(), FakeEmbedder(), cache=None)
    loaded = Atlas.load(saved)
    assert loaded.corpus.ids == original.corpus.ids
    assert list(loaded.corpus) == list(original.corpus)  # every field and metadata value
    assert loaded.corpus.get("p1").metadata == {"label": "b", "tags": ["x", "1"], "extra": {"k": 1}}
    np.testing.assert_array_equal(loaded.embeddings, original.embeddings)
    np.testing.assert_array_equal(loaded.index.search(original.embeddings[:5], 5)[1],
                                  original.index.search(original.embeddings[:5], 5)[1])
    assert loaded.model.id == "fake-hashing-384" and loaded.model.dimension == 384


def test_manifest_records_versions_model_hashes(saved):
    manifest = json.loads((saved / "manifest.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["paperatlas_version"]
    assert {"numpy", "faiss-cpu"} <= manifest["libraries"].keys()
    assert manifest["model"] == {"id": "fake-hashing-384", "dimension": 384, "external": False, "backend": "torch"}
    assert manifest["corpus"]["papers"] == 30 and len(manifest["corpus"]["content_hash"]) == 64
    assert set(manifest["files"]) == {"papers.arrow", "paper_ids.npy", "embeddings.npy", "search_terms.npy",
                                      "search_titles.parquet", "lexical_data.npy", "lexical_indices.npy",
                                      "lexical_indptr.npy", "lexical_words.json",
                                      }  # an exact index keeps no file: the vectors are stored once
    assert manifest["search"]["lexical"]["documents"] == 30
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"].values())
    assert not list(saved.glob("*.pkl"))


def test_embeddings_load_without_pickle(saved):
    array = np.load(saved / "embeddings.npy", allow_pickle=False)
    assert array.dtype == np.float32 and array.shape == (30, 384)


@pytest.mark.parametrize("name", ["papers.arrow", "embeddings.npy"])
def test_missing_file_is_a_clear_error(saved, name):
    (saved / name).unlink()
    with pytest.raises(AtlasFormatError, match=f"{name}: missing"):
        Atlas.load(saved)


@pytest.mark.parametrize("name", ["papers.arrow", "embeddings.npy"])
def test_corrupted_file_is_caught_by_its_checksum(saved, name):
    path = saved / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(AtlasFormatError, match=f"{name}: corrupted"):
        Atlas.load(saved)


def edit_manifest(folder: Path, change) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_unknown_format_version_is_refused(saved):
    edit_manifest(saved, lambda m: m.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(AtlasFormatError, match=f"format version {FORMAT_VERSION + 1} is not supported.*rebuild"):
        Atlas.load(saved)


def test_garbled_manifest_and_non_atlas_folders(saved, tmp_path):
    (saved / "manifest.json").write_text("{not json")
    with pytest.raises(AtlasFormatError, match="corrupted manifest"):
        Atlas.load(saved)
    with pytest.raises(AtlasFormatError, match="manifest.json is missing"):
        Atlas.load(tmp_path)
    with pytest.raises(AtlasFormatError, match="no atlas folder"):
        Atlas.load(tmp_path / "nowhere")


def test_dimension_in_manifest_must_match_the_vectors(saved):
    edit_manifest(saved, lambda m: m["model"].update(dimension=768))
    with pytest.raises(AtlasFormatError, match="768-d model"):
        Atlas.load(saved)


def test_full_verification_checks_the_papers_against_the_corpus_hash(saved):
    edit_manifest(saved, lambda m: m["corpus"].update(content_hash="0" * 64))
    Atlas.load(saved)  # a load does not read every paper
    with pytest.raises(AtlasFormatError, match="corpus hash"):
        store.verify_atlas(saved)


def test_large_files_are_checked_by_size_and_sampled_blocks_on_load(saved, tmp_path, monkeypatch):
    monkeypatch.setattr(store, "QUICK_HASH_BYTES", 1024)  # every file counts as large
    atlas = Atlas.load(saved)
    atlas.save(tmp_path / "big")
    manifest = json.loads((tmp_path / "big" / "manifest.json").read_text())
    assert "sampled_sha256" in manifest["files"]["embeddings.npy"]
    path = tmp_path / "big" / "embeddings.npy"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # the last block is always sampled
    path.write_bytes(bytes(data))
    with pytest.raises(AtlasFormatError, match="embeddings.npy: corrupted"):
        Atlas.load(tmp_path / "big")
    data[-5] ^= 0xFF
    data[len(data) // 2 + 7] ^= 0xFF  # between sampled blocks: only the full check reads it
    path.write_bytes(bytes(data))
    with pytest.raises(AtlasFormatError, match="embeddings.npy: corrupted"):
        store.verify_atlas(tmp_path / "big")
    from click.testing import CliRunner

    from paperatlas.cli import main

    result = CliRunner().invoke(main, ["verify", str(tmp_path / "big")])
    assert result.exit_code == 1 and "embeddings.npy: corrupted" in result.output
    path.write_bytes(bytes(data[:-100]))
    with pytest.raises(AtlasFormatError, match="embeddings.npy: corrupted .* bytes"):
        Atlas.load(tmp_path / "big")
    assert CliRunner().invoke(main, ["verify", str(saved)]).exit_code == 0


def test_an_approximate_index_is_saved_and_checked(tmp_path):
    papers = small_corpus(300)
    atlas = Atlas.build(papers, FakeEmbedder(), index="ivf", cache=None)
    atlas.save(tmp_path / "ivf")
    loaded = Atlas.load(tmp_path / "ivf")
    assert loaded.index.kind == "ivf" and np.load(tmp_path / "ivf" / "embeddings.npy").dtype == np.float16
    assert loaded.similar(papers[3].id, k=5, by="id") == atlas.similar(papers[3].id, k=5, by="id")
    (tmp_path / "ivf" / "index.faiss").write_bytes(b"junk")
    with pytest.raises(AtlasFormatError, match="index.faiss: corrupted"):
        Atlas.load(tmp_path / "ivf")


def test_a_build_lets_go_of_its_float32_vectors_once_the_ivf_index_holds_float16_ones(monkeypatch):
    import gc
    import weakref

    from paperatlas import atlas as atlas_module
    from paperatlas.embed.cache import embed_with_cache

    made, alive_during_topics = [], []

    def embedding(*args, **kwargs):
        vectors, embedded = embed_with_cache(*args, **kwargs)
        made.append(weakref.ref(vectors))
        return vectors, embedded

    def fit_topics(self, *args, **kwargs):
        gc.collect()
        alive_during_topics.append(made[0]() is not None)

    monkeypatch.setattr(atlas_module, "embed_with_cache", embedding)
    monkeypatch.setattr(Atlas, "fit_topics", fit_topics)
    built = Atlas.build(small_corpus(200), FakeEmbedder(), index="ivf", cache=None, topics=True)
    assert built.embeddings.dtype == np.float16 and alive_during_topics == [False]


def test_ivf_atlases_saved_with_float32_vectors_still_load_and_keep_them(monkeypatch, tmp_path):
    from paperatlas import index

    papers = small_corpus(200)
    monkeypatch.setattr(index, "stored_rows", lambda vectors, kind: vectors)  # as versions before float16 saved
    Atlas.build(papers, FakeEmbedder(), index="ivf", cache=None).save(tmp_path / "old")
    monkeypatch.undo()
    atlas = Atlas.load(tmp_path / "old")
    assert atlas.embeddings.dtype == np.float32
    atlas.add([Paper(id="extra", title="Extra paper", abstract="An added abstract")], cache=None,
              embeddings=FakeEmbedder().encode(["Extra paper. An added abstract"]))
    assert atlas.embeddings.dtype == np.float32 and atlas.similar("extra", k=1, by="id")[0]["id"] != "extra"


def test_float16_vectors_beside_an_exact_index_are_refused(tmp_path):
    import json

    Atlas.build(small_corpus(30), FakeEmbedder(), cache=None).save(tmp_path / "a")
    vectors = np.load(tmp_path / "a" / "embeddings.npy")
    np.save(tmp_path / "a" / "embeddings.npy", vectors.astype(np.float16))
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    from paperatlas.store import sha256_file

    file = tmp_path / "a" / "embeddings.npy"
    manifest["files"]["embeddings.npy"] = {"bytes": file.stat().st_size, "sha256": sha256_file(file)}
    (tmp_path / "a" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(AtlasFormatError, match="dtype float16; an atlas with a 'exact' index holds float32 vectors"):
        Atlas.load(tmp_path / "a")


def test_ids_are_found_by_binary_search_without_a_dict_of_all(saved):
    atlas = Atlas.load(saved)
    ids = atlas.corpus.ids
    for row in (0, 7, len(ids) - 1):
        assert atlas.corpus.row(ids[row]) == row and ids[row] in atlas.corpus
    assert "no-such-id" not in atlas.corpus and atlas.corpus._rows is None
    with pytest.raises(KeyError):
        atlas.corpus.row("no-such-id")


def test_loading_with_another_model_is_refused(saved):
    with pytest.raises(PaperatlasError, match="not the model this atlas was built with"):
        Atlas.load(saved, embedder=FakeEmbedder(model_id="other"))
    with pytest.raises(PaperatlasError, match="makes 64-d vectors"):
        Atlas.load(saved, embedder=FakeEmbedder(dimension=64))


def test_external_embeddings_are_recorded(tmp_path):
    corpus = small_corpus(12)
    vectors = np.random.default_rng(0).standard_normal((12, 48))
    atlas = Atlas.build(corpus, embeddings=vectors)
    atlas.save(tmp_path / "a")
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["model"] == {"id": "external", "dimension": 48, "external": True, "backend": None}
    loaded = Atlas.load(tmp_path / "a")
    np.testing.assert_allclose(np.linalg.norm(loaded.embeddings, axis=1), 1.0, rtol=1e-5)
    with pytest.raises(PaperatlasError, match="precomputed embeddings"):
        loaded.search_state.embedder(loaded.model)
    with pytest.raises(PaperatlasError, match=r"shape \(11, 48\)"):
        Atlas.build(corpus, embeddings=vectors[:11])
    with pytest.raises(PaperatlasError, match="NaN"):
        Atlas.build(corpus, embeddings=np.full((12, 4), np.nan))


def test_remove_by_id_updates_corpus_vectors_and_index(tmp_path):
    atlas = Atlas.build(small_corpus(), FakeEmbedder(), cache=None)
    kept_vector = atlas.embeddings[atlas.corpus.row("p7")].copy()
    atlas.remove(["p0", "p3"])
    assert len(atlas) == 28 and "p0" not in atlas.corpus
    _, rows = atlas.index.search(kept_vector, 1)
    assert atlas.corpus[int(rows[0, 0])].id == "p7"
    with pytest.raises(PaperatlasError, match="unknown paper id"):
        atlas.remove(["nope"])
    atlas.save(tmp_path / "a")
    assert Atlas.load(tmp_path / "a").corpus.ids == atlas.corpus.ids


def test_save_refuses_to_replace_a_folder_that_is_not_an_atlas(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.tex").write_text("precious")
    atlas = Atlas.build(small_corpus(5), FakeEmbedder(), cache=None)
    with pytest.raises(PaperatlasError, match="not an atlas"):
        atlas.save(tmp_path / "docs")
    assert (tmp_path / "docs" / "thesis.tex").read_text() == "precious"


SLOW_SAVE = textwrap.dedent(
    """
    import signal, sys, time
    from pathlib import Path
    import paperatlas.store as store

    # a process started in the background inherits SIGINT ignored; act as a terminal's would
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from paperatlas.atlas import Atlas

    target, marker = sys.argv[1], Path(sys.argv[2])
    atlas = Atlas.load(target)
    atlas.remove(atlas.corpus.ids[:10])
    real_hash = store.sha256_file

    def slow_hash(path):
        digest = real_hash(path)
        marker.write_text("midway")
        time.sleep(60)
        return digest

    store.sha256_file = slow_hash
    atlas.save(target)
    """
)


@pytest.mark.parametrize("how", ["kill", "interrupt"])
def test_interrupted_save_leaves_the_previous_atlas_intact(saved, tmp_path, how):
    marker = tmp_path / "midway"
    process = subprocess.Popen([sys.executable, "-c", SLOW_SAVE, str(saved), str(marker)])
    try:
        deadline = time.time() + 60
        while not marker.exists():
            assert process.poll() is None, "the save ended before it was interrupted"
            assert time.time() < deadline
            time.sleep(0.05)
        assert list(saved.parent.glob(".atlas.saving-*")), "the save writes a temporary folder first"
        process.send_signal(signal.SIGKILL if how == "kill" else signal.SIGINT)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0
    atlas = Atlas.load(saved)  # verifies every checksum
    assert len(atlas) == 30
    # a later save cleans up what the killed one left behind
    atlas.save(saved)
    assert [p.name for p in saved.parent.glob(".atlas.*")] == [".atlas.lock"]  # the writer lock stays
    assert len(Atlas.load(saved)) == 30


# --- aliases (ids of merged records) ----------------------------------------------------------


def test_aliases_survive_save_and_load_in_the_papers_table(tmp_path):
    import pyarrow as pa

    from tests.alias_fixtures import aliased_atlas

    atlas = aliased_atlas(tmp_path)
    atlas.save(tmp_path / "atlas")
    table = pa.ipc.open_file(pa.memory_map(str(tmp_path / "atlas" / store.PAPERS))).read_all()
    assert table.schema.field("aliases").type == pa.list_(pa.string())  # a list column, not JSON text
    assert {f for f in os.listdir(tmp_path / "atlas") if f.endswith((".pkl", ".pickle"))} == set()
    loaded = Atlas.load(tmp_path / "atlas")
    assert loaded.corpus.ids == atlas.corpus.ids
    assert loaded.corpus.get("dup-3").id == "p3" and loaded.corpus.get("p3").aliases == ("dup-3",)
    assert loaded.corpus.row("dup-7") == atlas.corpus.row("p7") and "dup-7" in loaded.corpus
    assert "dup-8" not in loaded.corpus and loaded.corpus.get("p0").aliases == ()
    assert "aliases" not in loaded.corpus.metadata_columns()
    assert loaded.similar("dup-7", 3) == atlas.similar("p7", 3)


def test_aliases_of_papers_built_in_memory_are_saved_too(tmp_path):
    papers = list(small_corpus(12))
    papers[4] = papers[4].with_changes(aliases=("old-4", "older-4"))
    atlas = Atlas.build(Corpus(papers), FakeEmbedder(), cache=None)
    atlas.save(tmp_path / "atlas")
    loaded = Atlas.load(tmp_path / "atlas")
    assert loaded.corpus.get("older-4").id == "p4" and loaded.corpus.get("p4").aliases == ("old-4", "older-4")
    assert list(loaded.corpus) == papers


def test_an_atlas_without_aliases_stores_no_alias_column_and_keeps_its_format(saved):
    import pyarrow as pa

    table = pa.ipc.open_file(pa.memory_map(str(saved / store.PAPERS))).read_all()
    assert "aliases" not in table.column_names  # as every atlas written before aliases existed
    manifest = json.loads((saved / "manifest.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION == 3
    loaded = Atlas.load(saved)
    assert "p1" in loaded.corpus and "ghost" not in loaded.corpus
    assert loaded.corpus.column("aliases") == [()] * len(loaded)


def test_add_keeps_the_aliases_of_new_papers_and_skips_papers_it_has(tmp_path):
    from tests.alias_fixtures import aliased_atlas

    atlas = aliased_atlas(tmp_path)
    n = len(atlas)
    new = Paper(id="n1", title="A new paper on alias lookups", abstract="Abstract of the new paper.",
                aliases=("n1-old",))
    known = Paper(id="dup-3", title="Again", abstract="A paper the atlas has under this alias.")
    known_by_alias = Paper(id="n2", title="Again too", abstract="Its alias is an id the atlas has.", aliases=("p5",))
    assert atlas.add([known, new, known_by_alias]) == ["n1"]
    assert len(atlas) == n + 1
    assert atlas.corpus.row("n1-old") == atlas.corpus.row("n1") == n
    assert atlas.similar("n1-old", 3) == atlas.similar("n1", 3)
    with pytest.raises(PaperatlasError, match="duplicate paper id 'x-old'"):
        atlas.add([Paper(id="x1", title="X one", abstract="One.", aliases=("x-old",)),
                   Paper(id="x2", title="X two", abstract="Two.", aliases=("x-old",))])
    atlas.save(tmp_path / "atlas")
    loaded = Atlas.load(tmp_path / "atlas")
    assert loaded.corpus.get("n1-old").id == "n1" and loaded.corpus.get("dup-3").id == "p3"
