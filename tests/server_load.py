"""A loopback load driver for the MCP server (official SDK client over stdio) and ``paperatlas serve``
(HTTP): many cheap calls with a fixed number in flight, while slow calls (the largest text query the
limits allow) run back to back beside them. Used by tests/test_server_limits.py and
benchmarks/bench_servers.py."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SLOW_TEXT = ("diffusion models steer image generation with reward guidance and language models reason "
             "step by step over long contexts ") * 90  # some 9,900 characters: the longest a query may be
SLOW_ARGUMENTS = {"query": SLOW_TEXT[:10_000], "k": 1_000, "by": "text"}


@dataclass
class LoadReport:
    """Cheap calls made, errors among them (first few shown), latencies in ms, and the slow calls run."""

    calls: int
    in_flight: int
    errors: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    slow_calls: int = 0
    slow_errors: int = 0
    wall_s: float = 0.0

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)

    @property
    def p99(self) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[max(0, round(0.99 * len(ordered)) - 1)]

    def line(self, name: str) -> str:
        return (f"{name}: {self.calls:,} calls, {self.in_flight} in flight, {self.slow_calls} slow text queries "
                f"beside them; errors {len(self.errors)}; p50 {self.p50:.0f} ms, p99 {self.p99:.0f} ms; "
                f"{self.wall_s:.1f} s")


def cheap_calls(ids: list[str], n: int, with_topics: bool) -> list[tuple[str, dict[str, Any]]]:
    """``n`` tool calls that embed nothing: similar by id and by ids, get_paper, list_topics."""
    calls = []
    for i in range(n):
        paper = ids[(i * 7) % len(ids)]
        kind = i % 10
        if kind < 5:
            calls.append(("find_similar_papers", {"query": paper, "k": 10}))
        elif kind < 6:
            calls.append(("find_similar_papers", {"query": [paper, ids[(i * 11) % len(ids)]], "k": 5, "by": "id"}))
        elif kind < 9 or not with_topics:
            calls.append(("get_paper", {"paper_id": paper}))
        else:
            calls.append(("list_topics", {"layer": 0}))
    return calls


def http_path(name: str, arguments: dict[str, Any]) -> str:
    """The ``serve`` API path of a tool call."""
    if name == "get_paper":
        return "/api/paper/" + urllib.parse.quote(arguments["paper_id"], safe="")
    if name == "list_topics":
        return f"/api/topics?layer={arguments.get('layer', 0)}"
    query = arguments["query"]
    key = "q" if arguments.get("by") == "text" else "id"
    if isinstance(query, list):
        query = query[0]
    return "/api/similar?" + urllib.parse.urlencode({key: query, "k": min(arguments.get("k", 10), 200)})


def server_env(fake: bool) -> dict[str, str]:
    """The environment of a server subprocess: this repo importable, the test embedder when ``fake``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    if fake:
        env["PAPERATLAS_FAKE_EMBEDDER"] = "1"
    else:
        env.pop("PAPERATLAS_FAKE_EMBEDDER", None)
    return env


async def _mcp_load(atlas: Path, calls: list, in_flight: int, slow: int, fake: bool, errlog: Any) -> LoadReport:
    from mcp import Client, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "paperatlas", "mcp", str(atlas)],
                                   env=server_env(fake), cwd=str(REPO))
    report = LoadReport(len(calls), in_flight)
    async with Client(stdio_client(params, errlog=errlog), read_timeout_seconds=120) as client:
        warm = await client.call_tool("find_similar_papers", {"query": "warm up", "k": 1, "by": "text"})
        if warm.is_error:
            raise RuntimeError(f"the server cannot answer a text query: {warm.content[0].text}")
        done = asyncio.Event()

        async def slow_loop() -> None:
            while not done.is_set():
                result = await client.call_tool("find_similar_papers", SLOW_ARGUMENTS)
                report.slow_calls += 1
                report.slow_errors += bool(result.is_error)

        gate = asyncio.Semaphore(in_flight)

        async def one(name: str, arguments: dict[str, Any]) -> None:
            async with gate:
                start = time.perf_counter()
                try:
                    result = await client.call_tool(name, arguments)
                    if result.is_error:
                        report.errors.append(result.content[0].text[:200])
                    else:
                        json.loads(result.content[0].text)
                except Exception as error:  # noqa: BLE001 - counted, shown
                    report.errors.append(f"{type(error).__name__}: {error}"[:200])
                report.latencies_ms.append((time.perf_counter() - start) * 1000)

        slow_tasks = [asyncio.create_task(slow_loop()) for _ in range(slow)]
        await asyncio.sleep(0.2 if slow else 0)  # the slow calls are running first
        start = time.perf_counter()
        await asyncio.gather(*(one(name, arguments) for name, arguments in calls))
        report.wall_s = time.perf_counter() - start
        done.set()
        await asyncio.gather(*slow_tasks)
    return report


def mcp_load(atlas: Path, calls: list, in_flight: int, *, slow: int = 1, fake: bool = True,
             log: Path | None = None) -> LoadReport:
    """Run ``calls`` against ``paperatlas mcp ATLAS`` (a subprocess, the SDK's stdio client)."""
    with open(log or os.devnull, "w") as errlog:
        return asyncio.run(_mcp_load(atlas, calls, in_flight, slow, fake, errlog))


def http_get(url: str, timeout: float = 120) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def http_load(base_url: str, calls: list, in_flight: int, *, slow: int = 1) -> LoadReport:
    """Run ``calls`` as ``serve`` API requests against ``base_url``, ``in_flight`` at a time."""
    report = LoadReport(len(calls), in_flight)
    status, body = http_get(base_url + http_path("find_similar_papers", {"query": "warm up", "by": "text"}))
    if status != 200:
        raise RuntimeError(f"the server cannot answer a text query: {body}")
    done = threading.Event()
    slow_path = base_url + http_path("find_similar_papers", SLOW_ARGUMENTS)

    def slow_loop() -> None:
        while not done.is_set():
            status, _ = http_get(slow_path)
            report.slow_calls += 1
            report.slow_errors += status != 200

    def one(call: tuple[str, dict[str, Any]]) -> None:
        start = time.perf_counter()
        try:
            status, body = http_get(base_url + http_path(*call))
            if status != 200:
                report.errors.append(f"{status} {body}"[:200])
        except Exception as error:  # noqa: BLE001 - counted, shown
            report.errors.append(f"{type(error).__name__}: {error}"[:200])
        report.latencies_ms.append((time.perf_counter() - start) * 1000)

    slow_threads = [threading.Thread(target=slow_loop, daemon=True) for _ in range(slow)]
    for thread in slow_threads:
        thread.start()
    time.sleep(0.2 if slow else 0)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        list(pool.map(one, calls))
    report.wall_s = time.perf_counter() - start
    done.set()
    for thread in slow_threads:
        thread.join(timeout=120)
    return report
