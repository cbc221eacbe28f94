"""A self-contained, offline HTML topic map drawn with WebGL (regl-scatterplot, vendored).

The page is ONE file: the vendored renderer (``vendor/regl-scatterplot.min.js``,
its licences in ``vendor/LICENSES.txt``), the page's own script and styles, a
small JSON description and the papers as gzip-compressed binary blocks in
base64 (see ``map_payload``). It names no remote resource, and its
Content-Security-Policy forbids every network fetch, so opening it never
touches the network, not even by mistake.
"""

from __future__ import annotations

import base64
import html
import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paperatlas.errors import PaperatlasError
from paperatlas.export.map_payload import ABSTRACT_BUDGET_MB, MapPayload, build_payload

if TYPE_CHECKING:
    from paperatlas.export.map_data import MapData

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; "
    "connect-src 'none'; worker-src blob:; base-uri 'none'; form-action 'none'"
)
"""The page's CSP: inline code and data: images only, no network of any kind.

``'unsafe-eval'`` is needed by the WebGL renderer (regl compiles its shaders'
glue code with ``Function``); ``worker-src blob:`` lets it build its spatial
index off the main thread. Neither allows a fetch.
"""

SERVED_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace("connect-src 'none'", "connect-src 'self'")
"""The same policy for the page ``paperatlas serve`` sends: it may ask its own server, nothing else."""

_TEMPLATES = "templates"
_VENDOR = "vendor"


def _script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``<``, ``>``, ``&`` or line separators)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char in ("<", ">", "&", "\u2028", "\u2029"):
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def _template(name: str) -> str:
    return resources.files("paperatlas.export").joinpath(_TEMPLATES, name).read_text(encoding="utf-8")


def renderer_js() -> str:
    """The vendored WebGL renderer (regl-scatterplot and its dependencies, one minified bundle)."""
    bundle = resources.files("paperatlas.export").joinpath(_VENDOR, "regl-scatterplot.min.js").read_text(encoding="utf-8")
    if "</script" in bundle.lower():  # an inline script ends at the first "</script"
        raise PaperatlasError("the vendored renderer contains '</script' and cannot be inlined")
    return bundle


def _blocks_html(payload: MapPayload) -> str:
    return "\n".join(
        f'<script type="application/octet-stream" id="pa-block-{name}">{base64.b64encode(block).decode("ascii")}</script>'
        for name, block in payload.blocks.items()
    )


def render_html_map(
    data: MapData,
    *,
    title: str = "paperatlas topic map",
    max_labels: int = 20,
    abstract_budget_mb: float = ABSTRACT_BUDGET_MB,
    served: bool = False,
) -> str:
    """The map page as one HTML string (see ``write_html_map``).

    ``served=True`` makes the page of ``paperatlas serve``: its policy lets it ask
    its own server (and nothing else) for semantic search, neighbours and abstracts.
    """
    from paperatlas import __version__

    if max_labels < 1:
        raise PaperatlasError(f"max_labels must be at least 1, got {max_labels}")
    payload = build_payload(data, title=title, max_labels=max_labels, abstract_budget_mb=abstract_budget_mb)
    payload.meta["served"] = served
    policy = SERVED_CONTENT_SECURITY_POLICY if served else CONTENT_SECURITY_POLICY
    n_topics = len(payload.meta["layers"][0]["topics"])
    escaped = html.escape(title)
    stats = f"{len(data):,} {'paper' if len(data) == 1 else 'papers'} · {n_topics:,} {'topic' if n_topics == 1 else 'topics'}"
    placeholder = "Search titles and abstracts" if payload.meta["abstracts"]["included"] else "Search paper titles"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
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
<input id="pa-search" type="search" placeholder="{placeholder}" autocomplete="off"
 spellcheck="false" aria-label="Search papers">
<span id="pa-count" aria-live="polite"></span>
<label class="pa-filter">topic <select id="pa-topic" aria-label="Show one topic"><option value="">all</option></select></label>
<label class="pa-filter">from <input id="pa-from" type="date" aria-label="Earliest date"></label>
<label class="pa-filter">to <input id="pa-to" type="date" aria-label="Latest date"></label>
<span id="pa-stats">{html.escape(stats)}</span>
<span id="pa-hint">scroll to zoom · drag to pan · click a paper</span>
</header>
<main id="pa-main">
<div id="pa-map" role="img" aria-label="{escaped}">
<canvas id="pa-canvas"></canvas>
<canvas id="pa-overlay"></canvas>
<div id="pa-labels"></div>
<div id="pa-tip" hidden></div>
<details id="pa-legend" open><summary>Topics</summary><ol id="pa-legend-list"></ol></details>
</div>
<aside id="pa-panel" hidden>
<button id="pa-close" type="button" aria-label="Close">×</button>
<h2 id="pa-paper-title"></h2>
<p id="pa-paper-meta"></p>
<p id="pa-paper-topic"></p>
<p id="pa-paper-terms"></p>
<p id="pa-paper-abstract"></p>
<button id="pa-abstract-more" type="button" hidden></button>
<h3>Nearest neighbours</h3>
<ol id="pa-neighbours"></ol>
</aside>
</main>
</div>
<script type="application/json" id="paperatlas-meta">{_script_json(payload.meta)}</script>
{_blocks_html(payload)}
<script id="pa-renderer">
{renderer_js()}
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
    abstract_budget_mb: float = ABSTRACT_BUDGET_MB,
) -> Path:
    """Write the interactive topic map as ONE self-contained, offline HTML file.

    Every paper is a WebGL point coloured by its topic (clearly different
    colours, see ``map_colours``; noise grey and smaller); theme names label the
    map zoomed out and topic names zoomed in, never overlapping and clear of the
    toolbar, legend and panel; a legend of topic colours filters by topic; hover
    shows title, topic and date; the search box highlights papers whose title
    (or abstract, when included) contains the text; filters show one topic or a
    date range; a click opens the paper's panel with its topic path, key terms,
    an abstract snippet (the rest a click away) and nearest neighbours. Past a few hundred thousand points on a slow renderer
    the page draws a random sample of what is in view, sized so a frame takes
    about 60 ms, and all papers as you zoom in. ``window.paperatlas`` exposes a
    small API.

    Args:
        data: The papers and topics (``MapData.from_atlas`` or ``MapData.from_frames``).
        path: The HTML file to write; its folder is created.
        title: Page title and heading.
        max_labels: Most labels on screen: the finest layer with at most this
            many topic centres in view is labelled.
        abstract_budget_mb: Abstracts are included when they all compress to at
            most this many megabytes (0: never); otherwise the panel says to
            use ``paperatlas serve``.

    Returns:
        The path written.

    Raises:
        PaperatlasError: Bad input, or the file cannot be written.
    """
    text = render_html_map(data, title=title, max_labels=max_labels, abstract_budget_mb=abstract_budget_mb)
    return _write_text(Path(path), text)


def _write_text(path: Path, text: str) -> Path:
    if path.is_dir():
        raise PaperatlasError(f"cannot write the map to {path}: it is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as error:
        raise PaperatlasError(f"cannot write the map to {path}: {error.strerror or error}") from None
    return path
