"""The exploration notebook runs clean on the bundled corpus (nbclient, a real kernel)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent


def test_explore_notebook_executes(tmp_path, real_atlas_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    # run a copy beside a copy of data/, so the atlas it writes stays in tmp_path
    shutil.copytree(REPO / "data", tmp_path / "data")
    (tmp_path / "notebooks").mkdir()
    notebook = nbformat.read(REPO / "notebooks" / "explore.ipynb", as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path / "notebooks")}})
    client.execute(env=dict(os.environ))  # the session's warm embedding cache
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if o.output_type in ("execute_result", "display_data") and "text/html" in o.get("data", {})]
    assert any("paperatlas Atlas" in h for h in html)  # Atlas._repr_html_
    assert any("topics</b> in" in h for h in html)  # the topics table
    assert any("papers like</b>" in h for h in html)  # search results
    # the map: a file beside the notebook, shown by an iframe that points at it (not inlined)
    assert (tmp_path / "notebooks" / "map.html").stat().st_size > 100_000
    assert any('<iframe src="map.html"' in h for h in html)
    assert not any("srcdoc" in h or "createScatterplot" in h for h in html)
    assert (tmp_path / "atlas" / "manifest.json").exists()
    size = len(nbformat.writes(notebook).encode())
    assert size < 1_000_000, size
    # no progress noise or warnings: no "Loading weights" bar, no TqdmWarning, no IFrame UserWarning
    streams = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    for noise in ("Loading weights", "TqdmWarning", "IProgress", "UserWarning", "Warning:"):
        assert noise not in streams, streams[:2000]
    # plain-text reprs stay short (never an array)
    plain = [o["data"]["text/plain"] for o in outputs if o.output_type == "execute_result"]
    assert any(p.startswith("TopicModel(") for p in plain) and any(p.startswith("SearchResults(") for p in plain)
    long = [p[:200] for p in plain if (p.startswith(("Atlas(", "TopicModel(", "SearchResults(", "MapFile(")) and len(p) > 500)]
    assert long == []
