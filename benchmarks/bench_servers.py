"""Loopback load of both servers: 1,000 cheap calls with 100 in flight while slow text queries run.

* the MCP server: ``paperatlas mcp ATLAS`` as a subprocess, driven by the official SDK client over stdio;
* ``paperatlas serve ATLAS``: a subprocess on 127.0.0.1, driven over HTTP by a thread pool.

The cheap calls are similar-by-id (one id and two), get_paper and list_topics; beside them,
``--slow`` clients send the largest text query the limits allow (10,000 characters, k 1,000)
back to back. Printed per server: errors, p50 and p99 of the cheap calls, with the date and
machine. Target: p99 at most 1 s.

The atlas: ``--atlas PATH`` (built with the real model: the real model answers text queries),
or by default one built here from data/papers.jsonl with the FakeEmbedder
(PAPERATLAS_FAKE_EMBEDDER=1; then the servers run with it too).
Usage: python benchmarks/bench_servers.py [--atlas PATH] [--calls 1000] [--in-flight 100] [--slow 1]
"""

from __future__ import annotations

import argparse
import datetime
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from common import machine

from tests.server_load import cheap_calls, http_get, http_load, mcp_load, server_env


def _fake_atlas(folder: Path) -> Path:
    path = folder / "atlas"
    subprocess.run([sys.executable, "-m", "paperatlas", "build", str(REPO / "data" / "papers.jsonl"), "-o", str(path),
                    "--topics", str(REPO / "data" / "topics.toml")], check=True, env=server_env(True),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(atlas: Path, fake: bool, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "paperatlas", "serve", str(atlas), "--port", str(port)],
                               env=server_env(fake), stdout=subprocess.DEVNULL,
                               stderr=open(log, "w"))  # noqa: SIM115 - open while the server runs
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve stopped: {log.read_text()[-2000:]}")
        try:
            http_get(url + "/api/topics", timeout=5)
            return process, url
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("serve did not start within 300 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--atlas", type=Path, help="a real-model atlas (default: a FakeEmbedder one built here)")
    parser.add_argument("--calls", type=int, default=1_000)
    parser.add_argument("--in-flight", type=int, default=100)
    parser.add_argument("--slow", type=int, default=1, help="clients sending slow text queries meanwhile")
    args = parser.parse_args()

    from paperatlas.atlas import Atlas

    with tempfile.TemporaryDirectory(prefix="bench-servers-") as scratch:
        folder = Path(scratch)
        fake = args.atlas is None
        atlas_path = _fake_atlas(folder) if fake else args.atlas
        atlas = Atlas.load(atlas_path)
        ids = [atlas.corpus[i].id for i in range(len(atlas))]
        calls = cheap_calls(ids, args.calls, atlas.topics is not None)
        model = "FakeEmbedder (PAPERATLAS_FAKE_EMBEDDER=1)" if fake else atlas.model.id
        print(f"{datetime.date.today().isoformat()}, {machine()}")
        print(f"atlas: {len(atlas):,} papers, text queries by {model}")
        reports = {"MCP (stdio, SDK client)": mcp_load(atlas_path, calls, args.in_flight, slow=args.slow, fake=fake,
                                                       log=folder / "mcp.log")}
        process, url = _serve(atlas_path, fake, folder / "serve.log")
        try:
            reports["serve (HTTP)"] = http_load(url, calls, args.in_flight, slow=args.slow)
        finally:
            process.terminate()
            process.wait(timeout=30)
        for name, report in reports.items():
            print(report.line(name))
            for error in report.errors[:5]:
                print(f"  error: {error}")
        if any(report.errors for report in reports.values()):
            sys.exit(1)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
