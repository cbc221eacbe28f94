"""find_similar_papers over MCP (stdio, the official SDK client): unknown topics and titles are
tool errors naming the close ones, the result says when fewer than k passed the filters, and
each hit carries a snippet; the listed schemas describe every parameter in plain words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("mcp", reason="the MCP server needs the optional 'mcp' extra (pip install 'paperatlas[mcp]')")

from paperatlas.search import SearchError, find_similar_papers  # noqa: E402
from tests.test_mcp_server import error_text, payload, run_session  # noqa: E402

DTS = "Diffusion Tree Sampling: Scalable inference-time alignment of diffusion models"


@pytest.fixture()
def topics_atlas(keyword_atlas):
    return keyword_atlas


@pytest.fixture()
def topics_atlas_dir(keyword_atlas_path) -> Path:
    return keyword_atlas_path


def library_error(atlas, **arguments) -> str:
    with pytest.raises(SearchError) as caught:
        find_similar_papers(atlas, **arguments)
    return str(caught.value)


def test_unknown_topics_and_titles_shortfalls_and_snippets_over_mcp(topics_atlas, topics_atlas_dir: Path,
                                                                   tmp_path: Path) -> None:
    calls = {
        "topic name": {"query": "reward hacking", "topic": "reward modelling"},
        "topic id": {"query": "reward hacking", "topic": 9},
        "title": {"query": "Diffusion Tree Sampler for image models", "by": "title"},
        "filtered": {"query": "diffusion guidance", "k": 30, "topic": "diffusion steering"},
        "floor": {"query": "diffusion guidance", "k": 5, "min_score": 0.99},
        "plain": {"query": "reward hacking", "k": 4},
    }

    async def body(client):
        listed = (await client.list_tools()).tools
        return listed, {name: await client.call_tool("find_similar_papers", arguments)
                        for name, arguments in calls.items()}

    listed, results = run_session(topics_atlas_dir, tmp_path, body)
    for tool in listed:
        for name, schema in tool.input_schema["properties"].items():
            assert schema.get("description", "").strip() and "`" not in schema["description"], (tool.name, name)

    for name in ("topic name", "topic id", "title"):  # tool errors with the library's own message
        assert error_text(results[name]) == library_error(topics_atlas, **calls[name])
    assert "'reward modeling' (topic 0, layer 0)" in error_text(results["topic name"])
    assert "run from 0 to 2" in error_text(results["topic id"])
    assert DTS in error_text(results["title"])

    filtered = payload(results["filtered"])
    assert filtered["note"] == "12 of 30 requested passed the filters"
    assert filtered["requested"] == 30 and filtered["returned"] == len(filtered["results"]) == 12
    assert {hit["topic"] for hit in filtered["results"]} == {"diffusion steering"}

    floor = payload(results["floor"])
    assert floor["results"] == [] and floor["note"] == "0 of 5 requested passed the filters"

    plain = payload(results["plain"])
    assert plain["note"] is None and len(plain["results"]) == 4
    expected = find_similar_papers(topics_atlas, "reward hacking", k=4)
    assert plain == json.loads(json.dumps(expected.to_json()))
    assert all(hit["snippet"] and len(hit["snippet"]) <= 300 for hit in plain["results"])
