"""The topic map at field scale: file size, first draw and frame times in headless Chromium.

For each size, inputs come from common.make_inputs (real paperlists_venues titles and
abstracts; vectors real where cached, else interpolated between real neighbours: the
description is printed). The atlas is built once with ``paperatlas build --embeddings`` and
kept under benchmarks/_work; then ``paperatlas map ATLAS -o map.html`` runs in a fresh
process and the page is opened in the system Chromium (headless, ``--disable-gpu``: WebGL by
SwiftShader, software rendering), network cut, 1400x900 viewport. Printed:

* the HTML size and the export's wall time;
* first draw: milliseconds from navigation start until the points are drawn and labelled;
* frame: milliseconds from a camera change (zoom in or out by 1.25 about the centre, by
  turns; pan 40 px left or right) to the next painted frame, median of 15 each, after the
  page has settled;
* the points the page draws (all, or its sample when the renderer is slow) and errors, and
  for comparison the zoom frame with every point drawn;
* neighbours in the panel: the size of the precomputed neighbour block, beside what the
  alternative (compact vectors for in-browser search: 32-d PCA int8) would weigh and the
  recall@5 it would reach against exact neighbours, on the 91,790 real paperlists vectors
  (when embed_paperlists.py has cached them) and 1,000 papers;
* the PNG map's export time (``paperatlas map ATLAS --png``).

Usage: python benchmarks/bench_map.py [--sizes 100000 1000000] [--bundled]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from common import machine, make_inputs

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(__file__).resolve().parent / "_work"
sys.path.insert(0, str(ROOT))


def cli(*args: str) -> tuple[float, str]:
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "paperatlas.cli", *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"failed: paperatlas {' '.join(args)}\n{done.stderr[-3000:]}")
    return time.perf_counter() - start, done.stderr


def atlas_for(n: int) -> tuple[Path, str]:
    folder = WORK / f"inputs_{n}"
    papers, vectors, about = make_inputs(folder, n)
    atlas = WORK / f"map_atlas_{n}"
    if not (atlas / "manifest.json").exists():
        seconds, _ = cli("build", str(papers), "-o", str(atlas), "--embeddings", str(vectors), "--id-field", "id")
        print(f"  (built the atlas in {seconds:.0f} s)", flush=True)
    return atlas, about


def browser_figures(html: Path) -> dict:
    from tests.browser import OfflineBrowser, find_chromium

    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("no Chromium found (set PAPERATLAS_CHROMIUM)")
    browser = OfflineBrowser(chromium, width=1400, height=900)
    try:
        start = time.perf_counter()
        page = browser.open(html, ready="window.paperatlas && window.paperatlas.ready")
        wall = time.perf_counter() - start
        page.wait_for_function("window.paperatlas.timings.firstDrawAt > 0", timeout=120_000)
        timings = page.evaluate("window.paperatlas.timings")
        page.wait_for_timeout(1500)  # let the spatial index worker finish
        # zoom in and out by turns, so every frame is a real zoom near the whole map's view
        zoom = [page.evaluate(f"window.paperatlas.frame('zoom', {1.25 if k % 2 == 0 else 0.8})") for k in range(15)]
        pan = [page.evaluate(f"window.paperatlas.frame('pan', {40 if k % 2 == 0 else -40})") for k in range(15)]
        drawn, budget = page.evaluate("window.paperatlas.drawnCount()"), page.evaluate("window.paperatlas.budget()")
        page.evaluate("window.paperatlas.setBudget(window.paperatlas.paperCount)")
        page.wait_for_timeout(500)
        every = [page.evaluate(f"window.paperatlas.frame('zoom', {1.25 if k % 2 == 0 else 0.8})") for k in range(5)]
        figures = {
            "all_zoom_ms": statistics.median(every),
            "first_draw_ms": timings["firstDrawAt"],
            "ready_ms": timings["readyAt"],
            "open_wall_s": wall,
            "zoom_ms": statistics.median(zoom),
            "pan_ms": statistics.median(pan),
            "points": page.evaluate("window.paperatlas.pointCount()"),
            "drawn": drawn,
            "budget": budget,
            "problems": browser.log.problems(),
        }
        page.close()
        return figures
    finally:
        browser.close()


def neighbour_alternatives(vectors: np.ndarray) -> dict:
    """What in-browser neighbours would cost: 32-d PCA int8 codes, their size and recall@5 vs exact."""
    import gzip

    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(vectors)
    rng = np.random.default_rng(0)
    probe = rng.choice(n, size=min(1000, n), replace=False)
    _, truth = faiss.knn(vectors[probe], vectors, 6, metric=faiss.METRIC_INNER_PRODUCT)
    pca = faiss.PCAMatrix(vectors.shape[1], 32)
    pca.train(vectors[rng.choice(n, size=min(50_000, n), replace=False)])
    reduced = pca.apply(vectors)
    scale = np.abs(reduced).max(axis=0) / 127
    codes = np.rint(reduced / scale).astype(np.int8)
    compact = codes.astype(np.float32) * scale
    _, found = faiss.knn(compact[probe], compact, 6, metric=faiss.METRIC_L2)
    recall = np.mean([len(set(t[1:]) & set(f[1:])) / 5 for t, f in zip(truth, found)])
    return {"n": n, "compact_mb": len(gzip.compress(codes.tobytes(), 6)) / 1e6, "compact_recall5": float(recall)}


def measure(html: Path, label: str, atlas: Path | None) -> None:
    size = html.stat().st_size
    figures = browser_figures(html)
    print(f"  HTML {size / 1e6:.1f} MB; first draw {figures['first_draw_ms'] / 1000:.2f} s "
          f"(ready {figures['ready_ms'] / 1000:.2f} s); frame: zoom {figures['zoom_ms']:.0f} ms, "
          f"pan {figures['pan_ms']:.0f} ms (median of 15); {figures['drawn']:,} of {figures['points']:,} "
          f"points drawn; problems: {figures['problems'] or 'none'}", flush=True)
    print(f"  (for comparison, every point drawn: zoom frame {figures['all_zoom_ms']:.0f} ms, median of 5)", flush=True)
    if atlas is not None:
        blocks, meta = html_blocks(html)
        print("  blocks (compressed MB): " + ", ".join(f"{k} {v / 1e6:.1f}" for k, v in blocks.items())
              + f"; abstracts: {json.dumps(meta['abstracts'])}", flush=True)
        print(f"  neighbours: precomputed, 5 per paper, {blocks.get('nb', 0) / 1e6:.1f} MB (from the atlas's index)",
              flush=True)


def html_blocks(html: Path) -> tuple[dict[str, int], dict]:
    """Compressed size of each data block of a map file, and its meta JSON (read back from the file)."""
    import base64
    import re

    text = html.read_text(encoding="utf-8")
    meta = json.loads(re.search(r'id="paperatlas-meta">(.*?)</script>', text, re.DOTALL).group(1))
    found = re.findall(r'id="pa-block-(\w+)">([^<]*)</script>', text)
    return {name: len(base64.b64decode(body)) for name, body in found}, meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--bundled", action="store_true", help="also the bundled corpus's atlas (built if missing)")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse a map_N.html already written by this script (no export; the page is measured)")
    args = parser.parse_args()
    print(f"bench_map.py, {datetime.date.today()}, {machine()}")
    print("Chromium headless --disable-gpu (WebGL by SwiftShader, software), 1400x900, network cut")
    if args.bundled:
        atlas = WORK / "map_atlas_bundled"
        if not (atlas / "manifest.json").exists():
            cli("build", str(ROOT / "data" / "papers.jsonl"), "-o", str(atlas), "--topics", str(ROOT / "data" / "topics.toml"))
        html = WORK / "map_bundled.html"
        seconds, _ = cli("map", str(atlas), "-o", str(html))
        print(f"\nbundled corpus: export {seconds:.1f} s (whole command)")
        measure(html, "bundled", None)
    real = Path(__file__).resolve().parent / "_cache" / "paperlists_full.npy"
    if real.exists():
        alt = neighbour_alternatives(np.load(real, mmap_mode="r"))
        print(f"\nneighbours computed in the browser instead, from compact vectors (32-d PCA, int8) of the "
              f"{alt['n']:,} real paperlists vectors: {alt['compact_mb']:.1f} MB gzipped "
              f"({alt['compact_mb'] / alt['n'] * 1e6:.0f} bytes/paper), recall@5 {alt['compact_recall5']:.3f} "
              "against exact 384-d neighbours (1,000 papers)", flush=True)
    for n in args.sizes:
        print(f"\n{n:,} papers:", flush=True)
        atlas, about = atlas_for(n)
        print(f"  ({about})")
        html = WORK / f"map_{n}.html"
        if args.reuse and html.exists():
            print(f"  export: reused {html.name}", flush=True)
        else:
            seconds, _ = cli("map", str(atlas), "-o", str(html))
            print(f"  export {seconds:.1f} s (whole command)", flush=True)
        measure(html, str(n), atlas)
        png = WORK / f"map_{n}.png"
        seconds, err = cli("map", str(atlas), "--png", str(png))
        print(f"  PNG (1600x1200, points rasterised, labels placed without overlap, legend): "
              f"{seconds:.1f} s whole command, {png.stat().st_size / 1e6:.1f} MB", flush=True)


if __name__ == "__main__":
    main()
