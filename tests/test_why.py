from __future__ import annotations

from paperatlas.why import TermStats


def test_a_rare_bigram_is_weighted_by_its_own_rarity_not_its_words():
    corpus = [f"reward models number {i} for language agents" for i in range(20)]
    corpus += ["reward hacking zebra study", "reward hacking zebra audit", "zebra migration survey"]
    explainer = TermStats.of_texts(corpus)
    query = explainer.counts("zebra analysis of reward hacking")
    why = explainer.shared(query, "reward hacking zebra audit")
    # "reward hacking" is in 2 papers, "zebra" in 3, "reward" in all 22: the bigram comes first
    assert why[0] == "reward hacking"
    assert "zebra" in why and "reward" not in why  # the word inside a shared bigram is left to it


def test_no_shared_terms_gives_an_empty_explanation():
    explainer = TermStats.of_texts(["reward models", "diffusion steering"])
    assert explainer.shared(explainer.counts("galaxy clusters"), "diffusion steering") == []


def test_a_word_common_to_the_corpus_ranks_below_a_specific_one_even_when_repeated():
    corpus = [f"language notes {i}" for i in range(30)] + [f"survey {i}" for i in range(7)]
    corpus += ["zebra language", "zebra stripes", "zebra herds"]
    explainer = TermStats.of_texts(corpus)
    query = explainer.counts("language tasks, language change, language drift, zebra")
    # both texts dwell on "language", but it is in 31 of 40 papers; "zebra" in 3
    assert explainer.shared(query, "language grammar, language syntax, language lexicon, zebra") == ["zebra", "language"]
