"""`paperatlas serve`: the JSON API over real HTTP on 127.0.0.1, the page in Chromium against it, a load test.

The server runs in a thread (uvicorn) over the session's real-model atlas with
topics, so text queries go through the bundled model.
"""

from __future__ import annotations

import inspect
import json
import socket
import statistics
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

pytest.importorskip("starlette", reason="paperatlas serve needs the 'serve' extra (pip install 'paperatlas[serve]')")
pytest.importorskip("uvicorn", reason="paperatlas serve needs the 'serve' extra (pip install 'paperatlas[serve]')")

from tests.browser import OfflineBrowser, find_chromium  # noqa: E402


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(real_topics_atlas) -> Any:
    import uvicorn

    from paperatlas.serve import create_app

    app = create_app(real_topics_atlas)
    port = _free_port()
    instance = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not instance.started and time.time() < deadline:
        time.sleep(0.05)
    assert instance.started, "the server did not start"
    yield {"url": f"http://127.0.0.1:{port}", "atlas": real_topics_atlas}
    instance.should_exit = True
    thread.join(timeout=10)


def get(server: dict, path: str, method: str = "GET") -> tuple[int, Any, dict]:
    request = urllib.request.Request(server["url"] + path, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            body = response.read()
            return response.status, json.loads(body) if response.headers.get_content_type() == "application/json" else body.decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def test_similar_by_text_and_by_id(server: dict) -> None:
    atlas = server["atlas"]
    status, body, _ = get(server, "/api/similar?q=steering+diffusion+models+with+rewards&k=7")
    assert status == 200 and body["by"] == "text" and body["k"] == 7
    results = body["results"]
    assert len(results) == 7 and {"id", "title", "score", "topic", "why", "date"} <= set(results[0])
    assert body["mode"] == "hybrid"
    assert sum("diffusion" in r["title"].lower() for r in results) >= 4  # the real model finds the field
    assert results == [dict(r) for r in atlas.similar("steering diffusion models with rewards", k=7, by="text")]
    status, body, _ = get(server, "/api/similar?q=steering+diffusion+models+with+rewards&k=7&mode=lexical")
    assert body["mode"] == "lexical" and body["results"] == [
        dict(r) for r in atlas.similar("steering diffusion models with rewards", k=7, by="text", mode="lexical")]
    paper = atlas.corpus[3].id
    status, body, _ = get(server, f"/api/similar?id={paper}&k=5")
    assert status == 200 and body["by"] == "id" and len(body["results"]) == 5
    assert paper not in [r["id"] for r in body["results"]]
    assert [r["id"] for r in body["results"]] == [r["id"] for r in atlas.similar(paper, k=5, by="id")]


def test_paper_and_topics(server: dict) -> None:
    atlas = server["atlas"]
    paper = atlas.corpus[10]
    status, body, _ = get(server, f"/api/paper/{paper.id}")
    assert status == 200 and body["id"] == paper.id and body["abstract"] == paper.abstract
    path = body["topic_path"]
    assert [p["layer"] for p in path] == list(range(atlas.topics.labels.shape[1]))
    assert path[0]["topic_id"] == int(atlas.topics.labels[10, 0])
    status, body, _ = get(server, "/api/topics?layer=1")
    assert status == 200 and body["layer"] == 1 and body["topics"]
    assert sum(t["size"] for t in body["topics"]) <= len(atlas)
    status, body, _ = get(server, "/api/topics")
    assert status == 200 and body["layer"] == 0


@pytest.mark.parametrize(
    ("path", "status", "parameter"),
    [
        ("/api/similar", 400, "q"),
        ("/api/similar?q=x&id=y", 400, "id"),
        ("/api/similar?q=%20", 400, "q"),
        ("/api/similar?q=reward&k=0", 400, "k"),
        ("/api/similar?q=reward&k=abc", 400, "k"),
        ("/api/similar?q=reward&k=100000", 400, "k"),
        ("/api/similar?q=reward&mode=sparse", 400, "mode"),
        ("/api/similar?id=no-such-paper", 404, "id"),
        ("/api/paper/no-such-paper", 404, "id"),
        ("/api/topics?layer=99", 400, "layer"),
        ("/api/topics?layer=-1", 400, "layer"),
        ("/api/nothing", 404, None),
    ],
)
def test_bad_requests_get_json_errors_naming_the_parameter(server: dict, path: str, status: int, parameter) -> None:
    got, body, _ = get(server, path)
    assert got == status and body["parameter"] == parameter and body["error"]
    assert get(server, "/api/topics")[0] == 200  # still serving


def test_read_only_and_local_by_default(server: dict) -> None:
    from paperatlas.cli import serve_command
    from paperatlas.serve import serve

    for method in ("POST", "PUT", "DELETE"):
        status, body, _ = get(server, "/api/similar?q=x", method=method)
        assert status == 405 and "read-only" in body["error"]
    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    assert {p.name: p.default for p in serve_command.params}["host"] == "127.0.0.1"
    status, page, headers = get(server, "/")
    assert status == 200 and "createScatterplot" in page and '"served":true' in page
    policy = headers["content-security-policy"]
    assert "connect-src 'self'" in policy and "default-src 'none'" in policy
    assert "pa-block-abstracts" in page  # within the budget the page carries abstracts: typed search reads them


def test_map_page_searches_through_the_server(server: dict, tmp_path) -> None:
    executable = find_chromium()
    if executable is None:
        pytest.skip("no Chromium browser installed (apt-get install chromium, or set PAPERATLAS_CHROMIUM)")
    from paperatlas.text_table import shorten

    atlas = server["atlas"]
    browser = OfflineBrowser(executable, allow=(server["url"] + "/",))
    try:
        page = browser.open(server["url"] + "/")
        assert page.evaluate("window.paperatlas.pointCount()") == len(atlas)
        search = page.locator("#pa-search")
        search.fill("inference-time steering of diffusion models")
        search.press("Enter")
        page.wait_for_function("document.getElementById('pa-count').textContent.indexOf('semantic') >= 0")
        highlighted = page.evaluate("window.paperatlas.highlighted()")
        expected = [r["id"] for r in atlas.similar("inference-time steering of diffusion models", k=100, by="text")]
        assert highlighted == expected
        page.screenshot(path=str(tmp_path / "served.png"))
        # a click on a paper: abstract and similar papers (with why terms) from the server
        target = expected[0]
        page.evaluate("id => window.paperatlas.select(id)", target)
        page.wait_for_function("document.getElementById('pa-neighbours').dataset.source === 'server'")
        abstract = page.locator("#pa-paper-abstract").inner_text()
        assert abstract == shorten(atlas.corpus[atlas.corpus.row(target)].abstract, 300)  # a snippet, "more" for the rest
        neighbours = page.locator("#pa-neighbours button.pa-nb").all_inner_texts()
        assert neighbours == [r["title"] for r in atlas.similar(target, k=10, by="id")]
        assert "why:" in page.locator("#pa-neighbours").inner_text()
        # typing (no Enter) searches titles and abstracts in the page
        search.fill("hacking")
        page.wait_for_function("window.paperatlas.query() === 'hacking'")
        expected = {p.id for p in atlas.corpus if "hacking" in f"{p.title} {p.abstract}".lower()}
        assert set(page.evaluate("window.paperatlas.highlighted()")) == expected and expected
        assert browser.log.problems() == []
        assert all(u.startswith(server["url"]) for u in browser.log.requests)
    finally:
        browser.close()


def test_load_1000_requests_50_at_a_time(server: dict, capsys: pytest.CaptureFixture[str]) -> None:
    atlas = server["atlas"]
    ids = [atlas.corpus[i].id for i in range(len(atlas))]
    paths = []
    for i in range(1000):
        kind = i % 10
        if kind < 6:
            paths.append(f"/api/similar?id={ids[i % len(ids)]}&k=10")
        elif kind < 8:
            paths.append(f"/api/paper/{ids[(i * 7) % len(ids)]}")
        elif kind == 8:
            paths.append(f"/api/topics?layer={i % 2}")
        else:
            paths.append(f"/api/similar?q=reward+model+{i}&k=10")

    def timed(path: str) -> tuple[int, float]:
        start = time.perf_counter()
        status = get(server, path)[0]
        return status, (time.perf_counter() - start) * 1000

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(timed, paths))
    statuses = [s for s, _ in outcomes]
    latencies = sorted(ms for _, ms in outcomes)
    assert statuses.count(200) == 1000, {s: statuses.count(s) for s in set(statuses)}
    p50, p99 = statistics.median(latencies), latencies[int(0.99 * len(latencies)) - 1]
    with capsys.disabled():
        print(f"\nserve load test: 1,000 requests, 50 at a time, 0 errors; p50 {p50:.0f} ms, p99 {p99:.0f} ms")


def test_cli_serve_as_the_readme_runs_it(real_topics_atlas, tmp_path) -> None:
    """`paperatlas serve ATLAS --port P` in its own process: answers, refuses as the README shows, stops on Ctrl-C."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    atlas_dir = tmp_path / "atlas"
    real_topics_atlas.save(atlas_dir)
    port = _free_port()
    repo = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")])))
    process = subprocess.Popen([sys.executable, "-m", "paperatlas", "serve", str(atlas_dir), "--port", str(port)],
                               stderr=subprocess.PIPE, text=True, env=env)
    remote = {"url": f"http://127.0.0.1:{port}"}
    try:
        deadline = time.time() + 120
        while True:
            try:
                status, body, _ = get(remote, "/api/topics?layer=0")
                break
            except urllib.error.URLError:
                assert process.poll() is None, process.stderr.read()
                assert time.time() < deadline, "the server did not answer"
                time.sleep(0.3)
        assert status == 200 and body["topics"]
        status, body, _ = get(remote, "/api/similar?q=reward+models+for+alignment&k=3")
        assert status == 200 and len(body["results"]) == 3
        status, body, _ = get(remote, "/api/similar?q=reward&k=0")
        assert (status, body) == (400, {"error": "k must be from 1 to 200, got 0", "parameter": "k"})
    finally:
        process.send_signal(signal.SIGINT)
        try:
            _, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert f"serving {atlas_dir} at http://127.0.0.1:{port}/" in err
    assert "Traceback" not in err


def test_an_alias_is_served_like_its_paper(tmp_path) -> None:
    import uvicorn

    from paperatlas.cluster import TopicSettings
    from paperatlas.serve import create_app
    from tests.alias_fixtures import aliased_atlas

    atlas = aliased_atlas(tmp_path)
    atlas.fit_topics(TopicSettings(min_cluster_size=5, random_state=7))
    port = _free_port()
    instance = uvicorn.Server(uvicorn.Config(create_app(atlas), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 30
        while not instance.started and time.time() < deadline:
            time.sleep(0.05)
        server = {"url": f"http://127.0.0.1:{port}"}
        status, body, _ = get(server, "/api/paper/dup-3")
        assert status == 200 and body["id"] == "p3" and body["aliases"] == ["dup-3"]
        assert body == get(server, "/api/paper/p3")[1]
        status, body, _ = get(server, "/api/similar?id=dup-7&k=4")
        assert status == 200 and len(body["results"]) == 4
        assert [r["id"] for r in body["results"]] == [r["id"] for r in get(server, "/api/similar?id=p7&k=4")[1]["results"]]
        assert "p7" not in {r["id"] for r in body["results"]}
        assert get(server, "/api/paper/dup-9")[0] == 404
    finally:
        instance.should_exit = True
        thread.join(timeout=10)
