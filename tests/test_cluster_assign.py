"""Tests of paperatlas.cluster.assign: neighbour votes and stable topic ids."""

from __future__ import annotations

import numpy as np
import pytest

from paperatlas.cluster.assign import assign_by_neighbours, assign_layers_by_neighbours, match_topic_ids, relabel
from paperatlas.errors import PaperatlasError


def test_weighted_vote_ignores_noise() -> None:
    labels = np.array([[0, 1, 1, -1], [-1, -1, -1, -1], [2, 2, 0, -1], [3, -1, -1, -1], [1, 0, 0, 0]])
    scores = np.array(
        [[0.9, 0.5, 0.5, 0.99], [0.9, 0.9, 0.9, 0.9], [0.3, 0.3, 0.7, 0.9], [0.1, 0.9, 0.9, 0.9], [0.95, 0.3, 0.3, 0.3]]
    )
    assert assign_by_neighbours(labels, scores).tolist() == [1, -1, 0, 3, 1]
    # noise voting: row 0 keeps topic 1 (1.0 vs noise 0.99); rows 2 and 3 turn noise (0.9 > 0.7, 2.7 > 0.1)
    assert assign_by_neighbours(labels, scores, noise_votes=True).tolist() == [1, -1, -1, -1, 1]


def test_vote_ties_and_negative_scores() -> None:
    assert assign_by_neighbours(np.array([[4, 2]]), np.array([[0.5, 0.5]])).tolist() == [2]
    assert assign_by_neighbours(np.array([[4, 2]]), np.array([[-0.5, 0.0]])).tolist() == [-1]
    assert assign_by_neighbours(np.zeros((0, 3)), np.zeros((0, 3))).tolist() == []
    with pytest.raises(PaperatlasError, match="one shape"):
        assign_by_neighbours(np.zeros((2, 3)), np.zeros((2, 2)))


def test_layer_votes_nest_in_parents() -> None:
    # topics 0, 1 in theme 0, topic 2 in theme 1; the noise paper (row 4) lies in theme 1
    existing = np.array([[0, 0], [1, 0], [2, 1], [2, 1], [-1, 1]])
    rows = np.array([[1, 2, 3], [4, 4, 0], [0, 1, 2]])
    scores = np.array([[0.9, 0.5, 0.5], [0.9, 0.9, 0.1], [0.2, 0.2, 0.9]])
    out = assign_layers_by_neighbours(existing, rows, scores)
    # row 0: topic 1 outvoted at layer 0 by topic 2 (1.0 > 0.9): theme 1, not a separate theme vote
    # row 1: its noise neighbours (1.8) outweigh topic 0 (0.1): noise, and theme 1 by the theme vote
    assert out.tolist() == [[2, 1], [-1, 1], [2, 1]]
    # without noise votes the one topical neighbour decides
    quiet = assign_layers_by_neighbours(existing, rows, scores, noise_votes=False)
    assert quiet.tolist() == [[2, 1], [0, 0], [2, 1]]
    # noise must outweigh the best topic, not all topics together
    mixed = assign_layers_by_neighbours(existing, np.array([[4, 0, 2]]), np.array([[0.5, 0.4, 0.4]]))
    assert mixed[0, 0] == -1
    close = assign_layers_by_neighbours(existing, np.array([[4, 2, 2]]), np.array([[0.5, 0.3, 0.3]]))
    assert close[0, 0] == 2
    # a paper among noise: no topic; its theme by vote where themes cover noise, noise where they do not
    alone = np.array([[4, 4, 0]])
    assert assign_layers_by_neighbours(existing, alone, np.array([[0.9, 0.9, 0.1]]))[0, 0] == -1
    noisy = assign_layers_by_neighbours(existing, np.array([[4, 4]]), np.array([[0.9, 0.9]]))
    assert noisy.tolist() == [[-1, 1]]
    kept = existing.copy()
    kept[4, 1] = -1
    assert assign_layers_by_neighbours(kept, np.array([[4, 4]]), np.array([[0.9, 0.9]])).tolist() == [[-1, -1]]
    # nesting holds even where the layer-1 vote alone would disagree
    split = assign_layers_by_neighbours(existing, np.array([[2, 0, 1]]), np.array([[0.5, 0.4, 0.4]]))
    assert split.tolist() == [[2, 1]]  # theme 0 has 0.8 of the votes, but topic 2 is in theme 1


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
