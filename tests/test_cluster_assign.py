"""Tests of paperatlas.cluster.assign: neighbour votes and stable topic ids."""

from __future__ import annotations

import numpy as np
import pytest

from paperatlas.cluster.assign import assign_by_neighbours, match_topic_ids, relabel
from paperatlas.errors import PaperatlasError


def test_weighted_vote_ignores_noise() -> None:
    labels = np.array([[0, 1, 1, -1], [-1, -1, -1, -1], [2, 2, 0, -1], [3, -1, -1, -1], [1, 0, 0, 0]])
    scores = np.array(
        [[0.9, 0.5, 0.5, 0.99], [0.9, 0.9, 0.9, 0.9], [0.3, 0.3, 0.7, 0.9], [0.1, 0.9, 0.9, 0.9], [0.95, 0.3, 0.3, 0.3]]
    )
    assert assign_by_neighbours(labels, scores).tolist() == [1, -1, 0, 3, 1]


def test_vote_ties_and_negative_scores() -> None:
    assert assign_by_neighbours(np.array([[4, 2]]), np.array([[0.5, 0.5]])).tolist() == [2]
    assert assign_by_neighbours(np.array([[4, 2]]), np.array([[-0.5, 0.0]])).tolist() == [-1]
    assert assign_by_neighbours(np.zeros((0, 3)), np.zeros((0, 3))).tolist() == []
    with pytest.raises(PaperatlasError, match="one shape"):
        assign_by_neighbours(np.zeros((2, 3)), np.zeros((2, 2)))


def test_match_topic_ids_recovers_permutation() -> None:
    rng = np.random.default_rng(0)
    old = rng.integers(-1, 6, size=300)
    permutation = np.array([3, 5, 0, 1, 4, 2])
    new = np.where(old >= 0, permutation[np.maximum(old, 0)], -1)
    mapping = match_topic_ids(old, new)
    assert mapping == {int(permutation[i]): i for i in range(6)}
    assert np.array_equal(relabel(new, mapping), old)


def test_match_topic_ids_new_topics_get_fresh_ids() -> None:
    old = np.array([0, 0, 0, 1, 1, 1, -1, -1])
    new = np.array([1, 1, 0, 0, 0, 0, 2, 2])  # new 0 overlaps old 1 most
    mapping = match_topic_ids(old, new)
    assert mapping[0] == 1 and mapping[1] == 0
    assert mapping[2] == 2  # overlaps only noise: a fresh id above old max (1)
    assert match_topic_ids(np.full(3, -1), np.array([0, 1, 1])) == {0: 0, 1: 1}


def test_relabel_errors_on_unknown_topic() -> None:
    with pytest.raises(PaperatlasError, match="no entry"):
        relabel(np.array([0, 1]), {0: 5})
    assert relabel(np.array([0, -1]), {0: 5}).tolist() == [5, -1]
