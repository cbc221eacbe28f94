"""What `similar` tells people and agents (#15 items 2, 3, 11, 12 and snippets): errors that
name close topics and titles, the table (ids, width, noise, shortfall), --min-score, snippets,
the tool schema's descriptions and CLI messages that never mention a Python call."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperatlas.atlas import Atlas
from paperatlas.cli import main
from paperatlas.embed import FakeEmbedder
from paperatlas.search import SNIPPET_CHARS, SearchError, find_similar_papers, snippet

REPO = Path(__file__).resolve().parent.parent
DTS = "Diffusion Tree Sampling: Scalable inference-time alignment of diffusion models"


@pytest.fixture()
def atlas(keyword_atlas):
    return keyword_atlas


@pytest.fixture()
def atlas_dir(keyword_atlas_path) -> Path:
    return keyword_atlas_path


@pytest.fixture()
def cli(atlas_dir, monkeypatch):
    """Run `paperatlas similar ATLAS ...` (text queries embed with the FakeEmbedder)."""
    monkeypatch.setattr("paperatlas.search_state.open_embedder", lambda model: FakeEmbedder())

    def run(*args: str, columns: int = 100):
        monkeypatch.setenv("COLUMNS", str(columns))
        return CliRunner().invoke(main, ["similar", str(atlas_dir), *args])

    return run


def paper_id(atlas, title: str) -> str:
    return next(p.id for p in atlas.corpus if p.title == title)


# --- unknown topics and titles name the close ones ------------------------------------------


def test_an_unknown_topic_name_lists_close_names_with_their_ids_and_layers(atlas) -> None:
    with pytest.raises(SearchError, match=r"no topic named 'reward modelling' at layer 0; "
                                          r"close names: 'reward modeling' \(topic 0, layer 0\)"):
        find_similar_papers(atlas, "reward hacking", topic="reward modelling")
    with pytest.raises(SearchError,
                       match=r"'human values' \(topic 2, layer 0\); 'values and norms' \(topic 1, layer 1\)"):
        find_similar_papers(atlas, "reward hacking", topic="values")
    # the name of a theme, asked at the fine layer, points to its layer
    with pytest.raises(SearchError, match=r"'generative alignment' \(topic 0, layer 1\)"):
        find_similar_papers(atlas, "reward hacking", topic="generative alignment")
    with pytest.raises(SearchError, match="no topic name is close"):
        find_similar_papers(atlas, "reward hacking", topic="volcanology")
    assert find_similar_papers(atlas, "reward hacking", k=3, topic="generative alignment", layer=1)


def test_an_unknown_topic_id_says_which_ids_there_are(atlas) -> None:
    with pytest.raises(SearchError, match=r"no topic 7 at layer 0; topic ids there run from 0 to 2 \(-1: noise\)"):
        find_similar_papers(atlas, "reward hacking", topic=7)


def test_an_unknown_title_lists_the_closest_titles(atlas) -> None:
    with pytest.raises(SearchError, match=rf"no paper titled like 'Diffusion Tree Sampler for image models'; "
                                          rf"the closest titles: '{re.escape(DTS)}' \({paper_id(atlas, DTS)}\)"):
        find_similar_papers(atlas, "Diffusion Tree Sampler for image models", by="title")
    with pytest.raises(SearchError, match="no title is close"):
        find_similar_papers(atlas, "Completely unrelated title about volcanoes", by="title")


def test_the_cli_reports_unknown_topics_in_one_line(cli) -> None:
    result = cli("reward hacking", "--topic", "diffusion steerin")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: no topic named 'diffusion steerin' at layer 0; close names: 'diffusion steering' (topic 1, layer 0)"]


# --- the table ------------------------------------------------------------------------------


def test_the_table_shows_ids_marks_noise_and_fits_the_terminal(cli, atlas) -> None:
    target = paper_id(atlas, DTS)
    for columns in (80, 120, 200):
        result = cli("--id", target, "-k", "10", columns=columns)
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert lines[0].startswith("10 papers like Diffusion Tree Sampling")
        assert lines[1].split()[:3] == ["id", "score", "title"]
        assert all(len(line) <= columns for line in lines[1:])
        hits = find_similar_papers(atlas, target, k=10)
        for hit, line in zip(hits, lines[2:]):
            assert line.startswith(hit["id"] + "  ")  # the id, whole
            if hit["topic_id"] == -1:
                assert "(noise)" in line
        assert any(hit["topic_id"] == -1 for hit in hits)  # the check above ran
    wide, narrow = cli("--id", target, columns=200).output, cli("--id", target, columns=80).output
    assert "why" in wide.splitlines()[1] and "…" in narrow  # titles cut with an ellipsis when narrow


def test_fewer_than_k_say_how_many_passed_the_filters(cli, atlas) -> None:
    found = find_similar_papers(atlas, "diffusion guidance", k=30, topic="diffusion steering")
    assert len(found) == 12 and found.note == "12 of 30 requested passed the filters"
    assert find_similar_papers(atlas, "diffusion guidance", k=5, topic=1).note is None
    human = cli("diffusion guidance", "-k", "30", "--topic", "diffusion steering")
    assert human.output.splitlines()[0].endswith("(12 of 30 requested passed the filters)")
    machine = json.loads(cli("diffusion guidance", "-k", "30", "--topic", "1", "--json").output)
    assert machine["note"] == "12 of 30 requested passed the filters"
    assert machine["requested"] == 30 and machine["returned"] == len(machine["results"]) == 12


def test_one_paper_is_one_paper(cli, atlas) -> None:
    result = cli("--id", paper_id(atlas, DTS), "-k", "1")
    assert result.output.startswith("1 paper like Diffusion Tree Sampling")


def test_min_score_is_a_floor_that_still_finds_k_when_enough_pass(atlas, cli) -> None:
    target = paper_id(atlas, DTS)
    everything = find_similar_papers(atlas, target, k=len(atlas), mode="dense")
    floor = everything[20]["score"]  # 21 papers (ties aside) score at least this
    hits = find_similar_papers(atlas, target, k=10, min_score=floor)
    assert len(hits) == 10 and all(hit["score"] >= floor for hit in hits)
    few = find_similar_papers(atlas, target, k=50, min_score=floor)
    assert all(hit["score"] >= floor for hit in few) and len(few) < 50
    assert few.note == f"{len(few)} of 50 requested passed the filters"
    with pytest.raises(SearchError, match="min_score must be a number from -1 to 1"):
        find_similar_papers(atlas, target, min_score=2)
    result = json.loads(cli("--id", target, "-k", "50", "--min-score", str(floor), "--json").output)
    assert [hit["id"] for hit in result["results"]] == [hit["id"] for hit in few]
    assert cli("--id", target, "--min-score", "1.5").exit_code == 2


# --- snippets ------------------------------------------------------------------------------


def test_a_snippet_is_the_abstracts_start_cut_at_a_word(atlas) -> None:
    long = next(p for p in atlas.corpus if len(p.abstract) > 400)
    cut = snippet(long.abstract)
    assert len(cut) <= SNIPPET_CHARS and cut.endswith("…") and len(cut) > SNIPPET_CHARS - 40
    flat = " ".join(long.abstract.split())
    assert flat.startswith(cut[:-1]) and flat[len(cut) - 1] in " ,;:.)"  # a whole word before the '…'
    short = "A short abstract."
    assert snippet(short) == short
    hits = find_similar_papers(atlas, "reward hacking", k=5)
    for hit in hits:
        assert hit["snippet"] == snippet(atlas.corpus.get(hit["id"]).abstract)


def test_snippets_in_the_table_and_the_json(cli, atlas) -> None:
    target = paper_id(atlas, DTS)
    plain = cli("--id", target, "-k", "3", columns=100).output.splitlines()
    assert len(plain) == 5  # the heading line, the header and three rows
    shown = cli("--id", target, "-k", "3", "--snippets", columns=100).output.splitlines()
    hits = find_similar_papers(atlas, target, k=3)
    indented = [line for line in shown if line.startswith("    ")]
    assert len(indented) > 3 and all(len(line) <= 100 for line in shown)
    assert " ".join(line.strip() for line in indented).startswith(hits[0]["snippet"][:40])
    machine = json.loads(cli("--id", target, "-k", "3", "--json").output)
    assert [hit["snippet"] for hit in machine["results"]] == [hit["snippet"] for hit in hits]


# --- messages ------------------------------------------------------------------------------


def test_a_query_or_ids_each_have_their_message(cli, atlas) -> None:
    neither = cli()
    assert neither.exit_code == 2 and "give a QUERY or one or more --id" in neither.output
    assert "not both" not in neither.output
    both = cli("reward", "--id", paper_id(atlas, DTS))
    assert both.exit_code == 2 and "give a QUERY or --id papers, not both" in both.output


def _raised_messages() -> list[tuple[str, int, str]]:
    """The text of every exception raised in the package (string parts joined)."""
    found = []
    for path in (REPO / "paperatlas").rglob("*.py"):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Raise) and node.exc is not None:
                text = " ".join(str(n.value) for n in ast.walk(node.exc)
                                if isinstance(n, ast.Constant) and isinstance(n.value, str))
                found.append((path.name, node.lineno, text))
    return found


def test_no_error_tells_a_cli_user_to_call_python() -> None:
    messages = _raised_messages()
    assert any("fit topics first" in text for _, _, text in messages)
    offenders = [(name, line, text) for name, line, text in messages
                 if re.search(r"\bcall \w+|\(Python:|or pass an embedder", text)]
    assert offenders == []


def test_no_topics_says_how_to_fit_them_from_the_cli(atlas) -> None:
    from paperatlas.errors import PaperatlasError

    bare = Atlas(atlas.corpus, atlas.embeddings, atlas.index, atlas.model, None, atlas.search_state)
    with pytest.raises(PaperatlasError, match=r"fit topics first \(paperatlas build without --no-topics\)$"):
        bare.require_topics()


# --- the tool schema ------------------------------------------------------------------------


def test_every_tool_parameter_has_a_plain_description() -> None:
    from paperatlas.tool import TOOL_NAMES, tool_definitions

    definitions = tool_definitions("anthropic")
    assert [d["name"] for d in definitions] == list(TOOL_NAMES)
    for definition in definitions:
        assert definition["description"] and "`" not in definition["description"]
        for name, schema in definition["input_schema"]["properties"].items():
            text = schema.get("description", "")
            assert text.strip(), (definition["name"], name)
            assert "`" not in text and ":class:" not in text and ":func:" not in text, (definition["name"], name, text)


def test_min_score_is_in_the_schema_and_the_tool_result_carries_the_note(atlas) -> None:
    from paperatlas.tool import dispatch, tool_schema

    schema = tool_schema("find_similar_papers")["parameters"]["properties"]["min_score"]
    assert schema["type"] == "number" and schema["minimum"] == -1 and schema["maximum"] == 1
    answer = json.loads(dispatch(atlas, "find_similar_papers", {"query": "diffusion guidance", "k": 30, "topic": 1}))
    assert answer["result"]["note"] == "12 of 30 requested passed the filters"
    assert all(hit["snippet"] for hit in answer["result"]["results"])
    bad = json.loads(dispatch(atlas, "find_similar_papers", {"query": "x", "min_score": 3}))
    assert "min_score" in bad["error"]
    unknown = json.loads(dispatch(atlas, "find_similar_papers", {"query": "x", "topic": "reward modelling"}))
    assert "'reward modeling' (topic 0, layer 0)" in unknown["error"]


def test_serve_takes_a_score_floor_and_passes_the_note(atlas) -> None:
    from paperatlas.serve import ApiError, AtlasApi

    api = AtlasApi(atlas)
    target = paper_id(atlas, DTS)
    floor = find_similar_papers(atlas, target, k=5, mode="dense")[-1]["score"]
    body = api.similar({"id": target, "k": "40", "min_score": str(floor)})
    assert all(hit["score"] >= floor for hit in body["results"]) and len(body["results"]) < 40
    assert body["note"] == f"{len(body['results'])} of 40 requested passed the filters"
    with pytest.raises(ApiError, match="min_score"):
        api.similar({"q": "reward", "min_score": "high"})


def test_a_k_beyond_the_atlas_says_so_without_blaming_filters(atlas) -> None:
    every = find_similar_papers(atlas, "reward hacking", k=len(atlas) + 5)
    assert len(every) == len(atlas) and every.note == f"{len(atlas)} of {len(atlas) + 5} requested are in the atlas"
    others = find_similar_papers(atlas, paper_id(atlas, DTS), k=len(atlas))
    assert others.note == f"{len(atlas) - 1} of {len(atlas)} requested are in the atlas besides the query papers"
