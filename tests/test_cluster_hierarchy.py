"""Tests of paperatlas.cluster.hierarchy: coarse layers over fine topics."""

from __future__ import annotations

import numpy as np
import pytest

from paperatlas.cluster.hierarchy import (
    build_layers,
    default_coarse_sizes,
    nest_in_regions,
    parents,
    region_layers,
)
from paperatlas.errors import PaperatlasError


def nested_blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """3 themes x 3 topics x 20 papers; topics inside a theme are close."""
    rng = np.random.default_rng(seed)
    themes = rng.standard_normal((3, 64))
    themes /= np.linalg.norm(themes, axis=1, keepdims=True)
    topics = np.repeat(themes, 3, axis=0) + 0.3 * rng.standard_normal((9, 64)) / 8
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    fine = np.repeat(np.arange(9), 20)
    x = topics[fine] + 0.02 * rng.standard_normal((180, 64)) / 8
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), fine, fine // 3


@pytest.mark.parametrize("linkage", ["ward", "average"])
def test_layers_nest_and_recover_themes(linkage: str) -> None:
    x, fine, theme = nested_blobs()
    labels = fine.copy()
    labels[::17] = -1
    layers = build_layers(x, labels, [3], linkage=linkage)
    assert len(layers) == 2
    assert len(set(layers[1][layers[1] >= 0].tolist())) == 3
    assert np.array_equal(layers[0] == -1, labels == -1)
    assert np.array_equal(layers[1] == -1, labels == -1)
    mapping = parents(layers[0], layers[1])
    for child, parent in mapping.items():
        assert np.all(layers[1][layers[0] == child] == parent)
    inside = labels >= 0
    for t in range(3):
        assert len(set(layers[1][inside & (theme == t)].tolist())) == 1


def test_default_layers() -> None:
    x, fine, _ = nested_blobs()
    layers = build_layers(x, fine)
    assert len(layers) >= 2
    counts = [len(set(layer[layer >= 0].tolist())) for layer in layers]
    assert counts[1] < counts[0] == 9
    three = build_layers(x, fine, n_layers=3)
    assert [len(set(layer.tolist())) for layer in three] == [9, 6, 3]
    assert default_coarse_sizes(40, 3) == [24, 12]
    assert default_coarse_sizes(3) == [] and default_coarse_sizes(1, 3) == []
    assert build_layers(x, fine, n_topics=4)[1:] and 4 in [
        len(set(layer.tolist())) for layer in build_layers(x, fine, n_topics=4)]


@pytest.mark.parametrize("topics", [4, 9, 12, 40, 54, 200, 913, 5000, 40_000])
def test_default_layers_step_at_most_4x_down_to_a_legend_sized_layer(topics):
    from paperatlas.cluster.hierarchy import MAP_THEMES

    counts = [topics] + default_coarse_sizes(topics)
    assert counts == sorted(set(counts), reverse=True)
    assert all(finer / coarser <= 4 for finer, coarser in zip(counts, counts[1:]))
    assert counts[-1] <= MAP_THEMES


def test_default_layers_with_a_wanted_count():
    assert default_coarse_sizes(40, n_topics_wanted=10) == [24, 12, 10, 6, 3]
    assert default_coarse_sizes(40, n_topics_wanted=12) == [24, 12, 6, 3]
    assert default_coarse_sizes(40, n_topics_wanted=40) == [24, 12, 6, 3]  # the fine layer is nearest
    assert default_coarse_sizes(913, 2) == [432]  # --layers fixes the count
    assert default_coarse_sizes(913, 2, 20) == [432, 20]


def test_layers_renumbered_by_size() -> None:
    x, fine, _ = nested_blobs()
    labels = np.where(fine == 4, 0, fine)  # topic 0 now has 40 papers
    layers = build_layers(x, labels, [2])
    for layer in layers:
        ids, sizes = np.unique(layer[layer >= 0], return_counts=True)
        assert ids.tolist() == list(range(ids.size))
        assert list(sizes) == sorted(sizes, reverse=True)


def test_one_topic_or_none() -> None:
    x, _, _ = nested_blobs()
    only = np.zeros(180, dtype=np.int64)
    assert len(build_layers(x, only)) == 1
    none = np.full(180, -1)
    assert np.all(build_layers(x, none)[0] == -1)


def test_errors() -> None:
    x, fine, _ = nested_blobs()
    with pytest.raises(PaperatlasError, match="linkage"):
        build_layers(x, fine, linkage="single")
    with pytest.raises(PaperatlasError, match="nested"):
        parents(np.array([0, 0, 1]), np.array([0, 1, 1]))
    with pytest.raises(PaperatlasError, match="one label per row"):
        build_layers(x, fine[:10])


def test_parents_of_many_papers_match_a_plain_count() -> None:
    rng = np.random.default_rng(3)
    child = rng.integers(-1, 300, 50_000)
    parent = np.where(child >= 0, child // 7 + 5, rng.integers(-1, 40, child.size))  # noise papers: any theme
    assert parents(child, parent) == {c: c // 7 + 5 for c in set(child.tolist()) if c >= 0}
    with pytest.raises(PaperatlasError, match="topic 2 is not nested"):
        parents(np.array([-1, 2, 2, 4]), np.array([3, -1, -1, 1]))  # topic 2 in the coarse layer's noise
    assert parents(np.array([-1, -1]), np.array([0, 1])) == {}


def test_nest_in_regions_keeps_regions_when_small_parts_can_join_a_topic_there() -> None:
    # topic 0: 8 papers in region 0, 2 in region 1 (20%: small); topic 1 lives in region 1;
    # topic 2: 12 in region 0, 3 in region 2 where no topic lives (a topic of its own)
    fine = np.array([0] * 10 + [1] * 6 + [2] * 15)
    regions = np.array([0] * 8 + [1] * 2 + [1] * 6 + [0] * 12 + [2] * 3)
    x = np.zeros((31, 4), dtype=np.float32)
    x[:, 0], x[8:10, 1], x[10:16, 1] = 1.0, 1.0, 1.0
    new_fine, themes = nest_in_regions(fine, regions, min_piece=3, embeddings=x)
    assert themes.tolist() == regions.tolist()  # no paper changed region
    assert new_fine[8:10].tolist() == [1, 1]  # the small part joined the topic of its region
    assert len(set(new_fine[28:].tolist())) == 1 and new_fine[28] not in (0, 1, 2)
    parents(new_fine, themes)


def test_nest_top_down_keeps_the_coarsest_and_cuts_finer_layers():
    from paperatlas.cluster.hierarchy import PIECE_SHARE, nest_top_down

    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 8)).astype(np.float32)
    coarse = (x[:, 0] > 0).astype(np.int64)
    finer = (x[:, 1] > 0).astype(np.int64) * 2 + (x[:, 2] > 1.5)  # cuts across the coarse regions
    nested = nest_top_down([finer, coarse], x, min_piece=5)
    assert np.array_equal(nested[1], coarse)
    mapping = parents(nested[0], nested[1])  # nests, or raises
    assert len(mapping) >= len(set(finer.tolist()))
    for group, size in zip(*np.unique(nested[0], return_counts=True)):
        assert size >= 5  # small parts were folded into big ones
    assert PIECE_SHARE == 0.25


def test_nest_in_regions_splits_big_parts_and_moves_small_ones() -> None:
    fine = np.array([0] * 10 + [1] * 6 + [-1] * 3)
    # topic 0: 6 papers in region 0, 4 in region 1; topic 1: 5 in region 1, 1 in region 2
    regions = np.array([0] * 6 + [1] * 4 + [1] * 5 + [2] + [0, 2, 2])
    new_fine, themes = nest_in_regions(fine, regions, min_piece=3)
    assert new_fine[:6].tolist() == [0] * 6 and new_fine[6:10].tolist() == [2] * 4  # part of 4 >= 3: a topic
    assert new_fine[10:16].tolist() == [1] * 6 and themes[10:16].tolist() == [1] * 6  # part of 1 moved home
    assert themes[:10].tolist() == [0] * 6 + [1] * 4
    assert new_fine[16:].tolist() == [-1] * 3 and themes[16:].tolist() == [0, 2, 2]  # noise keeps its region
    parents(new_fine, themes)  # nests, or raises
    with pytest.raises(PaperatlasError, match="every paper a region"):
        nest_in_regions(fine, np.where(regions == 2, -1, regions), 3)


def test_region_layers_cover_noise_nest_and_recover_themes() -> None:
    x, fine, theme = nested_blobs()
    labels = fine.copy()
    labels[::17] = -1
    # clustering coordinates: the themes far apart, the topics inside them close
    rng = np.random.default_rng(1)
    reduced = 10.0 * theme[:, None] + (fine % 3)[:, None] + 0.05 * rng.standard_normal((180, 2))
    layers = region_layers(reduced, x, labels, [3, 2], min_piece=5, random_state=0)
    assert len(layers) == 3
    assert [int(layer.max()) + 1 for layer in layers[1:]] == [3, 2]
    assert np.array_equal(layers[0] == -1, labels == -1)  # noise stays noise among the topics only
    assert all(np.all(layer >= 0) for layer in layers[1:])
    assert [len(set(layer[layer >= 0].tolist())) for layer in layers] == [9, 3, 2]
    for child, parent in ((0, 1), (1, 2)):
        mapping = parents(layers[child], layers[parent])
        for topic, theme_id in mapping.items():
            assert np.all(layers[parent][layers[child] == topic] == theme_id)
    for t in range(3):  # each planted theme is one region, noise papers included
        assert len(set(layers[1][theme == t].tolist())) == 1
    again = region_layers(reduced, x, labels, [3, 2], min_piece=5, random_state=0)
    assert all(np.array_equal(a, b) for a, b in zip(layers, again))


def test_region_layers_edge_cases() -> None:
    x, fine, _ = nested_blobs()
    reduced = np.random.default_rng(0).standard_normal((180, 3))
    only = np.zeros(180, dtype=np.int64)
    assert len(region_layers(reduced, x, only)) == 1
    assert len(region_layers(reduced, x, fine, [])) == 1
    assert len(region_layers(reduced, x, fine, [50])) == 1  # no coarse layer as fine as the topics
    with pytest.raises(PaperatlasError, match="one row per paper"):
        region_layers(reduced[:10], x, fine)
    with pytest.raises(PaperatlasError, match="at least 1"):
        region_layers(reduced, x, fine, [0])
