"""Limits on what a tool call or a ``serve`` request may carry (paperatlas.limits), short echoes of
user input in errors, and cheap calls that do not wait behind a slow text query (MCP and serve)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from paperatlas.embed import FakeEmbedder
from paperatlas.errors import PaperatlasError
from paperatlas.limits import (
    MAX_ARGUMENT_BYTES,
    MAX_ID_CHARS,
    MAX_IDS,
    MAX_K,
    MAX_QUERY_CHARS,
)
from paperatlas.tool import validate_arguments
from tests.server_load import cheap_calls, http_get, http_load, mcp_load

pytest.importorskip("mcp", reason="the MCP server needs the optional 'mcp' extra")
pytest.importorskip("starlette", reason="paperatlas serve needs the 'serve' extra")

HUGE_ID = "x" * 2_000_000
OVERSIZE = [
    ("find_similar_papers", {"query": "t" * (MAX_QUERY_CHARS + 1)}, "at most 10,000"),
    ("find_similar_papers", {"query": "t" * 3_000_000}, "bytes"),  # over 1 MB of JSON: refused first
    ("find_similar_papers", {"query": [f"p{i}" for i in range(MAX_IDS + 1)]}, "at most 100"),
    ("find_similar_papers", {"query": "a" * (MAX_ID_CHARS + 1), "by": "id"}, "at most 200"),
    ("find_similar_papers", {"query": "transformers", "negative": ["n" * 300]}, "at most 200"),
    ("find_similar_papers", {"query": "transformers", "k": MAX_K + 1}, "at most 1,000"),
    ("list_topic_papers", {"topic": "t" * 300}, "at most 200"),
    ("list_topic_papers", {"topic": 0, "limit": 5_000}, "at most 1,000"),
    ("get_paper", {"paper_id": HUGE_ID[:500_000]}, "at most 200"),
]


@pytest.mark.parametrize(("name", "arguments", "expected"), OVERSIZE)
def test_oversize_arguments_are_refused_with_a_short_message(name: str, arguments: dict, expected: str) -> None:
    with pytest.raises(PaperatlasError, match=expected) as refused:
        validate_arguments(name, arguments)
    assert len(str(refused.value)) < 300


def test_argument_json_text_over_a_megabyte_is_refused_before_parsing() -> None:
    with pytest.raises(PaperatlasError, match="1,000,000 bytes"):
        validate_arguments("find_similar_papers", '{"query": "' + "t" * MAX_ARGUMENT_BYTES + '"}')
    nested = {"query": "t", "negative": [[[[[[[[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]]]]]]]}
    with pytest.raises(PaperatlasError, match="nest"):
        validate_arguments("find_similar_papers", nested)


def test_echoes_of_user_input_are_cut(keyword_atlas) -> None:
    from paperatlas.tool import call_tool

    with pytest.raises(PaperatlasError) as unknown_tool:
        call_tool(keyword_atlas, "t" * 100_000, {})
    assert "unknown tool" in str(unknown_tool.value) and len(str(unknown_tool.value)) < 300
    with pytest.raises(PaperatlasError) as unknown_id:
        call_tool(keyword_atlas, "get_paper", {"paper_id": "z" * MAX_ID_CHARS})
    assert "unknown paper id" in str(unknown_id.value) and len(str(unknown_id.value)) < 200
    with pytest.raises(PaperatlasError) as bad_type:
        call_tool(keyword_atlas, "find_similar_papers", {"query": "t", "k": "9" * 100_000})
    assert str(bad_type.value).startswith("invalid arguments for find_similar_papers: k:")
    assert len(str(bad_type.value)) < 300


# --- MCP over stdio (the SDK's client) -------------------------------------------------------


def test_oversize_calls_are_refused_over_mcp_and_the_server_keeps_serving(keyword_atlas_path: Path,
                                                                          tmp_path: Path) -> None:
    from tests.test_mcp_server import error_text, payload, run_session

    async def body(client: Any) -> list:
        answers = []
        for name, arguments, _ in OVERSIZE:
            answers.append(await client.call_tool(name, arguments))
        answers.append(await client.call_tool("get_paper", {"paper_id": "unknown-" + "q" * 150}))
        answers.append(await client.call_tool("n" * 1_000_000, {}))
        answers.append(await client.call_tool("list_topics", {}))
        return answers

    answers = run_session(keyword_atlas_path, tmp_path, body)
    for (name, arguments, expected), answer in zip(OVERSIZE, answers):
        text = error_text(answer)
        assert expected in text and len(text) < 300, (name, text[:300])
    assert "unknown paper id" in error_text(answers[-3]) and len(error_text(answers[-3])) < 200
    assert "unknown tool" in error_text(answers[-2]) and len(error_text(answers[-2])) < 300
    assert payload(answers[-1])  # still serving


class SlowEmbedder(FakeEmbedder):
    """The FakeEmbedder, taking ``delay`` seconds per call: a slow text query."""

    delay = 1.5

    def encode(self, texts, *, show_progress_bar: bool = False):
        time.sleep(self.delay)
        return super().encode(texts, show_progress_bar=show_progress_bar)


@pytest.fixture()
def slow_atlas(keyword_atlas_path: Path):
    from paperatlas.atlas import Atlas

    return Atlas.load(keyword_atlas_path, embedder=SlowEmbedder())


def test_cheap_mcp_calls_do_not_wait_behind_a_slow_text_query(slow_atlas) -> None:
    from mcp import Client

    from paperatlas.mcp_server import build_server

    paper = slow_atlas.corpus[0].id

    async def main() -> tuple[list[float], float, bool]:
        async with Client(build_server(slow_atlas), read_timeout_seconds=60) as client:
            slow = asyncio.create_task(client.call_tool("find_similar_papers",
                                                        {"query": "a slow query", "k": 3, "by": "text"}))
            await asyncio.sleep(0.2)  # the slow call is embedding
            waits = []
            for call in (("get_paper", {"paper_id": paper}), ("find_similar_papers", {"query": paper, "k": 5}),
                         ("list_topics", {})):
                start = time.perf_counter()
                result = await client.call_tool(*call)
                assert not result.is_error, result.content
                waits.append(time.perf_counter() - start)
            still_running = not slow.done()
            assert not (await slow).is_error
            return waits, max(waits), still_running

    waits, longest, still_running = asyncio.run(asyncio.wait_for(main(), 60))
    assert still_running and longest < 1.0, waits


def test_mcp_load_200_calls_20_in_flight_beside_slow_queries(keyword_atlas_path: Path, keyword_atlas,
                                                             tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ids = [keyword_atlas.corpus[i].id for i in range(len(keyword_atlas))]
    report = mcp_load(keyword_atlas_path, cheap_calls(ids, 200, True), 20, slow=1, log=tmp_path / "mcp.log")
    assert report.errors == [] and report.slow_errors == 0 and len(report.latencies_ms) == 200
    assert report.wall_s < 30 and report.slow_calls >= 1
    with capsys.disabled():
        print("\n" + report.line("MCP load test"))


# --- serve over HTTP -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _serving(atlas_path: Path, embedder: Any):
    """``serve`` on 127.0.0.1 over a fresh load of the atlas at ``atlas_path`` with ``embedder``."""
    import uvicorn

    from paperatlas.atlas import Atlas
    from paperatlas.serve import SERVER_OPTIONS, create_app

    atlas = Atlas.load(atlas_path, embedder=embedder)
    port = _free_port()
    instance = uvicorn.Server(uvicorn.Config(create_app(atlas), host="127.0.0.1", port=port, log_level="warning",
                                             **SERVER_OPTIONS))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not instance.started and time.time() < deadline:
        time.sleep(0.05)
    assert instance.started
    try:
        yield f"http://127.0.0.1:{port}", atlas
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


@pytest.fixture()
def serve_url(keyword_atlas_path: Path):
    with _serving(keyword_atlas_path, FakeEmbedder()) as served:
        yield served


@pytest.fixture()
def slow_serve_url(keyword_atlas_path: Path):
    with _serving(keyword_atlas_path, SlowEmbedder()) as served:
        yield served


def test_oversize_requests_are_refused_by_serve(serve_url) -> None:
    url, atlas = serve_url
    paper = atlas.corpus[0].id
    cases = [
        ("/api/similar?" + urllib.parse.urlencode({"q": "t" * (MAX_QUERY_CHARS + 1)}), 400, "q", "at most 10,000"),
        ("/api/similar?" + urllib.parse.urlencode({"id": "i" * (MAX_ID_CHARS + 1)}), 400, "id", "at most 200"),
        ("/api/paper/" + "i" * 5_000, 400, "id", "at most 200"),
        ("/api/paper/unknown-" + "u" * 150, 404, "id", "unknown paper id"),
        ("/api/similar?id=" + paper + "&k=100000", 400, "k", "from 1 to 200"),
    ]
    for path, status, parameter, expected in cases:
        got, body = http_get(url + path)
        assert got == status and body["parameter"] == parameter and expected in body["error"], (path[:80], body)
        assert len(body["error"]) < 300
    wide = "\u7814\u7a76" * 4_000  # 8,000 characters, 72,000 once URL-encoded: answered like any query
    assert http_get(url + "/api/similar?" + urllib.parse.urlencode({"q": wide, "k": 3}))[0] == 200
    got, body = http_get(url + "/api/similar?q=" + "t" * (MAX_ARGUMENT_BYTES + 10))
    assert got == 414 and "1,000,000" in body["error"]
    assert http_get(url + f"/api/paper/{paper}")[0] == 200  # still serving


def test_cheap_serve_requests_do_not_wait_behind_a_slow_text_query(slow_serve_url) -> None:
    url, atlas = slow_serve_url
    paper = atlas.corpus[0].id
    slow = threading.Thread(target=http_get, args=(url + "/api/similar?q=a+slow+query&k=3",))
    slow.start()
    time.sleep(0.2)
    waits = []
    for path in (f"/api/paper/{paper}", f"/api/similar?id={paper}&k=5", "/api/topics?layer=0"):
        start = time.perf_counter()
        assert http_get(url + path)[0] == 200
        waits.append(time.perf_counter() - start)
    still_running = slow.is_alive()
    slow.join(timeout=30)
    assert still_running and max(waits) < 1.0, waits


def test_serve_load_200_calls_20_in_flight_beside_slow_queries(serve_url, capsys: pytest.CaptureFixture) -> None:
    url, atlas = serve_url
    ids = [atlas.corpus[i].id for i in range(len(atlas))]
    report = http_load(url, cheap_calls(ids, 200, True), 20, slow=1)
    assert report.errors == [] and report.slow_errors == 0 and len(report.latencies_ms) == 200
    assert report.wall_s < 30 and report.slow_calls >= 1
    with capsys.disabled():
        print("\n" + report.line("serve load test"))
