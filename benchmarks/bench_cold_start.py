"""What the README's build of the bundled corpus costs on a new machine, and after.

Runs ``paperatlas build data/papers.jsonl -o ATLAS --topics data/topics.toml`` (the README's
first command's build step) in fresh processes, in three states:

* ``new machine``: numba's cache empty (a fresh ``NUMBA_CACHE_DIR``, so nothing umap-learn or
  pynndescent compiled before is found) and the embedding cache empty;
* ``numba warm, new corpus``: numba's cache as the first run left it, embedding cache empty;
* ``rebuild``: both caches warm (what a second build of the same papers costs).

Each prints the wall time and the build's own stage times (read, vectors, topics, save), the
median of ``--runs`` runs for the warm states (one per run of a fresh cache for the cold one,
also ``--runs`` times). Python's bytecode and the OS file cache are warm in every state.

``--compare PATH`` also runs the paperatlas package found in PATH (a checkout of another
commit, e.g. ``git worktree add /tmp/before HEAD~1``), run for run in turn with this code, so
both see the same machine load.

Usage: python benchmarks/bench_cold_start.py [--runs 3] [--compare PATH]
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, machine

STAGES = ("read", "vectors", "topics", "save")


def build_once(work: Path, numba_cache: Path, embedding_cache: Path, code: Path | None) -> dict[str, float]:
    """Run the README's build once; wall time and stage times in seconds."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(numba_cache), PAPERATLAS_CACHE_DIR=str(embedding_cache))
    if code is not None:
        env["PYTHONPATH"] = str(code)
    command = [sys.executable, "-P", "-m", "paperatlas", "build", "data/papers.jsonl",  # -P: not the cwd's package first
               "-o", str(work / "atlas"), "--topics", "data/topics.toml"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"build failed:\n{done.stderr}")
    took = next(line for line in done.stderr.splitlines() if line.startswith("took "))
    stages = {name.strip(): float(seconds) for name, seconds in re.findall(r"([a-z ]+?) ([0-9.]+) s", took[5:])}
    return {"wall": wall, **{stage: stages.get(stage, 0.0) for stage in STAGES}}


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def show(label: str, figures: dict[str, float]) -> None:
    stages = ", ".join(f"{stage} {figures[stage]:.1f} s" for stage in STAGES)
    print(f"{label:<24} wall {figures['wall']:5.1f} s   ({stages})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compare", type=Path, default=None,
                        help="Also run the paperatlas package in this folder, in turn with this code.")
    args = parser.parse_args()
    print(f"# bench_cold_start {datetime.date.today()} on {machine()}")
    print(f"# README build of the bundled corpus; medians of {args.runs} runs")
    codes = {"this code": None, **({f"code in {args.compare}": args.compare} if args.compare else {})}
    figures = {label: {"cold": [], "numba warm": [], "rebuild": []} for label in codes}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            for number, (label, code) in enumerate(codes.items()):
                base = Path(tmp) / f"run{run}-{number}"
                numba_cache, embedding_cache = base / "numba", base / "embeddings"
                states = figures[label]
                states["cold"].append(build_once(base, numba_cache, embedding_cache, code))
                states["numba warm"].append(build_once(base, numba_cache, base / "embeddings-2", code))
                states["rebuild"].append(build_once(base, numba_cache, embedding_cache, code))
    for label, states in figures.items():
        print(f"## {label}")
        show("new machine", median_of(states["cold"]))
        show("numba warm, new corpus", median_of(states["numba warm"]))
        show("rebuild", median_of(states["rebuild"]))


if __name__ == "__main__":
    main()
