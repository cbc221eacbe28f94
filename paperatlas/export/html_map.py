"""A self-contained, offline HTML topic map (plotly.js inlined).

The page is ONE file: plotly.js (from the installed ``plotly`` package), the
page's own script and styles, and the papers as inline JSON. It names no
remote resource, and its Content-Security-Policy forbids every network fetch,
so opening it never touches the network, not even by mistake.

The helpers here (``check_papers``, ``map_layers``, ``topic_colours``) are
shared with the PNG map.
"""

from __future__ import annotations

import datetime
import html
import json
import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paperatlas.errors import PaperatlasError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

PAPER_COLUMNS: tuple[str, ...] = ("id", "title", "topic_id", "x", "y")
"""Columns ``papers`` must have; ``topic_name, date, abstract, neighbours`` and
``layer_<n>`` are optional."""

TOPIC_COLUMNS: tuple[str, ...] = ("layer", "topic_id", "name")
"""Columns a non-empty ``topics`` frame must have; ``size, keyterms`` are optional."""

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

_LAYER_COLUMN = re.compile(r"^layer_(\d+)$")
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


def check_papers(papers: pd.DataFrame) -> None:
    """Raise unless ``papers`` can be drawn.

    Args:
        papers: The papers frame (see ``write_html_map``).

    Raises:
        PaperatlasError: Not a frame, no rows, a required column missing,
            duplicate ids, or coordinates that are not finite numbers.
    """
    import numpy as np
    import pandas as pd

    if not isinstance(papers, pd.DataFrame):
        raise PaperatlasError(f"papers must be a pandas DataFrame, got {type(papers).__name__}")
    missing = [c for c in PAPER_COLUMNS if c not in papers.columns]
    if missing:
        raise PaperatlasError(f"papers lack column(s) {', '.join(missing)}; need {', '.join(PAPER_COLUMNS)}")
    if len(papers) == 0:
        raise PaperatlasError("no papers to draw")
    if papers["id"].isna().any():
        raise PaperatlasError("papers have a missing id")
    ids = papers["id"].astype(str)
    if ids.duplicated().any():
        raise PaperatlasError(f"duplicate paper id {ids[ids.duplicated()].iloc[0]!r}")
    for column in ("x", "y"):
        try:
            values = papers[column].to_numpy(dtype=float)
        except (TypeError, ValueError) as error:
            raise PaperatlasError(f"papers column {column!r} is not numeric: {error}") from None
        if not np.isfinite(values).all():
            raise PaperatlasError(f"papers column {column!r} has missing or infinite values")
    try:
        papers["topic_id"].to_numpy(dtype=float).astype(int)
    except (TypeError, ValueError) as error:
        raise PaperatlasError(f"papers column 'topic_id' is not integer: {error}") from None


def _check_topics(topics: pd.DataFrame | None) -> pd.DataFrame:
    import pandas as pd

    if topics is None:
        return pd.DataFrame(columns=list(TOPIC_COLUMNS))
    if not isinstance(topics, pd.DataFrame):
        raise PaperatlasError(f"topics must be a pandas DataFrame, got {type(topics).__name__}")
    missing = [c for c in TOPIC_COLUMNS if c not in topics.columns]
    if missing and len(topics):
        raise PaperatlasError(f"topics lack column(s) {', '.join(missing)}; need {', '.join(TOPIC_COLUMNS)}")
    return topics if not missing else pd.DataFrame(columns=list(TOPIC_COLUMNS))


def _int_labels(values: Any) -> np.ndarray:
    import numpy as np
    import pandas as pd

    series = pd.to_numeric(pd.Series(values), errors="coerce").fillna(-1)
    return series.to_numpy(dtype=float).astype(np.int64)


def _keyterms(value: Any) -> tuple[str, ...]:
    if value is None or isinstance(value, float):
        return ()
    if isinstance(value, str):
        return tuple(t.strip() for t in value.split(",") if t.strip())
    try:
        return tuple(str(t) for t in value)
    except TypeError:
        return ()


def _text(value: Any) -> str:
    """A cell as display text: '' for None/NaN."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    try:
        import pandas as pd

        if pd.isna(value) is True:
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def map_layers(papers: pd.DataFrame, topics: pd.DataFrame | None) -> list[MapLayer]:
    """The layers to label, finest first: layer 0 from ``topic_id``, then each ``layer_<n>`` (n >= 1).

    Names come from ``papers.topic_name`` (layer 0), then ``topics``, then
    ``"Topic <id>"``; a topic's centre is the median position of its papers.
    Noise (-1) is never a topic.

    Args:
        papers: The papers frame, already checked.
        topics: The topics frame (``layer, topic_id, name[, size, keyterms]``) or None.

    Returns:
        One ``MapLayer`` per layer, topics sorted by size (largest first).
    """
    import numpy as np

    topics = _check_topics(topics)
    x = papers["x"].to_numpy(dtype=float)
    y = papers["y"].to_numpy(dtype=float)
    columns = sorted(
        ((int(m.group(1)), c) for c in papers.columns if (m := _LAYER_COLUMN.match(str(c)))),
    )
    sources: list[tuple[int, np.ndarray]] = [(0, _int_labels(papers["topic_id"]))]
    sources += [(n, _int_labels(papers[c])) for n, c in columns if n >= 1]

    layers = []
    for layer, labels in sources:
        info: dict[int, dict[str, Any]] = {}
        if len(topics):
            rows = topics[_int_labels(topics["layer"]) == layer]
            for row in rows.to_dict("records"):
                tid = int(_int_labels([row["topic_id"]])[0])
                info[tid] = {
                    "name": _text(row.get("name")),
                    "size": row.get("size"),
                    "keyterms": _keyterms(row.get("keyterms")),
                }
        if layer == 0 and "topic_name" in papers.columns:
            names = papers["topic_name"].map(_text)
            first: dict[int, str] = {}
            for tid, name in zip(labels.tolist(), names):
                if tid >= 0 and name:
                    first.setdefault(tid, name)
            for tid, name in first.items():
                info.setdefault(tid, {})["name"] = name
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


def _neighbour_indices(papers: pd.DataFrame) -> list[list[int]]:
    if "neighbours" not in papers.columns:
        return [[] for _ in range(len(papers))]
    index = {pid: i for i, pid in enumerate(papers["id"].astype(str))}
    result = []
    for i, value in enumerate(papers["neighbours"]):
        try:
            found = [] if isinstance(value, (str, bytes)) else [index.get(str(pid)) for pid in value]
        except TypeError:  # None, NaN, pd.NA: no neighbours recorded
            found = []
        result.append([j for j in found if j is not None and j != i][:10])
    return result


def map_payload(
    papers: pd.DataFrame,
    topics: pd.DataFrame | None,
    *,
    title: str = "paperatlas topic map",
    max_labels: int = 20,
) -> dict[str, Any]:
    """The data the page's script draws, as plain JSON-able values.

    Args:
        papers: The papers frame (see ``write_html_map``).
        topics: The topics frame or None.
        title: The page title.
        max_labels: Most labels shown at once (see ``write_html_map``).

    Returns:
        A dict of columns (``ids, titles, dates, abstracts, x, y, nb``) and
        ``layers`` (per-paper topic ids and topic centres per layer).
    """
    check_papers(papers)
    layers = map_layers(papers, topics)
    colours = topic_colours(layers[0])

    def rounded(values: Any) -> list[float]:
        return [round(float(v), 4) for v in values]

    def column(name: str) -> list[str]:
        if name not in papers.columns:
            return [""] * len(papers)
        return [_text(v) for v in papers[name]]

    def day(value: Any) -> str:
        return value.isoformat()[:10] if isinstance(value, datetime.date) else _text(value)

    return {
        "version": 1,
        "title": title,
        "ids": papers["id"].astype(str).tolist(),
        "titles": column("title"),
        "dates": [day(v) for v in papers["date"]] if "date" in papers.columns else column("date"),
        "abstracts": column("abstract"),
        "x": rounded(papers["x"]),
        "y": rounded(papers["y"]),
        "nb": _neighbour_indices(papers),
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
    papers: pd.DataFrame,
    topics: pd.DataFrame | None,
    *,
    title: str = "paperatlas topic map",
    max_labels: int = 20,
) -> str:
    """The map page as one HTML string (see ``write_html_map``)."""
    from paperatlas import __version__

    payload = map_payload(papers, topics, title=title, max_labels=max_labels)
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
    papers: pd.DataFrame,
    topics: pd.DataFrame | None,
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
        papers: One row per paper: ``id, title, topic_id, x, y`` (required),
            ``topic_name, date, abstract, neighbours`` (list of paper ids) and
            ``layer_<n>`` (topic id in hierarchy layer n; n >= 1 coarser).
        topics: One row per layer and topic: ``layer, topic_id, name`` and
            optionally ``size, keyterms``; may be None or empty.
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
    text = render_html_map(papers, topics, title=title, max_labels=max_labels)
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
