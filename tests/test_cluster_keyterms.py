"""Tests of paperatlas.cluster.keyterms: c-TF-IDF terms and exemplars."""

from __future__ import annotations

import numpy as np
import pytest

from paperatlas.cluster.keyterms import class_tfidf, exemplars, keyterm_label, topic_keyterms
from paperatlas.errors import PaperatlasError
from paperatlas.vocabulary import SCIENTIFIC_STOPWORDS, commonness_weight, stopwords

REWARD = [
    "We propose a novel reward model for preference learning from human feedback.",
    "Reward hacking in RLHF: our approach shows state-of-the-art results on preference data.",
    "Preference optimization with learned reward signals in RLHF pipelines.",
    "A new framework for reward modeling using human preference comparisons.",
]
GRAPHS = [
    "Graph neural networks for molecule property prediction.",
    "Molecular graphs and graph neural networks achieve state of the art performance.",
    "Message passing graph neural networks on molecules, extensive experiments.",
    "We present a method for molecule generation with graph neural networks.",
]
NOISE = ["A paper about weather and cooking.", "Results on random things."]
# Key terms are down-weighted by their share of the whole corpus, so the toy
# corpus has a background of unrelated papers, as a real one does (under 100
# papers in all, so terms in a single paper are kept).
PLACES = "harbour glacier desert prairie canyon orchard lagoon tundra".split()
CRAFTS = "pottery weaving masonry forging carving brewing tanning glazing joinery quilting".split()
BACKGROUND = [f"Field notes on {craft} near the {place}." for place in PLACES for craft in CRAFTS]
TEXTS = REWARD + GRAPHS + NOISE + BACKGROUND
LABELS = np.array([0] * 4 + [1] * 4 + [-1] * (2 + len(BACKGROUND)))


def test_distinctive_terms_rank_first() -> None:
    terms = topic_keyterms(TEXTS, LABELS, top_n=5)
    assert set(terms) == {0, 1}
    assert terms[0][0][0] in {"reward", "preference"}
    assert terms[1][0][0] in {"graph", "graph neural", "neural networks", "molecule"}
    scores = [s for _, s in terms[0]]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)


def test_bigrams_appear() -> None:
    terms = topic_keyterms(TEXTS, LABELS, top_n=10)
    assert "graph neural" in [t for t, _ in terms[1]] or "neural networks" in [t for t, _ in terms[1]]
    assert "human preference" in [t for t, _ in topic_keyterms(TEXTS, LABELS, top_n=40)[0]]


def test_boilerplate_never_appears() -> None:
    terms = topic_keyterms(TEXTS, LABELS, top_n=100)
    words = {w for pairs in terms.values() for term, _ in pairs for w in term.split()}
    phrases = {term for pairs in terms.values() for term, _ in pairs}
    banned = {"propose", "novel", "paper", "results", "approach", "state", "art", "performance",
              "method", "new", "framework", "using", "extensive", "experiments", "shows", "model"}
    assert not words & banned
    assert "state art" not in phrases
    assert banned <= set(stopwords())
    assert "propose" in SCIENTIFIC_STOPWORDS


def test_noise_not_in_output_and_numbers_dropped() -> None:
    texts = ["alpha 2019 beta", "alpha 2019 gamma", "delta 2019 epsilon"] + BACKGROUND
    terms = topic_keyterms(texts, np.array([0, 0] + [-1] * (1 + len(BACKGROUND))), top_n=10)
    assert list(terms) == [0]
    assert all("2019" not in t for t, _ in terms[0])
    assert terms[0][0][0] == "alpha"


def test_only_stopwords_and_no_topics() -> None:
    assert topic_keyterms(["the of and", "we propose"], np.array([0, 0])) == {0: []}
    assert topic_keyterms(["alpha", "beta"], np.array([-1, -1])) == {}
    with pytest.raises(PaperatlasError, match="one label per text"):
        topic_keyterms(["a"], np.array([0, 1]))


def test_class_tfidf_formula() -> None:
    counts = np.array([[2.0, 0.0, 2.0], [0.0, 3.0, 1.0]])
    weights = np.asarray(class_tfidf(counts).todense())
    mean_words = 4.0
    idf = np.log(1 + mean_words / np.array([2.0, 3.0, 3.0]))
    expected = counts / counts.sum(axis=1, keepdims=True) * idf
    assert np.allclose(weights, expected)


def test_exemplars_nearest_centroid() -> None:
    embeddings = np.array([[1, 0], [0.8, 0.6], [0.6, 0.8], [0, 1], [0.5, 0.5]], dtype=np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    labels = np.array([0, 0, 0, 1, -1])
    out = exemplars(embeddings, labels, n=2)
    assert out == {0: [1, 2], 1: [3]}


def test_keyterm_label_skips_overlaps() -> None:
    assert keyterm_label(["reward", "reward model", "preference", "rlhf", "other"]) == "reward · preference · rlhf"
    assert keyterm_label([]) == "(no terms)"


def test_commonness_weight_falls_with_a_terms_share_of_papers() -> None:
    weights = commonness_weight(np.array([0, 1, 10, 50, 200, 999]), 999)
    assert weights[0] == weights[1] == 1.0  # rare terms keep their weight
    assert np.all(np.diff(weights) < 0) or np.all(np.diff(weights[1:]) < 0)
    assert weights[-1] == 0.0  # a term in every paper says nothing


def test_a_term_common_to_the_corpus_is_outranked_by_one_specific_to_the_topic() -> None:
    # "learning" is in every topic paper and in many others; "bandit" in most topic papers only
    topic = [f"Learning with bandit feedback, case {i}." for i in range(6)]
    topic += [f"Learning under delays, trial {i}." for i in range(4)]
    background = [f"Learning notes on {text}" for text in BACKGROUND[:15]] + BACKGROUND[15:]
    labels = np.array([0] * len(topic) + [-1] * len(background))
    terms = [t for t, _ in topic_keyterms(topic + background, labels, top_n=10)[0]]
    assert terms[0] == "bandit"
    assert "learning" not in terms or terms.index("bandit") < terms.index("learning")


def test_a_bigram_survives_over_its_filler_unigram() -> None:
    # "reward" runs through the corpus; "reward shaping" belongs to the topic
    topic = [f"Reward shaping for agents, case {i}." for i in range(4)]
    topic += [f"Reward for agents, trial {i}." for i in range(6)]
    background = [f"Reward schedules for {text}" for text in BACKGROUND[:10]] + BACKGROUND[10:]
    labels = np.array([0] * len(topic) + [-1] * len(background))
    terms = [t for t, _ in topic_keyterms(topic + background, labels, top_n=10)[0]]
    assert "reward shaping" in terms
    assert "reward" not in terms or terms.index("reward shaping") < terms.index("reward")
