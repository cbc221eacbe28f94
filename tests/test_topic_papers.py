"""The papers of a topic (library, `paperatlas papers`, MCP `list_topic_papers`) and the MCP
`topic_trends` tool; on the bundled corpus with the FakeEmbedder and hand-made keyword topics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from paperatlas.cli import main
from paperatlas.errors import PaperatlasError
from paperatlas.topic_papers import list_topic_papers


@pytest.fixture()
def atlas_dir(keyword_atlas_path) -> Path:
    return keyword_atlas_path


def test_papers_of_a_topic_closest_to_its_centre_first(keyword_atlas):
    report = list_topic_papers(keyword_atlas, "Reward Modeling")  # a name, any case
    assert (report["topic_id"], report["topic"], report["layer"]) == (0, "reward modeling", 0)
    rows = np.flatnonzero(keyword_atlas.topics.labels_at(0) == 0)
    assert report["size"] == report["returned"] == len(rows) == len(report["papers"])
    assert {p["id"] for p in report["papers"]} == {keyword_atlas.corpus.ids[r] for r in rows}
    vectors = np.asarray(keyword_atlas.embeddings[rows], dtype=np.float64)
    centre = vectors.mean(axis=0) / np.linalg.norm(vectors.mean(axis=0))
    expected = {keyword_atlas.corpus.ids[r]: float(v @ centre) for r, v in zip(rows, vectors)}
    closeness = [p["closeness"] for p in report["papers"]]
    assert closeness == sorted(closeness, reverse=True)
    for paper in report["papers"]:
        assert paper["closeness"] == pytest.approx(expected[paper["id"]], abs=1e-4)
        assert paper["title"] and len(paper["snippet"]) <= 300
    assert list_topic_papers(keyword_atlas, 0, limit=3)["papers"] == report["papers"][:3]
    assert list_topic_papers(keyword_atlas, "0")["papers"] == report["papers"]
    theme = list_topic_papers(keyword_atlas, "generative alignment", layer=1)
    assert theme["topic_id"] == 0 and theme["size"] == int(np.sum(keyword_atlas.topics.labels_at(1) == 0))


def test_public_name_is_lazy():
    import subprocess
    import sys

    code = ("import sys, paperatlas; lazy = 'paperatlas.topic_papers' not in sys.modules; "
            "from paperatlas import list_topic_papers; print(lazy, list_topic_papers.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "paperatlas.topic_papers"]


def test_unknown_topic_lists_close_names(keyword_atlas):
    close = r"no topic named 'reward modelling'.*'reward modeling' \(topic 0, layer 0\)"
    with pytest.raises(PaperatlasError, match=close):
        list_topic_papers(keyword_atlas, "reward modelling")
    with pytest.raises(PaperatlasError, match="no topic 7 at layer 0; topic ids there run from 0 to 2"):
        list_topic_papers(keyword_atlas, 7)
    with pytest.raises(PaperatlasError, match="limit must be"):
        list_topic_papers(keyword_atlas, 0, limit=0)


def test_papers_command_text_json_and_errors(atlas_dir, keyword_atlas):
    runner = CliRunner()
    result = runner.invoke(main, ["papers", str(atlas_dir), "--topic", "diffusion steering", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == list_topic_papers(keyword_atlas, 1)
    text = runner.invoke(main, ["papers", str(atlas_dir), "--topic", "1", "--limit", "4"], env={"COLUMNS": "72"})
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    size = int(np.sum(keyword_atlas.topics.labels_at(0) == 1))
    assert lines[0] == f"diffusion steering (topic 1, layer 0): 4 of {size} papers, closest to the topic's centre first"
    assert lines[1].split() == ["closeness", "id", "date", "title"]
    assert len(lines) == 6 and all(len(line) <= 72 for line in lines[1:])  # the table fits the width
    first = list_topic_papers(keyword_atlas, 1, limit=1)["papers"][0]
    assert first["id"] in lines[2] and f"{first['closeness']:.3f}" in lines[2]
    bad = runner.invoke(main, ["papers", str(atlas_dir), "--topic", "difusion steering"])
    assert bad.exit_code == 1
    assert bad.output.strip() == ("error: no topic named 'difusion steering' at layer 0; close names: "
                                  "'diffusion steering' (topic 1, layer 0)")


def test_tool_schemas_describe_every_parameter():
    from paperatlas.tool import TOOL_NAMES, tool_schema

    assert {"list_topic_papers", "topic_trends"} <= set(TOOL_NAMES)
    for name in ("list_topic_papers", "topic_trends"):
        schema = tool_schema(name)
        assert schema["description"] and "``" not in schema["description"]
        for parameter, spec in schema["parameters"]["properties"].items():
            text = spec["description"]
            assert text and "``" not in text and ":func:" not in text, parameter
    assert tool_schema("list_topic_papers")["parameters"]["required"] == ["topic"]
    assert tool_schema("list_topic_papers")["parameters"]["properties"]["limit"]["minimum"] == 1
    assert tool_schema("topic_trends")["parameters"]["required"] == []


def test_mcp_list_topic_papers_and_topic_trends_over_stdio(atlas_dir, keyword_atlas, tmp_path):
    pytest.importorskip("mcp", reason="the MCP server needs the optional 'mcp' extra")
    from tests.test_mcp_server import error_text, payload, run_session

    async def body(client):
        return {
            "tools": [tool.name for tool in (await client.list_tools()).tools],
            "papers": await client.call_tool("list_topic_papers", {"topic": "human values", "limit": 5}),
            "by_id": await client.call_tool("list_topic_papers", {"topic": 2, "limit": 5}),
            "trends": await client.call_tool("topic_trends", {}),
            "one": await client.call_tool("topic_trends", {"topic": "reward modeling"}),
            "unknown": await client.call_tool("list_topic_papers", {"topic": "human valeus"}),
            "zero": await client.call_tool("list_topic_papers", {"topic": 0, "limit": 0}),
            "missing": await client.call_tool("topic_trends", {"topic": 9}),
        }

    results = run_session(atlas_dir, tmp_path, body)
    assert {"list_topic_papers", "topic_trends"} <= set(results["tools"])
    papers = payload(results["papers"])
    assert papers == payload(results["by_id"]) == list_topic_papers(keyword_atlas, 2, limit=5)
    assert papers["topic"] == "human values" and papers["returned"] == 5

    trends = payload(results["trends"])
    assert trends["papers"] == len(keyword_atlas) and trends["undated"] == sum(
        d is None for d in keyword_atlas.corpus.column("date"))
    assert [t["topic_id"] for t in trends["topics"]] == [*keyword_atlas.topics.names_at(0), -1]
    one = payload(results["one"])
    assert [t["topic"] for t in one["topics"]] == ["reward modeling"]
    assert one["topics"][0]["papers"] == int(np.sum(keyword_atlas.topics.labels_at(0) == 0))
    assert one["topics"][0]["papers"] == one["topics"][0]["undated"] + sum(one["topics"][0]["by_month"].values())

    assert "close names: 'human values' (topic 2, layer 0)" in error_text(results["unknown"])
    assert "limit" in error_text(results["zero"])
    assert "no topic 9 at layer 0" in error_text(results["missing"])
