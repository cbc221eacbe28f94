"""The BM25 index (paperatlas.lexical) and the dense / lexical / hybrid search modes."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from paperatlas.atlas import Atlas
from paperatlas.cli import main
from paperatlas.corpus import Corpus, Paper
from paperatlas.embed import FakeEmbedder
from paperatlas.lexical import LexicalIndex, Tokenizer, _idf
from paperatlas.errors import PaperatlasError
from paperatlas.search import SearchError, find_similar_papers, fuse

TEXTS = [
    "Proximal policy optimization for robot locomotion",
    "Diffusion models for image synthesis with classifier guidance",
    "Reward models learned from human preference comparisons",
    "Graph neural networks for molecules",
    "Policies and rewards: reinforcement learning for robots",
]


def test_tokenizer_drops_stopwords_and_folds_plurals():
    assert Tokenizer()("The Models of the policies and 3D meshes in 2019") == ["model", "policy", "3d", "meshe"]


def test_bm25_ranks_papers_sharing_rare_words_first():
    index = LexicalIndex.build(TEXTS)
    rows, scores = index.top("robot policy", 5)
    assert set(rows[:2].tolist()) == {0, 4}  # the two papers with both words
    assert list(scores) == sorted(scores, reverse=True) and np.all(scores > 0)
    assert 1 not in rows  # shares no word
    assert not index.top("volcano", 5)[0].size and np.all(index.scores("the of") == 0)
    only = np.zeros(len(TEXTS), dtype=bool)
    only[4] = True
    assert index.top("robot policy", 5, only)[0].tolist() == [4]


def test_max_postings_scores_only_the_rarest_words_that_fit():
    texts = ["learning robots"] * 6 + ["learning graphs", "learning quantum robots"]  # in 8, 7 and 1 papers
    index = LexicalIndex.build(texts)
    assert set(index.top("quantum learning robots", 10)[0].tolist()) == set(range(8))  # every word
    assert index.top("quantum learning robots", 10, max_postings=1)[0].tolist() == [7]  # "quantum" alone
    assert index.top("quantum learning robots", 10, max_postings=0)[0].tolist() == [7]  # never no word
    np.testing.assert_allclose(index.scores("quantum learning robots", max_postings=8),
                               index.scores("quantum robots"))  # 1 + 7 postings fit, learning's 8 more do not
    np.testing.assert_allclose(index.scores("quantum learning robots", max_postings=16),
                               index.scores("quantum learning robots"))
    rows, _ = index.top("learning robots", 10, excluded=np.array([0, 7]))
    assert 0 not in rows and 7 not in rows and len(rows) == 6


def test_hybrid_mode_bounds_the_words_it_reads_and_lexical_mode_reads_all(monkeypatch, small_atlas):
    from paperatlas import search

    seen = []
    top = LexicalIndex.top

    def recording(self, text, n, allowed=None, excluded=None, max_postings=None):
        seen.append(max_postings)
        return top(self, text, n, allowed, excluded, max_postings)

    monkeypatch.setattr(LexicalIndex, "top", recording)
    find_similar_papers(small_atlas, "p2", k=2, by="id", mode="hybrid")
    find_similar_papers(small_atlas, "p2", k=2, by="id", mode="lexical")
    assert seen == [search.HYBRID_QUERY_POSTINGS, None]


def test_scores_are_bm25s_lucene_scores(bundled_corpus):
    import bm25s

    texts = [p.text for p in bundled_corpus]
    index = LexicalIndex.build(texts)
    tokenize = Tokenizer()
    reference = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    reference.index([tokenize(text) for text in texts], show_progress=False)
    for query in ("reward model preference", "diffusion steering", texts[7], "value function critic"):
        words = [w for w in dict.fromkeys(tokenize(query)) if w in reference.vocab_dict]
        expected = reference.get_scores(words)
        np.testing.assert_allclose(index.scores(query), expected, rtol=1e-4, atol=2e-4)
        assert index.top(query, 10)[0].tolist() == np.lexsort((np.arange(len(texts)), -expected))[:10].tolist()


def test_appended_papers_score_as_a_full_build_would_and_old_ones_keep_their_weights(bundled_corpus):
    texts = [p.text for p in bundled_corpus]
    texts[5] = "the of"  # no word left
    grown = texts + ["", "zyxwv brandnewword and diffusion steering"]
    index = LexicalIndex.build(texts[:300])
    appended = index.appended(grown[300:])
    full = LexicalIndex.build(grown)
    assert appended.documents == full.documents == len(grown) and appended.built_over == 300
    assert appended.mean_length == pytest.approx(full.mean_length)
    for query in ("reward model preference", "zyxwv brandnewword", "diffusion steering", texts[320], "the of"):
        np.testing.assert_allclose(appended.scores(query)[300:], full.scores(query)[300:], atol=1e-5)
    for word in ("diffusion", "reward", "policy"):  # one word: old papers' scores move by its idf alone
        before, after = index.scores(word), appended.scores(word)[:300]
        held = before > 0
        assert np.array_equal(held, after > 0) and held.any()
        np.testing.assert_allclose(after[held] / before[held], (after[held] / before[held])[0], rtol=1e-5)
        idf_ratio = _idf(np.count_nonzero(full.scores(word)), len(grown)) / _idf(np.count_nonzero(held), 300)
        assert float((after[held] / before[held])[0]) == pytest.approx(float(idf_ratio), rel=1e-5)
    assert appended.top("zyxwv", 3)[0].tolist() == [len(grown) - 1]  # a word no indexed paper had
    restored = LexicalIndex.from_arrays(appended.entry(), appended.arrays(), appended.vocabulary())
    np.testing.assert_array_equal(restored.scores("diffusion steering"), appended.scores("diffusion steering"))
    assert (restored.mean_length, restored.built_over) == (appended.mean_length, 300)
    assert appended.can_append(330) and not appended.can_append(331)  # 10% past the last full build


def test_removed_papers_leave_in_place_and_the_rest_keep_their_weights(bundled_corpus):
    texts = [p.text for p in bundled_corpus]
    index = LexicalIndex.build(texts)
    keep = np.ones(len(texts), dtype=bool)
    keep[[0, 7, 123, len(texts) - 1]] = False
    smaller = index.without(keep, [texts[i] for i in np.flatnonzero(~keep)])
    full = LexicalIndex.build([t for t, k in zip(texts, keep) if k])
    assert smaller.documents == full.documents == len(texts) - 4 and smaller.built_over == len(texts)
    assert smaller.mean_length == pytest.approx(full.mean_length)
    for word in ("diffusion", "reward", "policy"):  # one word: kept papers' scores move by its idf alone
        before, after = index.scores(word)[keep], smaller.scores(word)
        held = before > 0
        assert np.array_equal(held, after > 0) and held.any()
        idf_ratio = (_idf(np.count_nonzero(held), len(texts) - 4)
                     / _idf(np.count_nonzero(index.scores(word)), len(texts)))
        np.testing.assert_allclose(after[held] / before[held], float(idf_ratio), rtol=1e-5)
    rows, _ = smaller.top("diffusion", 20)  # one word: the same ranking of the kept papers, renumbered
    expected, _ = index.top("diffusion", 20, allowed=keep)
    assert rows.tolist() == (np.cumsum(keep) - 1)[expected].tolist()
    query = texts[7]  # a removed paper's own text
    assert smaller.top(query, 400)[0].max() < smaller.documents and smaller.top(query, 400)[0].size > 0
    restored = LexicalIndex.from_arrays(smaller.entry(), smaller.arrays(), smaller.vocabulary())
    np.testing.assert_array_equal(restored.scores(query), smaller.scores(query))
    assert index.can_remove(319) and not index.can_remove(318)  # 350 / 1.1 = 318.2
    with pytest.raises(PaperatlasError, match="no papers would be left"):
        index.without(np.zeros(len(texts), dtype=bool), texts)


def test_remove_drops_papers_from_a_saved_index_until_the_corpus_shrinks_past_it(tmp_path):
    papers = [Paper(id=f"p{i}", title=f"{TEXTS[i % 5]} {i}", abstract=f"{TEXTS[(i + 1) % 5]} number {i}")
              for i in range(40)]
    papers.append(Paper(id="rare", title="Quasicrystal lattices", abstract="Quasicrystal lattices in alloys"))
    Atlas.build(Corpus(papers), FakeEmbedder(), cache=None).save(tmp_path / "atlas")
    atlas = Atlas.load(tmp_path / "atlas", embedder=FakeEmbedder())
    atlas.remove(["p3"])
    lexical = atlas.search_state.lexical
    assert (lexical.documents, lexical.built_over) == (40, 41)  # dropped in place, not rebuilt
    assert find_similar_papers(atlas, "quasicrystal", k=1, by="text", mode="lexical")[0]["id"] == "rare"
    assert "p3" not in [h["id"] for h in find_similar_papers(atlas, TEXTS[3], k=40, by="text", mode="lexical")]
    atlas.save(tmp_path / "atlas")
    assert Atlas.load(tmp_path / "atlas").search_state.lexical.built_over == 41
    atlas.remove([f"p{i}" for i in range(10, 14)])  # 36 < 41 / 1.1: rebuilt
    assert (atlas.search_state.lexical.documents, atlas.search_state.lexical.built_over) == (36, 36)


def test_top_reads_postings_and_agrees_with_the_full_score_vector(bundled_corpus):
    texts = [p.text for p in bundled_corpus]
    index = LexicalIndex.build(texts)
    allowed = np.arange(len(texts)) % 3 != 0
    excluded = np.array([1, 2, 4, 8, 16, 32])
    for query in ("reward model preference", texts[11], "diffusion", "zyxwv"):
        scores = index.scores(query)
        scores[~allowed] = 0
        scores[excluded] = 0
        expected = np.lexsort((np.arange(len(texts)), -scores))
        expected = expected[scores[expected] > 0][:25]
        rows, got = index.top(query, 25, allowed, excluded)
        assert rows.tolist() == expected.tolist()
        np.testing.assert_array_equal(got, scores[expected])


def test_build_in_chunks_gives_the_same_index(monkeypatch, bundled_corpus):
    from paperatlas import lexical

    texts = [p.text for p in bundled_corpus]
    whole = LexicalIndex.build(texts)
    monkeypatch.setattr(lexical, "BUILD_CHUNK", 7)
    chunked = LexicalIndex.build(iter(texts))
    assert chunked.vocabulary() == whole.vocabulary()
    for name, array in whole.arrays().items():
        np.testing.assert_array_equal(chunked.arrays()[name], array)


def test_add_appends_to_a_saved_index_until_the_corpus_outgrows_it(tmp_path):
    papers = [Paper(id=f"p{i}", title=f"{TEXTS[i % 5]} {i}", abstract=f"{TEXTS[(i + 1) % 5]} number {i}")
              for i in range(40)]
    Atlas.build(Corpus(papers), FakeEmbedder(), cache=None).save(tmp_path / "atlas")
    atlas = Atlas.load(tmp_path / "atlas", embedder=FakeEmbedder())
    atlas.add([Paper(id="new", title="Quasicrystal lattices", abstract="Quasicrystal lattices in alloys")],
              cache=None)
    lexical = atlas.search_state.lexical
    assert (lexical.documents, lexical.built_over) == (41, 40)  # appended, not rebuilt
    assert find_similar_papers(atlas, "quasicrystal", k=1, by="text", mode="lexical")[0]["id"] == "new"
    atlas.save(tmp_path / "atlas")
    assert Atlas.load(tmp_path / "atlas").search_state.lexical.built_over == 40
    more = [Paper(id=f"m{i}", title=f"Graph lattices {i}", abstract="graph neural networks on lattices")
            for i in range(4)]
    atlas.add(more, cache=None)  # 45 > 1.1 x 40: rebuilt
    assert (atlas.search_state.lexical.documents, atlas.search_state.lexical.built_over) == (45, 45)


def test_fuse_weights_the_rankings():
    dense, lexical = np.array([1, 2, 3]), np.array([3, 4, 1])
    assert fuse([dense, lexical], [1.0, 0.0], 3).tolist() == [1, 2, 3]
    assert fuse([dense, lexical], [0.0, 1.0], 2).tolist() == [3, 4]
    # equal weights: 1 and 3 appear in both lists and beat 2 and 4
    assert set(fuse([dense, lexical], [0.5, 0.5], 2).tolist()) == {1, 3}


@pytest.fixture(scope="module")
def small_atlas():
    corpus = Corpus(Paper(id=f"p{i}", title=text, abstract=text + ". " + "filler words here " * i)
                    for i, text in enumerate(TEXTS))
    return Atlas.build(corpus, FakeEmbedder(), cache=None)


def test_modes_answer_text_and_id_queries(small_atlas):
    lexical = find_similar_papers(small_atlas, "classifier guidance", k=3, by="text", mode="lexical")
    assert [h["id"] for h in lexical] == ["p1"]  # only one paper holds the words
    for mode in ("dense", "hybrid"):
        hits = find_similar_papers(small_atlas, "classifier guidance", k=3, by="text", mode=mode)
        assert len(hits) == 3 and hits.query["mode"] == mode
    by_id = find_similar_papers(small_atlas, "p0", k=2, mode="lexical")
    assert by_id[0]["id"] == "p4" and "p0" not in [h["id"] for h in by_id]
    several = find_similar_papers(small_atlas, ["p0", "p4"], k=2, mode="hybrid")
    assert not {"p0", "p4"} & {h["id"] for h in several}
    # the score is the cosine similarity in every mode
    dense = {h["id"]: h["score"] for h in find_similar_papers(small_atlas, "p0", k=4, mode="dense")}
    assert all(h["score"] == dense[h["id"]] for h in by_id)
    with pytest.raises(SearchError, match="unknown search mode"):
        find_similar_papers(small_atlas, "p0", mode="sparse")


def test_lexical_index_is_saved_loaded_and_updated_by_add(small_atlas, tmp_path):
    small_atlas.save(tmp_path / "atlas")
    loaded = Atlas.load(tmp_path / "atlas")
    loaded.use_embedder(FakeEmbedder())
    query = "preference comparisons"
    assert (loaded.search_state.lexical.top(query, 5)[0].tolist()
            == small_atlas.search_state.lexical.top(query, 5)[0].tolist())
    loaded.add([Paper(id="new", title="Volcano eruptions forecast", abstract="Volcano seismic data.")],
               cache=None)
    assert [h["id"] for h in find_similar_papers(loaded, "volcano", k=3, by="text", mode="lexical")] == ["new"]
    loaded.save(tmp_path / "atlas")
    again = Atlas.load(tmp_path / "atlas")
    again.use_embedder(FakeEmbedder())
    assert again.search_state.lexical.documents == len(TEXTS) + 1
    assert [h["id"] for h in find_similar_papers(again, "volcano", k=3, by="text", mode="lexical")] == ["new"]
    again.remove(["new"])
    assert find_similar_papers(again, "volcano", k=3, by="text", mode="lexical") == []


def test_a_corrupted_lexical_index_is_refused(small_atlas, tmp_path):
    from paperatlas.store import AtlasFormatError

    small_atlas.save(tmp_path / "atlas")
    words = tmp_path / "atlas" / "lexical_words.json"
    words.write_text(words.read_text().replace("robot", "robut"))
    with pytest.raises(AtlasFormatError, match="lexical_words.json"):
        Atlas.load(tmp_path / "atlas")


def test_cli_mode_option(small_atlas, tmp_path):
    small_atlas.save(tmp_path / "atlas")
    result = CliRunner().invoke(main, ["similar", str(tmp_path / "atlas"), "--id", "p0", "-k", "1",
                                       "--mode", "lexical", "--json"])
    assert result.exit_code == 0, result.output
    assert '"p4"' in result.output
    bad = CliRunner().invoke(main, ["similar", str(tmp_path / "atlas"), "--id", "p0", "--mode", "nope"])
    assert bad.exit_code != 0 and "nope" in bad.output
