"""Tests of the saved search state: computed at build, kept up to date by add/remove, read lazily."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from paperatlas.atlas import Atlas
from paperatlas.corpus import Corpus
from paperatlas.embed import FakeEmbedder
from paperatlas.search_state import SearchState
from paperatlas.why import TermAnalyzer, TermStats

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def corpus(bundled_corpus) -> Corpus:
    return bundled_corpus[:80]


@pytest.fixture()
def atlas(corpus) -> Atlas:
    return Atlas.build(corpus, FakeEmbedder(), cache=None)


def test_the_analyzer_matches_scikit_learns(bundled_corpus):
    from sklearn.feature_extraction.text import CountVectorizer

    from paperatlas.vocabulary import BOILERPLATE_PHRASES, TOKEN_PATTERN, stopwords

    ours = TermAnalyzer.default()
    theirs = CountVectorizer(stop_words=stopwords(), token_pattern=TOKEN_PATTERN, ngram_range=(1, 2)).build_analyzer()
    for paper in list(bundled_corpus)[:40]:
        assert ours(paper.text) == [t for t in theirs(paper.text) if t not in BOILERPLATE_PHRASES]


def test_document_frequencies_count_each_paper_once_per_term():
    stats = TermStats.of_texts(["reward reward model", "reward hacking", "galaxy"])
    assert stats.documents == 3
    # "model" is a scientific stopword: {reward, reward reward} + {reward, hacking, reward hacking} + {galaxy}
    assert stats.document_frequency.sum() == 2 + 3 + 1
    from paperatlas.why import bucket

    assert stats.document_frequency[bucket("reward")] == 2
    assert stats.document_frequency[bucket("galaxy")] == 1


def test_saved_state_is_read_back_without_rebuilding(atlas, tmp_path, monkeypatch):
    atlas.save(tmp_path / "atlas")
    monkeypatch.setattr(SearchState, "of_corpus", lambda corpus: pytest.fail("search state rebuilt on load"))
    loaded = Atlas.load(tmp_path / "atlas", embedder=FakeEmbedder())
    assert callable(loaded.search_state._terms)  # not read until a query needs it
    hits = loaded.similar(atlas.corpus[3].id, 5)
    assert not callable(loaded.search_state._terms)
    np.testing.assert_array_equal(loaded.search_state.terms.document_frequency,
                                  atlas.search_state.terms.document_frequency)
    assert loaded.search_state.title_keys == atlas.search_state.title_keys
    assert [h["why"] for h in hits] == [h["why"] for h in atlas.similar(atlas.corpus[3].id, 5)]


def test_add_and_remove_update_the_state_as_a_rebuild_would(corpus, tmp_path):
    atlas = Atlas.build(corpus[:60], FakeEmbedder(), cache=None)
    atlas.add(list(corpus[60:]))
    atlas.remove([corpus[5].id, corpus[70].id])
    rebuilt = SearchState.of_corpus(atlas.corpus)
    np.testing.assert_array_equal(atlas.search_state.terms.document_frequency, rebuilt.terms.document_frequency)
    assert atlas.search_state.terms.documents == len(atlas) == 78
    assert atlas.search_state.title_keys == rebuilt.title_keys
    atlas.save(tmp_path / "atlas")
    loaded = Atlas.load(tmp_path / "atlas")
    np.testing.assert_array_equal(loaded.search_state.terms.document_frequency, rebuilt.terms.document_frequency)
    title = corpus[61].title
    assert loaded.similar(title, 3, by="title", exclude_query=False)[0]["id"] == corpus[61].id


def test_removing_texts_never_counted_is_an_error():
    stats = TermStats.of_texts(["reward models"])
    with pytest.raises(Exception, match="never counted"):
        stats.count(["galaxy clusters"], -1)


def test_a_query_imports_no_scikit_learn(atlas, tmp_path):
    import subprocess
    import sys

    atlas.save(tmp_path / "atlas")
    code = (
        "import sys\n"
        "from paperatlas.atlas import Atlas\n"
        f"atlas = Atlas.load({str(tmp_path / 'atlas')!r})\n"
        f"hits = atlas.similar({atlas.corpus[0].id!r}, 5)\n"
        "assert len(hits) == 5 and any(h['why'] for h in hits)\n"
        "print('sklearn' in sys.modules, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_the_fast_word_split_matches_the_token_pattern():
    import re

    from paperatlas.vocabulary import TOKEN_PATTERN as WORD_PATTERN

    analyzer = TermAnalyzer.default()
    text = ("3D-printing 2019 _abc a1 1_2a x² ①② GPT-4o 12ab αβγ __init__ ab_cd 42nd ٣d ٣٤ q "
            "résumé naïve 10x faster x86_64 C++ R2-D2 l2-norm")
    assert analyzer.words(text) == re.findall(WORD_PATTERN, text.lower())
    slow = TermAnalyzer(WORD_PATTERN + "(?#same pattern, regex path)", analyzer.stop_words, analyzer.dropped)
    assert slow.words(text) == analyzer.words(text)


def test_a_state_file_replaced_after_load_is_caught(atlas, tmp_path):
    from paperatlas.store import AtlasFormatError

    atlas.save(tmp_path / "atlas")
    loaded = Atlas.load(tmp_path / "atlas", embedder=FakeEmbedder())
    path = tmp_path / "atlas" / "search_terms.npy"
    frequency = np.load(path)
    frequency[:10] += 1
    np.save(path, frequency)
    with pytest.raises(AtlasFormatError, match="search_terms.npy: corrupted"):
        loaded.similar(atlas.corpus[0].id, 3)


def test_counts_among_equals_the_full_counts_restricted(bundled_corpus):
    from collections import Counter

    analyzer = TermAnalyzer.default()
    texts = [paper.text for paper in list(bundled_corpus)[:30]]
    for query, text in zip(texts, texts[1:] + texts[:1]):
        terms = set(analyzer(query))
        unigrams = {t for t in terms if " " not in t}
        full = Counter(analyzer(text))
        assert analyzer.counts_among(text, unigrams, terms - unigrams) == Counter(
            {t: c for t, c in full.items() if t in terms})
