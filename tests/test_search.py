from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from paperatlas.atlas import Atlas
from paperatlas.cli import main
from paperatlas.embed import FakeEmbedder
from paperatlas.search import SearchError, find_similar_papers

DPO = "Direct Preference Optimization: Your Language Model is Secretly a Reward Model"


@pytest.fixture(scope="module")
def atlas(bundled_corpus):
    return Atlas.build(bundled_corpus, FakeEmbedder(), cache=None)


def paper_id(atlas, title: str) -> str:
    return next(p.id for p in atlas.corpus if p.title == title)


def test_text_query_returns_k_records_best_first(atlas):
    hits = find_similar_papers(atlas, "reward models trained on human preference data", k=5, mode="dense")
    assert len(hits) == 5
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert set(hits[0]) == {"id", "title", "score", "topic_id", "topic", "date", "url", "why", "snippet"}
    assert all("reward" in " ".join(h["why"]) or "preference" in " ".join(h["why"]) for h in hits[:3])
    frame = hits.to_frame()
    assert list(frame["id"]) == [h["id"] for h in hits]


def test_query_by_id_excludes_itself_by_default(atlas):
    target = paper_id(atlas, DPO)
    hits = atlas.similar(target, k=5)
    assert target not in [h["id"] for h in hits] and len(hits) == 5
    with_self = find_similar_papers(atlas, target, k=5, exclude_query=False)
    assert with_self[0]["id"] == target and with_self[0]["score"] == pytest.approx(1.0, abs=1e-4)


def test_title_exact_and_close_match(atlas):
    target = paper_id(atlas, DPO)
    exact = find_similar_papers(atlas, DPO.upper() + "!", k=3, exclude_query=False)
    assert exact[0]["id"] == target
    close = find_similar_papers(atlas, "Direct Preference Optimisation: your language model is secretly a reward model",
                                k=3, by="title", exclude_query=False)
    assert close[0]["id"] == target
    with pytest.raises(SearchError, match="no paper titled"):
        find_similar_papers(atlas, "Completely unrelated title about volcanoes", by="title")


def test_several_papers_and_negative_ids(atlas):
    reward = [p.id for p in atlas.corpus if "Reward Model" in p.title][:3]
    hits = find_similar_papers(atlas, reward, k=10, mode="dense")
    assert not set(reward) & {h["id"] for h in hits}
    centroid = atlas.embeddings[[atlas.corpus.row(i) for i in reward]].mean(axis=0)
    centroid /= np.linalg.norm(centroid)
    best = [atlas.corpus[int(r)].id for r in np.argsort(-(atlas.embeddings @ centroid)) if atlas.corpus[int(r)].id not in reward]
    assert [h["id"] for h in hits] == best[:10]
    diffusion = [p.id for p in atlas.corpus if "Diffusion" in p.title][:3]
    steered = find_similar_papers(atlas, reward, k=10, negative=diffusion, mode="dense")
    away = {h["id"]: h["score"] for h in steered}
    assert not set(diffusion) & set(away)
    # steering away lowers the diffusion papers' rank: none of them is in the top 10
    assert all("Diffusion" not in h["title"] for h in steered)


def test_k_beyond_corpus_returns_every_paper_without_padding(atlas):
    hits = find_similar_papers(atlas, "anything at all", k=10_000)
    assert len(hits) == len(atlas)
    assert len({h["id"] for h in hits}) == len(atlas)
    by_id = find_similar_papers(atlas, atlas.corpus.ids[0], k=10_000)
    assert len(by_id) == len(atlas) - 1


def test_date_filter(atlas):
    hits = find_similar_papers(atlas, "reward model", k=20, date_from="2025-01-01", date_to="2025-06-30")
    assert hits and all(h["date"] and "2025-01-01" <= h["date"] <= "2025-06-30" for h in hits)
    with pytest.raises(SearchError, match="cannot read the date"):
        find_similar_papers(atlas, "reward model", date_from="last tuesday")


@pytest.mark.parametrize(
    ("query", "k", "message"),
    [
        ("", 5, "the query is empty"),
        ("   \n", 5, "the query is empty"),
        ("reward", 0, "k must be a whole number"),
        ("reward", -3, "k must be a whole number"),
        ("reward", 2.5, "k must be a whole number"),
        ([], 5, "list of paper ids is empty"),
        (["no-such-id"], 5, "unknown query paper id"),
    ],
)
def test_bad_queries_are_clear_errors(atlas, query, k, message):
    with pytest.raises(SearchError, match=message):
        find_similar_papers(atlas, query, k=k)


def test_mixed_known_and_unknown_ids_are_an_error(atlas):
    with pytest.raises(SearchError, match=r"unknown query paper id\(s\): 'ghost' \(1 of the 2 ids are known\)"):
        find_similar_papers(atlas, [atlas.corpus.ids[0], "ghost"])
    with pytest.raises(SearchError, match="unknown negative paper id"):
        find_similar_papers(atlas, "reward", negative=["ghost"])
    with pytest.raises(SearchError, match="unknown paper id"):
        find_similar_papers(atlas, "ghost", by="id")


def test_topic_filter_without_topics_is_a_clear_error(atlas):
    from paperatlas.errors import PaperatlasError

    if atlas.topics is None:
        with pytest.raises(PaperatlasError, match="no topics"):
            find_similar_papers(atlas, "reward", topic=0)


def test_cli_similar_json_and_table(tmp_path, atlas, monkeypatch):
    atlas.save(tmp_path / "atlas")
    monkeypatch.setattr("paperatlas.search_state.open_embedder", lambda model: FakeEmbedder())
    runner = CliRunner()
    result = runner.invoke(main, ["similar", str(tmp_path / "atlas"), "reward hacking in RLHF", "-k", "5", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert len(payload["results"]) == 5 and payload["results"][0]["score"] >= payload["results"][-1]["score"]
    target = paper_id(atlas, DPO)
    result = runner.invoke(main, ["similar", str(tmp_path / "atlas"), "--id", target, "-k", "3"])
    assert result.exit_code == 0 and result.output.startswith("3 papers like Direct Preference")
    assert "score" in result.output.splitlines()[1]
    assert "id" in result.output.splitlines()[1].split() and target not in result.output  # an id column
    bad = runner.invoke(main, ["similar", str(tmp_path / "atlas"), "--id", "ghost"])
    assert bad.exit_code == 1 and "unknown query paper id" in bad.output
    both = runner.invoke(main, ["similar", str(tmp_path / "atlas"), "text", "--id", target])
    assert both.exit_code == 2


# --- aliases: ids of merged records answer like the paper's own id ------------------------------


@pytest.fixture(scope="module")
def aliased(tmp_path_factory):
    from tests.alias_fixtures import aliased_atlas

    return aliased_atlas(tmp_path_factory.mktemp("aliased"))


def test_search_by_an_alias_is_search_by_its_paper(aliased):
    for alias, paper in (("dup-3", "p3"), ("dup-7", "p7")):
        by_alias = find_similar_papers(aliased, alias, k=5)
        assert [h["id"] for h in by_alias] == [h["id"] for h in find_similar_papers(aliased, paper, k=5)]
        assert paper not in {h["id"] for h in by_alias}  # the query paper is left out under either name
        with_self = find_similar_papers(aliased, alias, k=1, by="id", exclude_query=False)
        assert with_self[0]["id"] == paper
    several = find_similar_papers(aliased, ["dup-3", "p7"], k=4, negative=["dup-7"])
    assert not {"p3", "p7"} & {h["id"] for h in several}
    with pytest.raises(SearchError, match="unknown paper id 'dup-9'"):
        find_similar_papers(aliased, "dup-9", by="id")


def test_two_papers_with_one_generic_title_are_both_found_by_id(aliased):
    assert aliased.corpus.get("hmc-a").abstract != aliased.corpus.get("hmc-b").abstract
    assert find_similar_papers(aliased, "hmc-a", k=1, exclude_query=False)[0]["id"] == "hmc-a"
    assert find_similar_papers(aliased, "hmc-b", k=1, exclude_query=False)[0]["id"] == "hmc-b"


def test_cli_similar_accepts_an_alias(tmp_path, aliased, monkeypatch):
    aliased.save(tmp_path / "atlas")
    monkeypatch.setattr("paperatlas.search_state.open_embedder", lambda model: FakeEmbedder())
    result = CliRunner().invoke(main, ["similar", str(tmp_path / "atlas"), "--id", "dup-7", "-k", "3", "--json"])
    assert result.exit_code == 0, result.output
    expected = find_similar_papers(aliased, "p7", k=3)
    assert [r["id"] for r in json.loads(result.output)["results"]] == [h["id"] for h in expected]


DTS = "Diffusion Tree Sampling: Scalable inference-time alignment of diffusion models"


@pytest.mark.parametrize("asked", ["Diffusion Tree Sampling", "diffusion tree sampling:", "Diffusion Tree Samplng",
                                   "Diffusion Tree Sampling: Scalable inference-time"])
def test_a_title_query_takes_a_prefix_the_part_before_a_colon_or_a_close_spelling(atlas, asked):
    hits = find_similar_papers(atlas, asked, k=3, by="title", exclude_query=False)
    assert hits[0]["id"] == paper_id(atlas, DTS)
    assert hits.query["description"].startswith("Diffusion Tree Sampling")  # says which paper it took


def test_a_title_prefix_shared_by_several_papers_lists_them(atlas):
    with pytest.raises(SearchError, match=r"titles start with 'Reward'.*give more of the title"):
        find_similar_papers(atlas, "Reward", by="title")


def test_a_mistyped_id_is_an_error_that_names_the_closest_ids(atlas):
    real = paper_id(atlas, DPO)
    typo = real[:-1] + ("0" if real[-1] != "0" else "1")
    for by in ("auto", "id"):
        with pytest.raises(SearchError, match=rf"unknown paper id '{typo}'; did you mean '{real}'"):
            find_similar_papers(atlas, typo, by=by)
    # words and phrases that are not ids still search as text
    assert len(find_similar_papers(atlas, "RLHF", k=3)) == 3
    assert len(find_similar_papers(atlas, "GPT-4 reward hacking", k=3)) == 3
