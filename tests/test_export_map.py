"""Tests of paperatlas.export: the offline HTML topic map (in headless Chromium) and the PNG map."""

from __future__ import annotations

import json

import os
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from paperatlas.errors import PaperatlasError
from paperatlas import export
from paperatlas.export import MapData, PngMap
from tests.browser import OfflineBrowser, find_chromium

SUBJECTS = (
    ("reward models", "preference optimisation"),
    ("diffusion models", "image editing"),
    ("graph neural networks", "molecule generation"),
    ("speech recognition", "text to speech"),
    ("retrieval augmented generation", "long context"),
    ("robot manipulation", "world models"),
)
THEMES = ("Alignment", "Image generation", "Graphs and molecules", "Speech", "Retrieval and context", "Robotics")
URL_ABSTRACT = "Code and data: https://github.com/example/paper-5 (this URL is text, never fetched)."


def write_html_map(papers: pd.DataFrame, topics: pd.DataFrame | None, path, **options) -> Path:
    return export.write_html_map(MapData.from_frames(papers, topics), path, **options)


def write_png_map(papers: pd.DataFrame, topics: pd.DataFrame | None, path, **options) -> PngMap:
    return export.write_png_map(MapData.from_frames(papers, topics), path, **options)


def render_html_map(papers: pd.DataFrame, topics: pd.DataFrame | None) -> str:
    return export.render_html_map(MapData.from_frames(papers, topics))


def nearest(x: np.ndarray, y: np.ndarray, k: int = 5) -> np.ndarray:
    """Row i: the k nearest other points of point i (chunked, fine for 20,000 points)."""
    points = np.column_stack([x, y])
    out = np.empty((len(points), k), dtype=np.int64)
    for start in range(0, len(points), 1000):
        block = points[start : start + 1000]
        d = ((block[:, None, :] - points[None, :, :]) ** 2).sum(-1)
        d[np.arange(len(block)), np.arange(start, start + len(block))] = np.inf
        part = np.argpartition(d, k, axis=1)[:, :k]
        order = np.take_along_axis(d, part, axis=1).argsort(axis=1)
        out[start : start + len(block)] = np.take_along_axis(part, order, axis=1)
    return out


def make_map_frames(n: int = 343, seed: int = 7, noise_share: float = 0.08) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Synthetic ``papers`` and ``topics`` frames: 6 blobs (themes, layer 1) of 2 fine topics each, plus noise.

    Paper i is titled "Paper i about <subject>"; paper 17 is about reward models.
    """
    rng = np.random.default_rng(seed)
    angles = np.arange(6) * np.pi / 3
    blob_centres = np.column_stack([10 * np.cos(angles), 10 * np.sin(angles)])
    blob = rng.integers(0, 6, n)
    sub = rng.integers(0, 2, n)
    blob[17], sub[17] = 0, 0
    fine = blob * 2 + sub
    direction = np.column_stack([np.cos(angles + 1.0), np.sin(angles + 1.0)])
    xy = blob_centres[blob] + (sub[:, None] * 2 - 1) * 1.6 * direction[blob] + rng.normal(0, 0.55, (n, 2))
    is_noise = rng.random(n) < noise_share
    is_noise[17] = False
    xy[is_noise] = rng.uniform(-13, 13, (is_noise.sum(), 2))
    fine = np.where(is_noise, -1, fine)
    theme = np.where(is_noise, -1, blob)
    subject = [SUBJECTS[b][s] for b, s in zip(blob, sub)]
    fine_names = {2 * b + s: SUBJECTS[b][s] for b in range(6) for s in range(2)}
    neighbours = nearest(xy[:, 0], xy[:, 1])
    ids = [f"2401.{i:05d}" for i in range(n)]
    papers = pd.DataFrame(
        {
            "id": ids,
            "title": [f"Paper {i} about {s}" + (" </script><i>not markup</i> & $x$" if i == 9 else "")
                      for i, s in enumerate(subject)],
            "date": [None if i % 10 == 3 else f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(n)],
            "topic_id": fine,
            "topic_name": [fine_names[t] if t >= 0 else "" for t in fine],
            "x": xy[:, 0],
            "y": xy[:, 1],
            "abstract": [
                URL_ABSTRACT if i == 5 else f"Abstract of paper {i}. We study {s} <with markup & symbols>."
                for i, s in enumerate(subject)
            ],
            "layer_1": theme,
            "neighbours": [[ids[j] for j in row] for row in neighbours],
        }
    )
    rows = []
    for t, name in fine_names.items():
        rows.append({"layer": 0, "topic_id": t, "name": name, "size": int((fine == t).sum()),
                     "keyterms": name.split() + ["synthetic"]})
    for b, name in enumerate(THEMES):
        rows.append({"layer": 1, "topic_id": b, "name": name, "size": int((theme == b).sum()),
                     "keyterms": [name.lower()]})
    return papers, pd.DataFrame(rows)


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_map_frames()


@pytest.fixture(scope="module")
def big_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_map_frames(20_000, seed=3)


@pytest.fixture(scope="module")
def map_html(frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Path:
    papers, topics = frames
    # 8 labels at most: the 12 fine topics are too many at full view, so the 6 themes show
    return write_html_map(papers, topics, tmp_path_factory.mktemp("map") / "map.html", max_labels=8)


@pytest.fixture(scope="module")
def big_map_html(big_frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Path:
    papers, topics = big_frames
    return write_html_map(papers, topics, tmp_path_factory.mktemp("bigmap") / "map.html")


@pytest.fixture(scope="module")
def browser() -> OfflineBrowser:
    executable = find_chromium()
    if executable is None:
        pytest.skip("no Chromium browser installed (apt-get install chromium, or set PAPERATLAS_CHROMIUM)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.fail("Playwright for Python is missing: pip install -e '.[dev]' (its browsers are not needed)")
    instance = OfflineBrowser(executable)
    yield instance
    instance.close()


# ---------------------------------------------------------------- static HTML


class _Markup(HTMLParser):
    """Collects the document's tags, attributes and style text (script bodies are raw text, not markup)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.styles: list[str] = []
        self.scripts: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attributes))
        if "style" in attributes:
            self.styles.append(attributes["style"])
        self._in = tag if tag in ("style", "script") else None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.styles.append(data)
        elif self._in == "script":
            self.scripts.append(data)


REMOTE = r"(?:https?:)?//"


def decoded(text: str) -> dict:
    """The page's data read back in Python: meta JSON and every block inflated."""
    import base64
    import gzip
    import json

    meta = json.loads(re.search(r'<script type="application/json" id="paperatlas-meta">(.*?)</script>', text, re.DOTALL).group(1))
    blocks = {
        name: gzip.decompress(base64.b64decode(body))
        for name, body in re.findall(r'<script type="application/octet-stream" id="pa-block-(\w+)">([^<]*)</script>', text)
    }
    out = {"meta": meta, "blocks": blocks}
    for name in ("ids", "titles", "abstracts"):
        if name in blocks:
            out[name] = blocks[name].decode("utf-8").split("\x1e")
    if "nb" in blocks:
        out["nb"] = np.frombuffer(blocks["nb"], "<i4").reshape(meta["n"], meta["neighbours"]).tolist()
    out["days"] = np.frombuffer(blocks["dates"], "<i4").tolist()
    out["xy"] = np.frombuffer(blocks["xy"], "<u2").reshape(-1, 2)
    return out


def test_html_map_is_one_self_contained_file(map_html: Path, frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    assert map_html.is_file()
    assert [p.name for p in map_html.parent.iterdir()] == ["map.html"]  # no sibling files
    text = map_html.read_text(encoding="utf-8")
    markup = _Markup()
    markup.feed(text)
    tags = [tag for tag, _ in markup.tags]
    # everything inline: no external scripts, stylesheets, images, frames or fonts
    assert all("src" not in attrs for tag, attrs in markup.tags if tag == "script")
    assert not {"link", "img", "iframe", "object", "embed", "base", "source", "video", "audio"} & set(tags)
    assert "createScatterplot" in text and "window.paperatlas" in text
    assert "@font-face" not in text
    # the data travel compressed and binary, and read back exactly
    papers, _ = frames
    data = decoded(text)
    assert data["ids"] == papers["id"].tolist() and data["titles"] == papers["title"].tolist()
    assert data["abstracts"] == papers["abstract"].tolist()
    assert '"Paper 17 about' not in text  # titles are not inline JSON
    x = papers["x"].to_numpy()
    back = data["meta"]["extent"]["x0"] + data["xy"][:, 0] / 65535 * data["meta"]["extent"]["xspan"]
    assert np.abs(back - x).max() <= (x.max() - x.min()) / 65535
    ids = papers["id"].tolist()
    assert data["nb"] == [[ids.index(j) for j in row] for row in papers["neighbours"]]
    layer1 = np.frombuffer(data["blocks"]["l1"], "<i2")
    assert layer1.tolist() == papers["layer_1"].tolist()


def test_vendored_renderer_and_its_licences_ship_in_the_package() -> None:
    from importlib import resources

    vendor = resources.files("paperatlas.export").joinpath("vendor")
    licences = vendor.joinpath("LICENSES.txt").read_text(encoding="utf-8")
    for package in ("regl-scatterplot", "regl", "pub-sub-es", "dom-2d-camera", "gl-matrix"):
        assert f"==== {package} " in licences
    assert "Permission is hereby granted" in licences  # the MIT text itself, not just a name
    bundle = vendor.joinpath("regl-scatterplot.min.js").read_text(encoding="utf-8")
    assert "window.createScatterplot=" in bundle.replace(" ", "") and "</script" not in bundle.lower()
    root = Path(__file__).resolve().parent.parent
    assert '"regl-scatterplot": "1.16.0"' in (root / "js" / "package.json").read_text()
    assert "js/build.sh" in (root / "js" / "README.md").read_text()


def test_html_has_no_remote_resource_references(map_html: Path) -> None:
    """The file holds no http(s) resource reference.

    A resource reference is what the HTML parser or CSS engine resolves and
    fetches on its own: (1) an attribute of any element (``src``, ``href``,
    ``srcset``, ``poster``, ``data``, ``action``, ``content``... all of them are
    checked) whose value is a remote URL (``http:``, ``https:`` or
    protocol-relative ``//``), (2) a CSS ``url()`` or ``@import``. Script bodies
    are not markup: the page's own script names no URL at all, and the paper
    data are inert (JSON and base64 blocks; an abstract holding a URL is shown
    as text). That no request happens at run time is guaranteed by the page's
    Content-Security-Policy and checked in the browser, where every request
    is recorded.
    """
    text = map_html.read_text(encoding="utf-8")
    markup = _Markup()
    markup.feed(text)
    for tag, attributes in markup.tags:
        for name, value in attributes.items():
            assert not re.match(r"\s*" + REMOTE, value, re.IGNORECASE), (tag, name, value)
            if tag == "meta" and name == "content":
                assert not re.search(r"url\s*=|https?:", value, re.IGNORECASE), value
    assert markup.styles, "the page's style sheet was not found"
    for style in markup.styles:
        assert not re.search(r"url\(|@import|https?:", style, re.IGNORECASE), style
    scripts = [attrs for tag, attrs in markup.tags if tag == "script"]
    assert all("src" not in attrs for attrs in scripts)
    kinds = [a.get("type") for a in scripts]
    assert kinds[0] == "application/json" and kinds[-2:] == [None, None]
    assert set(kinds[1:-2]) == {"application/octet-stream"}
    # the page's own script names no URL at all
    own = re.search(r'<script id="paperatlas-js">(.*?)</script>', text, re.DOTALL).group(1)
    assert "http" not in own.lower() and "://" not in own
    assert URL_ABSTRACT in decoded(text)["abstracts"]  # abstract text in a data block, inert
    # nothing in any script can end its element early and turn into markup
    for body in markup.scripts:
        assert "</script" not in body.lower()


def test_html_forbids_network_by_content_security_policy(map_html: Path) -> None:
    text = map_html.read_text(encoding="utf-8")
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', text).group(1)
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'" and directives["connect-src"] == "'none'"
    for directive in ("script-src", "style-src", "img-src", "font-src", "worker-src"):
        assert "http" not in directives[directive] and "*" not in directives[directive]
    # the policy comes before any script
    assert text.index("Content-Security-Policy") < text.index("<script")


def test_html_map_file_sizes(
    map_html: Path, big_map_html: Path, record_property: pytest.RecordProperty, capsys: pytest.CaptureFixture[str]
) -> None:
    small, big = map_html.stat().st_size, big_map_html.stat().st_size
    record_property("html_bytes_343", small)
    record_property("html_bytes_20000", big)
    with capsys.disabled():
        print(f"\nHTML map size: 343 papers {small:,} bytes; 20,000 papers {big:,} bytes")
    assert small < 400_000  # the renderer is ~220 kB
    assert small < big < 20_000 * 200  # well under the 150 bytes per paper of text


def test_abstracts_over_the_budget_stay_out_and_the_page_says_so(
    frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path, browser: OfflineBrowser
) -> None:
    papers, topics = frames
    html = write_html_map(papers, topics, tmp_path / "lean.html", abstract_budget_mb=0.001)
    data = decoded(html.read_text(encoding="utf-8"))
    assert "abstracts" not in data["blocks"] and data["meta"]["abstracts"]["included"] is False
    assert data["meta"]["abstracts"]["raw_mb"] > 0.001 and "compressed_mb" not in data["meta"]["abstracts"]
    # within the budget they all come, and the payload's gzip is a plain gzip
    assert decoded(render_html_map(papers, topics))["abstracts"] == papers["abstract"].tolist()
    assert 'placeholder="Search titles and abstracts"' in render_html_map(papers, topics)
    page = browser.open(html)
    try:
        page.evaluate("window.paperatlas.select('2401.00017')")
        note = page.locator("#pa-paper-abstract").inner_text()
        assert "not in this file" in note and "paperatlas serve" in note
        assert page.locator("#pa-abstract-more").is_hidden()
        # the search box says what it searches
        assert page.locator("#pa-search").get_attribute("placeholder") == "Search paper titles"
        assert browser.log.problems() == []
    finally:
        page.close()
    with pytest.raises(PaperatlasError, match="must not be negative"):
        write_html_map(papers, topics, tmp_path / "x.html", abstract_budget_mb=-1)


def test_html_map_rejects_bad_input(frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path) -> None:
    papers, topics = frames
    with pytest.raises(PaperatlasError, match="lack column.*x"):
        write_html_map(papers.drop(columns=["x"]), topics, tmp_path / "a.html")
    with pytest.raises(PaperatlasError, match="no papers"):
        write_html_map(papers.iloc[:0], topics, tmp_path / "a.html")
    with pytest.raises(PaperatlasError, match="duplicate paper id"):
        write_html_map(pd.concat([papers, papers.iloc[:1]]), topics, tmp_path / "a.html")
    broken = papers.copy()
    broken.loc[3, "y"] = np.nan
    with pytest.raises(PaperatlasError, match="'y' has missing"):
        write_html_map(broken, topics, tmp_path / "a.html")
    with pytest.raises(PaperatlasError, match="topics lack column"):
        write_html_map(papers, topics.drop(columns=["name"]), tmp_path / "a.html")
    with pytest.raises(PaperatlasError, match="it is a folder"):
        write_html_map(papers, topics, tmp_path)
    with pytest.raises(PaperatlasError, match="max_labels"):
        write_html_map(papers, topics, tmp_path / "a.html", max_labels=0)
    (tmp_path / "file").write_text("x")
    with pytest.raises(PaperatlasError, match="cannot write"):
        write_html_map(papers, topics, tmp_path / "file" / "map.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # nothing half-written


def test_html_map_minimal_columns(tmp_path: Path) -> None:
    papers = pd.DataFrame({"id": [1, 2, 3], "title": ["a", "b", "c"], "topic_id": [0, 0, -1],
                           "x": [0.0, 1.0, 2.0], "y": [0.0, 1.0, 0.5]})
    text = render_html_map(papers, None)
    assert '"Topic 0"' in text and "pa-block-nb" not in text
    assert write_html_map(papers, None, tmp_path / "deep" / "m.html").is_file()
    # loose cell types: missing neighbours, numpy arrays of int ids, timestamps
    papers["neighbours"] = [None, np.array([1, 3, 99]), pd.NA]
    papers["date"] = [pd.Timestamp("2024-05-06 10:00"), None, "2024-02-30"]
    data = decoded(render_html_map(papers, None))
    assert data["nb"] == [[-1, -1], [0, 2], [-1, -1]]
    no_date = np.iinfo(np.int32).min
    assert data["days"] == [(pd.Timestamp("2024-05-06") - pd.Timestamp("1970-01-01")).days, no_date, no_date]


def test_neighbouring_topics_get_distant_colours() -> None:
    from paperatlas.export.map_colours import NOISE_COLOUR, colour_distance, neighbour_pairs, topic_colours
    from paperatlas.export.map_topics import MapLayer, MapTopic

    # 64 topics on an 8x8 grid, sizes shuffled: far more topics than any fixed list of colours
    rng = np.random.default_rng(0)
    sizes = rng.permutation(64) + 10
    layer = MapLayer(0, np.zeros(1, int), tuple(
        MapTopic(topic_id=i, name=f"t{i}", size=int(sizes[i]), x=float(i % 8), y=float(i // 8)) for i in range(64)
    ))
    colours = topic_colours(layer)
    pairs = neighbour_pairs(layer)
    assert len(pairs) >= 64 * 2  # every topic touches several others
    assert (0, 1) in pairs and (0, 8) in pairs and (0, 63) not in pairs
    assert min(colour_distance(colours[a], colours[b]) for a, b in pairs) >= 14  # ΔE00: clearly apart
    assert colours[-1] == NOISE_COLOUR and NOISE_COLOUR not in {colours[i] for i in range(64)}
    assert len({colours[i] for i in range(64)}) >= 24  # the whole palette is used


def test_colour_difference_is_ciede2000() -> None:
    from paperatlas.export.map_colours import delta_e

    # reference pairs from Sharma, Wu and Dalal (2005), the CIEDE2000 test data
    pairs = [((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425), ((50, 2.5, 0), (73, 25, -18), 27.1492),
             ((50, 2.5, 0), (50, 0, -2.5), 4.3065), ((2.0776, 0.0795, -1.135), (0.9033, -0.0636, -0.5514), 0.9082)]
    for first, second, expected in pairs:
        assert float(delta_e(np.array(first), np.array(second))) == pytest.approx(expected, abs=1e-4)


def test_listed_topics_get_clearly_different_colours() -> None:
    """No two topics of a map that fits the palette share a hue family (orange vs yellow-orange):
    every pair, neighbours or not, differs by ΔE00 >= 20 up to 16 topics and >= 14 up to 32."""
    from paperatlas.export.map_colours import PALETTE_SIZE, colour_distance, palette, topic_colours
    from paperatlas.export.map_topics import MapLayer, MapTopic

    colours = palette()
    assert len(set(colours)) == PALETTE_SIZE
    for count, floor in ((16, 20), (PALETTE_SIZE, 14)):
        assert min(colour_distance(a, b) for k, a in enumerate(colours[:count]) for b in colours[k + 1 : count]) >= floor
        for a in colours[:count]:
            assert colour_distance(a, "#ffffff") >= floor and colour_distance(a, "#b4b4b4") >= floor
    assert colour_distance("#ff7f0e", "#ffa01e") < 20  # orange vs yellow-orange: too close, by this measure
    # a 14-topic map like the bundled atlas: 14 colours, every pair clearly apart
    rng = np.random.default_rng(1)
    layer = MapLayer(0, np.zeros(1, int), tuple(
        MapTopic(topic_id=i, name=f"t{i}", size=int(100 - i), x=float(rng.normal()), y=float(rng.normal()))
        for i in range(14)
    ))
    given = topic_colours(layer)
    listed = [given[i] for i in range(14)]
    assert len(set(listed)) == 14
    assert min(colour_distance(a, b) for k, a in enumerate(listed) for b in listed[k + 1 :]) >= 20


# ---------------------------------------------------------------- in the browser


def _boxes_overlap(boxes: list[list[float]]) -> bool:
    return any(
        a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
        for k, a in enumerate(boxes) for b in boxes[k + 1 :]
    )


def test_map_draws_every_paper_offline(browser: OfflineBrowser, map_html: Path, tmp_path: Path) -> None:
    page = browser.open(map_html)
    try:
        assert page.evaluate("window.paperatlas.renderer()") == "regl-scatterplot"
        assert page.evaluate("window.paperatlas.pointCount()") == 343
        assert page.evaluate("window.paperatlas.drawnCount()") == 343
        assert page.locator("#pa-canvas").count() == 1
        # zoomed out: the 6 coarse themes are labelled, none overlapping, as DOM text
        assert page.evaluate("window.paperatlas.labelLayer()") == 1
        assert sorted(page.evaluate("window.paperatlas.labels()")) == sorted(THEMES)
        assert sorted(page.locator("#pa-labels .pa-label").all_inner_texts()) == sorted(THEMES)
        assert not _boxes_overlap(page.evaluate("window.paperatlas.labelBoxes()"))
        # a legend of the fine topics with their colours
        legend = page.locator("#pa-legend-list button").all_inner_texts()
        assert "reward models" in legend and len(legend) == 12
        page.screenshot(path=str(tmp_path / "map.png"))
        assert browser.log.problems() == []
        assert all(url.startswith("file:") for url in browser.log.requests), browser.log.requests
    finally:
        page.close()


def test_zooming_in_shows_fine_topic_names(browser: OfflineBrowser, map_html: Path, tmp_path: Path) -> None:
    page = browser.open(map_html)
    try:
        # blob 0 (Alignment) is centred at (10, 0)
        page.evaluate("window.paperatlas.zoom(6, 14, -4, 4)")
        page.wait_for_function("window.paperatlas.labelLayer() === 0")
        labels = page.evaluate("window.paperatlas.labels()")
        assert "reward models" in labels and "preference optimisation" in labels
        assert "Alignment" not in labels
        assert not _boxes_overlap(page.evaluate("window.paperatlas.labelBoxes()"))
        page.screenshot(path=str(tmp_path / "zoomed.png"))
        page.evaluate("window.paperatlas.resetZoom()")
        page.wait_for_function("window.paperatlas.labelLayer() === 1")
        # a real wheel zoom over the map changes the view and the labels follow
        page.mouse.move(700, 450)
        for _ in range(6):
            page.mouse.wheel(0, -400)
            page.wait_for_timeout(80)
        page.wait_for_function("window.paperatlas.labelLayer() === 0")
        assert browser.log.problems() == []
    finally:
        page.close()


MAP_RECT = """id => {
    const m = document.getElementById("pa-map").getBoundingClientRect();
    const r = document.getElementById(id).getBoundingClientRect();
    return [r.left - m.left, r.top - m.top, r.right - m.left, r.bottom - m.top];
}"""


def _clear_of(page, ids: tuple[str, ...]) -> list[str]:
    """Labels whose box overlaps one of the elements ``ids`` (as 'label / element')."""
    rects = {i: page.evaluate(MAP_RECT, i) for i in ids}
    boxes = page.evaluate("window.paperatlas.labelBoxes()")
    names = page.evaluate("window.paperatlas.labels()")
    return [f"{name} / {i}" for name, box in zip(names, boxes) for i, r in rects.items() if _boxes_overlap([box, r])]


def test_labels_keep_clear_of_the_toolbar_legend_and_panel(browser: OfflineBrowser, map_html: Path, tmp_path: Path) -> None:
    page = browser.open(map_html)
    try:
        assert _clear_of(page, ("pa-header", "pa-legend")) == []
        # drag the map so that a theme's centre lies just inside the legend's top right corner
        names = page.evaluate("window.paperatlas.labels()")
        box = page.evaluate("window.paperatlas.labelBoxes()")[names.index("Retrieval and context")]
        legend = page.evaluate(MAP_RECT, "pa-legend")
        origin = page.evaluate("(() => { const r = document.getElementById('pa-map').getBoundingClientRect(); return [r.left, r.top]; })()")
        start = ((box[0] + box[2]) / 2 + origin[0], (box[1] + box[3]) / 2 + origin[1])
        end = (legend[2] - 40 + origin[0], legend[1] + 12 + origin[1])
        page.mouse.move(*start)
        page.mouse.down()
        page.mouse.move(*end, steps=12)
        page.mouse.up()
        page.wait_for_timeout(300)
        page.evaluate("window.paperatlas.closePanel()")  # in case the drag ended as a click on a point
        page.wait_for_function("window.paperatlas.labels().length > 0")
        page.screenshot(path=str(tmp_path / "dragged.png"))
        assert _clear_of(page, ("pa-header", "pa-legend")) == []
        assert page.evaluate("window.paperatlas.labelLayer()") == 1
        assert "Retrieval and context" in page.evaluate("window.paperatlas.labels()")  # moved clear, not lost
        # the open panel covers the map's right side: labels move out of it too
        page.evaluate("window.paperatlas.resetZoom()")
        page.evaluate("window.paperatlas.select('2401.00017')")
        page.wait_for_function("window.paperatlas.selected() === '2401.00017'")
        assert _clear_of(page, ("pa-header", "pa-legend", "pa-panel")) == []
        # a folded legend frees its corner again
        page.locator("#pa-legend summary").click()
        page.wait_for_timeout(100)
        assert _clear_of(page, ("pa-header", "pa-legend", "pa-panel")) == []
        assert browser.log.problems() == []
    finally:
        page.close()


def test_theme_and_topic_of_the_same_name_show_once(
    browser: OfflineBrowser, frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    papers, topics = frames
    topics = topics.copy()
    topics.loc[(topics["layer"] == 1) & (topics["topic_id"] == 0), "name"] = "Reward Models "  # fine topic 0's name
    html = write_html_map(papers, topics, tmp_path / "map.html", max_labels=8)
    page = browser.open(html)
    try:
        page.evaluate("window.paperatlas.select('2401.00017')")  # theme 0, topic 0 ("reward models")
        page.wait_for_function("window.paperatlas.selected() === '2401.00017'")
        assert page.locator("#pa-paper-topic").inner_text() == "Reward Models"
        other = papers[(papers["layer_1"] == 0) & (papers["topic_name"] == "preference optimisation")].iloc[0]
        page.evaluate("id => window.paperatlas.select(id)", other["id"])
        page.wait_for_function("id => window.paperatlas.selected() === id", arg=other["id"])
        assert page.locator("#pa-paper-topic").inner_text() == "Reward Models › preference optimisation"
        assert browser.log.problems() == []
    finally:
        page.close()


def test_search_highlights_matching_titles_and_abstracts(browser: OfflineBrowser, map_html: Path, tmp_path: Path) -> None:
    page = browser.open(map_html)
    try:
        page.locator("#pa-search").press_sequentially("PAPER 17 ABOUT reward")
        page.wait_for_function("window.paperatlas.highlighted().length === 1")
        assert page.evaluate("window.paperatlas.highlighted()") == ["2401.00017"]
        assert page.locator("#pa-count").inner_text() == "1 match"
        # a broader query: every "diffusion models" paper and nothing else
        page.locator("#pa-search").fill("diffusion MODELS")
        page.wait_for_function("window.paperatlas.query() === 'diffusion models'")
        page.wait_for_function("window.paperatlas.highlighted().length > 1")
        highlighted = set(page.evaluate("window.paperatlas.highlighted()"))
        papers, _ = make_map_frames()
        expected = set(papers.loc[papers["title"].str.contains("diffusion models"), "id"])
        assert highlighted == expected and "2401.00017" not in highlighted
        assert page.locator("#pa-count").inner_text() == f"{len(expected)} matches"
        page.screenshot(path=str(tmp_path / "search.png"))
        # abstracts are searched too when the file carries them
        page.locator("#pa-search").fill("this url is text")
        page.wait_for_function("window.paperatlas.query() === 'this url is text'")
        page.wait_for_function("window.paperatlas.highlighted().length === 1")
        assert page.evaluate("window.paperatlas.highlighted()") == ["2401.00005"]
        page.locator("#pa-search").fill("")
        page.wait_for_function("window.paperatlas.highlighted().length === 0")
        assert page.locator("#pa-count").inner_text() == ""
        assert browser.log.problems() == []
    finally:
        page.close()


def test_click_opens_panel_with_abstract_and_neighbours(
    browser: OfflineBrowser, map_html: Path, frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    papers, _ = frames
    # the most isolated paper, so a click at its pixel cannot pick another one
    xy = papers[["x", "y"]].to_numpy()
    d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    target = papers.iloc[int(d.min(axis=1).argmax())]
    page = browser.open(map_html)
    try:
        assert page.locator("#pa-panel").is_hidden()
        page.wait_for_timeout(500)  # the renderer's spatial index (for hover and click) is built
        point = page.evaluate("id => window.paperatlas.pixelOf(id)", target["id"])
        page.mouse.move(point["x"] - 3, point["y"] - 3)
        page.mouse.move(point["x"], point["y"])
        # hover: title, topic and date
        tip = page.locator("#pa-tip")
        tip.wait_for(state="visible")
        topic = target["topic_name"] or "no topic (noise)"
        lines = tip.evaluate("el => el.innerText.split('\\n')")
        assert lines == [p for p in (target["title"], topic, target["date"]) if p]
        page.mouse.click(point["x"], point["y"])
        page.wait_for_function("window.paperatlas.selected() !== null")
        assert page.evaluate("window.paperatlas.selected()") == target["id"]
        panel = page.locator("#pa-panel")
        assert panel.is_visible()
        assert page.locator("#pa-paper-title").inner_text() == target["title"]
        assert page.locator("#pa-paper-abstract").inner_text() == target["abstract"]
        assert page.locator("#pa-abstract-more").is_hidden()  # short abstracts show whole
        neighbour_titles = papers.set_index("id").loc[target["neighbours"], "title"].tolist()
        buttons = page.locator("#pa-neighbours button.pa-nb")
        assert buttons.all_inner_texts() == neighbour_titles
        page.screenshot(path=str(tmp_path / "panel.png"))
        # a neighbour's title jumps to that paper
        buttons.nth(0).click()
        first = papers.set_index("id").loc[target["neighbours"][0]]
        page.wait_for_function("id => window.paperatlas.selected() === id", arg=target["neighbours"][0])
        assert page.locator("#pa-paper-title").inner_text() == first["title"]
        assert page.locator("#pa-paper-abstract").inner_text() == first["abstract"]
        # markup in data is shown as text, not parsed
        page.evaluate("window.paperatlas.select('2401.00017')")
        page.wait_for_function("window.paperatlas.selected() === '2401.00017'")
        assert "<with markup & symbols>" in page.locator("#pa-paper-abstract").inner_text()
        page.evaluate("window.paperatlas.select('2401.00009')")
        page.wait_for_function("window.paperatlas.selected() === '2401.00009'")
        assert page.locator("#pa-paper-title").inner_text().endswith("</script><i>not markup</i> & $x$")
        assert page.locator("#pa-panel i").count() == 0
        nine = papers.set_index("id").loc["2401.00009"]
        expected_path = f"{THEMES[nine['layer_1']]} › {nine['topic_name']}" if nine["topic_id"] >= 0 else "no topic (noise)"
        assert page.locator("#pa-paper-topic").inner_text() == expected_path  # coarse to fine
        page.locator("#pa-close").click()
        assert panel.is_hidden()
        assert browser.log.problems() == []
    finally:
        page.close()


def test_filters_by_topic_and_date(
    browser: OfflineBrowser, map_html: Path, frames: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    papers, _ = frames
    page = browser.open(map_html)
    try:
        # a theme from the filter list (layer 1, theme 2)
        page.locator("#pa-topic").select_option("1:2")
        expected = papers.loc[papers["layer_1"] == 2, "id"].tolist()
        page.wait_for_function(f"window.paperatlas.drawnCount() === {len(expected)}")
        assert page.evaluate("window.paperatlas.visibleIds()") == expected
        want = json.dumps([THEMES[2]])
        try:  # labels are laid out on the next frame after the points: wait for it on a busy machine
            page.wait_for_function(f"JSON.stringify(window.paperatlas.labels()) === {want!r}", timeout=10_000)
        finally:
            assert page.evaluate("window.paperatlas.labels()") == [THEMES[2]]
        # search counts only what the filter shows
        page.evaluate("window.paperatlas.search('paper')")
        assert len(page.evaluate("window.paperatlas.highlighted()")) == len(expected)
        # a date range (papers without a date drop out)
        page.evaluate("window.paperatlas.setFilter({from: '2024-03-01', to: '2024-05-31'})")
        days = pd.to_datetime(papers["date"])
        in_range = papers.loc[(days >= "2024-03-01") & (days <= "2024-05-31"), "id"].tolist()
        assert page.evaluate("window.paperatlas.visibleIds()") == in_range
        assert page.evaluate("window.paperatlas.drawnCount()") == len(in_range)
        assert len(page.evaluate("window.paperatlas.highlighted()")) == len(in_range)
        # the legend picks a fine topic (the date range stays), and a second click shows all topics again
        button = page.locator("#pa-legend-list button", has_text="speech recognition")
        button.click()
        fine = papers.loc[(papers["topic_name"] == "speech recognition") & papers["id"].isin(in_range), "id"].tolist()
        page.wait_for_function(f"window.paperatlas.drawnCount() === {len(fine)}")
        assert button.get_attribute("aria-pressed") == "true"
        page.wait_for_function("JSON.stringify(window.paperatlas.labels()) === '[\"speech recognition\"]'")  # its label only
        button.click()
        page.wait_for_function(f"window.paperatlas.drawnCount() === {len(in_range)}")
        assert button.get_attribute("aria-pressed") == "false"
        # cleared: everything again
        page.evaluate("window.paperatlas.setFilter({})")
        assert page.evaluate("window.paperatlas.drawnCount()") == len(papers)
        with pytest.raises(Exception, match="no topic 99"):
            page.evaluate("window.paperatlas.setFilter({layer: 1, topic: 99})")
        assert browser.log.problems() == []
    finally:
        page.close()


def test_network_is_cut_and_the_page_policy_blocks_fetches(browser: OfflineBrowser, map_html: Path) -> None:
    """Even script that tries to load remote URLs gets nothing: the page's CSP refuses them."""
    page = browser.open(map_html)
    try:
        attempts = """async () => {
            const refused = [];
            document.addEventListener("securitypolicyviolation", e => refused.push(e.blockedURI));
            try { await fetch("https://example.com/data.json"); } catch (e) { refused.push("fetch failed"); }
            const image = new Image(); image.src = "https://example.com/tile.png";
            const script = document.createElement("script"); script.src = "https://example.com/x.js";
            document.head.appendChild(script);
            await new Promise(resolve => setTimeout(resolve, 300));
            return refused.sort();
        }"""
        assert page.evaluate(attempts) == [
            "fetch failed", "https://example.com/data.json", "https://example.com/tile.png", "https://example.com/x.js",
        ]
        assert browser.log.blocked == []  # refused by the page itself, before reaching the network
        page.goto("about:blank")  # no policy here: the test's network block catches the request
        assert page.evaluate("fetch('https://example.com/y').then(() => 'loaded', () => 'failed')") == "failed"
        assert browser.log.blocked == ["https://example.com/y"]
    finally:
        page.close()


def test_big_map_draws_twenty_thousand_points(browser: OfflineBrowser, big_map_html: Path, tmp_path: Path) -> None:
    page = browser.open(big_map_html)
    try:
        assert page.evaluate("window.paperatlas.pointCount()") == 20_000
        assert page.evaluate("window.paperatlas.drawnCount()") == 20_000
        assert not _boxes_overlap(page.evaluate("window.paperatlas.labelBoxes()"))
        assert page.evaluate("window.paperatlas.labels().length") > 0
        page.evaluate("window.paperatlas.search('paper 1234 about')")
        page.wait_for_function("window.paperatlas.highlighted().length === 1")
        page.evaluate("window.paperatlas.search('')")
        shot = tmp_path / "big.png"
        page.screenshot(path=str(shot))
        colours = _distinct_colours(shot)
        assert colours > 12, colours  # many topic colours on screen
        # the points are painted on the WebGL canvas: hiding it blanks thousands of pixels
        page.add_style_tag(content="#pa-canvas { visibility: hidden !important; }")
        page.screenshot(path=str(tmp_path / "no-canvas.png"))
        changed = _changed_pixels(shot, tmp_path / "no-canvas.png")
        assert changed > 20_000, changed
        page.evaluate("window.paperatlas.select('2401.01234')")
        assert page.locator("#pa-neighbours button.pa-nb").count() == 5
        assert browser.log.problems() == []
    finally:
        page.close()


def _changed_pixels(a: Path, b: Path) -> int:
    import matplotlib.image as mpimg

    return int((np.abs(mpimg.imread(a)[..., :3] - mpimg.imread(b)[..., :3]).sum(-1) > 0.1).sum())


def _distinct_colours(png: Path) -> int:
    import matplotlib.image as mpimg

    image = (mpimg.imread(png)[..., :3] * 255).astype(np.uint8)
    body = image[80:-20:3, 20:-20:3].reshape(-1, 3)
    common = np.unique(body // 16, axis=0, return_counts=True)
    return int((common[1] > 20).sum())


# ---------------------------------------------------------------- PNG


def _png_size(path: os.PathLike[str] | str) -> tuple[int, int]:
    import matplotlib.image as mpimg

    height, width = mpimg.imread(os.fspath(path)).shape[:2]
    return width, height


def test_png_map_size_and_labels(frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path) -> None:
    papers, topics = frames
    result = write_png_map(papers, topics, tmp_path / "out" / "map.png")
    assert isinstance(result, PngMap) and result.path == tmp_path / "out" / "map.png"
    assert _png_size(result) == (1600, 1200) == (result.width, result.height)
    # 12 fine topics fit under the default label limit: all named, none dropped
    assert sorted(label.text for label in result.labels) == sorted(n for pair in SUBJECTS for n in pair)
    assert result.dropped == ()
    boxes = [label.box for label in result.labels]
    for i, a in enumerate(boxes):
        assert 0 <= a[0] < a[2] <= 1600 and 0 <= a[1] < a[3] <= 1200
        for b in boxes[i + 1 :]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    # a legend of the topics, largest first
    sizes = topics[topics["layer"] == 0].sort_values(["size", "topic_id"], ascending=[False, True])
    assert result.legend == tuple(sizes["name"])


def test_png_map_other_sizes_and_layers(
    frames: tuple[pd.DataFrame, pd.DataFrame], big_frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    papers, topics = frames
    result = write_png_map(papers, topics, tmp_path / "hi.png", width=2000, height=1500, dpi=150, layer=1)
    assert _png_size(result) == (2000, 1500)
    assert sorted(label.text for label in result.labels) == sorted(THEMES)
    odd = papers.assign(topic_name=papers["topic_name"].replace("reward models", "costs from $5 to $10 </b>"))
    assert "costs from $5 to $10 </b>" in [label.text for label in write_png_map(odd, topics, tmp_path / "odd.png").labels]
    big = write_png_map(*big_frames, tmp_path / "big.png", width=1777, height=1333, dpi=133, max_labels=5)
    assert _png_size(big) == (1777, 1333)
    # 12 topics > 5, so the 6 themes are labelled; the smallest theme's label is left out
    assert {label.layer for label in big.labels} == {1}
    assert len(big.labels) == 5 and len(big.dropped) == 1


def test_png_map_rejects_bad_input(frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path) -> None:
    papers, topics = frames
    with pytest.raises(PaperatlasError, match="lack column"):
        write_png_map(papers.drop(columns=["title"]), topics, tmp_path / "m.png")
    with pytest.raises(PaperatlasError, match="width"):
        write_png_map(papers, topics, tmp_path / "m.png", width=0)
    with pytest.raises(PaperatlasError, match="no layer 3"):
        write_png_map(papers, topics, tmp_path / "m.png", layer=3)
    (tmp_path / "file").write_text("x")
    with pytest.raises(PaperatlasError, match="cannot write"):
        write_png_map(papers, topics, tmp_path / "file" / "m.png")


def test_gzip_within_budget_stops_early_and_round_trips() -> None:
    import gzip

    from paperatlas.export.map_payload import _gzip_within

    text = " ".join(f"word{i % 977} {i}" for i in range(300_000)).encode()
    packed = _gzip_within(text, 10_000_000, chunk=1 << 16)
    assert packed is not None and gzip.decompress(packed) == text
    assert _gzip_within(text, len(packed) - 1, chunk=1 << 16) is None
    assert _gzip_within(text, len(packed), chunk=1 << 16) == packed


def test_bundled_atlas_map_in_the_browser(browser: OfflineBrowser, real_topics_atlas, tmp_path: Path) -> None:
    """The real bundled atlas's map: every paper drawn, named topics labelled without overlap, real panel."""
    atlas = real_topics_atlas
    html = export.write_html_map(MapData.from_atlas(atlas), tmp_path / "map.html")
    assert html.stat().st_size < 2_000_000
    page = browser.open(html)
    try:
        assert page.evaluate("window.paperatlas.pointCount()") == len(atlas) == 350
        assert page.evaluate("window.paperatlas.drawnCount()") == 350
        labels = page.evaluate("window.paperatlas.labels()")
        assert labels and not _boxes_overlap(page.evaluate("window.paperatlas.labelBoxes()"))
        # zoomed out, the coarsest layer's theme names label the map, clear of the toolbar and legend
        layer = page.evaluate("window.paperatlas.labelLayer()")
        assert layer == atlas.topics.n_layers - 1 > 0
        assert set(labels) <= set(atlas.topics.names_at(layer).values())
        assert _clear_of(page, ("pa-header", "pa-legend")) == []
        # zoomed in on the largest topic, topic names
        fine = atlas.topics.labels_at(0) == atlas.topics.layer_table(0)["topic_id"].iloc[0]
        x, y = np.median(atlas.topics.coords[fine], axis=0)
        span = np.ptp(atlas.topics.coords, axis=0).max() / 8
        page.evaluate(f"window.paperatlas.zoom({x - span}, {x + span}, {y - span}, {y + span})")
        page.wait_for_function("window.paperatlas.labelLayer() === 0")
        assert set(page.evaluate("window.paperatlas.labels()")) <= set(atlas.topics.names_at(0).values())
        page.evaluate("window.paperatlas.resetZoom()")
        # the panel: title, an abstract snippet of about 300 characters (the rest a click away), neighbours
        from paperatlas.text_table import shorten

        paper = next(p for p in atlas.corpus if len(p.abstract or "") > 600)
        page.evaluate("id => window.paperatlas.select(id)", paper.id)
        assert page.locator("#pa-paper-title").inner_text() == paper.title
        shown = page.locator("#pa-paper-abstract").inner_text()
        assert shown == shorten(paper.abstract, 300) and 200 < len(shown) <= 300 and shown.endswith("…")
        page.locator("#pa-abstract-more").click()
        assert page.locator("#pa-paper-abstract").inner_text().strip() == paper.abstract.strip()
        assert page.locator("#pa-neighbours button.pa-nb").count() == 5
        path = page.locator("#pa-paper-topic").inner_text().split(" › ")
        assert all(a.lower() != b.lower() for a, b in zip(path, path[1:]))  # never "reward modeling › reward modeling"
        # search reads abstracts too: "hacking" finds papers whose abstract alone mentions it
        for word in ("diffusion", "hacking"):
            page.locator("#pa-search").fill(word)
            page.wait_for_function(f"window.paperatlas.query() === '{word}'")
            hits = set(page.evaluate("window.paperatlas.highlighted()"))
            expected = {p.id for p in atlas.corpus if word in p.title.lower() or word in (p.abstract or "").lower()}
            assert hits == expected and hits
        assert any("hacking" not in atlas.corpus.get(i).title.lower() for i in hits)
        assert browser.log.problems() == []
    finally:
        page.close()


def test_map_file_shows_an_iframe_pointing_at_the_file(
    frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In Jupyter the map is a file beside the notebook, shown by reference: the notebook stays small."""
    from paperatlas.export.notebook import MapFile

    papers, topics = frames
    monkeypatch.chdir(tmp_path)
    path = write_html_map(papers, topics, tmp_path / "maps" / 'a "<b>.html')
    shown = MapFile(path.resolve(), height=500)
    html = shown._repr_html_()
    assert html.startswith('<iframe src="maps/a &quot;&lt;b&gt;.html"') and 'height:500px' in html
    assert "<b>" not in html and len(html) < 1000  # escaped, and the page itself is not inlined
    assert repr(shown) == "MapFile('" + str(path.resolve()) + "', 0.3 MB)"
