from __future__ import annotations

import numpy as np
import pytest

from paperatlas.errors import PaperatlasError
from paperatlas.index import EXACT_MAX_ROWS, PaperIndex, choose_kind


def clustered(n: int, d: int = 64, seed: int = 0) -> np.ndarray:
    """Unit vectors around 50 shared centres (seed 0), like embeddings of a few fields."""
    centres = np.random.default_rng(0).standard_normal((50, d)).astype(np.float32)
    rng = np.random.default_rng(seed)
    x = centres[rng.integers(0, 50, n)] + 0.6 * rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def unit(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["exact", "ivf", "hnsw"])
def test_each_vector_finds_itself_first(kind):
    x = unit(300)
    index = PaperIndex.build(x, kind)
    scores, rows = index.search(x, 3)
    assert (rows[:, 0] == np.arange(300)).all()
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-3 if kind == "ivf" else 1e-5)  # ivf: float16 rows
    assert (np.diff(scores, axis=1) <= 1e-6).all()  # best first


@pytest.mark.parametrize("kind", ["exact", "ivf", "hnsw"])
def test_k_beyond_size_returns_every_row_never_minus_one(kind):
    x = unit(7)
    scores, rows = PaperIndex.build(x, kind).search(x[:2], 50)
    assert rows.shape == (2, 7)
    assert (rows >= 0).all()
    assert sorted(rows[0]) == list(range(7))


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_search_agrees_with_exact_search(kind):
    x = clustered(6000, seed=1)
    queries = clustered(200, seed=2)
    exact_scores, exact = PaperIndex.build(x, "exact").search(queries, 10)
    scores, approx = PaperIndex.build(x, kind).search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, approx)])
    assert recall >= 0.95
    found = exact == approx
    # re-ranked from the stored vectors: exact scores (ivf: of float16 rows, within 1e-3)
    np.testing.assert_allclose(scores[found], exact_scores[found], atol=1e-3 if kind == "ivf" else 1e-5)


def test_ivf_keeps_compact_codes_and_the_vectors_once_in_half_precision(tmp_path):
    x = clustered(6000, seed=3)
    index = PaperIndex.build(x, "ivf")
    assert index.vectors().dtype == np.float16 and index.vectors().nbytes == x.nbytes // 2
    np.testing.assert_array_equal(index.vectors(), x.astype(np.float16))
    assert PaperIndex.build(x, "exact").vectors() is x  # other kinds: the one copy is the caller's
    index.save(tmp_path / "index.faiss")
    assert (tmp_path / "index.faiss").stat().st_size < x.nbytes / 4
    index.add(x[:10])
    assert index.vectors().dtype == np.float16 and len(index) == 6010
    rows = index.search(x[:10], 2)[1]
    assert [sorted(pair) for pair in rows.tolist()] == [[i, 6000 + i] for i in range(10)]  # each and its copy
    _, rows = index.search(x[:100], 10, rows_below=3000)
    assert (rows < 3000).all() and (rows[:50, 0] == np.arange(50)).all()


@pytest.mark.parametrize("kind", ["exact", "ivf", "hnsw"])
def test_remove_rows_keeps_the_order_of_the_rest(kind):
    x = unit(50)
    index = PaperIndex.build(x, kind)
    index.remove_rows([0, 10, 49])
    kept = np.delete(x, [0, 10, 49], axis=0)
    assert len(index) == 47
    _, rows = index.search(kept, 1)
    assert (rows[:, 0] == np.arange(47)).all()


@pytest.mark.parametrize("kind", ["exact", "ivf", "hnsw"])
def test_add_appends_without_rebuild(kind):
    x = unit(40)
    index = PaperIndex.build(x[:30], kind)
    index.add(x[30:])
    _, rows = index.search(x[35:36], 1)
    assert len(index) == 40 and rows[0, 0] == 35


@pytest.mark.parametrize("kind", ["exact", "ivf", "hnsw"])
def test_save_load_round_trip(tmp_path, kind):
    x = unit(100)
    index = PaperIndex.build(x, kind)
    if kind == "exact":
        with pytest.raises(PaperatlasError, match="no search structure"):
            index.save(tmp_path / "index.faiss")
        loaded = PaperIndex.load(None, x)
    else:
        index.save(tmp_path / "index.faiss")
        loaded = PaperIndex.load(tmp_path / "index.faiss", x)
    assert loaded.kind == kind and len(loaded) == 100 and loaded.dimension == 32
    np.testing.assert_array_equal(index.search(x[:5], 5)[1], loaded.search(x[:5], 5)[1])


def test_load_rejects_a_file_that_is_not_an_index(tmp_path):
    bad = tmp_path / "index.faiss"
    bad.write_bytes(b"not faiss at all")
    with pytest.raises(PaperatlasError, match="not a readable FAISS index"):
        PaperIndex.load(bad, unit(10))


def test_wrong_dimension_and_kind_are_errors():
    index = PaperIndex.build(unit(10), "exact")
    with pytest.raises(PaperatlasError, match="dimension 32"):
        index.search(unit(1, d=16), 1)
    with pytest.raises(PaperatlasError, match="unknown index kind"):
        choose_kind("ivf-magic", 10)


def test_auto_switches_to_approximate_above_the_documented_size():
    assert choose_kind("auto", EXACT_MAX_ROWS) == "exact"
    assert choose_kind("auto", EXACT_MAX_ROWS + 1) == "ivf"


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_payload_rebuilds_the_same_index(kind):
    vectors = np.random.default_rng(5).standard_normal((500, 24)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = PaperIndex.build(vectors, kind)
    copy = PaperIndex.from_payload(index.payload())
    assert copy.kind == kind and len(copy) == 500
    assert np.array_equal(copy.vectors(), vectors)
    assert np.array_equal(copy.search(vectors[:20], 5)[1], index.search(vectors[:20], 5)[1])


def test_a_memory_mapped_source_leaves_resident_memory_once_copied_to_half_precision(tmp_path):
    from paperatlas.index import stored_rows

    def resident_mib() -> float:
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        pytest.skip("no /proc/self/status")

    np.save(tmp_path / "v.npy", unit(40_000, 384))  # 61 MB
    mapped = np.load(tmp_path / "v.npy", mmap_mode="r")
    before = resident_mib()
    assert float(np.asarray(mapped, np.float64).sum()) != 0  # read every page
    touched = resident_mib()
    half = stored_rows(np.asarray(mapped), "ivf")  # a plain view of the memmap, as PaperIndex.build holds it
    assert touched - before > 40
    assert resident_mib() - touched < 0  # the float16 copy (31 MB) in, the mapped 61 MB out
    np.testing.assert_array_equal(half, np.asarray(mapped).astype(np.float16))
    assert float(np.asarray(mapped[:5]).sum()) == float(np.load(tmp_path / "v.npy")[:5].sum())  # still readable
