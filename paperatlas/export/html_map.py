"""A self-contained, offline HTML topic map (plotly.js inlined).

The page is ONE file: plotly.js (from the installed ``plotly`` package), the
page's own script and styles, and the papers as inline JSON. It names no
remote resource, and its Content-Security-Policy forbids every network fetch,
so opening it never touches the network, not even by mistake.

The helpers here (``map_layers``, ``topic_colours``) are shared with the PNG map.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paperatlas.errors import PaperatlasError
from paperatlas.export.map_data import display_text

if TYPE_CHECKING:
    import numpy as np

    from paperatlas.export.map_data import MapData

NOISE_COLOUR = "#b4b4b4"
PALETTE: tuple[str, ...] = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#bcbd22", "#1a237e", "#f6a600", "#00695c", "#ad1457", "#8db600", "#5d4037", "#ff6f61",
    "#6a1b9a", "#00acc1", "#9e9d24", "#0d47a1", "#e65100", "#1b5e20", "#b71c1c", "#4a148c",
)
"""Topic colours (no greys: grey is noise), cycled by topic size rank."""

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; "
    "connect-src 'none'; worker-src blob:; base-uri 'none'; form-action 'none'"
)
"""The page's CSP: inline code and data: images only, no network of any kind.

``'unsafe-eval'`` is needed by the WebGL renderer (regl compiles shaders'
glue code with ``Function``); it allows no fetch.
"""

_TEMPLATES = "templates"


@dataclass(frozen=True)
class MapTopic:
    """One topic (or theme) of one layer, with its centre on the map."""

    topic_id: int
    name: str
    size: int
    x: float
    y: float
    keyterms: tuple[str, ...] = ()


@dataclass(frozen=True)
class MapLayer:
    """One hierarchy layer: each paper's topic id there, and the topics."""

    layer: int
    labels: np.ndarray
    topics: tuple[MapTopic, ...] = field(default=())


def _keyterms(value: Any) -> tuple[str, ...]:
    if value is None or isinstance(value, float):
        return ()
    if isinstance(value, str):
        return tuple(t.strip() for t in value.split(",") if t.strip())
    try:
        return tuple(str(t) for t in value)
    except TypeError:
        return ()


def map_layers(data: MapData) -> list[MapLayer]:
    """The layers to label, finest first, from the map's label arrays and topic table.

    A topic's name is ``"Topic <id>"`` (``"Theme <id>"`` above layer 0) where the
    table has none; its centre is the median position of its papers. Noise (-1)
    is never a topic.

    Returns:
        One ``MapLayer`` per layer, topics sorted by size (largest first).
    """
    import numpy as np

    x, y = data.coords[:, 0], data.coords[:, 1]
    table = data.topics
    layers = []
    for layer in range(data.labels.shape[1]):
        labels = data.labels[:, layer]
        info: dict[int, dict[str, Any]] = {}
        if len(table):
            for row in table[table["layer"].astype(int) == layer].to_dict("records"):
                info[int(row["topic_id"])] = {
                    "name": display_text(row.get("name")),
                    "size": row.get("size"),
                    "keyterms": _keyterms(row.get("keyterms")),
                }
        entries = []
        for tid in np.unique(labels[labels >= 0]):
            member = labels == tid
            meta = info.get(int(tid), {})
            try:
                size = int(meta["size"])
            except (KeyError, TypeError, ValueError):  # absent, None, NaN, NA
                size = int(member.sum())
            word = "Topic" if layer == 0 else "Theme"
            entries.append(
                MapTopic(
                    topic_id=int(tid),
                    name=meta.get("name") or f"{word} {int(tid)}",
                    size=size,
                    x=float(np.median(x[member])),
                    y=float(np.median(y[member])),
                    keyterms=tuple(meta.get("keyterms", ()))[:8],
                )
            )
        entries.sort(key=lambda t: (-t.size, t.topic_id))
        layers.append(MapLayer(layer=layer, labels=labels, topics=tuple(entries)))
    return layers


def topic_colours(layer: MapLayer) -> dict[int, str]:
    """A colour per topic of ``layer`` (palette cycled by size rank); noise is ``NOISE_COLOUR``."""
    colours = {t.topic_id: PALETTE[i % len(PALETTE)] for i, t in enumerate(layer.topics)}
    colours[-1] = NOISE_COLOUR
    return colours


def map_payload(
    data: MapData,
    *,
    title: str = "paperatlas topic map",
    max_labels: int = 20,
) -> dict[str, Any]:
    """The data the page's script draws, as plain JSON-able values.

    Args:
        data: The map's papers and topics.
        title: The page title.
        max_labels: Most labels shown at once (see ``write_html_map``).

    Returns:
        A dict of columns (``ids, titles, dates, abstracts, x, y, nb``) and
        ``layers`` (per-paper topic ids and topic centres per layer).
    """
    layers = map_layers(data)
    colours = topic_colours(layers[0])

    def rounded(values: Any) -> list[float]:
        return [round(float(v), 4) for v in values]

    return {
        "version": 1,
        "title": title,
        "ids": [str(v) for v in data.ids],
        "titles": [display_text(v) for v in data.titles],
        "dates": [display_text(v) for v in data.dates],
        "abstracts": [display_text(v) for v in data.abstracts],
        "x": rounded(data.coords[:, 0]),
        "y": rounded(data.coords[:, 1]),
        "nb": [[int(j) for j in row] for row in data.neighbours],
        "colours": {str(k): v for k, v in colours.items() if k >= 0},
        "noiseColour": NOISE_COLOUR,
        "maxLabels": int(max_labels),
        "layers": [
            {
                "layer": layer.layer,
                "of": layer.labels.tolist(),
                "topics": [
                    {
                        "id": t.topic_id,
                        "name": t.name,
                        "size": t.size,
                        "keyterms": list(t.keyterms),
                        "x": round(t.x, 4),
                        "y": round(t.y, 4),
                    }
                    for t in layer.topics
                ],
            }
            for layer in layers
        ],
    }


def _script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``<``, ``>``, ``&`` or line separators)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char in ("<", ">", "&", "\u2028", "\u2029"):
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def _template(name: str) -> str:
    return resources.files("paperatlas.export").joinpath(_TEMPLATES, name).read_text(encoding="utf-8")


def _plotly_js() -> str:
    try:
        from plotly.offline import get_plotlyjs
    except ImportError as error:
        raise PaperatlasError(f"the HTML map needs plotly (pip install plotly): {error}") from None
    bundle = get_plotlyjs()
    # an inline script ends at the first "</script"; the bundle has none, but be sure
    return re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)


def render_html_map(
    data: MapData,
    *,
    title: str = "paperatlas topic map",
    max_labels: int = 20,
) -> str:
    """The map page as one HTML string (see ``write_html_map``)."""
    from paperatlas import __version__

    payload = map_payload(data, title=title, max_labels=max_labels)
    n_topics = len(payload["layers"][0]["topics"])
    n_papers = len(payload["ids"])
    escaped = html.escape(title)
    stats = f"{n_papers:,} papers · {n_topics:,} topics"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="paperatlas {html.escape(__version__)}">
<title>{escaped}</title>
<style>
{_template("map.css")}
</style>
</head>
<body>
<div id="pa-app">
<header id="pa-header">
<h1 id="pa-title">{escaped}</h1>
<input id="pa-search" type="search" placeholder="Search paper titles" autocomplete="off"
 spellcheck="false" aria-label="Search paper titles">
<span id="pa-count" aria-live="polite"></span>
<span id="pa-stats">{html.escape(stats)}</span>
<span id="pa-hint">scroll to zoom · drag to pan · click a paper</span>
</header>
<main id="pa-main">
<div id="pa-map" role="img" aria-label="{escaped}"></div>
<aside id="pa-panel" hidden>
<button id="pa-close" type="button" aria-label="Close">×</button>
<h2 id="pa-paper-title"></h2>
<p id="pa-paper-meta"></p>
<p id="pa-paper-topic"></p>
<p id="pa-paper-terms"></p>
<p id="pa-paper-abstract"></p>
<h3>Nearest neighbours</h3>
<ol id="pa-neighbours"></ol>
</aside>
</main>
</div>
<script type="application/json" id="paperatlas-data">{_script_json(payload)}</script>
<script>window.PlotlyConfig = {{MathJaxConfig: "local"}};</script>
<script id="plotlyjs">
{_plotly_js()}
</script>
<script id="paperatlas-js">
{_template("map.js")}
</script>
</body>
</html>
"""


def write_html_map(
    data: MapData,
    path: str | Path,
    *,
    title: str = "paperatlas topic map",
    max_labels: int = 20,
) -> Path:
    """Write the interactive topic map as ONE self-contained, offline HTML file.

    Every paper is a point coloured by topic (noise grey and smaller); topic
    names sit at topic centres, coarse themes when zoomed out and fine topics
    when zoomed in; hover shows title, topic and date; a search box highlights
    papers whose title contains the text; clicking a paper opens a side panel
    with its abstract and nearest neighbours. The page draws with WebGL
    (``scattergl``) and falls back to SVG where WebGL is missing (or with
    ``#svg`` after the file name). ``window.paperatlas`` exposes a small API.

    Args:
        data: The papers and topics (``MapData.from_atlas`` or ``MapData.from_frames``).
        path: The HTML file to write; its folder is created.
        title: Page title and heading.
        max_labels: Most labels on screen: the finest layer with at most this
            many topic centres in view is labelled.

    Returns:
        The path written.

    Raises:
        PaperatlasError: Bad input, plotly missing, or the file cannot be written.
    """
    if max_labels < 1:
        raise PaperatlasError(f"max_labels must be at least 1, got {max_labels}")
    text = render_html_map(data, title=title, max_labels=max_labels)
    return _write_text(Path(path), text)


def _write_text(path: Path, text: str) -> Path:
    if path.is_dir():
        raise PaperatlasError(f"cannot write the map to {path}: it is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise PaperatlasError(f"cannot write the map to {path}: {error.strerror or error}") from None
    return path
