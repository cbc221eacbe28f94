"""The MCP server, end to end: `paperatlas mcp ATLAS` as a subprocess, driven by the SDK's own stdio client.

The atlas is built with the FakeEmbedder and the server runs with
PAPERATLAS_FAKE_EMBEDDER=1, so no real model is loaded.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

pytest.importorskip("mcp", reason="the MCP server needs the optional 'mcp' extra (pip install 'paperatlas[mcp]')")

from mcp import Client, StdioServerParameters, stdio_client  # noqa: E402

from paperatlas.errors import PaperatlasError  # noqa: E402
from paperatlas.search import RESULT_FIELDS  # noqa: E402
from paperatlas.tool import TOOL_NAMES, tool_schema  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PAPER_FIELDS = {"id", "title", "abstract", "date", "url", "byline", "upvotes", "topic_id", "topic", "metadata"}
TIMEOUT = 60  # seconds for one whole session; the suite's sessions take a few seconds each


@pytest.fixture(scope="module")
def atlas_dir(tmp_path_factory: pytest.TempPathFactory, bundled_corpus) -> Path:
    from paperatlas.atlas import Atlas
    from paperatlas.embed import FakeEmbedder

    atlas = Atlas.build(bundled_corpus, FakeEmbedder(), cache=None)
    assert atlas.model.id == "fake-hashing-384"
    path = tmp_path_factory.mktemp("mcp") / "atlas"
    atlas.save(path)
    return path


@pytest.fixture(scope="module")
def paper_ids(bundled_corpus) -> list[str]:
    return [paper.id for paper in bundled_corpus]


def _server_env() -> dict[str, str]:
    python_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {"PAPERATLAS_FAKE_EMBEDDER": "1", "PYTHONPATH": python_path}
    if "PAPERATLAS_CACHE_DIR" in os.environ:
        env["PAPERATLAS_CACHE_DIR"] = os.environ["PAPERATLAS_CACHE_DIR"]
    return env


def run_session(atlas_dir: Path, tmp_path: Path, body: Callable[[Client], Awaitable[Any]]) -> Any:
    """Spawn the server, connect the SDK client over stdio, run ``body(client)``, shut down.

    Also checks that every line the server wrote to stdout was a protocol message.
    """
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "paperatlas", "mcp", str(atlas_dir)],
        env=_server_env(),
        cwd=str(REPO),
    )
    transport_errors: list[Exception] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, Exception):  # e.g. a stdout line that is not JSON-RPC
            transport_errors.append(message)

    async def main() -> Any:
        with open(tmp_path / "server-stderr.log", "w") as errlog:
            transport = stdio_client(params, errlog=errlog)
            async with Client(transport, message_handler=on_message, read_timeout_seconds=30) as client:
                return await body(client)

    try:
        result = asyncio.run(asyncio.wait_for(main(), TIMEOUT))
    except BaseException:
        sys.stderr.write((tmp_path / "server-stderr.log").read_text())
        raise
    assert transport_errors == []
    return result


def payload(result: Any) -> Any:
    """The JSON value of a successful tool result (text content; structured content agrees)."""
    assert not result.is_error, result.content
    assert len(result.content) == 1 and result.content[0].type == "text"
    value = json.loads(result.content[0].text)
    if result.structured_content is not None:
        assert result.structured_content == {"result": value}
    return value


def error_text(result: Any) -> str:
    assert result.is_error, f"expected a tool error, got {result.content}"
    return result.content[0].text


def hits_of(value: Any) -> list:
    """The hits of a find_similar_papers result (a record with query, requested, returned, note, results)."""
    assert {"query", "requested", "returned", "note", "results"} <= set(value)
    assert value["returned"] == len(value["results"])
    return value["results"]


def check_hits(hits: Any, k: int) -> None:
    assert isinstance(hits, list) and len(hits) == k
    for hit in hits:
        assert set(RESULT_FIELDS) <= set(hit)
        assert isinstance(hit["id"], str) and isinstance(hit["title"], str)
        assert -1.0 <= hit["score"] <= 1.0  # cosine similarity; the order is the hybrid ranking's


def test_lists_the_three_tools_with_the_library_schemas(atlas_dir: Path, tmp_path: Path) -> None:
    async def body(client: Client):
        return (await client.list_tools()).tools, client.server_info

    tools, info = run_session(atlas_dir, tmp_path, body)
    assert info is not None and info.name == "paperatlas"
    assert [tool.name for tool in tools] == list(TOOL_NAMES)
    for tool in tools:
        schema = tool_schema(tool.name)
        assert tool.description == schema["description"]
        assert tool.input_schema == schema["parameters"]
        assert tool.annotations is not None and tool.annotations.read_only_hint is True


def test_each_tool_answers_with_json(atlas_dir: Path, tmp_path: Path, paper_ids: list[str]) -> None:
    from paperatlas.atlas import Atlas

    first, second, third = paper_ids[:3]

    async def body(client: Client):
        return {
            "text": await client.call_tool("find_similar_papers",
                                           {"query": "language models that reason step by step", "k": 5}),
            "id": await client.call_tool("find_similar_papers", {"query": first, "k": 4}),
            "ids": await client.call_tool("find_similar_papers", {"query": [first, second], "k": 3, "by": "id",
                                                                  "negative": [third]}),
            "paper": await client.call_tool("get_paper", {"paper_id": second}),
            "topics": await client.call_tool("list_topics", {}),
        }

    results = run_session(atlas_dir, tmp_path, body)
    check_hits(hits_of(payload(results["text"])), 5)

    by_id = hits_of(payload(results["id"]))
    check_hits(by_id, 4)
    assert first not in {hit["id"] for hit in by_id}  # an id query leaves its own paper out

    by_ids = hits_of(payload(results["ids"]))
    check_hits(by_ids, 3)
    assert not {first, second, third} & {hit["id"] for hit in by_ids}

    paper = payload(results["paper"])
    assert PAPER_FIELDS <= set(paper)
    assert paper["id"] == second and paper["abstract"]

    if Atlas.load(atlas_dir).topics is None:
        assert "no topics" in error_text(results["topics"])
    else:  # once atlases carry topics
        topics = payload(results["topics"])
        assert isinstance(topics, list) and topics


BAD_CALLS = [
    ("find_similar_papers", {"query": "transformers", "k": 0}, "minimum"),
    ("find_similar_papers", {"query": "transformers", "colour": "blue"}, "colour"),
    ("find_similar_papers", {"query": ""}, "query"),
    ("find_similar_papers", {"query": []}, "query"),
    ("find_similar_papers", {"k": 3}, "query"),
    ("find_similar_papers", {"query": "transformers", "k": "3"}, "k"),
    ("find_similar_papers", {"query": "no-such-paper", "by": "id"}, "no-such-paper"),
    ("find_similar_papers", {"query": ["no-such-paper"]}, "no-such-paper"),
    ("get_paper", {"paper_id": "no-such-paper"}, "no-such-paper"),
    ("get_paper", {}, "paper_id"),
    ("list_topics", {"layer": -1}, "layer"),
    ("no_such_tool", {}, "unknown tool"),
]


def test_bad_arguments_are_tool_errors_and_the_server_keeps_serving(
    atlas_dir: Path, tmp_path: Path, paper_ids: list[str]
) -> None:
    async def body(client: Client):
        answers = []
        for name, arguments, _ in BAD_CALLS:
            bad = await client.call_tool(name, arguments)
            good = await client.call_tool("get_paper", {"paper_id": paper_ids[0]})
            answers.append((bad, good))
        return answers

    answers = run_session(atlas_dir, tmp_path, body)
    for (name, arguments, expected), (bad, good) in zip(BAD_CALLS, answers):
        assert expected in error_text(bad), (name, arguments)
        assert payload(good)["id"] == paper_ids[0]


def test_two_hundred_calls_in_a_row(atlas_dir: Path, tmp_path: Path, paper_ids: list[str]) -> None:
    async def body(client: Client):
        results = []
        for i in range(200):
            paper_id = paper_ids[i % len(paper_ids)]
            if i % 2:
                results.append(await client.call_tool("get_paper", {"paper_id": paper_id}))
            else:
                results.append(await client.call_tool("find_similar_papers", {"query": paper_id, "k": 3}))
        return results

    results = run_session(atlas_dir, tmp_path, body)
    assert len(results) == 200
    for result in results:
        assert not result.is_error, result.content
        assert payload(result)


def test_a_bad_atlas_path_fails_before_serving_with_nothing_on_stdout(tmp_path: Path) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "paperatlas", "mcp", str(tmp_path / "missing")],
        capture_output=True, text=True, timeout=TIMEOUT, env={**os.environ, **_server_env()}, stdin=subprocess.DEVNULL,
    )
    assert process.returncode == 1
    assert process.stdout == ""
    assert process.stderr.startswith("error: ")


def test_help_leaves_out_the_test_only_switch() -> None:
    from click.testing import CliRunner

    from paperatlas.cli import main

    result = CliRunner().invoke(main, ["mcp", "--help"])
    assert result.exit_code == 0
    assert "MCP" in result.output
    assert "PAPERATLAS_FAKE_EMBEDDER" not in result.output


def test_missing_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from paperatlas import mcp_server

    for name in ("mcp", "mcp.server", "mcp.server.stdio", "mcp.types"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import mcp...` raise ImportError
    with pytest.raises(PaperatlasError, match=r"pip install 'paperatlas\[mcp\]'"):
        mcp_server.serve(tmp_path / "atlas")
    with pytest.raises(PaperatlasError, match="'mcp' extra"):
        mcp_server.build_server(object())


def test_an_alias_answers_like_its_paper_over_mcp(tmp_path: Path) -> None:
    from tests.alias_fixtures import aliased_atlas

    aliased_atlas(tmp_path).save(tmp_path / "aliased")

    async def body(client: Client):
        return {
            "paper": await client.call_tool("get_paper", {"paper_id": "dup-3"}),
            "by_alias": await client.call_tool("find_similar_papers", {"query": "dup-7", "k": 3, "by": "id"}),
            "by_id": await client.call_tool("find_similar_papers", {"query": "p7", "k": 3, "by": "id"}),
        }

    results = run_session(tmp_path / "aliased", tmp_path, body)
    paper = payload(results["paper"])
    assert paper["id"] == "p3" and paper["aliases"] == ["dup-3"]
    by_alias = hits_of(payload(results["by_alias"]))
    check_hits(by_alias, 3)
    assert by_alias == hits_of(payload(results["by_id"])) and "p7" not in {hit["id"] for hit in by_alias}
