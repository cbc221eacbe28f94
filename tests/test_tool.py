from __future__ import annotations

import inspect
import json

import jsonschema
import pytest

from paperatlas.atlas import Atlas
from paperatlas.embed import FakeEmbedder
from paperatlas.search import find_similar_papers
from paperatlas.tool import (
    TOOL_NAMES,
    ToolArgumentError,
    dispatch,
    tool_definitions,
    tool_schema,
    validate_arguments,
)


@pytest.fixture(scope="module")
def atlas(bundled_corpus):
    return Atlas.build(bundled_corpus, FakeEmbedder(), cache=None)


def test_schema_is_derived_from_the_function_signature():
    schema = tool_schema("find_similar_papers")
    parameters = list(inspect.signature(find_similar_papers).parameters)[1:]
    assert list(schema["parameters"]["properties"]) == parameters
    assert schema["parameters"]["required"] == ["query"]
    assert schema["parameters"]["properties"]["k"]["default"] == 10
    assert schema["parameters"]["properties"]["by"]["enum"] == ["auto", "text", "id", "title"]
    assert "negative" in schema["parameters"]["properties"]
    jsonschema.Draft202012Validator.check_schema(schema["parameters"])


def test_openai_and_anthropic_shapes():
    openai = tool_definitions("openai")
    anthropic = tool_definitions("anthropic")
    assert [t["function"]["name"] for t in openai] == list(TOOL_NAMES)
    assert [t["name"] for t in anthropic] == list(TOOL_NAMES)
    assert openai[0]["type"] == "function" and "parameters" in openai[0]["function"]
    assert anthropic[0]["input_schema"] == openai[0]["function"]["parameters"]
    with pytest.raises(ValueError):
        tool_definitions("cobol")


@pytest.mark.parametrize(
    "arguments",
    [
        {"query": "reward models"},
        {"query": ["a", "b"], "k": 3, "negative": ["c"]},
        {"query": "x", "date_from": "2025-01-01", "topic": "reward modeling", "exclude_query": True},
        '{"query": "json text", "k": 2}',
    ],
)
def test_good_arguments_validate(arguments):
    assert "query" in validate_arguments("find_similar_papers", arguments)


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        ({}, "'query' is a required property"),
        ({"query": ""}, "should be non-empty"),
        ({"query": "x", "k": 0}, "less than the minimum of 1"),
        ({"query": "x", "k": "ten"}, "is not of type 'integer'"),
        ({"query": "x", "colour": "red"}, "Additional properties"),
        ({"query": "x", "date_from": "May 2025"}, "does not match"),
        ({"query": []}, "should be non-empty"),
        ("{broken", "not valid JSON"),
    ],
)
def test_bad_arguments_are_rejected(arguments, fragment):
    with pytest.raises(ToolArgumentError, match=fragment):
        validate_arguments("find_similar_papers", arguments)


def test_dispatch_returns_json_results_and_errors(atlas):
    answer = json.loads(dispatch(atlas, "find_similar_papers", {"query": "reward hacking", "k": 3}))
    hits = answer["result"]["results"]
    assert len(hits) == 3 and {"id", "title", "score", "why", "snippet"} <= hits[0].keys()
    direct = find_similar_papers(atlas, "reward hacking", 3)
    assert answer["result"] == json.loads(json.dumps(direct.to_json()))
    assert answer["result"]["requested"] == 3 and answer["result"]["note"] is None
    paper = json.loads(dispatch(atlas, "get_paper", {"paper_id": atlas.corpus.ids[0]}))["result"]
    assert paper["abstract"] == atlas.corpus[0].abstract
    assert json.loads(dispatch(atlas, "get_paper", {"paper_id": "ghost"})) == {"error": "unknown paper id 'ghost'"}
    assert "error" in json.loads(dispatch(atlas, "find_similar_papers", {"query": "x", "k": 0}))
    assert "unknown tool" in json.loads(dispatch(atlas, "delete_everything", {}))["error"]


def test_get_paper_by_an_alias_returns_the_paper_and_its_aliases(tmp_path):
    from paperatlas.tool import get_paper
    from tests.alias_fixtures import aliased_atlas

    aliased = aliased_atlas(tmp_path)
    paper = get_paper(aliased, "dup-3")
    assert paper["id"] == "p3" and paper["aliases"] == ["dup-3"]
    assert paper == get_paper(aliased, "p3")
    assert get_paper(aliased, "p0")["aliases"] == []
    answer = json.loads(dispatch(aliased, "get_paper", {"paper_id": "dup-7"}))["result"]
    assert answer["id"] == "p7" and answer["aliases"] == ["dup-7"]
    hits = json.loads(dispatch(aliased, "find_similar_papers", {"query": "dup-7", "k": 3, "by": "id"}))["result"]["results"]
    assert [h["id"] for h in hits] == [h["id"] for h in find_similar_papers(aliased, "p7", 3)]
